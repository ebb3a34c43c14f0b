package org.dino4j.train.bench;

import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

import org.dino4j.io.DType;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.ModelConfig;
import org.dino4j.tensor.Tensor;
import org.dino4j.train.autograd.Tape;
import org.dino4j.train.autograd.Var;
import org.dino4j.train.loss.Centering;
import org.dino4j.train.loss.DinoLoss;
import org.dino4j.train.loss.IbotPatchLoss;
import org.dino4j.train.loss.KoLeoLoss;
import org.dino4j.train.model.DinoHead;
import org.dino4j.train.model.Init;
import org.dino4j.train.model.TrainableVit;
import org.dino4j.train.model.Weights;
import org.dino4j.train.optim.AdamW;
import org.dino4j.train.ssl.StepMemory;

/**
 * One DINOv2 training step, as ../shared/bench/train_step_peer.py does it in PyTorch: student on 2 x B global crops
 * (224 px, half of them block... here randomly masked at 10-50%) and 8 x B local crops (98 px), DropPath 0.1; teacher
 * (EMA copy, the inference engine) on the global crops; shared DINOHead (3 layers, 2048 hidden, 256 bottleneck, K
 * prototypes); DINO loss (Sinkhorn-Knopp teacher, the 18 cross-view pairs), iBOT on the masked patches, 0.1 KoLeo;
 * AdamW; EMA. Random pixels and weights: this measures speed and memory only.
 */
public final class TrainStepBench {
    /** @param liveHeapMb heap in use after a full GC at the end of the first step's forward (the step's peak of live data) */
    public record Result(String model, int batch, int prototypes, int checkpointEvery, double medianStepS, double minStepS,
                         double imagesPerS, long liveHeapMb, float lastLoss) {}

    /** Where a step's time goes, in the order the step runs. */
    static final String[] PHASES = {"teacher", "targets", "student forward", "heads and losses", "backward", "AdamW and EMA"};

    private TrainStepBench() {}

    /**
     * @param checkpointEvery activation checkpointing (recompute in the backward; much less memory) for every k-th
     *     block, 0 for none
     */
    public static Result run(String preset, int batch, int prototypes, int checkpointEvery, int steps, int warmup, Consumer<String> log) {
        return run(config(preset), preset, batch, prototypes, checkpointEvery, steps, warmup, log);
    }

