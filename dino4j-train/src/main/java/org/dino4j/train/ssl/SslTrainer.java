package org.dino4j.train.ssl;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.dino4j.data.RgbImage;
import org.dino4j.data.aug.DataAugmentationDino;
import org.dino4j.data.ssl.MaskCollator;
import org.dino4j.data.ssl.MaskingGenerator;
import org.dino4j.data.ssl.PyRandom;
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
import org.dino4j.train.optim.CosineScheduler;
import org.dino4j.train.optim.ParamGroups;

/**
 * SSLMetaArch's forward_backward plus the train loop's optimizer step (dinov2/train/ssl_meta_arch.py, train.py):
 * multi-crop augmentation, iBOT masks as collate_data_and_cast makes them, teacher (EMA copy, no gradient) on the
 * global crops with its CLS chunks swapped, one shared DINO head, DINO loss over the 2 x (2 - 1) global and
 * 2 x L local pairs, iBOT on the masked patches, KoLeo (weight 0.1) per global crop, per-submodule clipping, AdamW
 * with the official parameter groups and schedules, EMA. Each step draws its randomness from generators seeded by
 * (seed, step), so a run resumed at step s makes the same draws as one that never stopped.
 */
public final class SslTrainer {
    /** The knobs of ssl_default_config.yaml that a step uses (the official names in comments). */
    public record Config(ModelConfig model, DataAugmentationDino.Config crops, int prototypes, int headHidden,
                         int headBottleneck, int headLayers, boolean sinkhornKnopp, double baseLr, int batchPerStep,
                         double minLr, double weightDecay, double weightDecayEnd, double momentumTeacher,
                         double teacherTemp, double warmupTeacherTemp, int warmupTeacherTempIters, int warmupIters,
                         int totalIters, int freezeLastLayerIters, double clipGrad, double layerwiseDecay,
                         double patchEmbedLrMult, double dropPathRate, double koleoWeight, double maskRatioMin,
                         double maskRatioMax, double maskProbability, double dinoLossWeight, double ibotLossWeight,
                         boolean dropPathUniform, IbotHead ibotHead, int highResSize, int highResIters) {
        /** The official defaults of the knobs added after the first 27 (shared iBOT head, no high-resolution phase). */
        public Config(ModelConfig model, DataAugmentationDino.Config crops, int prototypes, int headHidden,
                      int headBottleneck, int headLayers, boolean sinkhornKnopp, double baseLr, int batchPerStep,
                      double minLr, double weightDecay, double weightDecayEnd, double momentumTeacher,
                      double teacherTemp, double warmupTeacherTemp, int warmupTeacherTempIters, int warmupIters,
                      int totalIters, int freezeLastLayerIters, double clipGrad, double layerwiseDecay,
                      double patchEmbedLrMult, double dropPathRate, double koleoWeight, double maskRatioMin,
                      double maskRatioMax, double maskProbability) {
            this(model, crops, prototypes, headHidden, headBottleneck, headLayers, sinkhornKnopp, baseLr, batchPerStep,
                    minLr, weightDecay, weightDecayEnd, momentumTeacher, teacherTemp, warmupTeacherTemp,
                    warmupTeacherTempIters, warmupIters, totalIters, freezeLastLayerIters, clipGrad, layerwiseDecay,
                    patchEmbedLrMult, dropPathRate, koleoWeight, maskRatioMin, maskRatioMax, maskProbability, 1.0, 1.0,
                    true, null, 0, 0);
        }

        /** optim.lr scaled by sqrt(batch / 1024) (scaling_rule sqrt_wrt_1024). */
        public double lr() {
            return baseLr * Math.sqrt(batchPerStep / 1024.0);
        }
    }

    /** ibot.separate_head: the iBOT loss gets its own head (student and teacher), with these sizes. */
    public record IbotHead(int prototypes, int hidden, int bottleneck, int layers) {}

