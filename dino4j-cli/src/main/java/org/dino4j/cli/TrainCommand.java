package org.dino4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.dino4j.data.Dataset;
import org.dino4j.data.Datasets;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.train.ssl.CollapseDetector;
import org.dino4j.train.ssl.SslConfig;
import org.dino4j.train.ssl.SslTrainer;
import org.dino4j.train.ssl.StepMemory;
import org.dino4j.train.ssl.TrainingRun;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
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

    @Mixin
    ThreadsOption threads;

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
        threads.apply();
        List<Path> inputs = new ArrayList<>();
        List<String> overrides = new ArrayList<>();
        for (String a : args) {
            if (a.contains("=") && !Files.exists(Path.of(a))) overrides.add(a);
            else inputs.add(Path.of(a));
        }
        if (inputs.isEmpty()) throw new IllegalArgumentException("no INPUT images given");
        if ((evalTrain == null) != (evalTest == null)) throw new IllegalArgumentException("--eval-train and --eval-test go together");
        SslTrainer.Frozen frozen = frozenTeacher(overrides);
        SslConfig conf = SslConfig.load(preset == null && config == null ? "small28" : preset, config, overrides);
        SslTrainer.Config cfg = conf.trainer();
        int batch = cfg.batchPerStep();
        var c = cfg.crops();
        HeapCheck.check(HeapCheck.Need.of(frozen != null ? "dino4j distill" : "dino4j train", String.format(
                "a step of a %d-wide %d-block ViT/%d at batch %d (2 x %d + %d x %d px crops, %d prototypes)", cfg.model().embedDim(),
                cfg.model().depth(), cfg.model().patchSize(), batch, c.globalSize(), c.localCrops(), c.localSize(), cfg.prototypes()),
                StepMemory.of(cfg, frozen != null), "lower train.batch_size_per_gpu (now " + batch + ")"));
        KnnProbe probe = evalTrain == null ? null
                : new KnnProbe(Datasets.of(List.of(evalTrain)), Datasets.of(List.of(evalTest)), cfg.crops().globalSize());
        var options = TrainingRun.Options.of(output).withCheckpoints(every, keep).withResume(resume)
                .withProbe(probe, evalEvery == null ? 0 : evalEvery);
        Report report = new Report(probe);
        TrainingRun run = new TrainingRun(conf, Datasets.of(inputs), frozen, options, report);
        String resumeCommand = StopNotice.command(spec, "--resume");
        StopNotice stop = StopNotice.install(run.saving(), () -> stopMessage(run.stepsDone(), TrainingRun.newest(output), every, resumeCommand));
        try {
            Path last = run.run();
            report.bar.finish();
            System.out.println("done: " + conf.iterations() + " steps; checkpoint " + last);
            return 0;
        } catch (IOException | RuntimeException e) {
            report.bar.finish();
            throw e;
        } finally {
            stop.remove();
        }
    }

    /** What train says when stopped: the newest checkpoint kept (its step is in its name), or none yet. */
    static String stopMessage(long step, Path newest, int every, String resume) {
        return StopNotice.message(step, newest, newest == null ? 0 : TrainingRun.checkpointStep(newest), every, resume);
    }

    /** Distillation's frozen teacher (null: self-distillation with an EMA teacher); may add overrides it needs. */
    SslTrainer.Frozen frozenTeacher(List<String> overrides) {
        return null;
    }

    /** The run's progress line on stderr, its evaluations and the collapse warning, as train has always shown them. */
    private static final class Report implements TrainingRun.Listener {
        final ProgressBar bar = new ProgressBar("train", "steps");
        final KnnProbe probe;

        Report(KnnProbe probe) {
            this.probe = probe;
        }

        @Override
        public void resumed(Path checkpoint, long step) {
            System.out.println("resumed from " + checkpoint + " at step " + step);
        }

        @Override
        public void startingOver(Path output) {
            System.out.println(output + " has no checkpoint yet: starting over from step 0");
        }

        @Override
        public void step(TrainingRun.Progress p) {
            var l = p.losses();
            int left = p.evalsLeft();
            String evalNote = left == 0 ? "" : Double.isNaN(p.evalSeconds()) ? " (+ " + left + " k-NN evaluations)"
                    : " (with " + left + " k-NN evaluation" + (left == 1 ? "" : "s") + " of " + ProgressBar.duration(p.evalSeconds()) + ")";
            String collapseNote = p.collapsed() ? String.format(Locale.ROOT, "  COLLAPSED (teacher entropy %.3f, DINO loss %.3f, log K %.3f, for %d steps)",
                    l.teacherEntropy(), l.dino(), p.logK(), p.collapsedSteps()) : "";
            bar.update(p.done(), p.steps(), 0, String.format(Locale.ROOT, "%s  loss %.4f (dino %.4f/%.4f ibot %.4f koleo %.4f)  lr %.2e  %.1f img/s%s",
                    evalNote, l.total(), l.dinoLocal(), l.dinoGlobal(), l.ibot(), l.koleo(), p.lr(), p.imagesPerSecond(), collapseNote),
                    p.etaSeconds());
        }

        @Override
        public void collapsed(long done) {
            bar.finish();
            System.err.println("warning: step " + done + ": training has collapsed: " + CollapseDetector.ADVICE + " (README: the Fashion-MNIST run)");
        }

        @Override
        public void evaluating(long step, String backbone) {
            bar.finish();
            System.out.printf(Locale.ROOT, "step %d: k-NN evaluation of the %s: CLS features of %d train + %d test images, then k = 20 votes%n",
                    step, backbone, probe.train.size(), probe.test.size());
        }

        @Override
        public void evaluated(long step, TrainingRun.Accuracy a, double seconds) {
            System.out.printf(Locale.ROOT, "step %d: k-NN top-1 %.2f%%, top-5 %.2f%% (%d train, %d test images, %s)%n",
                    step, 100 * a.top1(), 100 * a.top5(), probe.train.size(), probe.test.size(), ProgressBar.duration(seconds));
        }
    }

    /**
     * The periodic k-NN evaluation (eval's protocol: k = 20, T = 0.07, cosine): CLS features of both splits, eval
     * transform at the global crop size.
     */
    private static final class KnnProbe implements TrainingRun.Probe {
        final Dataset train, test;
        final org.dino4j.data.Preprocess pre;

        KnnProbe(Dataset train, Dataset test, int size) {
            this.train = train;
            this.test = test;
            this.pre = new org.dino4j.data.Preprocess(size, size, 0);
        }

        @Override
        public TrainingRun.Accuracy evaluate(DinoVisionTransformer backbone) throws IOException {
            ProgressBar bar = new ProgressBar("k-NN features", "img");
            int total = train.size() + test.size();
            var tr = org.dino4j.eval.Features.cls(backbone, train, pre, 256, i -> bar.update(i, total, 0));
            var te = org.dino4j.eval.Features.cls(backbone, test, pre, 256, i -> bar.update(train.size() + i, total, 0));
            bar.finish();
            var r = org.dino4j.eval.Knn.evaluate(tr.x(), tr.labels(), te.x(), te.labels(), tr.dim(),
                    Math.max(tr.numClasses(), te.numClasses()), new int[] {20}, 0.07).get(0);
            return new TrainingRun.Accuracy(20, r.top1(), r.top5());
        }
    }
}
