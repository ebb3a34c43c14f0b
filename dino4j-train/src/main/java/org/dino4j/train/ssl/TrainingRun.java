package org.dino4j.train.ssl;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Stream;

import org.dino4j.data.Dataset;
import org.dino4j.data.ImageDecoder;
import org.dino4j.data.RgbImage;
import org.dino4j.data.ssl.PyRandom;
import org.dino4j.io.Json;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.viz.LineChart;

/**
 * The training loop of dinov2/train/train.py around {@link SslTrainer}, in a run folder: OUTPUT/config.yaml (the
 * merged configuration), OUTPUT/metrics.jsonl (one line per step), OUTPUT/ckpt-NNNNNNN.safetensors every
 * {@code checkpointEvery} steps and at the end (the newest {@code keep} kept), OUTPUT/curve.png, and with a
 * {@link Probe} OUTPUT/knn.jsonl (at step 0, every {@code evalEvery} steps and at the end). A resumed run continues
 * from the newest checkpoint bit-identically: the metrics of steps the checkpoint does not hold are dropped and redone,
 * and the collapse detector is fed the steps before it. What happens is told to a {@link Listener}.
 * <pre>{@code
 * SslConfig conf = SslConfig.load("small28", null, List.of("optim.epochs=20"));
 * new TrainingRun(conf, Datasets.of(List.of(Path.of("images/"))), null, TrainingRun.Options.of(Path.of("runs/a")), null).run();
 * }</pre>
 */
public final class TrainingRun {
    /** A periodic evaluation of the backbone being trained (the CLI's: k-NN on labelled images, eval's protocol). */
    public interface Probe {
        Accuracy evaluate(DinoVisionTransformer backbone) throws IOException;
    }

    /** A probe's result: top-1 and top-5 accuracy (0 to 1) of k-NN with this k. */
    public record Accuracy(int k, double top1, double top5) {}

    /**
     * Where the run is after a step: {@code done} of {@code steps} steps, its losses and learning rate, images per
     * second over the steps of this run (k-NN evaluations not counted), the collapse flag with its run of steps and
     * log K, the evaluations still to come (the one due now included) and their last time (NaN until one is timed),
     * and the ETA in seconds (steps and evaluations).
     */
    public record Progress(long done, long steps, SslTrainer.Losses losses, double lr, double imagesPerSecond,
                           boolean collapsed, int collapsedSteps, double logK, int evalsLeft, double evalSeconds,
                           double etaSeconds) {}

    /** Hears what the run does; every method does nothing unless overridden. */
    public interface Listener {
        /** --resume found a checkpoint. */
        default void resumed(Path checkpoint, long step) {}

        /** --resume in a run folder stopped before its first checkpoint: the run starts over from step 0. */
        default void startingOver(Path output) {}

        /** After each step, its metrics line written. */
        default void step(Progress p) {}

        /** Once, at the first step flagged collapsed ({@link CollapseDetector}); training goes on. */
        default void collapsed(long done) {}

        /** An evaluation begins; {@code backbone}: "teacher", or "EMA student" when distilling. */
        default void evaluating(long step, String backbone) {}

        default void evaluated(long step, Accuracy a, double seconds) {}

        /** A checkpoint was written (older ones beyond {@code keep} removed). */
        default void checkpoint(Path file, long step) {}
    }

    /**
     * @param evalEvery steps between evaluations; 0: train.OFFICIAL_EPOCH_LENGTH (an official epoch)
     * @param probe     the periodic evaluation, or null for none
     */
    public record Options(Path output, int checkpointEvery, int keep, boolean resume, Probe probe, int evalEvery) {
        /** A checkpoint every 50 steps, 3 kept, no resume, no evaluation. */
        public static Options of(Path output) {
            return new Options(output, 50, 3, false, null, 0);
        }

        public Options withCheckpoints(int every, int keep) {
            return new Options(output, every, keep, resume, probe, evalEvery);
        }

        public Options withResume(boolean resume) {
            return new Options(output, checkpointEvery, keep, resume, probe, evalEvery);
        }

        public Options withProbe(Probe probe, int every) {
            return new Options(output, checkpointEvery, keep, resume, probe, every);
        }
    }

    private static final Listener SILENT = new Listener() {};

