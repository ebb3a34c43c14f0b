package org.dino4j.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;

import org.dino4j.curate.CurateConfig;
import org.dino4j.curate.CurationReport;
import org.dino4j.curate.Curator;
import org.dino4j.curate.Engine;
import org.dino4j.curate.LocalEngine;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "curate", mixinStandardHelpOptions = true,
        description = {"Curates an image pool as the paper's LVD-142M recipe.",
                "Embeds the pool, self-deduplicates (k-NN graph, cosine above "
                + "dedup.threshold, connected components, one image kept per component), drops components close to evaluation "
                + "images, then retrieves from seed sets (nearest neighbours or k-means clusters) and/or samples a balanced subset "
                + "with hierarchical k-means.",
                "Writes curated.tsv (path, source, reason), removed.tsv, report.json and PNGs (similarity histogram, cluster "
                        + "sizes, removed duplicates). Embeddings are kept under OUTPUT/embeddings: a rerun resumes them. With --spark "
                        + "every stage writes Parquet tables under OUTPUT/tables and a rerun skips the stages that finished."})
final class CurateCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, paramLabel = "curate.yaml",
            description = "The recipe: pool, embedding, dedup, eval_sets, seeds, clusters, hierarchical, output (YAML).")
    Path config;

    @Option(names = "--output", paramLabel = "DIR", description = "Output folder (overrides the config's output).")
    Path output;

    @Option(names = "--spark", paramLabel = "MASTER",
            description = "Run on Apache Spark (e.g. local[*], spark://host:7077); needs the dino4j-spark module on the class path.")
    String spark;

    @Mixin
    ThreadsOption threads;

    @Override
    public Integer call() throws Exception {
        threads.apply();
        CurateConfig cfg = CurateConfig.read(config);
        Path out = output != null ? output : cfg.output();
        if (out == null) throw new IllegalArgumentException("give --output or `output:` in " + config);
        Files.createDirectories(out);
        Map<String, ProgressBar> bars = new HashMap<>();
        String[] last = {null};
        Engine.Progress progress = (step, done, total) -> {
            synchronized (bars) {
                if (last[0] != null && !last[0].equals(step)) bars.get(last[0]).finish();
                last[0] = step;
                bars.computeIfAbsent(step, s -> new ProgressBar(s, s.startsWith("embed") ? "images" : "")).update(done, total, 0);
            }
        };
        long t0 = System.nanoTime();
        if (spark != null) {
            String summary = onSpark(spark, cfg, out, progress);
            if (last[0] != null) bars.get(last[0]).finish();
            System.out.print(summary);
            return 0;
        }
        try (Engine engine = new LocalEngine(cfg.index(), cfg.hnswAbove())) {
            Curator.Curation c = new Curator(cfg, engine, progress).run(out);
            if (last[0] != null) bars.get(last[0]).finish();
            double secs = (System.nanoTime() - t0) / 1e9;
            CurationReport.write(c, cfg, engine.name(), secs, out, CurationReport.poolImages(cfg));
            System.out.print(CurationReport.summary(c, secs, out));
        }
        return 0;
    }

    /**
     * The curation as tables on Spark ({@code org.dino4j.spark.SparkCurateJob} in dino4j-spark, loaded by name so that
     * the CLI jar does not carry Spark); returns its summary.
     */
    private static String onSpark(String master, CurateConfig cfg, Path out, Engine.Progress progress) throws Exception {
        Class<?> c;
        try {
            c = Class.forName("org.dino4j.spark.SparkCurateJob");
        } catch (ClassNotFoundException e) {
            throw new IllegalArgumentException("--spark: the Spark engine is not on the class path; build it with "
                    + "`mvn -B package -DskipTests` (module dino4j-spark) and run ./dino4j again, or spark-submit dino4j-spark.jar");
        }
        try {
            return (String) c.getMethod("curate", String.class, CurateConfig.class, Path.class, Engine.Progress.class)
                    .invoke(null, master, cfg, out, progress);
        } catch (java.lang.reflect.InvocationTargetException e) {
            if (e.getCause() instanceof Exception x) throw x;
            throw new IllegalStateException("--spark: " + e.getCause(), e.getCause());
        }
    }
}
