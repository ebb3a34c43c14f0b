package org.dino4j.cli;

import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.dino4j.curate.CurateConfig;
import org.dino4j.curate.Engine;
import org.dino4j.data.Dataset;
import org.dino4j.data.Datasets;
import org.dino4j.data.Preprocess;
import org.dino4j.data.View;
import org.dino4j.embed.Embedder;
import org.dino4j.embed.Embedder.Format;
import org.dino4j.embed.Output;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.ModelConfig;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "embed", mixinStandardHelpOptions = true,
        description = {"Embeds images into shards (safetensors and/or .npy) plus manifest.tsv.",
                "manifest.tsv has one row per input: index, id, label, class, shard, row, status. Resumable: rerun the same command after a kill and finished shards are kept.",
                "INPUT: image files, folders (one sub-folder per class, as torchvision's ImageFolder, or just images), "
                        + "list files (.txt/.csv/.tsv/.lst: path[,label] per line) or IDX files (MNIST/Fashion-MNIST *-images-idx3-ubyte.gz)."})
final class EmbedCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    ModelOptions model;

    @Parameters(paramLabel = "INPUT", arity = "1..*", description = "Image files, folders, list files or IDX files (above).")
    List<Path> inputs;

    @Option(names = "--output", required = true, paramLabel = "DIR",
            description = "Output folder (created if missing); rerunning into it resumes the same run.")
    Path output;

    @Option(names = "--batch-size", defaultValue = "8", description = "Images per forward (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Mixin
    ThreadsOption threads;

    @Option(names = "--workers", defaultValue = "2", description = "Decoding threads ahead of the model (default: ${DEFAULT-VALUE}).")
    int workers;

    @Option(names = "--resolution", paramLabel = "PX",
            description = {"Model input side, a multiple of the patch size: resize the shorter side to PX·8/7 (256 for 224), "
                    + "centre crop PX. Default: " + ModelOptions.DEFAULT_SIDE + "224. At the model's own img_size the "
                    + "shorter side is resized to it and the centre cropped, nothing cut (as `dino4j train`'s k-NN probe)."})
    Integer resolution;

    @Option(names = "--resize", description = "Shorter side after resizing (overrides --resolution's); 0 = none.")
    Integer resize;

    @Option(names = "--crop", description = "Centre crop side (overrides --resolution's); 0 = none.")
    Integer crop;

    @Option(names = "--pad", defaultValue = "0", paramLabel = "MULTIPLE", description = "Zero-pad to a multiple (official CenterPadding).")
    int pad;

    @Option(names = "--patch-mean", description = "Also write the mean of the patch tokens (patch_mean).")
    boolean patchMean;

    @Option(names = "--registers", description = "Also write the register tokens (registers: n x R x D).")
    boolean registers;

    @Option(names = "--patch-tokens", description = "Also write all patch tokens (patch_tokens: n x N x D; large).")
    boolean patchTokens;

    @Option(names = "--format", split = ",", defaultValue = "safetensors", description = "safetensors, npy or both (default: ${DEFAULT-VALUE}).")
    List<String> formats;

    @Option(names = "--shard-size", defaultValue = "0", description = "Inputs per shard; 0 = about 256 MB of outputs per shard, at most 4096.")
    int shardSize;

    @picocli.CommandLine.Mixin
    DecodeOptions decode;

    @Option(names = "--spark", paramLabel = "MASTER",
            description = {"Embed on Apache Spark (e.g. local[*], spark://host:7077): CLS vectors, L2-normalised, as a Parquet "
                    + "table OUTPUT/vectors written chunk by chunk by the executors (a rerun redoes only missing chunks), "
                    + "failures in OUTPUT/failed.tsv. Needs the dino4j-spark module; inputs, weights and OUTPUT on a file system "
                    + "every executor reads."})
    String spark;

    @Override
    public Integer call() throws Exception {
        threads.apply();
        if (spark != null) return onSpark();
        EnumSet<Output> outs = EnumSet.of(Output.CLS);
        if (patchMean) outs.add(Output.PATCH_MEAN);
        if (registers) outs.add(Output.REGISTERS);
        if (patchTokens) outs.add(Output.PATCH_TOKENS);
        EnumSet<Format> fmts = EnumSet.noneOf(Format.class);
        for (String f : formats) {
            switch (f.trim().toLowerCase(Locale.ROOT)) {
                case "safetensors" -> fmts.add(Format.SAFETENSORS);
                case "npy" -> fmts.add(Format.NPY);
                default -> throw new IllegalArgumentException("--format: " + f + " (use safetensors, npy or both)");
            }
        }
        Dataset ds = Datasets.of(inputs);
        if (ds.size() == 0) throw new IllegalArgumentException("no images found in " + inputs);
        JitWarmup warmup = JitWarmup.start(JitWarmup.backbone(JitWarmup.config(model), false));
        try (DinoVisionTransformer m = model.load()) {
            var cfg = m.config();
            Preprocess pre = ModelOptions.transform(spec, cfg, resolution, "--resolution", resize, crop, pad);
            int shard = shardSize > 0 ? shardSize : autoShard(cfg.embedDim(), cfg.numRegisterTokens(), pre, outs);
            String modelId = model.randomSeed != null ? "random weights, seed " + model.randomSeed + ", " + cfg.toJson()
                    : model.resolveWeights().toAbsolutePath().normalize().toString();
            Embedder e = new Embedder(m, modelId, new Embedder.Options(outs, fmts, batchSize, shard, workers, pre, decode.maxPixels));
            ProgressBar bar = new ProgressBar("embed", "images");
            warmup.await();
            Embedder.Result r = e.run(ds, output, bar::update);
            bar.finish();
            System.out.printf(Locale.ROOT, "%d inputs: %d embedded, %d failed; %d shard(s) written, %d already done -> %s%n",
                    r.inputs(), r.embedded(), r.failed(), r.shardsWritten(), r.shardsSkipped(), output.resolve("manifest.tsv"));
            if (!r.errors().isEmpty()) {
                System.out.println("failed inputs:");
                r.errors().stream().limit(50).forEach(x -> System.out.println("  " + x));
                if (r.errors().size() > 50) System.out.println("  ... and " + (r.errors().size() - 50) + " more (status column of manifest.tsv)");
            }
            return r.failed() > 0 ? 1 : 0;
        }
    }

    /**
     * The CLS vectors on Spark ({@code org.dino4j.spark.SparkEmbedJob}, loaded by name so that this jar does not carry
     * Spark). What a Spark table cannot hold is refused, not ignored.
     */
    private int onSpark() throws Exception {
        String no = patchMean ? "--patch-mean" : registers ? "--registers" : patchTokens ? "--patch-tokens" : null;
        if (no != null) throw new IllegalArgumentException(no + ": not with --spark, which writes CLS vectors only");
        var parsed = spec.commandLine().getParseResult();
        for (String opt : List.of("--format", "--shard-size", "--workers", "--pad", "--max-pixels"))
            if (parsed.hasMatchedOption(opt))
                throw new IllegalArgumentException(opt + ": not with --spark (a Parquet table in chunks of whole batches, "
                        + "one decoding thread per task, no padding, the default pixel limit)");
        if (model.randomSeed != null) throw new IllegalArgumentException("--random-weights: not with --spark (the executors load weights)");
        if (model.config != null && !model.config.toString().endsWith(".json"))
            throw new IllegalArgumentException("--config " + model.config + ": with --spark the config's name must end in .json");
        Path weights = model.resolveWeights().toAbsolutePath().normalize();
        String hub = model.hubName() != null && !java.nio.file.Files.isDirectory(weights) ? model.hubName() : null;
        String name = model.config != null ? model.config.toAbsolutePath().normalize().toString() : model.model != null ? model.model : hub;
        ModelConfig cfg = CurateConfig.Embedding.modelConfig(name);
        if (cfg == null) // the config is in the weights: read it here too, so that a bad file fails before Spark starts
            try (DinoVisionTransformer m = org.dino4j.model.Dinov2.load(weights)) {
                cfg = m.config();
            }
        Preprocess pre = ModelOptions.transform(spec, cfg, resolution, "--resolution", resize, crop, 0);
        var e = new CurateConfig.Embedding("model", weights, name, pre.crop(), pre.resize(), batchSize, "cls", false, View.NONE);
        Class<?> job;
        try {
            job = Class.forName("org.dino4j.spark.SparkEmbedJob");
        } catch (ClassNotFoundException ex) {
            throw new IllegalArgumentException("--spark: the Spark engine is not on the class path; build it with "
                    + "`mvn -B package -DskipTests` (module dino4j-spark) and run ./dino4j again");
        }
        ProgressBar bar = new ProgressBar("embed", "images");
        boolean[] finished = {false}; // at the last update: the job prints its summary after it
        Engine.Progress progress = (step, done, total) -> {
            bar.update(done, total, 0);
            if (done >= total && !finished[0]) bar.finish();
            finished[0] |= done >= total;
        };
        long failed;
        try {
            failed = (Long) job.getMethod("run", String.class, List.class, CurateConfig.Embedding.class, Path.class, Engine.Progress.class)
                    .invoke(null, spark, inputs, e, output, progress);
        } catch (java.lang.reflect.InvocationTargetException ex) {
            if (ex.getCause() instanceof Exception c) throw c;
            Throwable root = ex.getCause();
            while (root.getCause() != null) root = root.getCause();
            throw new IllegalStateException("--spark: " + root, ex.getCause()); // e.g. a library clash on the class path
        }
        return failed > 0 ? 1 : 0;
    }

    /** About 256 MB of outputs per shard: large for CLS rows, small for all patch tokens. */
    static int autoShard(int d, int regs, Preprocess pre, EnumSet<Output> outs) {
        int crop = pre.crop() > 0 ? pre.crop() : 518;
        long perImage = 4L * d * (1 + (outs.contains(Output.PATCH_MEAN) ? 1 : 0) + (outs.contains(Output.REGISTERS) ? regs : 0)
                + (outs.contains(Output.PATCH_TOKENS) ? (long) (crop / 14) * (crop / 14) : 0));
        return (int) Math.max(16, Math.min(4096, (256L << 20) / perImage));
    }
}