    private final SslConfig conf;
    private final Dataset images;
    private final Options o;
    private final Listener listener;
    private final SslTrainer trainer;
    private final boolean distill;
    private final AtomicLong done = new AtomicLong();
    private final ReentrantLock saving = new ReentrantLock();

    /**
     * @param frozen distillation's frozen teacher ({@link SslTrainer#frozenFrom}), or null for self-distillation
     * @param listener may be null
     */
    public TrainingRun(SslConfig conf, Dataset images, SslTrainer.Frozen frozen, Options o, Listener listener) {
        int batch = conf.trainer().batchPerStep();
        if (images.size() < batch) throw new IllegalArgumentException(images.size() + " images for batch size " + batch);
        this.conf = conf;
        this.images = images;
        this.o = o;
        this.listener = listener == null ? SILENT : listener;
        this.trainer = new SslTrainer(conf.trainer(), conf.integer("train.seed"), frozen);
        this.distill = frozen != null;
    }

    /** The trainer (its teacher, step and learning rate). */
    public SslTrainer trainer() {
        return trainer;
    }

    /** Steps done so far (readable from another thread, e.g. a shutdown hook saying where the run stopped). */
    public long stepsDone() {
        return done.get();
    }

    /** Held while a checkpoint is written and the old ones removed: a shutdown hook takes it to name a whole one. */
    public ReentrantLock saving() {
        return saving;
    }

    /** The backbone the probe evaluates: the teacher, or the EMA of the student when distilling. */
    public String evaluated() {
        return distill ? "EMA student" : "teacher";
    }

