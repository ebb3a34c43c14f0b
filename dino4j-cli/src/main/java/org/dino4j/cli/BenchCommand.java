package org.dino4j.cli;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

import org.dino4j.io.Json;
import org.dino4j.kernels.Gemm;
import org.dino4j.kernels.Kernels;
import org.dino4j.kernels.Parallel;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;
import org.dino4j.model.ModelConfig;
import org.dino4j.tensor.Tensor;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Inference throughput of hub presets with random weights (fp32), and GEMM GFLOP/s on the ViT shapes.",
                "Compare with shared/bench/vit_infer_peers.py run in the same session; quote ratios."})
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--model", split = ",", defaultValue = "dinov2_vits14,dinov2_vitb14", description = "Presets (default: ${DEFAULT-VALUE}).")
    List<String> models;

    @Option(names = "--batch", split = ",", defaultValue = "1,8", description = "Batch sizes (default: ${DEFAULT-VALUE}).")
    List<Integer> batches;

    @Option(names = "--size", defaultValue = "224", description = "Image side in pixels (default: ${DEFAULT-VALUE}).")
    int size;

    @Mixin
    ThreadsOption threads;

    @Option(names = "--iters", defaultValue = "5", description = "Timed iterations; the median is reported (default: ${DEFAULT-VALUE}).")
    int iters;

    @Option(names = "--warmup", defaultValue = "2", description = "Untimed iterations first (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--no-gemm", description = "Skip the GEMM measurements.")
    boolean noGemm;

    @Option(names = "--json", description = "One JSON object per measurement instead of a table.")
    boolean json;

    @Option(names = "--serve", description = {"For bench/interleaved.py: after the warm-up, run one forward per line read "
            + "from stdin and print its milliseconds (first model and batch only), so that a peer can be timed in "
            + "alternation with dino4j, forward by forward."})
    boolean serve;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--train", description = {"Time DINOv2 training steps instead of inference: student on 2 x B global (224) "
            + "and 8 x B local (98) crops, teacher on the globals, DINO + iBOT + KoLeo, AdamW, EMA (as "
            + "../shared/bench/train_step_peer.py). --batch is B (default 16), --iters the timed steps (default 2)."})
    boolean train;

    @Option(names = "--checkpoint", arity = "0..1", fallbackValue = "1", defaultValue = "0", paramLabel = "N",
            description = "With --train: activation checkpointing (recompute in the backward), for every block, or with "
                    + "=N for every N-th block (=2: half the recompute, about half the blocks' activations kept).")
    int checkpoint;

    @Option(names = "--heads", description = {"Time Meta's released heads (random weights of the released shapes) on one image whose "
            + "shorter side is --size (default here 518) and longer side 1.5 times it: the backbone alone, then each whole call "
            + "(classifier at 224, linear4 and DPT depth, linear and ms-sized segmentation encode), and a 3x3 conv's GFLOP/s."})
    boolean heads;

    @Option(names = "--prototypes", defaultValue = "65536", description = "DINO head prototypes for --train (default: ${DEFAULT-VALUE}).")
    int prototypes;

    @Override
    public Integer call() throws java.io.IOException {
        threads.apply();
        if (serve) return serve();
        if (train) return train();
        if (heads) return heads();
        if (!json) System.out.printf("dino4j bench: %d threads, %s kernels, %s, Java %s%n", Parallel.threads(), Kernels.get().name(), cpuName(),
                Runtime.version());
        for (String name : models) {
            ModelConfig cfg = ModelConfig.preset(name);
            try (DinoVisionTransformer m = Dinov2.random(cfg, 0)) {
                for (int b : batches) {
                    if (b < 1) throw new IllegalArgumentException("--batch must be >= 1");
                    Tensor x = randomPixels(b, size);
                    for (int i = 0; i < warmup; i++) m.forwardFeatures(x);
                    double[] t = new double[iters];
                    for (int i = 0; i < iters; i++) {
                        long t0 = System.nanoTime();
                        m.forwardFeatures(x);
                        t[i] = (System.nanoTime() - t0) / 1e9;
                    }
                    Arrays.sort(t);
                    double med = t[iters / 2], p99 = t[Math.min(iters - 1, (int) Math.ceil(0.99 * iters) - 1)];
                    Map<String, Object> r = new LinkedHashMap<>();
                    r.put("kind", "inference");
                    r.put("model", name);
                    r.put("batch", b);
                    r.put("size", size);
                    r.put("threads", Parallel.threads());
                    r.put("images_per_s", round(b / med));
                    r.put("ms_per_batch_median", round(med * 1e3));
                    r.put("ms_per_batch_min", round(t[0] * 1e3));
                    r.put("ms_per_batch_p99", round(p99 * 1e3));
                    long rss = rssMb("VmHWM");
                    r.put("peak_rss_mb", rss);
                    // (under 100 iterations the 99th percentile is the slowest one: called max then)
                    emit(r, String.format("%-16s batch %2d  %3dpx  %8.2f img/s  (median %.1f ms/batch, min %.1f, %s %.1f)  peak RSS %d MB",
                            name, b, size, b / med, med * 1e3, t[0] * 1e3, iters >= 100 ? "p99" : "max", p99 * 1e3, rss));
                }
                if (!noGemm) gemm(cfg, name);
            }
        }
        return 0;
    }

    private int train() {
        String name = models.get(0);
        var pr = spec.commandLine().getParseResult();
        int b = pr.hasMatchedOption("--batch") ? batches.get(0) : 16, steps = pr.hasMatchedOption("--iters") ? iters : 2;
        int warm = pr.hasMatchedOption("--warmup") ? warmup : 1;
        var need = org.dino4j.train.bench.TrainStepBench.memory(name, b, prototypes, checkpoint);
        if (!json) System.out.printf("dino4j bench --train: %s, batch %d, %d prototypes, %d threads, %s kernels, max heap %d MB (the step needs about %d MB)%n",
                name, b, prototypes, Parallel.threads(), Kernels.get().name(), Runtime.getRuntime().maxMemory() >> 20, need.needed() >> 20);
        HeapCheck.check(HeapCheck.Need.of("dino4j bench", String.format("a %s training step at batch %d (2 x 224 + 8 x 98 px crops, %d prototypes%s)",
                name, b, prototypes, checkpoint > 0 ? ", checkpointing every " + checkpoint + " blocks" : ""), need,
                "lower --batch (now " + b + ")" + (checkpoint == 1 ? "" : ", or --checkpoint (activation checkpointing, every block)")));
        var r = org.dino4j.train.bench.TrainStepBench.run(name, b, prototypes, checkpoint, steps, warm,
                line -> { if (!json) System.out.println("  " + line); });
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", "train_step");
        m.put("model", name);
        m.put("batch", b);
        m.put("crops", "2x224 (half masked) + 8x98");
        m.put("prototypes", prototypes);
        m.put("checkpoint_every", checkpoint);
        m.put("max_heap_mb", Runtime.getRuntime().maxMemory() >> 20);
        m.put("estimated_need_mb", need.needed() >> 20);
        m.put("threads", Parallel.threads());
        m.put("median_step_s", round(r.medianStepS()));
        m.put("min_step_s", round(r.minStepS()));
        m.put("images_per_s", round(r.imagesPerS()));
        m.put("live_heap_mb", r.liveHeapMb());
        emit(m, String.format("%s train step, batch %d: median %.2f s (min %.2f), %.3f img/s, live heap at the forward's end %d MB (max heap %d MB)",
                name, b, r.medianStepS(), r.minStepS(), r.imagesPerS(), r.liveHeapMb(), Runtime.getRuntime().maxMemory() >> 20));
        return 0;
    }

    private int heads() {
        var pr = spec.commandLine().getParseResult();
        int h = pr.hasMatchedOption("--size") ? size : 518, w = h * 3 / 2;
        String name = models.get(0);
        ModelConfig cfg = ModelConfig.preset(name);
        if (!json) System.out.printf("dino4j bench --heads: %s, %dx%d image, %d threads, %s kernels, %s, Java %s%n", name, w, h,
                Parallel.threads(), Kernels.get().name(), cpuName(), Runtime.version());
        try (DinoVisionTransformer m = Dinov2.random(cfg, 0)) {
            int d = m.embedDim();
            Tensor x = randomPixels(1, h, w), small = randomPixels(1, 224, 224);
            var dpt = org.dino4j.heads.Depther.of(m, org.dino4j.heads.RandomHeads.dpt(d, 256, 1), org.dino4j.heads.Depther.Dataset.NYU);
            var lin4 = org.dino4j.heads.Depther.of(m, org.dino4j.heads.RandomHeads.linearDepth(d, 4, 1), org.dino4j.heads.Depther.Dataset.NYU);
            var cls = org.dino4j.heads.Classifier.of(m, org.dino4j.heads.RandomHeads.classifier(d, 4, 1000, 1), null);
            var seg = org.dino4j.heads.Segmenter.of(m, org.dino4j.heads.RandomHeads.segmentation(d, 1, 150, 1), 150, "ADE20K", null);
            var ms = org.dino4j.heads.Segmenter.of(m, org.dino4j.heads.RandomHeads.segmentation(d, 4, 150, 1), 150, "ADE20K", null);
            Tensor padded = org.dino4j.heads.Grids.centerPad(x, cfg.patchSize());
            for (int i = 0; i < warmup; i++) dpt.depth(x); // the first rows would otherwise carry the JIT's warm-up
            double backbone = time(() -> m.intermediateLayers(padded, dpt.blocks(), false, true, false));
            row("backbone", "get_intermediate_layers, 4 blocks", w, h, backbone, Double.NaN);
            row("classifier", "linear4, 224x224 (the eval transform's crop)", 224, 224, time(() -> cls.logits(small)), Double.NaN);
            row("depth", "linear4 head, whole_inference", w, h, time(() -> lin4.depth(x)), backbone);
            row("depth", "dpt head (256 channels), whole_inference", w, h, time(() -> dpt.depth(x)), backbone);
            row("segment", "linear head, encode_decode of the whole image", w, h, time(() -> seg.encodeDecode(x)), Double.NaN);
            row("segment", "ms head (4 blocks), encode_decode of the whole image", w, h, time(() -> ms.encodeDecode(x)), Double.NaN);
            // the DPT head's workhorse: a 3x3 conv 256 -> 256 on the 4x reassembled grid
            int g = 148;
            float[] wt = java.util.Arrays.copyOf(randomPixels(1, 256 * 3, 256 * 3).data(), 256 * 256 * 9), in = java.util.Arrays.copyOf(randomPixels(1, g, g * 256).data(), g * g * 256);
            var conv = new org.dino4j.nn.Conv2d(wt, null, 256, 256, 3, 1, 1);
            double t = time(() -> conv.forward(in, g, g, false));
            double gf = 2.0 * g * g * 256 * 256 * 9 / t / 1e9;
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("kind", "conv3x3");
            o.put("in", 256);
            o.put("out", 256);
            o.put("grid", g + "x" + g);
            o.put("threads", Parallel.threads());
            o.put("path", conv.winograd() ? "winograd F(2x2,3x3)" : "direct");
            o.put("gflops", round(gf)); // effective: the direct convolution's FLOPs over the time
            emit(o, String.format("  conv 3x3 256->256 on %dx%d (%s): %.1f ms, %.1f GFLOP/s effective (direct conv's FLOPs)", g, g,
                    o.get("path"), t * 1e3, gf));
        }
        return 0;
    }

    /** Median seconds of --iters calls after --warmup (at least one) untimed ones. */
    private double time(Runnable r) {
        for (int i = 0; i < Math.max(1, warmup); i++) r.run();
        double[] t = new double[iters];
        for (int i = 0; i < iters; i++) {
            long t0 = System.nanoTime();
            r.run();
            t[i] = (System.nanoTime() - t0) / 1e9;
        }
        Arrays.sort(t);
        return t[iters / 2];
    }

    private void row(String task, String what, int w, int h, double sec, double backbone) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("kind", "heads");
        r.put("task", task);
        r.put("what", what);
        r.put("size", w + "x" + h);
        r.put("threads", Parallel.threads());
        r.put("ms_median", round(sec * 1e3));
        if (!Double.isNaN(backbone)) r.put("head_ms", round((sec - backbone) * 1e3));
        emit(r, String.format("  %-10s %-52s %4dx%-4d %8.1f ms%s", task, what, w, h, sec * 1e3,
                Double.isNaN(backbone) ? "" : String.format(" (head %.1f ms)", (sec - backbone) * 1e3)));
    }

    private int serve() throws java.io.IOException {
        try (DinoVisionTransformer m = Dinov2.random(ModelConfig.preset(models.get(0)), 0)) {
            Tensor x = randomPixels(batches.get(0), size);
            for (int i = 0; i < warmup; i++) m.forwardFeatures(x);
            System.out.println("ready");
            var in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in));
            while (in.readLine() != null) {
                long t0 = System.nanoTime();
                m.forwardFeatures(x);
                System.out.println((System.nanoTime() - t0) / 1e6);
            }
        }
        return 0;
    }

    /** GEMM GFLOP/s on the model's shapes at batch 8 (qkv, proj, fc1, fc2). */
    private void gemm(ModelConfig cfg, String name) {
        int d = cfg.embedDim(), h = cfg.ffnHidden() * (cfg.swiglu() ? 2 : 1);
        int g = size / cfg.patchSize(), m = 8 * (1 + cfg.numRegisterTokens() + g * g);
        int[][] shapes = {{d, 3 * d}, {d, d}, {d, h}, {cfg.ffnHidden(), d}};
        String[] names = {"qkv", "proj", cfg.swiglu() ? "w12" : "fc1", cfg.swiglu() ? "w3" : "fc2"};
        SplittableRandom r = new SplittableRandom(1);
        for (int s = 0; s < shapes.length; s++) {
            int k = shapes[s][0], n = shapes[s][1];
            float[] a = new float[m * k], w = new float[n * k], c = new float[m * n];
            for (int i = 0; i < a.length; i++) a[i] = (float) r.nextGaussian();
            for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
            MemorySegment ws = MemorySegment.ofArray(w);
            for (int i = 0; i < 3; i++) Gemm.linear(a, 0, k, ws, null, null, c, 0, n, m, n, k, false);
            int reps = Math.max(3, (int) (4e10 / (2.0 * m * n * k)));
            long t0 = System.nanoTime();
            for (int i = 0; i < reps; i++) Gemm.linear(a, 0, k, ws, null, null, c, 0, n, m, n, k, false);
            double sec = (System.nanoTime() - t0) / 1e9 / reps;
            double gf = 2.0 * m * n * k / sec / 1e9;
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("kind", "gemm");
            o.put("model", name);
            o.put("op", names[s]);
            o.put("m", m);
            o.put("k", k);
            o.put("n", n);
            o.put("threads", Parallel.threads());
            o.put("gflops", round(gf));
            emit(o, String.format("  GEMM %-5s M=%d K=%d N=%d: %.1f GFLOP/s", names[s], m, k, n, gf));
        }
    }

    private void emit(Map<String, Object> r, String text) {
        System.out.println(json ? Json.write(r) : text);
        System.out.flush();
    }

    static Tensor randomPixels(int b, int size) {
        return randomPixels(b, size, size);
    }

    static Tensor randomPixels(int b, int h, int w) {
        SplittableRandom r = new SplittableRandom(42);
        float[] px = new float[b * 3 * h * w];
        for (int i = 0; i < px.length; i++) px[i] = (float) r.nextGaussian();
        return new Tensor(px, b, 3, h, w);
    }

    static double round(double v) {
        return Math.round(v * 100) / 100.0;
    }

    static long rssMb(String field) {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status")))
                if (l.startsWith(field + ":")) return Long.parseLong(l.replaceAll("[^0-9]", "")) / 1024;
        } catch (IOException | RuntimeException e) {
            // not Linux: no RSS figure
        }
        return -1;
    }

    static String cpuName() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/cpuinfo")))
                if (l.startsWith("model name")) return l.substring(l.indexOf(':') + 1).trim();
        } catch (IOException e) {
            // unknown
        }
        return System.getProperty("os.arch");
    }
}