    /**
     * One step's losses (as the official logs them: koleo and ibot before their weights' halving for display), and
     * the mean entropy of the teacher's DINO targets (after centering or Sinkhorn-Knopp; log K at most): with
     * dinoLocal + dinoGlobal at log K it says the head has collapsed to uniform outputs ({@link CollapseDetector}).
     */
    public record Losses(float total, float dinoLocal, float dinoGlobal, float koleo, float ibot, double teacherEntropy) {
        /** The two DINO terms together: log K for uniform student outputs, whatever the number of local crops. */
        public double dino() {
            return (double) dinoLocal + dinoGlobal;
        }
    }

    private final Config cfg;
    private final long seed;
    private final TrainableVit student;
    private final DinoHead head;
    private final Map<String, Var> sBackbone, sHead, tBackbone, tHead, sIbot, tIbot; // *Ibot: null with a shared head
    private final List<ParamGroups.Param> backboneParams, headParams, ibotParams;
    private final List<List<ParamGroups.Param>> groups; // per submodule: clipping is per group
    private final DinoHead ibotHead;
    private final AdamW opt = new AdamW();
    private final CosineScheduler lr, lastLayerLr, wd, momentum, teacherTemp;
    private final DataAugmentationDino aug, augHighRes;
    private final MaskCollator masks, masksHighRes;
    private final DinoLoss dinoLoss;
    private final IbotPatchLoss ibotLoss;
    private final Frozen frozen;
    /** The EMA backbone as an inference model over the EMA arrays themselves (distilling: the result, not the targets). */
    private final DinoVisionTransformer teacher;
    private long step;

    /**
     * Distillation's teacher (paper section 5): a trained backbone and DINO head, never updated. The head must have
     * the student head's number of prototypes, and the backbone the student's patch size (iBOT compares patch by patch).
     */
    public record Frozen(DinoVisionTransformer backbone, Map<String, Var> head, int headLayers) {}

    public SslTrainer(Config cfg, long seed) {
        this(cfg, seed, null);
    }

