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
import org.dino4j.train.ssl.SslConfig;
import org.dino4j.train.ssl.SslTrainer;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"DINOv2 self-supervised training. Configuration as the official train.py: ssl_default_config.yaml, "
                + "then --preset or --config FILE.yaml merged over it, then key=value overrides (e.g. optim.epochs=20 "
                + "train.batch_size_per_gpu=32). The run length is optim.epochs x train.OFFICIAL_EPOCH_LENGTH iterations.",
                "Writes OUTPUT/config.yaml (the merged configuration), OUTPUT/metrics.jsonl (one line per step) and "
                        + "OUTPUT/ckpt-NNNNNNN.safetensors every --checkpoint-every steps (atomic; the last --keep kept). "
                        + "--resume continues from the newest checkpoint bit-identically."})
final class TrainCommand implements Callable<Integer> {
    @Parameters(paramLabel = "INPUT|key=value", arity = "1..*",
            description = "Images (folders, list files, IDX files, as for embed) and dotted config overrides.")
    List<String> args;

    @Option(names = "--output", required = true, paramLabel = "DIR")
    Path output;

    @Option(names = "--config", paramLabel = "FILE.yaml", description = "A configuration in the official format, merged over the defaults.")
    Path config;

    @Option(names = "--preset", description = "small28 (28-px images, e.g. Fashion-MNIST: ViT-S/4, 12-px local crops), vits14, "
            + "vitb14, vitl14 (default: small28 unless --config is given).")
    String preset;

    @Option(names = "--checkpoint-every", defaultValue = "50")
    int every;

    @Option(names = "--keep", defaultValue = "3", description = "Checkpoints kept (default: ${DEFAULT-VALUE}).")
    int keep;

    @Option(names = "--resume", description = "Continue from the newest checkpoint in --output (the configuration must be the same).")
    boolean resume;

    @Option(names = "--threads", description = "Compute threads (default: the number of cores).")
    Integer threads;

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
        SslConfig conf = SslConfig.load(preset == null && config == null ? "small28" : preset, config, overrides);
        SslTrainer.Config cfg = conf.trainer();
        int steps = conf.iterations(), batch = cfg.batchPerStep();
        long seed = conf.integer("train.seed");
        Dataset ds = Datasets.of(inputs);
        if (ds.size() < batch) throw new IllegalArgumentException(ds.size() + " images for batch size " + batch);
        SslTrainer trainer = new SslTrainer(cfg, seed);
        Files.createDirectories(output);
        Path metrics = output.resolve("metrics.jsonl"), saved = output.resolve("config.yaml");
        String yaml = conf.toYaml();
        if (resume) {
            Path last = checkpoints().stream().reduce((a, b) -> b).orElse(null);
            if (last == null) throw new IllegalArgumentException(output + ": no checkpoint to resume from");
            if (Files.exists(saved) && !Files.readString(saved).equals(yaml))
                throw new IllegalArgumentException(saved + ": the run was made with another configuration; resume with the same one");
            trainer.load(last);
            truncateMetrics(metrics, trainer.step());
            System.out.println("resumed from " + last + " at step " + trainer.step());
        } else if (!checkpoints().isEmpty() || Files.exists(metrics)) {
            throw new IllegalArgumentException(output + " already holds a run: use --resume or another --output");
        }
        Files.writeString(saved, yaml);
        ImageDecoder dec = new ImageDecoder();
        ProgressBar bar = new ProgressBar("train", "steps");
        Path lastGood = checkpoints().stream().reduce((a, b) -> b).orElse(null);
        for (long s = trainer.step(); s < steps; s++) {
            List<RgbImage> imgs = new ArrayList<>(batch);
            for (int i : batchIndices(ds.size(), s, batch, seed)) imgs.add(ds.get(i).source().load(dec));
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
                writeCurve(metrics, output.resolve("curve.png"));
            }
        }
        bar.finish();
        System.out.println("done: " + steps + " steps; checkpoint " + lastGood);
        return 0;
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
        if (!Files.isDirectory(output)) return List.of();
        try (Stream<Path> s = Files.list(output)) {
            return s.filter(p -> p.getFileName().toString().matches("ckpt-\\d{7}\\.safetensors"))
                    .sorted(Comparator.comparing(p -> p.getFileName().toString())).toList();
        }
    }

    /** The losses of metrics.jsonl so far as a PNG (refreshed at every checkpoint). */
    static void writeCurve(Path metrics, Path png) throws IOException {
        String[] keys = {"total_loss", "dino_local_crops_loss", "dino_global_crops_loss", "ibot_loss", "koleo_loss"};
        List<String> lines = Files.readAllLines(metrics, StandardCharsets.UTF_8);
        java.util.Map<String, double[]> series = new java.util.LinkedHashMap<>();
        for (String k : keys) series.put(k, new double[lines.size()]);
        for (int i = 0; i < lines.size(); i++) {
            var m = org.dino4j.io.Json.parseObject(lines.get(i));
            for (String k : keys) series.get(k)[i] = m.get(k) instanceof Number n ? n.doubleValue() : Double.NaN;
        }
        org.dino4j.viz.LineChart.write(png, "dino4j train: losses per step", series);
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
