package org.dino4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.dino4j.data.Datasets;
import org.dino4j.data.Preprocess;
import org.dino4j.eval.Features;
import org.dino4j.eval.Knn;
import org.dino4j.io.Json;
import org.dino4j.kernels.Parallel;
import org.dino4j.model.DinoVisionTransformer;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "eval", mixinStandardHelpOptions = true, subcommands = EvalCommand.KnnCommand.class,
        description = "The paper's evaluation protocols on frozen features (dinov2/eval/).")
final class EvalCommand {

    @Command(name = "knn", mixinStandardHelpOptions = true,
            description = {"Weighted k-NN classification as the official knn.py: L2-normalised features, cosine "
                    + "similarity, votes weighted by softmax(sim / T) over the neighbours; top-1 and top-5 for each k.",
                    "Features: the CLS token of a model (--weights/--model/--config) on labelled images, raw pixels "
                            + "(--pixels), or a `dino4j embed` output folder given as --train/--test (its cls vectors)."})
    static final class KnnCommand implements Callable<Integer> {
        @Option(names = "--train", required = true, paramLabel = "PATH", description = "Labelled images or an embed output folder.")
        Path train;

        @Option(names = "--test", required = true, paramLabel = "PATH")
        Path test;

        @Option(names = "--pixels", description = "Raw pixels (RGB / 255) as the features: the baseline.")
        boolean pixels;

        @Mixin
        ModelOptions model;

        @Option(names = "--resize", description = "Eval transform: shorter side (default 256/224 of --crop).")
        Integer resize;

        @Option(names = "--crop", defaultValue = "224", description = "Eval transform: centre crop (default: ${DEFAULT-VALUE}).")
        int crop;

        @Option(names = "--nb-knn", split = ",", defaultValue = "10,20,100,200", description = "k values (default: ${DEFAULT-VALUE}).")
        int[] ks;

        @Option(names = "--temperature", defaultValue = "0.07")
        double temperature;

        @Option(names = "--batch-size", defaultValue = "64")
        int batch;

        @Option(names = "--output", paramLabel = "FILE.json", description = "Also write the results as JSON.")
        Path output;

        @Option(names = "--threads", description = "Compute threads (default: the number of cores).")
        Integer threads;

        @Override
        public Integer call() throws IOException {
            if (threads != null) Parallel.setThreads(threads);
            long t0 = System.nanoTime();
            Features tr, te;
            String source;
            if (Files.isRegularFile(train.resolve("manifest.tsv")) || Files.isRegularFile(test.resolve("manifest.tsv"))) {
                tr = Features.fromEmbedDir(train, "cls");
                te = Features.fromEmbedDir(test, "cls");
                source = "embed outputs (cls)";
            } else if (pixels) {
                tr = Features.pixels(Datasets.of(List.of(train)));
                te = Features.pixels(Datasets.of(List.of(test)));
                source = "raw pixels";
            } else {
                Preprocess pre = new Preprocess(resize != null ? resize : Math.round(crop * 256f / 224f), crop, 0);
                try (DinoVisionTransformer m = model.load()) {
                    var dtr = Datasets.of(List.of(train));
                    var dte = Datasets.of(List.of(test));
                    ProgressBar bar = new ProgressBar("features", "img");
                    long total = dtr.size() + dte.size();
                    tr = Features.cls(m, dtr, pre, batch, i -> bar.update(i, total, 0));
                    te = Features.cls(m, dte, pre, batch, i -> bar.update(dtr.size() + i, total, 0));
                    bar.finish();
                }
                source = "CLS of the model";
            }
            if (tr.dim() != te.dim()) throw new IllegalArgumentException("train features have " + tr.dim() + " dimensions, test " + te.dim());
            List<Knn.Result> res = Knn.evaluate(tr.x(), tr.labels(), te.x(), te.labels(), tr.dim(),
                    Math.max(tr.numClasses(), te.numClasses()), ks, temperature);
            System.out.printf(Locale.ROOT, "k-NN on %s: %d train, %d test, %d dimensions, T = %s (%.1f s)%n", source, tr.size(),
                    te.size(), tr.dim(), temperature, (System.nanoTime() - t0) / 1e9);
            System.out.println("    k   top-1   top-5");
            List<Object> rows = new ArrayList<>();
            for (Knn.Result r : res) {
                System.out.printf(Locale.ROOT, "%5d  %6.2f  %6.2f%n", r.k(), 100 * r.top1(), 100 * r.top5());
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("k", r.k());
                m.put("top1", 100 * r.top1());
                m.put("top5", 100 * r.top5());
                rows.add(m);
            }
            if (output != null) {
                Map<String, Object> j = new LinkedHashMap<>();
                j.put("features", source);
                j.put("train", train.toString());
                j.put("test", test.toString());
                j.put("temperature", temperature);
                j.put("results", rows);
                Files.writeString(output, Json.write(j) + "\n");
            }
            return 0;
        }
    }
}