    /**
     * The teacher (EMA) backbone and DINO head of a {@link #save}d run as distillation's frozen teacher; {@code cfg}
     * is that run's configuration. The backbone stays memory-mapped from the file.
     */
    public static Frozen frozenFrom(java.nio.file.Path ckpt, Config cfg) {
        TensorStore f = org.dino4j.io.SafeTensors.read(ckpt);
        try {
            if (!f.contains("teacher/backbone.cls_token"))
                throw new IllegalArgumentException(ckpt + ": not a dino4j training checkpoint (no teacher/backbone.cls_token)");
            DinoVisionTransformer net = DinoVisionTransformer.fromStateDict(cfg.model(), f.withPrefix("teacher/backbone."), f);
            Map<String, Var> head = new LinkedHashMap<>();
            for (var e : f.withPrefix("teacher/dino_head.").tensors().entrySet())
                head.put(e.getKey(), Var.constant(e.getValue().toFloatArray(), e.getValue().intShape()));
            return new Frozen(net, head, cfg.headLayers());
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    /**
     * With {@code frozen} set this is distillation as the paper describes it: the frozen model gives the targets,
     * the student sees no masks and no drop-path, iBOT's loss covers every patch of the global crops, and the
     * EMA of the student (what {@link #teacher()} returns) is the result.
     */
    public SslTrainer(Config cfg, long seed, Frozen frozen) {
        this.cfg = cfg;
        this.seed = seed;
        this.frozen = frozen;
        if (frozen != null) {
            ModelConfig fc = frozen.backbone().config();
            if (fc.patchSize() != cfg.model().patchSize())
                throw new IllegalArgumentException("teacher patch size " + fc.patchSize() + " != student's " + cfg.model().patchSize()
                        + " (iBOT's targets are per patch)");
            int k = frozen.head().get("last_layer.weight_v").shape()[0];
            if (k != cfg.prototypes())
                throw new IllegalArgumentException("teacher head has " + k + " prototypes, the student's " + cfg.prototypes());
        }
        if (frozen != null && cfg.ibotHead() != null)
            throw new IllegalArgumentException("distillation with ibot.separate_head is not supported (the frozen teacher brings one head)");
        SplittableRandom init = new SplittableRandom(seed);
        sBackbone = Init.vit(cfg.model(), init);
        sHead = Init.dinoHead(cfg.model().embedDim(), cfg.prototypes(), cfg.headLayers(), cfg.headHidden(), cfg.headBottleneck(), init);
        tBackbone = Weights.constantCopy(sBackbone);
        tHead = Weights.constantCopy(sHead);
        teacher = DinoVisionTransformer.view(cfg.model(), Weights.stateDict(tBackbone));
        student = new TrainableVit(cfg.model(), sBackbone);
        head = new DinoHead(sHead, cfg.headLayers());
        backboneParams = ParamGroups.of("backbone", sBackbone, cfg.model().depth(), cfg.layerwiseDecay(), cfg.patchEmbedLrMult());
        headParams = ParamGroups.of("dino_head", sHead, 0, cfg.layerwiseDecay(), cfg.patchEmbedLrMult());
        IbotHead ih = cfg.ibotHead();
        sIbot = ih == null ? null : Init.dinoHead(cfg.model().embedDim(), ih.prototypes(), ih.layers(), ih.hidden(), ih.bottleneck(), init);
        tIbot = ih == null ? null : Weights.constantCopy(sIbot);
        ibotHead = ih == null ? head : new DinoHead(sIbot, ih.layers());
        ibotParams = ih == null ? List.of() : ParamGroups.of("ibot_head", sIbot, 0, cfg.layerwiseDecay(), cfg.patchEmbedLrMult());
        groups = ih == null ? List.of(backboneParams, headParams) : List.of(backboneParams, headParams, ibotParams);
        lr = new CosineScheduler(cfg.lr(), cfg.minLr(), cfg.totalIters(), cfg.warmupIters(), 0, 0);
        lastLayerLr = new CosineScheduler(cfg.lr(), cfg.minLr(), cfg.totalIters(), cfg.warmupIters(), 0, 0).zeroFirst(cfg.freezeLastLayerIters());
        wd = new CosineScheduler(cfg.weightDecay(), cfg.weightDecayEnd(), cfg.totalIters());
        momentum = new CosineScheduler(cfg.momentumTeacher(), 1.0, cfg.totalIters());
        teacherTemp = new CosineScheduler(cfg.teacherTemp(), cfg.teacherTemp(), cfg.warmupTeacherTempIters(),
                cfg.warmupTeacherTempIters(), cfg.warmupTeacherTemp(), 0);
        aug = new DataAugmentationDino(cfg.crops());
        masks = collator(cfg, cfg.crops().globalSize());
        boolean hr = cfg.highResIters() > 0;
        if (hr && (cfg.highResSize() <= 0 || cfg.highResSize() % cfg.model().patchSize() != 0))
            throw new IllegalArgumentException("high-resolution global crops of " + cfg.highResSize() + " px: must be a multiple of the patch size "
                    + cfg.model().patchSize());
        var c = cfg.crops();
        augHighRes = hr ? new DataAugmentationDino(new DataAugmentationDino.Config(c.globalScaleMin(), c.globalScaleMax(), c.localScaleMin(),
                c.localScaleMax(), c.localCrops(), cfg.highResSize(), c.localSize(), c.paperBlur())) : null;
        masksHighRes = hr ? collator(cfg, cfg.highResSize()) : null;
        dinoLoss = new DinoLoss(cfg.prototypes());
        ibotLoss = new IbotPatchLoss(ih == null ? cfg.prototypes() : ih.prototypes());
    }

    private static MaskCollator collator(Config cfg, int globalSize) {
        int g = globalSize / cfg.model().patchSize();
        return new MaskCollator(MaskingGenerator.official(globalSize, cfg.model().patchSize()), g * g,
                cfg.maskRatioMin(), cfg.maskRatioMax(), cfg.maskProbability());
    }

    /** The global crop size of step s: the high-resolution phase's for the last highResIters steps. */
    public int globalCropSize(long s) {
        return cfg.highResIters() > 0 && s >= cfg.totalIters() - cfg.highResIters() ? cfg.highResSize() : cfg.crops().globalSize();
    }

    public long step() {
        return step;
    }

    /** The learning rate of the step just done (the schedule's value, before per-group multipliers). */
    public double currentLr() {
        return lr.get(Math.max(0, step - 1));
    }

    /**
     * The teacher backbone as an inference model: the same model every call, its weights the EMA arrays themselves
     * (each step's update is its weights). Closing it only drops its scratch memory.
     */
    public DinoVisionTransformer teacher() {
        return teacher;
    }

    /** One training step on a batch of images. */
    public Losses train(List<RgbImage> images) {
        int b = images.size(), L = cfg.crops().localCrops(), gs = globalCropSize(step), ls = cfg.crops().localSize();
        boolean highRes = gs != cfg.crops().globalSize();
        int d = cfg.model().embedDim(), k = cfg.prototypes(), gsz = 3 * gs * gs, lsz = 3 * ls * ls;
        SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + step);
        // collate: crop i of every image, crop by crop (collate_data_and_cast's order)
        float[] global = new float[2 * b * gsz], local = new float[L * b * lsz];
        for (int s = 0; s < b; s++) {
            DataAugmentationDino.Crops c = (highRes ? augHighRes : aug).apply(images.get(s), rng);
            for (int i = 0; i < 2; i++) System.arraycopy(c.global().get(i), 0, global, (i * b + s) * gsz, gsz);
            for (int i = 0; i < L; i++) System.arraycopy(c.local().get(i), 0, local, (i * b + s) * lsz, lsz);
        }
        MaskCollator.Masks mk = (highRes ? masksHighRes : masks).collate(2 * b, new PyRandom(seed * 1_000_003L + step));
        boolean[] mask = mk.masks();
        int[] maskedRows = mk.indices();
        float[] masksWeight = mk.weights();
        if (frozen != null) { // distillation: no masks; iBOT on all patches, each image weighted 1 / patches
            int p = mask.length / (2 * b);
            mask = new boolean[mask.length];
            Arrays.fill(mask, true);
            maskedRows = range(0, mask.length);
            masksWeight = new float[mask.length];
            Arrays.fill(masksWeight, 1f / p);
        }
        int m = maskedRows.length;
        float temp = (float) teacherTemp.get(step);

        // teacher: no gradient; CLS chunks swapped so crop A's student output meets crop B's target
        float[] tCls, tPatch;
        { // the teacher's outputs go out of scope with this block
            DinoVisionTransformer net = frozen != null ? frozen.backbone() : teacher;
            int td = net.config().embedDim();
            var f = net.forwardFeatures(new Tensor(global, 2 * b, 3, gs, gs));
            float[] cls = f.xNormClstoken().data(), swapped = new float[cls.length];
            System.arraycopy(cls, b * td, swapped, 0, b * td);
            System.arraycopy(cls, 0, swapped, b * td, b * td);
            DinoHead th = frozen != null ? new DinoHead(frozen.head(), frozen.headLayers()) : new DinoHead(tHead, cfg.headLayers());
            Tape none = new Tape();
            tCls = th.forward(none, Var.constant(swapped, 2 * b, td)).value();
            float[] pt = f.xNormPatchtokens().data(), sel = new float[Math.max(m, 1) * td];
            for (int i = 0; i < m; i++) System.arraycopy(pt, maskedRows[i] * td, sel, i * td, td);
            DinoHead tib = tIbot == null ? th : new DinoHead(tIbot, cfg.ibotHead().layers());
            tPatch = m > 0 ? tib.forward(none, Var.constant(sel, m, td)).value() : new float[0];
            if (frozen == null) teacher.close(); // its scratch memory: the student needs the heap more until the next step
        }
        float[] pDino, pIbot;
        if (cfg.sinkhornKnopp()) {
            pDino = dinoLoss.sinkhornKnoppTeacher(tCls, temp, 3);
            pIbot = m > 0 ? ibotLoss.sinkhornKnoppTeacher(tPatch, cfg.ibotHead() == null ? k : cfg.ibotHead().prototypes(), temp, m, 3) : new float[0];
        } else {
            pDino = dinoLoss.softmaxCenterTeacher(tCls, temp);
            dinoLoss.updateCenter(tCls);
            pIbot = m > 0 ? ibotLoss.softmaxCenterTeacher(tPatch, temp) : new float[0];
            if (m > 0) ibotLoss.updateCenter(tPatch);
        }
        double teacherEntropy = Centering.meanEntropy(pDino, 2 * b, k);
        tCls = tPatch = null; // the teacher's logits are not needed past here (rows x K floats)

        // student
        Tape t = new Tape();
        TrainableVit.DropPath dp = cfg.dropPathRate() > 0 && frozen == null
                ? new TrainableVit.DropPath(cfg.dropPathRate(), cfg.dropPathUniform(), rng) : null;
        TrainableVit.Out g = student.forward(t, global, 2 * b, gs, gs, frozen != null ? null : mask, dp);
        TrainableVit.Out l = student.forward(t, local, L * b, ls, ls, null, dp);
        Var sLocal = head.forward(t, l.xNormClstoken()), sGlobal = head.forward(t, g.xNormClstoken());
        int localTerms = L * 2, globalTerms = 2;
        List<float[]> tChunks = List.of(Arrays.copyOfRange(pDino, 0, b * k), Arrays.copyOfRange(pDino, b * k, 2 * b * k));
        List<Var> localChunks = new ArrayList<>();
        for (int i = 0; i < L; i++) localChunks.add(t.rows(sLocal, range(i * b, (i + 1) * b)));
        Var dinoLocal = t.affine(dinoLoss.forward(t, localChunks, tChunks), 1f / (globalTerms + localTerms), 0f);
        Var dinoGlobal = t.affine(dinoLoss.forward(t, List.of(sGlobal), List.of(pDino)), 2f / (globalTerms + localTerms), 0f);
        Var koleo = t.affine(t.add(KoLeoLoss.forward(t, t.rows(g.xNormClstoken(), range(0, b))),
                KoLeoLoss.forward(t, t.rows(g.xNormClstoken(), range(b, 2 * b)))), (float) cfg.koleoWeight(), 0f);
        Var dino = t.add(dinoLocal, dinoGlobal);
        Var loss = t.add(cfg.dinoLossWeight() == 1 ? dino : t.affine(dino, (float) cfg.dinoLossWeight(), 0f), koleo);
        Var ibot = null;
        if (m > 0) {
            Var sPatch = ibotHead.forward(t, t.rows(g.xNormPatchtokens(), maskedRows));
            ibot = ibotLoss.forwardMasked(t, sPatch, pIbot, mask, 2 * b, masksWeight); // * 2 * 0.5: ibot_loss_scale
            loss = t.add(loss, cfg.ibotLossWeight() == 1 ? ibot : t.affine(ibot, (float) cfg.ibotLossWeight(), 0f));
        }
        if (!Float.isFinite(loss.item()))
            throw new IllegalStateException("loss is " + loss.item() + " at step " + step + ": stopping (NaN/Inf)");
        for (var group : groups) for (var p : group) p.var().zeroGrad();
        t.backward(loss);

        // optimizer: per-submodule clipping, per-group lr / wd, AdamW; then EMA
        for (var group : groups) AdamW.clipGradNorm(group.stream().map(ParamGroups.Param::var).toList(), cfg.clipGrad());
        double mom = momentum.get(step);
        for (List<ParamGroups.Param> group : groups)
            for (ParamGroups.Param p : group) {
                double plr = (p.lastLayer() ? lastLayerLr : lr).get(step) * p.lrMultiplier();
                opt.step(p.var(), p.var().grad(), plr, wd.get(step) * p.wdMultiplier());
            }
        for (var e : sBackbone.entrySet()) AdamW.ema(tBackbone.get(e.getKey()).value(), e.getValue().value(), mom);
        for (var e : sHead.entrySet()) AdamW.ema(tHead.get(e.getKey()).value(), e.getValue().value(), mom);
        if (sIbot != null) for (var e : sIbot.entrySet()) AdamW.ema(tIbot.get(e.getKey()).value(), e.getValue().value(), mom);
        teacher.weightsChanged();
        step++;
        return new Losses(loss.item(), dinoLocal.item(), dinoGlobal.item(), koleo.item(), ibot == null ? 0f : ibot.item(), teacherEntropy);
    }

    /**
     * Writes everything a resumed run needs (student, teacher, AdamW moments and step counts, the DINO and iBOT
     * centers with their pending updates, the step) to one safetensors file, atomically: temporary file, fsync, rename.
     */
    public void save(java.nio.file.Path file) throws java.io.IOException {
        List<TensorEntry> t = new ArrayList<>();
        for (var group : groups)
            for (ParamGroups.Param p : group) {
                Var v = p.var();
                long[] shape = Arrays.stream(v.shape()).asLongStream().toArray();
                t.add(TensorEntry.of("student/" + p.name(), shape, v.value()));
                t.add(TensorEntry.of("teacher/" + p.name(), shape, teacherOf(p).value()));
                AdamW.State st = opt.state(v);
                t.add(TensorEntry.of("adam_m/" + p.name(), shape, st.expAvg));
                t.add(TensorEntry.of("adam_v/" + p.name(), shape, st.expAvgSq));
                t.add(TensorEntry.of("adam_step/" + p.name(), new long[] {1}, new float[] {st.step}));
            }
        addCenter(t, "dino", dinoLoss.centerState());
        addCenter(t, "ibot", ibotLoss.centerState());
        org.dino4j.io.SafeTensors.write(file, t, Map.of("step", Long.toString(step), "seed", Long.toString(seed),
                "what", "dino4j SslTrainer checkpoint"));
    }

    /** Restores a {@link #save}d state into this trainer (same configuration). */
    public void load(java.nio.file.Path file) {
        try (TensorStore f = org.dino4j.io.SafeTensors.read(file)) {
            for (var group : groups)
                for (ParamGroups.Param p : group) {
                    copyInto(f, "student/" + p.name(), p.var().value(), file);
                    copyInto(f, "teacher/" + p.name(), teacherOf(p).value(), file);
                    AdamW.State st = opt.state(p.var());
                    copyInto(f, "adam_m/" + p.name(), st.expAvg, file);
                    copyInto(f, "adam_v/" + p.name(), st.expAvgSq, file);
                    st.step = (long) f.get("adam_step/" + p.name()).toFloatArray()[0];
                    p.var().zeroGrad();
                }
            dinoLoss.restore(center(f, "dino"));
            ibotLoss.restore(center(f, "ibot"));
            step = Long.parseLong(f.metadata().get("step"));
        }
        teacher.weightsChanged();
    }

    private Var teacherOf(ParamGroups.Param p) {
        String n = p.name();
        if (n.startsWith("backbone.")) return tBackbone.get(n.substring(9));
        return n.startsWith("dino_head.") ? tHead.get(n.substring(10)) : tIbot.get(n.substring(10));
    }

    private static void copyInto(TensorStore f, String name, float[] dst, java.nio.file.Path file) {
        if (!f.contains(name)) throw new IllegalArgumentException(file + ": checkpoint has no " + name);
        float[] src = f.get(name).toFloatArray();
        if (src.length != dst.length)
            throw new IllegalArgumentException(file + ": " + name + " has " + src.length + " values, the model " + dst.length);
        System.arraycopy(src, 0, dst, 0, dst.length);
    }

    private static void addCenter(List<TensorEntry> t, String prefix, DinoLoss.CenterState c) {
        t.add(TensorEntry.of(prefix + "/center", new long[] {c.center().length}, c.center()));
        if (c.pendingSum() != null) {
            t.add(TensorEntry.of(prefix + "/pending_sum", new long[] {c.pendingSum().length}, c.pendingSum()));
            t.add(TensorEntry.of(prefix + "/pending_rows", new long[] {1}, new float[] {c.pendingRows()}));
        }
    }

    private static DinoLoss.CenterState center(TensorStore f, String prefix) {
        float[] pend = f.contains(prefix + "/pending_sum") ? f.get(prefix + "/pending_sum").toFloatArray() : null;
        int rows = pend == null ? 0 : (int) f.get(prefix + "/pending_rows").toFloatArray()[0];
        return new DinoLoss.CenterState(f.get(prefix + "/center").toFloatArray(), pend, rows);
    }

    private static int[] range(int a, int b) {
        int[] r = new int[b - a];
        for (int i = 0; i < r.length; i++) r[i] = a + i;
        return r;
    }
}
