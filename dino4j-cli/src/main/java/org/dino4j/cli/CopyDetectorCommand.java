package org.dino4j.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.dino4j.curate.CopyDetectorInput;
import org.dino4j.data.Dataset;
import org.dino4j.data.Datasets;
import org.dino4j.train.copydetect.CopyDetectorTrainer;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "copy-detector", mixinStandardHelpOptions = true,
        description = {"Trains a small copy-detection descriptor on your images, for curate.",
                "Trained as SSCD (the model the paper deduplicates with) "
                + "is: InfoNCE between two random copies of each image (crops resized back, noise, 8-bit rounding) plus "
                + "KoLeo. An MLP over the pixels at --side: for small images (Fashion-MNIST-like), not a substitute for SSCD on photos.",
                "Use it in curate.yaml as embedding: {kind: copy_detector, weights: FILE}. Killed, the same command resumes from "
                        + "FILE.ckpt (written every 100 steps); Ctrl-C prints the step it kept."})
final class CopyDetectorCommand implements Callable<Integer> {
    @Parameters(paramLabel = "INPUT", arity = "1..*", description = "Images: files, folders, list files, IDX files.")
    List<Path> inputs;

    @Option(names = "--output", required = true, paramLabel = "FILE.safetensors",
            description = "The descriptor's weights; its training state goes to FILE.ckpt until the end.")
    Path output;

    @Option(names = "--side", defaultValue = "28", description = "Images are resized to side x side (default: ${DEFAULT-VALUE}).")
    int side;

    @Option(names = "--rgb", description = "Keep colour (default: gray).")
    boolean rgb;

    @Option(names = "--steps", defaultValue = "3000", description = "Training steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--batch-size", defaultValue = "512", description = "Images per step; each is the others' negatives (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--koleo", defaultValue = "0", description = "Weight of the KoLeo spreading term (default: ${DEFAULT-VALUE}).")
    float koleo;

    @Option(names = "--temperature", defaultValue = "0.05", description = "InfoNCE temperature (default: ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--max-crop", defaultValue = "0.08", description = "Largest crop from each edge, as a fraction of the side (default: ${DEFAULT-VALUE}).")
    double maxCrop;

    @Option(names = "--no-flip", description = "Do not teach mirror invariance (then use dedup.flip: true).")
    boolean noFlip;

    @Option(names = "--constant-lr", description = "Keep the learning rate at 1e-3 instead of a cosine decay to 0.")
    boolean constantLr;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the initialisation, the copies and the batches (default: ${DEFAULT-VALUE}).")
    long seed;

    @Mixin
    ThreadsOption threads;

    @Spec
    CommandSpec spec;

    /** What copy-detector says when stopped: its checkpoint (the step is in its metadata), or none yet. */
    static String stopMessage(long step, Path ckpt, String again) {
        int every = CopyDetectorTrainer.CHECKPOINT_EVERY;
        if (!java.nio.file.Files.exists(ckpt)) return StopNotice.message(step, null, 0, every, again);
        return StopNotice.message(step, ckpt, CopyDetectorTrainer.checkpointStep(ckpt), every, again);
    }

    @Override
    public Integer call() throws Exception {
        threads.apply();
        int ch = rgb ? 3 : 1;
        Dataset ds = Datasets.of(inputs);
        if (ds.size() < 2) throw new IllegalArgumentException("need at least 2 images in " + inputs + ", found " + ds.size());
        var base = CopyDetectorTrainer.Options.defaults(side, ch);
        var o = new CopyDetectorTrainer.Options(side, ch, base.hidden(), base.dim(), steps, batch, base.lr(), base.weightDecay(),
                temperature, koleo, maxCrop, base.noise(), !noFlip, !constantLr, seed);
        long need = CopyDetectorTrainer.memoryBytes(ds.size(), o);
        HeapCheck.check(new HeapCheck.Need("dino4j copy-detector", String.format("training on %d images of %d x %d x %d at batch %d",
                ds.size(), side, side, ch, batch), need, org.dino4j.train.ssl.StepMemory.gib(need) + " (the decoded images "
                + org.dino4j.train.ssl.StepMemory.gib(4L * ds.size() * side * side * ch) + ")", "fewer images, a smaller --side or --batch-size"));
        ProgressBar load = new ProgressBar("decode", "images");
        CopyDetectorInput.Rows rows = CopyDetectorInput.rows(ds, side, ch, "decode", (step, done, total) -> load.update(done, total, 0));
        load.finish();
        List<String> failed = rows.failures();
        if (!failed.isEmpty())
            System.err.println(failed.size() + " image(s) could not be read and were left out; first: " + failed.get(0).replace('\t', ' '));
        int n = rows.ids().size();
        ProgressBar bar = new ProgressBar("train", "steps");
        double[] last = {Double.NaN};
        // OUTPUT.ckpt: every 100 steps; a rerun of the same command continues from it; removed once the model is written
        Path ckpt = CopyDetectorTrainer.checkpointOf(output);
        if (java.nio.file.Files.exists(ckpt)) System.err.println("resuming from " + ckpt);
        java.util.concurrent.atomic.AtomicLong done = new java.util.concurrent.atomic.AtomicLong();
        String again = StopNotice.command(spec, null); // the same command resumes
        StopNotice stop = StopNotice.install(() -> stopMessage(done.get(), ckpt, again));
        try {
            CopyDetectorTrainer.trainTo(rows.x(), n, o, (step, total, loss) -> {
                last[0] = loss;
                done.set(step);
                if (step % 10 == 0 || step == total) bar.update(step, total, 0, String.format(Locale.ROOT, "  loss %.4f", loss));
            }, output);
        } finally {
            stop.remove();
        }
        bar.finish();
        System.out.printf(Locale.ROOT, "%d images, %d steps, final loss %.4f -> %s%n", n, steps, last[0], output);
        return 0;
    }
}