    /** Runs to optim.epochs x train.OFFICIAL_EPOCH_LENGTH steps; returns the last checkpoint. */
    public Path run() throws IOException {
        Path output = o.output();
        int steps = conf.iterations(), batch = conf.trainer().batchPerStep(), every = o.checkpointEvery();
        long seed = conf.integer("train.seed");
        Files.createDirectories(output);
        Path metrics = output.resolve("metrics.jsonl"), saved = output.resolve("config.yaml");
        String yaml = conf.toYaml();
        if (o.resume()) {
            Path last = newest(output);
            if (last == null && !Files.exists(saved)) throw new IllegalArgumentException(output + ": no run to resume (no checkpoint, no config.yaml)");
            if (Files.exists(saved) && !Files.readString(saved).equals(yaml))
                throw new IllegalArgumentException(saved + ": the run was made with another configuration; resume with the same one");
            if (last != null) {
                trainer.load(last);
                listener.resumed(last, trainer.step());
            } else {
                listener.startingOver(output);
            }
            truncate(metrics, trainer.step());
        } else if (!checkpoints(output).isEmpty() || Files.exists(metrics)) {
            throw new IllegalArgumentException(output + " already holds a run: use --resume or another --output");
        }
        Files.writeString(saved, yaml);
        Path knnLog = output.resolve("knn.jsonl");
        Probe probe = o.probe();
        int evalPeriod = o.evalEvery() > 0 ? o.evalEvery() : conf.integer("train.OFFICIAL_EPOCH_LENGTH");
        // the evaluation of a checkpoint's step ran before it was written; step 0's is redone when starting over
        if (o.resume()) truncate(knnLog, trainer.step() == 0 ? 0 : trainer.step() + 1);
        CollapseDetector collapse = new CollapseDetector(conf.trainer().prototypes());
        replay(metrics, collapse); // a resumed run counts the steps at log K before the checkpoint too
        done.set(trainer.step());
        double evalSeconds = probe == null ? Double.NaN : lastEvalSeconds(knnLog);
        if (probe != null && trainer.step() == 0) evalSeconds = evaluate(probe, knnLog);
        ImageDecoder dec = new ImageDecoder();
        Path lastGood = newest(output);
        long trainNanos = 0, stepsDone = 0; // images/s counts training only, not the k-NN evaluations
        long loopStart = System.nanoTime(), evalNanos = 0; // the ETA's pace: steps with their checkpoints, not evaluations
        boolean warned = false;
        for (long s = trainer.step(); s < steps; s++) {
            long t0 = System.nanoTime();
            List<RgbImage> imgs = new ArrayList<>(batch);
            for (int i : batchIndices(images.size(), s, batch, seed)) imgs.add(images.get(i).source().load(dec));
            SslTrainer.Losses l;
            try {
                l = trainer.train(imgs);
            } catch (IllegalStateException e) {
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
            listener.step(new Progress(s + 1, steps, l, trainer.currentLr(), stepsDone * batch / (trainNanos / 1e9), collapsed,
                    collapse.run(), collapse.logK(), evalsLeft, evalSeconds,
                    etaSeconds(s + 1, steps, secPerStep, evalsLeft, Double.isNaN(evalSeconds) ? 0 : evalSeconds)));
            if (collapsed && !warned) {
                warned = true;
                listener.collapsed(s + 1);
            }
            boolean evalNow = probe != null && ((s + 1) % evalPeriod == 0 || s + 1 == steps);
            if (evalNow) { // before the checkpoint, so that a resumed run never evaluates a step twice or skips one
                long e0 = System.nanoTime();
                evalSeconds = evaluate(probe, knnLog);
                evalNanos += System.nanoTime() - e0;
            }
            if ((s + 1) % every == 0 || s + 1 == steps || evalNow) {
                lastGood = output.resolve(String.format("ckpt-%07d.safetensors", s + 1));
                saving.lock(); // a shutdown hook now waits for the checkpoint, then names it
                try {
                    trainer.save(lastGood);
                    List<Path> all = checkpoints(output);
                    for (int i = 0; i < all.size() - o.keep(); i++) Files.deleteIfExists(all.get(i));
                } finally {
                    saving.unlock();
                }
                listener.checkpoint(lastGood, s + 1);
                writeCurve(metrics, knnLog, output.resolve("curve.png"), evaluated());
            }
        }
        return lastGood;
    }

    /** Evaluates the teacher, appends to knn.jsonl; returns the seconds it took. */
    private double evaluate(Probe probe, Path log) throws IOException {
        long t0 = System.nanoTime(), step = trainer.step();
        listener.evaluating(step, evaluated());
        Accuracy a;
        try (var teacher = trainer.teacher()) {
            a = probe.evaluate(teacher);
        }
        double sec = (System.nanoTime() - t0) / 1e9;
        Files.writeString(log, String.format(Locale.ROOT, "{\"step\":%d,\"k\":%d,\"top1\":%.6f,\"top5\":%.6f,\"seconds\":%.1f}%n",
                step, a.k(), a.top1(), a.top5(), sec), StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        listener.evaluated(step, a, sec);
        return sec;
    }

    /**
     * Seconds left once {@code done} of {@code steps} steps are done: the remaining steps at {@code secPerStep} plus
     * {@code evals} k-NN evaluations at {@code secPerEval} each.
     */
    public static double etaSeconds(long done, long steps, double secPerStep, int evals, double secPerEval) {
        return (steps - done) * secPerStep + evals * secPerEval;
    }

    /**
     * The k-NN evaluations still to run once {@code done} (at least 1) of {@code steps} steps are done: one at every
     * multiple of {@code period} and one at the end, the one due at {@code done} included (the progress line that
     * shows this comes before it).
     */
    public static int evalsLeft(long done, long steps, long period) {
        if (done > steps) return 0;
        return (int) (steps / period - (done - 1) / period + (steps % period != 0 ? 1 : 0));
    }

    /** A run folder's ckpt-NNNNNNN.safetensors files, oldest first (none when the folder does not exist). */
    public static List<Path> checkpoints(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) return List.of();
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().matches("ckpt-\\d{7}\\.safetensors"))
                    .sorted(Comparator.comparing(p -> p.getFileName().toString())).toList();
        }
    }

    /** The newest checkpoint of a run folder, or null. */
    public static Path newest(Path dir) throws IOException {
        List<Path> all = checkpoints(dir);
        return all.isEmpty() ? null : all.getLast();
    }

    /** A checkpoint file itself, or a run folder's newest one; an error naming the path when there is none. */
    public static Path newestCheckpoint(Path run) throws IOException {
        if (Files.isRegularFile(run)) return run;
        if (!Files.isDirectory(run)) throw new IllegalArgumentException(run + ": no such file or folder");
        Path last = newest(run);
        if (last == null) throw new IllegalArgumentException(run + ": no ckpt-*.safetensors in it");
        return last;
    }

    /** The step a ckpt-NNNNNNN.safetensors holds, from its name. */
    public static long checkpointStep(Path ckpt) {
        return Long.parseLong(ckpt.getFileName().toString().substring(5, 12));
    }

    /** The newest evaluation's time in knn.jsonl (a resumed run's estimate until it has timed one), NaN if none. */
    private static double lastEvalSeconds(Path knn) throws IOException {
        if (!Files.exists(knn)) return Double.NaN;
        double sec = Double.NaN;
        for (String line : Files.readAllLines(knn, StandardCharsets.UTF_8))
            if (Json.parseObject(line).get("seconds") instanceof Number n) sec = n.doubleValue();
        return sec;
    }

    /** The collapse detector fed with the steps metrics.jsonl already holds (lines without the entropy break a run). */
    private static void replay(Path metrics, CollapseDetector collapse) throws IOException {
        if (!Files.exists(metrics)) return;
        for (String line : Files.readAllLines(metrics, StandardCharsets.UTF_8)) {
            var m = Json.parseObject(line);
            collapse.update(number(m, "teacher_entropy"), number(m, "dino_local_crops_loss") + number(m, "dino_global_crops_loss"));
        }
    }

    private static double number(Map<String, Object> m, String key) {
        return m.get(key) instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    /** The images of step s: epoch e's order is a CPython-random shuffle seeded by (seed, e), so any step can be found again. */
    private static int[] batchIndices(int n, long s, int batch, long seed) {
        int perEpoch = n / batch;
        long epoch = s / perEpoch;
        int pos = (int) (s % perEpoch) * batch;
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        new PyRandom(seed * 7919 + epoch).shuffle(order);
        return Arrays.copyOfRange(order, pos, pos + batch);
    }

    /**
     * The losses and the teacher's entropy of metrics.jsonl (and the k-NN accuracies of knn.jsonl, if any) so far as a
     * PNG; {@code evaluated}: the backbone the k-NN evaluation reads.
     */
    static void writeCurve(Path metrics, Path knn, Path png, String evaluated) throws IOException {
        String[] keys = {"total_loss", "dino_local_crops_loss", "dino_global_crops_loss", "ibot_loss", "koleo_loss", "teacher_entropy"};
        List<String> lines = Files.readAllLines(metrics, StandardCharsets.UTF_8);
        Map<String, double[]> series = new LinkedHashMap<>();
        for (String k : keys) series.put(k, new double[lines.size() + 1]);
        for (double[] v : series.values()) Arrays.fill(v, Double.NaN);
        for (String line : lines) {
            var m = Json.parseObject(line);
            int st = ((Number) m.get("step")).intValue() + 1; // x = steps done
            for (String k : keys) if (st < lines.size() + 1) series.get(k)[st] = m.get(k) instanceof Number n ? n.doubleValue() : Double.NaN;
        }
        List<LineChart.Panel> panels = new ArrayList<>();
        panels.add(new LineChart.Panel("dino4j train: losses and the teacher's entropy (collapsed at log K) per step", series, 400));
        if (knn != null && Files.exists(knn)) {
            double[] top1 = new double[lines.size() + 1];
            Arrays.fill(top1, Double.NaN);
            for (String line : Files.readAllLines(knn, StandardCharsets.UTF_8)) {
                var m = Json.parseObject(line);
                int st = ((Number) m.get("step")).intValue();
                if (st < top1.length) top1[st] = ((Number) m.get("top1")).doubleValue() * 100;
            }
            panels.add(new LineChart.Panel("k-NN top-1 % of the " + evaluated + " on the held-out images (k = 20, T = 0.07)",
                    Map.of("knn_top1", top1), 260));
        }
        LineChart.write(png, panels);
    }

    /** After a resume, the lines of steps the checkpoint does not include are dropped (they will be redone). */
    private static void truncate(Path jsonl, long step) throws IOException {
        if (!Files.exists(jsonl)) return;
        List<String> keepLines = new ArrayList<>();
        for (String line : Files.readAllLines(jsonl, StandardCharsets.UTF_8)) {
            int a = line.indexOf("\"step\":"), b = line.indexOf(',', a);
            if (a >= 0 && b > a && Long.parseLong(line.substring(a + 7, b)) < step) keepLines.add(line);
        }
        Files.write(jsonl, keepLines, StandardCharsets.UTF_8);
    }
}
