package org.dino4j.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

import org.dino4j.data.Dataset;
import org.dino4j.data.Datasets;
import org.dino4j.data.ImageDecoder;
import org.dino4j.data.RgbImage;
import org.dino4j.data.ssl.PyRandom;
import org.dino4j.kernels.Parallel;
import org.dino4j.train.ssl.CollapseDetector;
import org.dino4j.train.ssl.SslConfig;
import org.dino4j.train.ssl.SslTrainer;
import org.dino4j.train.ssl.StepMemory;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"DINOv2 self-supervised training.",
                "Configuration as the official train.py: ssl_default_config.yaml, "
                + "then --preset or --config FILE.yaml merged over it, then key=value overrides (e.g. optim.epochs=20 "
                + "train.batch_size_per_gpu=32). The run length is optim.epochs x train.OFFICIAL_EPOCH_LENGTH iterations.",
                "Writes OUTPUT/config.yaml (the merged configuration), OUTPUT/metrics.jsonl (one line per step) and "
                        + "OUTPUT/ckpt-NNNNNNN.safetensors every --checkpoint-every steps (atomic; the last --keep kept). "
                        + "--resume continues from the newest checkpoint bit-identically.",
                "The progress line's ETA counts the k-NN evaluations still to come (timed at step 0). metrics.jsonl also holds "
                        + "teacher_entropy (of the DINO targets, nats) and collapsed: true once that entropy and the DINO loss "
                        + "(dino_local + dino_global) have been within 0.5 %% of log K for " + CollapseDetector.STEPS + " steps (the head's outputs are "
                        + "uniform; the line then says COLLAPSED and a warning says what to try; training goes on). "
                        + "Ctrl-C prints the checkpoint kept and the command that resumes."})
class TrainCommand implements Callable<Integer> {
    @Parameters(paramLabel = "INPUT|key=value", arity = "1..*",
            description = "Images (folders, list files, IDX files, as for embed) and dotted config overrides.")
    List<String> args;

    @Option(names = "--output", required = true, paramLabel = "DIR",
            description = "The run folder (created if missing): config.yaml, metrics.jsonl, the checkpoints.")
    Path output;

    @Option(names = "--config", paramLabel = "FILE.yaml", description = "A configuration in the official format, merged over the defaults.")
    Path config;

    @Option(names = "--preset", description = "small28 (28-px images, e.g. Fashion-MNIST: ViT-S/4, 12-px local crops), vits14, "
            + "vitb14, vitl14 (default: small28 unless --config is given).")
    String preset;

    @Option(names = "--checkpoint-every", defaultValue = "50", paramLabel = "STEPS",
            description = "Write a checkpoint every this many steps, and at the end (default: ${DEFAULT-VALUE}).")
    int every;

    @Option(names = "--keep", defaultValue = "3", description = "Checkpoints kept (default: ${DEFAULT-VALUE}).")
    int keep;

    @Option(names = "--resume", description = "Continue from the newest checkpoint in --output (the configuration must be the same).")
    boolean resume;

    @Option(names = "--threads", description = "Compute threads (default: the number of cores).")
    Integer threads;

    @Option(names = "--eval-train", paramLabel = "PATH", description = "Labelled images (ImageFolder, list file, IDX) "
            + "whose teacher CLS features are the k-NN bank of the periodic evaluation.")
    Path evalTrain;

    @Option(names = "--eval-test", paramLabel = "PATH", description = "Labelled held-out images classified by k-NN "
            + "(k = 20, T = 0.07, cosine: the official protocol) at step 0, every --eval-every steps and at the end.")
    Path evalTest;

