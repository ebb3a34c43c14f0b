package org.dino4j.train.copydetect;

import java.util.List;
import java.util.SplittableRandom;

import org.dino4j.io.TensorStore;
import org.dino4j.train.autograd.Tape;
import org.dino4j.train.autograd.Var;
import org.dino4j.train.loss.KoLeoLoss;
import org.dino4j.train.optim.AdamW;

/**
 * Trains a {@link CopyDetector} as SSCD trains its descriptor: each step draws a batch of images, makes two copies of
 * each (a crop of up to {@code maxCrop} of the side from each edge resized back bilinearly, with {@code flip} a mirror
 * image half the time, Gaussian noise of a random strength up to {@code noise}, and with probability 0.3 a rounding to
 * 8 bits), and minimises the symmetric InfoNCE
 * loss between the two copies' descriptors (temperature {@code temperature}: each copy must pick its twin among the
 * batch) plus {@code koleo} times the KoLeo entropy estimate of one copy (spreads the descriptors over the sphere).
 * AdamW with a cosine (or constant) learning rate; deterministic for a seed.
 */
public final class CopyDetectorTrainer {
    public record Options(int side, int channels, int hidden, int dim, int steps, int batch, double lr, double weightDecay,
                          float temperature, float koleo, double maxCrop, double noise, boolean flip, boolean cosine, long seed) {
        /** What measured best on Fashion-MNIST (README): no KoLeo (it cost the cropped copies), flips learned. */
        public static Options defaults(int side, int channels) {
            return new Options(side, channels, 1024, 128, 3000, 512, 1e-3, 1e-4, 0.05f, 0f, 0.08, 0.05, true, true, 0);
        }
    }

    /** Hears each step's loss. */
    public interface Progress {
        void step(int step, int steps, double loss);
    }

    private CopyDetectorTrainer() {}

