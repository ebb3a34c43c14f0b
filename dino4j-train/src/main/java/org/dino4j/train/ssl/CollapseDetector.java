package org.dino4j.train.ssl;

/**
 * Notices the DINO head's collapse to uniform outputs, which the paper's recipe reaches on small data within a few
 * dozen iterations (Meta's own code on Fashion-MNIST too: dino_local 7.394 = 16/18 log 4096 from iteration 20 on),
 * after which the features barely improve. Collapsed: for {@link #STEPS} consecutive steps the teacher's targets are
 * at their maximum entropy (log K, within {@link #TOLERANCE} of it) and the student's DINO cross-entropy against them,
 * dino_local + dino_global, at its value for uniform outputs (also log K: the local terms are L/(L+1) of it, the
 * global one 1/(L+1), for L local crops). A cross-entropy is never below the target's entropy, so the two together
 * say that both sides are uniform; a healthy teacher (sharpened at temperature 0.04-0.07) stays well below log K.
 */
public final class CollapseDetector {
    /** Consecutive steps at log K before the run is called collapsed. */
    public static final int STEPS = 20;
    /** "At log K": within this fraction of it (0.04 nats for K = 4096; the collapsed Fashion-MNIST run's teacher
     *  entropy was 8.30-8.32 of 8.318, the LayerScale 0.1 pilot that learned more stayed 1 % below). */
    public static final double TOLERANCE = 0.005;
    /** What to try, from the Fashion-MNIST runs in the README. */
    public static final String ADVICE = "the DINO head's outputs are uniform (teacher entropy and DINO loss at log K), so "
            + "the features now move only through KoLeo. Training goes on; what helped or may help: student.layerscale=0.1 "
            + "(image-dependent CLS tokens from the start: Fashion-MNIST k-NN 78.7 % against 77.1 %), fewer prototypes "
            + "(dino.head_n_prototypes, ibot.head_n_prototypes), a longer or higher teacher-temperature warmup "
            + "(teacher.warmup_teacher_temp_epochs, teacher.warmup_teacher_temp), a lower optim.base_lr, more images";

    private final double logK;
    private int run;

    /** @param prototypes K, the DINO head's number of prototypes */
    public CollapseDetector(int prototypes) {
        this.logK = Math.log(prototypes);
    }

    public double logK() {
        return logK;
    }

    /** One step's values; true once they have been at log K for {@link #STEPS} steps in a row (this one included). */
    public boolean update(double teacherEntropy, double dino) {
        boolean uniform = teacherEntropy >= logK * (1 - TOLERANCE) && Math.abs(dino - logK) <= logK * TOLERANCE;
        run = uniform ? run + 1 : 0;
        return collapsed();
    }

    public boolean collapsed() {
        return run >= STEPS;
    }

    /** How many steps in a row have been at log K. */
    public int run() {
        return run;
    }
}