    @Option(names = "--eval-every", paramLabel = "STEPS", description = "Default: train.OFFICIAL_EPOCH_LENGTH (an official epoch).")
    Integer evalEvery;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (threads != null) Parallel.setThreads(threads);
        List<Path> inputs = new ArrayList<>();
        List<String> overrides = new ArrayList<>();
        for (String a : args) {
            if (a.contains("=") && !Files.exists(Path.of(a))) overrides.add(a);
            else inputs.add(Path.of(a));
        }
        if (inputs.isEmpty()) throw new IllegalArgumentException("no INPUT images given");
        SslTrainer.Frozen frozen = frozenTeacher(overrides);
        SslConfig conf = SslConfig.load(preset == null && config == null ? "small28" : preset, config, overrides);
        SslTrainer.Config cfg = conf.trainer();
        int steps = conf.iterations(), batch = cfg.batchPerStep();
        var c = cfg.crops();
        HeapCheck.check(HeapCheck.Need.of(frozen != null ? "dino4j distill" : "dino4j train", String.format(
                "a step of a %d-wide %d-block ViT/%d at batch %d (2 x %d + %d x %d px crops, %d prototypes)", cfg.model().embedDim(),
                cfg.model().depth(), cfg.model().patchSize(), batch, c.globalSize(), c.localCrops(), c.localSize(), cfg.prototypes()),
                StepMemory.of(cfg, frozen != null), "lower train.batch_size_per_gpu (now " + batch + ")"));
        long seed = conf.integer("train.seed");
        Dataset ds = Datasets.of(inputs);
        if (ds.size() < batch) throw new IllegalArgumentException(ds.size() + " images for batch size " + batch);
        SslTrainer trainer = new SslTrainer(cfg, seed, frozen);
        Files.createDirectories(output);
        Path metrics = output.resolve("metrics.jsonl"), saved = output.resolve("config.yaml");
        String yaml = conf.toYaml();
        if (resume) {
            Path last = checkpoints().stream().reduce((a, b) -> b).orElse(null);
            if (last == null && !Files.exists(saved)) throw new IllegalArgumentException(output + ": no run to resume (no checkpoint, no config.yaml)");
            if (Files.exists(saved) && !Files.readString(saved).equals(yaml))
                throw new IllegalArgumentException(saved + ": the run was made with another configuration; resume with the same one");
            if (last != null) {
                trainer.load(last);
                System.out.println("resumed from " + last + " at step " + trainer.step());
            } else {
                System.out.println(output + " has no checkpoint yet: starting over from step 0");
            }
            truncateMetrics(metrics, trainer.step());
        } else if (!checkpoints().isEmpty() || Files.exists(metrics)) {
            throw new IllegalArgumentException(output + " already holds a run: use --resume or another --output");
        }
        Files.writeString(saved, yaml);
        if ((evalTrain == null) != (evalTest == null)) throw new IllegalArgumentException("--eval-train and --eval-test go together");
        Path knnLog = output.resolve("knn.jsonl");
        String evaluated = frozen == null ? "teacher" : "EMA student";
        KnnProbe probe = evalTrain == null ? null : new KnnProbe(Datasets.of(List.of(evalTrain)), Datasets.of(List.of(evalTest)),
                cfg.crops().globalSize(), evaluated);
        int evalPeriod = evalEvery != null ? evalEvery : conf.integer("train.OFFICIAL_EPOCH_LENGTH");
        // the evaluation of a checkpoint's step ran before it was written; step 0's is redone when starting over
        if (resume) truncateMetrics(knnLog, trainer.step() == 0 ? 0 : trainer.step() + 1);
        CollapseDetector collapse = new CollapseDetector(cfg.prototypes());
        replay(metrics, collapse); // a resumed run counts the steps at log K before the checkpoint too
        java.util.concurrent.atomic.AtomicLong done = new java.util.concurrent.atomic.AtomicLong(trainer.step());
        String resumeCommand = StopNotice.command(spec, "--resume");
        StopNotice stop = StopNotice.install(() -> stopMessage(done.get(), checkpoints().stream().reduce((a, b) -> b).orElse(null),
                every, resumeCommand));
        try {
            double evalSeconds = probe == null ? Double.NaN : lastEvalSeconds(knnLog);
            if (probe != null && trainer.step() == 0) evalSeconds = probe.run(trainer, knnLog);
            ImageDecoder dec = new ImageDecoder();
            ProgressBar bar = new ProgressBar("train", "steps");
            Path lastGood = checkpoints().stream().reduce((a, b) -> b).orElse(null);
            long trainNanos = 0, stepsDone = 0; // images/s counts training only, not the k-NN evaluations
            long loopStart = System.nanoTime(), evalNanos = 0; // the ETA's pace: steps with their checkpoints, not evaluations
            boolean warned = false;
            for (long s = trainer.step(); s < steps; s++) {
                long t0 = System.nanoTime();
                List<RgbImage> imgs = new ArrayList<>(batch);
                for (int i : batchIndices(ds.size(), s, batch, seed)) imgs.add(ds.get(i).source().load(dec));
                SslTrainer.Losses l;
                try {
                    l = trainer.train(imgs);
                } catch (IllegalStateException e) {
                    bar.finish();
                    throw new IllegalStateException(e.getMessage() + "; the last good checkpoint is " + (lastGood == null ? "none" : lastGood));
                }
                done.set(s + 1);
                trainNanos += System.nanoTime() - t0;
                stepsDone++;
                boolean collapsed = collapse.update(l.teacherEntropy(), l.dino());
                Files.writeString(metrics, String.format(Locale.ROOT,
                        "{\"step\":%d,\"total_loss\":%.6f,\"dino_local_crops_loss\":%.6f,\"dino_global_crops_loss\":%.6f,\"koleo_loss\":%.6f,\"ibot_loss\":%.6f,"
                                + "\"teacher_entropy\":%.6f,\"collapsed\":%b}%n",
                        s, l.total(), l.dinoLocal(), l.dinoGlobal(), l.koleo(), l.ibot(), l.teacherEntropy(), collapsed), StandardCharsets.UTF_8,
                        StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                double secPerStep = (System.nanoTime() - loopStart - evalNanos) / 1e9 / stepsDone;
                int evalsLeft = probe == null ? 0 : evalsLeft(s + 1, steps, evalPeriod);
                String evalNote = evalsLeft == 0 ? "" : Double.isNaN(evalSeconds) ? " (+ " + evalsLeft + " k-NN evaluations)"
                        : " (with " + evalsLeft + " k-NN evaluation" + (evalsLeft == 1 ? "" : "s") + " of " + ProgressBar.duration(evalSeconds) + ")";
                String collapseNote = collapsed ? String.format(Locale.ROOT, "  COLLAPSED (teacher entropy %.3f, DINO loss %.3f, log K %.3f, for %d steps)",
                        l.teacherEntropy(), l.dino(), collapse.logK(), collapse.run()) : "";
                bar.update(s + 1, steps, 0, String.format(Locale.ROOT, "%s  loss %.4f (dino %.4f/%.4f ibot %.4f koleo %.4f)  lr %.2e  %.1f img/s%s",
                        evalNote, l.total(), l.dinoLocal(), l.dinoGlobal(), l.ibot(), l.koleo(), trainer.currentLr(),
                        stepsDone * batch / (trainNanos / 1e9), collapseNote),
                        etaSeconds(s + 1, steps, secPerStep, evalsLeft, Double.isNaN(evalSeconds) ? 0 : evalSeconds));
                if (collapsed && !warned) {
                    warned = true;
                    bar.finish();
                    System.err.println("warning: step " + (s + 1) + ": training has collapsed: " + CollapseDetector.ADVICE
                            + " (README: the Fashion-MNIST run)");
                }
                boolean evalNow = probe != null && ((s + 1) % evalPeriod == 0 || s + 1 == steps);
                if (evalNow) { // before the checkpoint, so that a resumed run never evaluates a step twice or skips one
                    bar.finish();
                    long e0 = System.nanoTime();
                    evalSeconds = probe.run(trainer, knnLog);
                    evalNanos += System.nanoTime() - e0;
                }
                if ((s + 1) % every == 0 || s + 1 == steps || evalNow) {
                    lastGood = output.resolve(String.format("ckpt-%07d.safetensors", s + 1));
                    stop.saving.lock(); // a Ctrl-C now waits for the checkpoint, then names it
                    try {
                        trainer.save(lastGood);
                        List<Path> all = checkpoints();
                        for (int i = 0; i < all.size() - keep; i++) Files.deleteIfExists(all.get(i));
                    } finally {
                        stop.saving.unlock();
                    }
                    writeCurve(metrics, knnLog, output.resolve("curve.png"), evaluated);
                }
            }
            bar.finish();
            System.out.println("done: " + steps + " steps; checkpoint " + lastGood);
            return 0;
        } finally {
            stop.remove();
        }
    }

