package org.dino4j.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.dino4j.data.Dataset;
import org.dino4j.data.Datasets;
import org.dino4j.data.Preprocess;
import org.dino4j.data.Sample;
import org.dino4j.embed.EmbedDir;
import org.dino4j.embed.FeatureExtractor;
import org.dino4j.embed.Output;
import org.dino4j.eval.Knn;
import org.dino4j.io.AtomicFile;
import org.dino4j.io.Json;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The images of an {@code embed} folder most like each query image: the queries go through the index's own model and
 * preprocessing (read from its run.json), then cosine similarity of the CLS tokens, as the k-NN evaluation ranks.
 */
@Command(name = "search", mixinStandardHelpOptions = true,
        description = {"Finds the images of an `embed` folder most like each query image (cosine of CLS tokens).",
                "The queries are embedded with the index's own weights and preprocessing, read from its run.json; "
                        + "give --weights/--model only when the index was embedded elsewhere or with --random-weights."})
final class SearchCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Option(names = "--index", required = true, paramLabel = "DIR", description = "A `dino4j embed` output folder: the images to search.")
    Path index;

    @Parameters(paramLabel = "QUERY", arity = "1..*", description = "Query images: files, folders or list files.")
    List<Path> queries;

    @Option(names = "--top", defaultValue = "5", description = "Neighbours per query (default: ${DEFAULT-VALUE}).")
    int top;

    @Option(names = "--output", paramLabel = "FILE.tsv", description = "Also write the results as TSV (query, rank, similarity, id, class).")
    Path output;

    @Mixin
    ThreadsOption threads;

    @Mixin
    DecodeOptions decode;

    @Override
    public Integer call() throws Exception {
        if (top < 1) throw new IllegalArgumentException("--top must be at least 1, got " + top);
        threads.apply();
        Map<String, Object> run = readRun(index.resolve("run.json"));
        Preprocess pre = preprocess(index.resolve("run.json"), String.valueOf(run.get("preprocess")));
        EmbedDir.Rows base = EmbedDir.read(index, "cls");
        if (base.size() == 0) throw new IllegalArgumentException(index + ": no embedded images (manifest.tsv has no ok rows)");
        Dataset ds = Datasets.of(queries);
        if (ds.size() == 0) throw new IllegalArgumentException("no images found in " + queries);
        int d = base.dim(), k = Math.min(top, base.size());
        float[] baseN = Knn.normalizeRows(base.x(), base.size(), d);
        List<String> lines = new ArrayList<>();
        lines.add("query\trank\tsimilarity\tid\tclass");
        int[] failed = {0};
        JitWarmup warmup = JitWarmup.start(JitWarmup.backbone(JitWarmup.config(model), false));
        try (DinoVisionTransformer m = loadModel(String.valueOf(run.get("model")))) {
            if (m.config().embedDim() != d)
                throw new IllegalArgumentException("the model's features have " + m.config().embedDim() + " dimensions, the index's "
                        + d + ": embed the index and the queries with the same model");
            // one query per forward, in order: each printed as soon as it is answered
            var opts = new FeatureExtractor.Options(List.of(Output.CLS), pre, 1, 1, decode.maxPixels);
            try (FeatureExtractor fx = new FeatureExtractor(m, opts)) {
                warmup.await();
                fx.run(ds, it -> {
                    Sample s = it.sample();
                    if (!it.ok()) {
                        failed[0]++;
                        System.out.println(s.id() + ": error: " + it.error().getMessage());
                        return;
                    }
                    int[][] idx = new int[1][k];
                    float[][] sim = new float[1][k];
                    Knn.neighbours(baseN, base.size(), Knn.normalizeRows(it.rows()[0], 1, d), 1, d, k, idx, sim);
                    System.out.println(s.id());
                    for (int r = 0; r < k; r++) {
                        int j = idx[0][r];
                        String cls = base.classNames().get(j);
                        System.out.printf(Locale.ROOT, "  %d. %.4f  %s%s%n", r + 1, sim[0][r], base.ids().get(j), cls.isEmpty() ? "" : "  (" + cls + ")");
                        lines.add(String.join("\t", s.id(), Integer.toString(r + 1), String.format(Locale.ROOT, "%.6f", sim[0][r]), base.ids().get(j), cls));
                    }
                });
            }
        }
        if (output != null) {
            byte[] tsv = String.join("\n", lines).concat("\n").getBytes(StandardCharsets.UTF_8);
            AtomicFile.write(output, out -> out.write(tsv));
            System.out.println("-> " + output);
        }
        return failed[0] > 0 ? 1 : 0;
    }

    private static Map<String, Object> readRun(Path f) {
        try {
            return Json.parseObject(Files.readString(f, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalArgumentException(f + ": cannot read (is --index a `dino4j embed` output folder?)");
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(f + ": not a run.json of `dino4j embed`: " + e.getMessage());
        }
    }

    static Preprocess preprocess(Path f, String text) {
        try {
            return Preprocess.parse(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(f + ": no preprocessing recorded (\"" + text + "\")");
        }
    }

    /** The model options given, or else the weights file the index was embedded with (and --config if given). */
    private DinoVisionTransformer loadModel(String indexModel) {
        if (model.weights != null || model.model != null || model.randomSeed != null) return model.load();
        Path w = Path.of(indexModel);
        if (!Files.exists(w))
            throw new IllegalArgumentException(index.resolve("run.json") + ": the index was embedded with " + indexModel
                    + ", which is no file here: give --weights (or --model/--random-weights as embed had them)");
        return Dinov2.load(w, model.configOrNull());
    }
}