    /** @param x n input rows (side x side x channels floats in [0, 1], channel-last) */
    public static CopyDetector train(float[] x, int n, Options o, Progress progress) {
        try {
            return train(x, n, o, progress, null, 0);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e); // no checkpoint: no I/O
        }
    }

    /**
     * As {@link #train(float[], int, Options, Progress)}, resumable: every {@code every} steps the weights, the AdamW
     * moments and the step go to {@code checkpoint} (written to a temporary file and renamed); a checkpoint already
     * there, written with the same options and image count, is continued from. Each step draws from its own random
     * stream (seed, step), so a resumed run equals an uninterrupted one bit for bit.
     */
    public static CopyDetector train(float[] x, int n, Options o, Progress progress, java.nio.file.Path checkpoint, int every)
            throws java.io.IOException {
        int in = o.side() * o.side() * o.channels();
        if (x.length != (long) n * in) throw new IllegalArgumentException(x.length + " floats for " + n + " images of " + in);
        if (n < 2) throw new IllegalArgumentException("a copy detector needs at least 2 images, got " + n);
        SplittableRandom r = new SplittableRandom(o.seed());
        Var w1 = Var.param(uniform(o.hidden() * in, in, r), o.hidden(), in), b1 = Var.param(uniform(o.hidden(), in, r), o.hidden());
        Var w2 = Var.param(uniform(o.hidden() * o.hidden(), o.hidden(), r), o.hidden(), o.hidden()), b2 = Var.param(uniform(o.hidden(), o.hidden(), r), o.hidden());
        Var w3 = Var.param(uniform(o.dim() * o.hidden(), o.hidden(), r), o.dim(), o.hidden()), b3 = Var.param(uniform(o.dim(), o.hidden(), r), o.dim());
        List<Var> params = List.of(w1, b1, w2, b2, w3, b3);
        AdamW opt = new AdamW();
        int b = Math.min(o.batch(), n);
        float[] eye = new float[b * b];
        for (int i = 0; i < b; i++) eye[i * b + i] = 1f;
        String tag = o + " n=" + n;
        int start = 0;
        if (checkpoint != null && java.nio.file.Files.exists(checkpoint)) start = restore(checkpoint, tag, params, opt);
        for (int step = start; step < o.steps(); step++) {
            SplittableRandom sr = new SplittableRandom(o.seed() * 1_000_003L + step);
            int[] idx = sr.ints(0, n).limit(b).toArray();
            float[] v1 = new float[b * in], v2 = new float[b * in];
            for (int i = 0; i < b; i++) {
                augment(x, idx[i] * in, v1, i * in, o, sr);
                augment(x, idx[i] * in, v2, i * in, o, sr);
            }
            Tape t = new Tape();
            Var z1 = forward(t, Var.constant(v1, b, in), w1, b1, w2, b2, w3, b3);
            Var z2 = forward(t, Var.constant(v2, b, in), w1, b1, w2, b2, w3, b3);
            Var nce = t.affine(t.add(t.mean(t.softCrossEntropy(t.linear(z1, z2, null), eye, o.temperature())),
                    t.mean(t.softCrossEntropy(t.linear(z2, z1, null), eye, o.temperature()))), 0.5f, 0f);
            Var loss = o.koleo() > 0 ? t.add(nce, t.affine(KoLeoLoss.forward(t, z1), o.koleo(), 0f)) : nce;
            t.backward(loss);
            double lr = o.cosine() ? o.lr() * 0.5 * (1 + Math.cos(Math.PI * step / o.steps())) : o.lr();
            for (Var p : params) {
                opt.step(p, p.grad(), lr, p.shape().length == 2 ? o.weightDecay() : 0);
                p.zeroGrad();
            }
            if (progress != null) progress.step(step + 1, o.steps(), loss.value()[0]);
            if (checkpoint != null && every > 0 && ((step + 1) % every == 0 || step + 1 == o.steps()))
                save(checkpoint, tag, step + 1, params, opt);
        }
        return new CopyDetector(o.side(), o.channels(), o.hidden(), o.dim(), w1.value(), b1.value(), w2.value(), b2.value(),
                w3.value(), b3.value());
    }

    /** Steps between the checkpoints of {@link #trainTo}. */
    public static final int CHECKPOINT_EVERY = 100;

    /** Where {@link #trainTo} keeps the training state of {@code output}: FILE.ckpt beside it. */
    public static java.nio.file.Path checkpointOf(java.nio.file.Path output) {
        return output.resolveSibling(output.getFileName() + ".ckpt");
    }

    /** The steps a checkpoint holds. */
    public static long checkpointStep(java.nio.file.Path checkpoint) {
        try (TensorStore f = org.dino4j.io.SafeTensors.read(checkpoint)) {
            return Long.parseLong(f.metadata().get("step"));
        }
    }

    /**
     * A whole run to a weights file: resumed from {@link #checkpointOf}(output) when a run with the same options and
     * images left one, checkpointed every {@link #CHECKPOINT_EVERY} steps, the descriptor written to {@code output} at
     * the end and the checkpoint removed.
     */
    public static CopyDetector trainTo(float[] x, int n, Options o, Progress progress, java.nio.file.Path output)
            throws java.io.IOException {
        java.nio.file.Path ckpt = checkpointOf(output);
        CopyDetector cd = train(x, n, o, progress, ckpt, CHECKPOINT_EVERY);
        cd.save(output);
        java.nio.file.Files.deleteIfExists(ckpt);
        return cd;
    }

    private static final String[] NAMES = {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"};

    private static void save(java.nio.file.Path f, String tag, int step, List<Var> params, AdamW opt) throws java.io.IOException {
        List<org.dino4j.io.TensorEntry> t = new java.util.ArrayList<>();
        for (int i = 0; i < params.size(); i++) {
            Var p = params.get(i);
            long[] shape = java.util.Arrays.stream(p.shape()).asLongStream().toArray();
            AdamW.State st = opt.state(p);
            t.add(org.dino4j.io.TensorEntry.of(NAMES[i], shape, p.value()));
            t.add(org.dino4j.io.TensorEntry.of(NAMES[i] + ".exp_avg", shape, st.expAvg));
            t.add(org.dino4j.io.TensorEntry.of(NAMES[i] + ".exp_avg_sq", shape, st.expAvgSq));
        }
        java.nio.file.Path tmp = f.resolveSibling(f.getFileName() + ".tmp");
        org.dino4j.io.SafeTensors.write(tmp, t, java.util.Map.of("options", tag, "step", String.valueOf(step)));
        java.nio.file.Files.move(tmp, f, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /** Loads a checkpoint into the parameters and the optimizer; returns its step. */
    private static int restore(java.nio.file.Path f, String tag, List<Var> params, AdamW opt) {
        try (TensorStore st = org.dino4j.io.SafeTensors.read(f)) {
            String was = st.metadata() == null ? null : st.metadata().get("options");
            if (!tag.equals(was))
                throw new IllegalArgumentException(f + ": a checkpoint of another run (" + was + "); delete it or use the same options");
            int step = Integer.parseInt(st.metadata().get("step"));
            for (int i = 0; i < params.size(); i++) {
                Var p = params.get(i);
                AdamW.State s = opt.state(p);
                System.arraycopy(st.get(NAMES[i]).toFloatArray(), 0, p.value(), 0, p.numel());
                System.arraycopy(st.get(NAMES[i] + ".exp_avg").toFloatArray(), 0, s.expAvg, 0, p.numel());
                System.arraycopy(st.get(NAMES[i] + ".exp_avg_sq").toFloatArray(), 0, s.expAvgSq, 0, p.numel());
                s.step = step;
            }
            return step;
        }
    }

    /**
     * The heap a run on n images needs, counted as {@link org.dino4j.train.ssl.StepMemory} counts a DINOv2 step: the
     * images (side² x channels floats each, all decoded first), the weights with their AdamW moments and gradients,
     * and a step's two batches through the MLP (two arrays per hidden layer) with the b x b similarities.
     */
    public static long memoryBytes(long n, Options o) {
        long in = (long) o.side() * o.side() * o.channels(), h = o.hidden(), d = o.dim(), b = Math.min(o.batch(), n);
        long weights = h * in + h + h * h + h + d * h + d;
        long floats = n * in + 4 * weights + 2 * b * in + 2 * (4 * b * h + 2 * b * d) + 4 * b * b;
        return org.dino4j.train.ssl.StepMemory.withJvm(4 * floats);
    }

    static Var forward(Tape t, Var x, Var w1, Var b1, Var w2, Var b2, Var w3, Var b3) {
        Var h = t.gelu(t.linear(x, w1, b1));
        h = t.gelu(t.linear(h, w2, b2));
        return t.normalize(t.linear(h, w3, b3), 1e-12f);
    }

    /** nn.Linear's default initialisation: uniform(-1/sqrt(fanIn), 1/sqrt(fanIn)). */
    private static float[] uniform(int count, int fanIn, SplittableRandom r) {
        float[] w = new float[count];
        double a = 1 / Math.sqrt(fanIn);
        for (int i = 0; i < count; i++) w[i] = (float) ((r.nextDouble() * 2 - 1) * a);
        return w;
    }

    /** One random copy of the image at src[off..] into dst[dOff..]: crop resized back, noise, maybe 8-bit rounding. */
    static void augment(float[] src, int off, float[] dst, int dOff, Options o, SplittableRandom r) {
        int s = o.side(), c = o.channels();
        double m = o.maxCrop() * s;
        double left = r.nextDouble() * m, right = r.nextDouble() * m, top = r.nextDouble() * m, bottom = r.nextDouble() * m;
        double sx = (s - left - right) / s, sy = (s - top - bottom) / s;
        double sigma = r.nextDouble() * o.noise();
        boolean quantise = r.nextDouble() < 0.3, mirror = o.flip() && r.nextBoolean();
        for (int y = 0; y < s; y++) {
            double fy = top + (y + 0.5) * sy - 0.5; // source pixel centre of output pixel y (align_corners = False)
            int y0 = (int) Math.floor(fy);
            double wy = fy - y0;
            for (int xx = 0; xx < s; xx++) {
                double fx = left + (xx + 0.5) * sx - 0.5;
                int x0 = (int) Math.floor(fx);
                double wx = fx - x0;
                for (int ch = 0; ch < c; ch++) {
                    double v = (1 - wy) * ((1 - wx) * px(src, off, s, c, y0, x0, ch) + wx * px(src, off, s, c, y0, x0 + 1, ch))
                            + wy * ((1 - wx) * px(src, off, s, c, y0 + 1, x0, ch) + wx * px(src, off, s, c, y0 + 1, x0 + 1, ch));
                    v += sigma * r.nextGaussian();
                    v = Math.max(0, Math.min(1, v));
                    if (quantise) v = Math.round(v * 255) / 255.0;
                    dst[dOff + (y * s + (mirror ? s - 1 - xx : xx)) * c + ch] = (float) v;
                }
            }
        }
    }

    /** A source pixel, the border repeated outside the image. */
    private static float px(float[] a, int off, int s, int c, int y, int x, int ch) {
        y = Math.max(0, Math.min(s - 1, y));
        x = Math.max(0, Math.min(s - 1, x));
        return a[off + (y * s + x) * c + ch];
    }
}