    /**
     * Seconds left once {@code done} of {@code steps} steps are done: the remaining steps at {@code secPerStep} plus
     * {@code evals} k-NN evaluations at {@code secPerEval} each.
     */
    static double etaSeconds(long done, long steps, double secPerStep, int evals, double secPerEval) {
        return (steps - done) * secPerStep + evals * secPerEval;
    }

    /**
     * The k-NN evaluations still to run once {@code done} (at least 1) of {@code steps} steps are done: one at every
     * multiple of {@code period} and one at the end, the one due at {@code done} included (the progress line that
     * shows this comes before it).
     */
    static int evalsLeft(long done, long steps, long period) {
        if (done > steps) return 0;
        return (int) (steps / period - (done - 1) / period + (steps % period != 0 ? 1 : 0));
    }

    /** The newest evaluation's time in knn.jsonl (a resumed run's estimate until it has timed one), NaN if none. */
    private static double lastEvalSeconds(Path knn) throws IOException {
        if (!Files.exists(knn)) return Double.NaN;
        double sec = Double.NaN;
        for (String line : Files.readAllLines(knn, StandardCharsets.UTF_8))
            if (org.dino4j.io.Json.parseObject(line).get("seconds") instanceof Number n) sec = n.doubleValue();
        return sec;
    }

