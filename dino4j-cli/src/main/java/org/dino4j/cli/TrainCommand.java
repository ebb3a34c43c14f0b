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
import org.dino4j.data.aug.DataAugmentationDino;
import org.dino4j.data.ssl.PyRandom;
import org.dino4j.kernels.Parallel;
import org.dino4j.model.ModelConfig;
import org.dino4j.train.ssl.SslTrainer;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"DINOv2 self-supervised training (first version: presets and flags; the official YAML config is not read yet).",
                "Writes OUTPUT/metrics.jsonl (one line per step), OUTPUT/ckpt-NNNNNNN.safetensors every --checkpoint-every steps "
                        + "(atomic; the last --keep kept). --resume continues from the newest checkpoint bit-identically."})
final class TrainCommand implements Callable<Integer> {
    @Parameters(paramLabel = "INPUT", arity = "1..*", description = "Images: folders, list files, IDX files (as for embed).")
    List<Path> inputs;

    @Option(names = "--output", required = true, paramLabel = "DIR")
    Path output;

    @Option(names = "--preset", defaultValue = "small", description = "small (28 px, patch 4, 64-dim, 3 blocks; local crops 12 px) or vits14 (224 / 98 px) (default: ${DEFAULT-VALUE}).")
    String preset;

    @Option(names = "--steps", defaultValue = "100", description = "Total iterations (the schedules' length) (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--batch-size", defaultValue = "64")
    int batch;

    @Option(names = "--prototypes", defaultValue = "1024", description = "DINO head prototypes (default: ${DEFAULT-VALUE}; the paper: 65536).")
    int prototypes;

    @Option(names = "--seed", defaultValue = "0")
    long seed;

    @Option(names = "--checkpoint-every", defaultValue = "50")
    int every;

    @Option(names = "--keep", defaultValue = "3", description = "Checkpoints kept (default: ${DEFAULT-VALUE}).")
    int keep;

    @Option(names = "--resume", description = "Continue from the newest checkpoint in --output.")
    boolean resume;

    @Option(names = "--threads", description = "Compute threads (default: the number of cores).")
    Integer threads;

    @Override
    public Integer call() throws IOException {
        if (threads != null) Parallel.setThreads(threads);
        Dataset ds = Datasets.of(inputs);
        if (ds.size() < batch) throw new IllegalArgumentException(ds.size() + " images for batch size " + batch);
        SslTrainer.Config cfg = config();
        SslTrainer trainer = new SslTrainer(cfg, seed);
        Files.createDirectories(output);
        Path metrics = output.resolve("metrics.jsonl");
        if (resume) {
            Path last = checkpoints().stream().reduce((a, b) -> b).orElse(null);
            if (last == null) throw new IllegalArgumentException(output + ": no checkpoint to resume from");
            trainer.load(last);
            truncateMetrics(metrics, trainer.step());
            System.out.println("resumed from " + last + " at step " + trainer.step());
        } else if (!checkpoints().isEmpty() || Files.exists(metrics)) {
            throw new IllegalArgumentException(output + " already holds a run: use --resume or another --output");
        }
        ImageDecoder dec = new ImageDecoder();
        ProgressBar bar = new ProgressBar("train", "steps");
        Path lastGood = checkpoints().stream().reduce((a, b) -> b).orElse(null);
        for (long s = trainer.step(); s < steps; s++) {
            List<RgbImage> imgs = new ArrayList<>(batch);
            for (int i : batchIndices(ds.size(), s)) imgs.add(ds.get(i).source().load(dec));
            SslTrainer.Losses l;
            try {
                l = trainer.train(imgs);
            } catch (IllegalStateException e) {
                bar.finish();
                throw new IllegalStateException(e.getMessage() + "; the last good checkpoint is " + (lastGood == null ? "none" : lastGood));
            }
            Files.writeString(metrics, String.format(Locale.ROOT,
                    "{\"step\":%d,\"total_loss\":%.6f,\"dino_local_crops_loss\":%.6f,\"dino_global_crops_loss\":%.6f,\"koleo_loss\":%.6f,\"ibot_loss\":%.6f}%n",
                    s, l.total(), l.dinoLocal(), l.dinoGlobal(), l.koleo(), l.ibot()), StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            bar.update(s + 1, steps, 0);
            if ((s + 1) % every == 0 || s + 1 == steps) {
                lastGood = output.resolve(String.format("ckpt-%07d.safetensors", s + 1));
                trainer.save(lastGood);
                List<Path> all = checkpoints();
                for (int i = 0; i < all.size() - keep; i++) Files.deleteIfExists(all.get(i));
            }
        }
        bar.finish();
        System.out.println("done: " + steps + " steps; checkpoint " + lastGood);
        return 0;
    }

    /** The images of step s: epoch e's order is a CPython-random shuffle seeded by (seed, e), so any step can be found again. */
    private int[] batchIndices(int n, long s) {
        int perEpoch = n / batch;
        long epoch = s / perEpoch;
        int pos = (int) (s % perEpoch) * batch;
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        new PyRandom(seed * 7919 + epoch).shuffle(order);
        return java.util.Arrays.copyOfRange(order, pos, pos + batch);
    }

    private SslTrainer.Config config() {
        int warm = Math.max(1, steps / 10);
        return switch (preset) {
            case "small" -> new SslTrainer.Config(new ModelConfig(28, 4, 3, 64, 3, 4, 4.0, true, true, true, 1e-5, "mlp", 0, false, 0.1, 1e-6),
                    DataAugmentationDino.Config.small(28, 12), prototypes, 256, 64, 3, false, 0.004, batch, 1e-6, 0.04, 0.4, 0.992,
                    0.07, 0.04, Math.max(1, steps / 3), warm, steps, warm, 3.0, 0.9, 0.2, 0.0, 0.1, 0.1, 0.5, 0.5);
            case "vits14" -> new SslTrainer.Config(new ModelConfig(224, 14, 3, 384, 12, 6, 4.0, true, true, true, 1e-5, "mlp", 0, false, 0.1, 1e-6),
                    DataAugmentationDino.Config.defaults(), prototypes, 2048, 256, 3, false, 0.004, batch, 1e-6, 0.04, 0.4, 0.992,
                    0.07, 0.04, Math.max(1, steps * 3 / 10), warm, steps, warm, 3.0, 0.9, 0.2, 0.3, 0.1, 0.1, 0.5, 0.5);
            default -> throw new IllegalArgumentException("--preset: " + preset + " (small or vits14)");
        };
    }

    private List<Path> checkpoints() throws IOException {
        if (!Files.isDirectory(output)) return List.of();
        try (Stream<Path> s = Files.list(output)) {
            return s.filter(p -> p.getFileName().toString().matches("ckpt-\\d{7}\\.safetensors"))
                    .sorted(Comparator.comparing(p -> p.getFileName().toString())).toList();
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