    /** As {@link #run(String, int, int, int, int, int, Consumer)} for any architecture at 224 px (a small one in tests). */
    public static Result run(ModelConfig cfg, String name, int batch, int prototypes, int checkpointEvery, int steps, int warmup, Consumer<String> log) {
        SplittableRandom rng = new SplittableRandom(0);
        Map<String, Var> sBackbone = Init.vit(cfg, rng), sHead = Init.dinoHead(cfg.embedDim(), prototypes, 3, 2048, 256, rng);
        Map<String, Var> tBackbone = Weights.constantCopy(sBackbone), tHead = Weights.constantCopy(sHead);
        DinoVisionTransformer teacher = DinoVisionTransformer.view(cfg, Weights.stateDict(tBackbone)); // over the EMA arrays
        TrainableVit student = new TrainableVit(cfg, sBackbone, checkpointEvery);
        DinoHead head = new DinoHead(sHead, 3);
        List<Var> params = new ArrayList<>(sBackbone.values());
        params.addAll(sHead.values());
        AdamW opt = new AdamW();

        int b = batch, n = (224 / cfg.patchSize()) * (224 / cfg.patchSize());
        float[] global = randn(rng, 2 * b * 3 * 224 * 224), local = randn(rng, 8 * b * 3 * 98 * 98);
        boolean[] masks = new boolean[2 * b * n];
        for (int i = 0; i < b; i++) { // half of the global crops masked, 10-50% of their patches
            int k = masked(i, b, n);
            int[] perm = perm(n, rng);
            for (int j = 0; j < k; j++) masks[i * n + perm[j]] = true;
        }
        List<Double> times = new ArrayList<>();
        float loss = Float.NaN;
        long[] live = {-1};
        for (int s = 0; s < warmup + steps; s++) {
            long t0 = System.nanoTime();
            double[] ph = new double[PHASES.length];
            loss = step(cfg, student, head, teacher, tBackbone, tHead, params, opt, global, local, masks, b, n, prototypes, rng, s == 0 ? live : null, ph);
            double sec = (System.nanoTime() - t0) / 1e9;
            StringBuilder where = new StringBuilder();
            for (int q = 0; q < PHASES.length; q++) where.append(q == 0 ? " (" : ", ").append(String.format("%s %.2f", PHASES[q], ph[q]));
            log.accept(String.format("step %d: %.2f s, loss %.4f%s)%s%s", s, sec, loss, where,
                    s == 0 ? String.format(", live heap at the end of the forward %d MB (a full GC there, in this step)", live[0] >> 20) : "",
                    s < warmup ? " (warm-up)" : ""));
            if (s >= warmup) times.add(sec);
        }
        double[] t = times.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        double med = t.length % 2 == 1 ? t[t.length / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2; // as Python's statistics.median
        return new Result(name, batch, prototypes, checkpointEvery, med, t[0], batch / med, live[0] >> 20, loss);
    }

    /** The preset's architecture at 224 px with LayerScale (1e-5), as the official training configs build it. */
    public static ModelConfig config(String preset) {
        ModelConfig hub = ModelConfig.preset(preset);
        return new ModelConfig(224, hub.patchSize(), 3, hub.embedDim(), hub.depth(), hub.numHeads(), hub.mlpRatio(),
                true, true, true, 1e-5, hub.ffnLayer(), hub.numRegisterTokens(), hub.interpolateAntialias(), hub.interpolateOffset(), 1e-6);
    }

    /** Masked patches of global crop i of the first b (the masked half): 10 % to 50 %, spread over the batch. */
    private static int masked(int i, int b, int n) {
        return (int) (n * (0.1 + 0.4 * i / Math.max(b - 1, 1)));
    }

    /** What a step of {@link #run} with these settings needs: its crops, masks and head (DropPath 0.1, per sample). */
    public static StepMemory memory(String preset, int batch, int prototypes, int checkpointEvery) {
        return memory(config(preset), batch, prototypes, checkpointEvery);
    }

    public static StepMemory memory(ModelConfig cfg, int batch, int prototypes, int checkpointEvery) {
        int n = (224 / cfg.patchSize()) * (224 / cfg.patchSize());
        long m = 0;
        for (int i = 0; i < batch; i++) m += masked(i, batch, n);
        return StepMemory.count(cfg, batch, 224, 98, 8, m, new StepMemory.Head(prototypes, 2048, 256, 3), null, 0.1, true,
                checkpointEvery, false);
    }

    private static float step(ModelConfig cfg, TrainableVit student, DinoHead head, DinoVisionTransformer teacher, Map<String, Var> tBackbone,
                              Map<String, Var> tHead, List<Var> params, AdamW opt, float[] global, float[] local,
                              boolean[] masks, int b, int n, int k, SplittableRandom rng, long[] liveOut, double[] phases) {
        long p0 = System.nanoTime();
        int d = cfg.embedDim();
        // teacher: the inference engine over the EMA arrays, head on the CLS and masked patches
        float[] tCls, tPatch;
        int m = 0;
        for (boolean x : masks) if (x) m++;
        int[] maskedRows = new int[m];
        for (int i = 0, r = 0; i < masks.length; i++) if (masks[i]) maskedRows[r++] = i;
        try (teacher) { // closing drops its scratch memory only
            var f = teacher.forwardFeatures(new Tensor(global, 2 * b, 3, 224, 224));
            Tape none = new Tape();
            DinoHead th = new DinoHead(tHead, 3);
            tCls = th.forward(none, Var.constant(f.xNormClstoken().data(), 2 * b, d)).value();
            float[] pt = f.xNormPatchtokens().data(), sel = new float[m * d];
            for (int i = 0; i < m; i++) System.arraycopy(pt, maskedRows[i] * d, sel, i * d, d);
            tPatch = th.forward(none, Var.constant(sel, m, d)).value();
        }
        long p1 = System.nanoTime();
        float[] tClsP = Centering.sinkhornKnopp(tCls, 2 * b, k, 0.07f, 3, 2 * b);
        float[] tPatchP = Centering.sinkhornKnopp(tPatch, m, k, 0.07f, 3, m);
        tCls = tPatch = null; // the teacher's logits (m x K floats) are not needed past here; an interpreted frame would keep them

        long p2 = System.nanoTime();
        Tape t = new Tape();
        TrainableVit.DropPath dp = new TrainableVit.DropPath(0.1, true, rng);
        TrainableVit.Out g = student.forward(t, global, 2 * b, 224, 224, masks, dp);
        TrainableVit.Out l = student.forward(t, local, 8 * b, 98, 98, null, dp);
        long p3 = System.nanoTime();
        Var sCls = head.forward(t, t.concatRows(g.xNormClstoken(), l.xNormClstoken()));
        Var sPatch = head.forward(t, t.rows(g.xNormPatchtokens(), maskedRows));
        // DINO: the 10 student crops against the 2 teacher crops, same-view pairs skipped: 18 terms
        DinoLoss dl = new DinoLoss(k);
        Var dino = null;
        List<float[]> targets = List.of(Arrays.copyOfRange(tClsP, 0, b * k), Arrays.copyOfRange(tClsP, b * k, 2 * b * k)); // once, not per term
        for (int si = 0; si < 10; si++) {
            Var sc = t.rows(sCls, range(si * b, (si + 1) * b));
            for (int ti = 0; ti < 2; ti++) {
                if (si == ti) continue;
                Var term = dl.forward(t, List.of(sc), List.of(targets.get(ti)));
                dino = dino == null ? term : t.add(dino, term);
            }
        }
        dino = t.affine(dino, 1f / 18, 0f);
        Var ibot = new IbotPatchLoss(k).forwardMasked(t, sPatch, tPatchP, masks, 2 * b, null);
        Var koleo = t.add(KoLeoLoss.forward(t, t.rows(g.xNormClstoken(), range(0, b))),
                KoLeoLoss.forward(t, t.rows(g.xNormClstoken(), range(b, 2 * b))));
        Var loss = t.add(t.add(dino, ibot), t.affine(koleo, 0.1f, 0f));
        float value = loss.item();
        long p4 = System.nanoTime();
        for (Var p : params) p.zeroGrad();
        if (liveOut != null) { // the peak: every activation, the logits and the targets alive, the backward not begun
            System.gc();
            liveOut[0] = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
        }
        long p5 = System.nanoTime();
        t.backward(loss);
        long p6 = System.nanoTime();
        for (Var p : params) opt.step(p, p.grad(), 1e-4, 0.04);
        int i = 0;
        List<Var> teacherVars = new ArrayList<>(tBackbone.values());
        teacherVars.addAll(tHead.values());
        for (Var p : params) AdamW.ema(teacherVars.get(i++).value(), p.value(), 0.994);
        teacher.weightsChanged();
        long p7 = System.nanoTime();
        long[] spans = {p1 - p0, p2 - p1, p3 - p2, p4 - p3, p6 - p5, p7 - p6}; // p4..p5: the live-heap measure, left out
        for (int q = 0; q < PHASES.length; q++) phases[q] = spans[q] / 1e9;
        return value;
    }

    private static float[] randn(SplittableRandom r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    private static int[] perm(int n, SplittableRandom r) {
        int[] p = range(0, n);
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1), tmp = p[i];
            p[i] = p[j];
            p[j] = tmp;
        }
        return p;
    }

    private static int[] range(int a, int b) {
        int[] r = new int[b - a];
        for (int i = 0; i < r.length; i++) r[i] = a + i;
        return r;
    }
}