    /** The collapse detector fed with the steps metrics.jsonl already holds (lines without the entropy break a run). */
    private static void replay(Path metrics, CollapseDetector collapse) throws IOException {
        if (!Files.exists(metrics)) return;
        for (String line : Files.readAllLines(metrics, StandardCharsets.UTF_8)) {
            var m = org.dino4j.io.Json.parseObject(line);
            collapse.update(number(m, "teacher_entropy"), number(m, "dino_local_crops_loss") + number(m, "dino_global_crops_loss"));
        }
    }

    private static double number(java.util.Map<String, Object> m, String key) {
        return m.get(key) instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    /** What train says when stopped: the newest checkpoint kept (its step is in its name), or none yet. */
    static String stopMessage(long step, Path newest, int every, String resume) {
        return StopNotice.message(step, newest, newest == null ? 0 : Long.parseLong(newest.getFileName().toString().substring(5, 12)),
                every, resume);
    }

    /** Distillation's frozen teacher (null: self-distillation with an EMA teacher); may add overrides it needs. */
    SslTrainer.Frozen frozenTeacher(List<String> overrides) {
        return null;
    }

    /** The images of step s: epoch e's order is a CPython-random shuffle seeded by (seed, e), so any step can be found again. */
    private static int[] batchIndices(int n, long s, int batch, long seed) {
        int perEpoch = n / batch;
        long epoch = s / perEpoch;
        int pos = (int) (s % perEpoch) * batch;
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        new PyRandom(seed * 7919 + epoch).shuffle(order);
        return java.util.Arrays.copyOfRange(order, pos, pos + batch);
    }

    private List<Path> checkpoints() throws IOException {
        return checkpoints(output);
    }

    /** A run folder's ckpt-NNNNNNN.safetensors files, oldest first (none when the folder does not exist). */
    static List<Path> checkpoints(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) return List.of();
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().matches("ckpt-\\d{7}\\.safetensors"))
                    .sorted(Comparator.comparing(p -> p.getFileName().toString())).toList();
        }
    }

    /**
     * The losses and the teacher's entropy of metrics.jsonl (and the k-NN accuracies of knn.jsonl, if any) so far as a
     * PNG; {@code evaluated}: the backbone the k-NN evaluation reads.
     */
    static void writeCurve(Path metrics, Path knn, Path png, String evaluated) throws IOException {
        String[] keys = {"total_loss", "dino_local_crops_loss", "dino_global_crops_loss", "ibot_loss", "koleo_loss", "teacher_entropy"};
        List<String> lines = Files.readAllLines(metrics, StandardCharsets.UTF_8);
        java.util.Map<String, double[]> series = new java.util.LinkedHashMap<>();
        for (String k : keys) series.put(k, new double[lines.size() + 1]);
        for (double[] v : series.values()) java.util.Arrays.fill(v, Double.NaN);
        for (String line : lines) {
            var m = org.dino4j.io.Json.parseObject(line);
            int st = ((Number) m.get("step")).intValue() + 1; // x = steps done
            for (String k : keys) if (st < lines.size() + 1) series.get(k)[st] = m.get(k) instanceof Number n ? n.doubleValue() : Double.NaN;
        }
        List<org.dino4j.viz.LineChart.Panel> panels = new ArrayList<>();
        panels.add(new org.dino4j.viz.LineChart.Panel("dino4j train: losses and the teacher's entropy (collapsed at log K) per step", series, 400));
        if (knn != null && Files.exists(knn)) {
            double[] top1 = new double[lines.size() + 1];
            java.util.Arrays.fill(top1, Double.NaN);
            for (String line : Files.readAllLines(knn, StandardCharsets.UTF_8)) {
                var m = org.dino4j.io.Json.parseObject(line);
                int st = ((Number) m.get("step")).intValue();
                if (st < top1.length) top1[st] = ((Number) m.get("top1")).doubleValue() * 100;
            }
            panels.add(new org.dino4j.viz.LineChart.Panel("k-NN top-1 % of the " + evaluated + " on the held-out images (k = 20, T = 0.07)",
                    java.util.Map.of("knn_top1", top1), 260));
        }
        org.dino4j.viz.LineChart.write(png, panels);
    }

    /** The periodic k-NN evaluation: teacher CLS features of both splits (eval transform at the global crop size). */
    private static final class KnnProbe {
        final Dataset train, test;
        final org.dino4j.data.Preprocess pre;
        final String evaluated;

        KnnProbe(Dataset train, Dataset test, int size, String evaluated) {
            this.train = train;
            this.test = test;
            this.pre = new org.dino4j.data.Preprocess(size, size, 0);
            this.evaluated = evaluated;
        }

        /** Evaluates, logs, says so; returns the seconds it took. */
        double run(SslTrainer trainer, Path log) throws IOException {
            long t0 = System.nanoTime();
            System.out.printf(Locale.ROOT, "step %d: k-NN evaluation of the %s: CLS features of %d train + %d test images, then k = 20 votes%n",
                    trainer.step(), evaluated, train.size(), test.size());
            ProgressBar bar = new ProgressBar("k-NN features", "img");
            int total = train.size() + test.size();
            try (var teacher = trainer.teacher()) {
                var tr = org.dino4j.eval.Features.cls(teacher, train, pre, 256, i -> bar.update(i, total, 0));
                var te = org.dino4j.eval.Features.cls(teacher, test, pre, 256, i -> bar.update(train.size() + i, total, 0));
                bar.finish();
                var r = org.dino4j.eval.Knn.evaluate(tr.x(), tr.labels(), te.x(), te.labels(), tr.dim(),
                        Math.max(tr.numClasses(), te.numClasses()), new int[] {20}, 0.07).get(0);
                double sec = (System.nanoTime() - t0) / 1e9;
                String line = String.format(Locale.ROOT, "{\"step\":%d,\"k\":20,\"top1\":%.6f,\"top5\":%.6f,\"seconds\":%.1f}%n",
                        trainer.step(), r.top1(), r.top5(), sec);
                Files.writeString(log, line, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                System.out.printf(Locale.ROOT, "step %d: k-NN top-1 %.2f%%, top-5 %.2f%% (%d train, %d test images, %s)%n",
                        trainer.step(), 100 * r.top1(), 100 * r.top5(), train.size(), test.size(), ProgressBar.duration(sec));
                return sec;
            }
        }
    }

    /** After a resume, the metrics lines of steps the checkpoint does not include are dropped (they will be redone). */
    private static void truncateMetrics(Path metrics, long step) throws IOException {
        if (!Files.exists(metrics)) return;
        List<String> keepLines = new ArrayList<>();
        for (String line : Files.readAllLines(metrics, StandardCharsets.UTF_8)) {
            int a = line.indexOf("\"step\":"), b = line.indexOf(',', a);
            if (a >= 0 && b > a && Long.parseLong(line.substring(a + 7, b)) < step) keepLines.add(line);
        }
        Files.write(metrics, keepLines, StandardCharsets.UTF_8);
    }
}
