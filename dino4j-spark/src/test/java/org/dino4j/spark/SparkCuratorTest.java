package org.dino4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.apache.spark.sql.SparkSession;
import org.dino4j.curate.CurateConfig;
import org.dino4j.curate.CurationReport;
import org.dino4j.curate.Curator;
import org.dino4j.curate.Engine;
import org.dino4j.curate.KMeans;
import org.dino4j.curate.LocalEngine;
import org.dino4j.curate.Neighbours;
import org.dino4j.curate.VectorSet;
import org.dino4j.data.Sample;
import org.dino4j.eval.Knn;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The table pipeline against the local {@link Curator} on the same vectors (given as tables to Spark and as sets to
 * the local engine): the same curated.tsv and removed.tsv, byte for byte, through every stage (centring, self-dedup
 * with ties and chains, eval-dedup of whole components, seed retrieval, clusters holding seeds with a cap, the
 * hierarchical balanced sample); and a rerun that skips every stage.
 */
class SparkCuratorTest {
    static SparkSession spark;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("SparkCuratorTest").config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1").config("spark.sql.shuffle.partitions", "8").getOrCreate();
        spark.sparkContext().setLogLevel("WARN");
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
    }

    /** n clustered unit rows with near-copies (some chained), exact copies (ties) and a few far outliers. */
    static float[] pool(int n, int d, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int k = 12;
        float[] c = new float[k * d];
        for (int i = 0; i < c.length; i++) c[i] = (float) rnd.nextGaussian();
        float[] x = new float[n * d];
        for (int i = 0; i < n; i++) {
            int cl = rnd.nextInt(k);
            for (int t = 0; t < d; t++) x[i * d + t] = c[cl * d + t] + 0.8f * (float) rnd.nextGaussian();
        }
        for (int i = 50; i < n; i += 37) { // near-copies of an earlier row, some of a copy (chains)
            int o = rnd.nextInt(i);
            for (int t = 0; t < d; t++) x[i * d + t] = x[o * d + t] + 0.02f * (float) rnd.nextGaussian();
        }
        if (n > 1000) for (int j = 1; j <= 5; j++) System.arraycopy(x, 7 * d, x, (900 + j) * d, d); // exact copies: ties
        return Knn.normalizeRows(x, n, d);
    }

    static VectorSet set(String name, float[] x, int d) {
        int n = x.length / d;
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) ids.add(name + "/" + i);
        return new VectorSet(name, ids, Collections.nCopies(n, name), x, d);
    }

    static void table(VectorSet s, Path dir, int chunk) {
        int d = s.dim(), chunks = (s.size() + chunk - 1) / chunk;
        for (int c = 0; c < chunks; c++) {
            List<VectorTable.Rec> recs = new ArrayList<>();
            for (int i = c * chunk; i < Math.min(s.size(), (c + 1) * chunk); i++)
                recs.add(new VectorTable.Rec(i, s.ids().get(i), s.sources().get(i), java.util.Arrays.copyOfRange(s.x(), i * d, (i + 1) * d)));
            VectorTable.writeChunk(dir.toString(), c, d, recs.iterator());
        }
        VectorTable.seal(dir.toString(), s.name(), d, chunks);
    }

    /** The local engine, with the sets given instead of embedded. */
    static Engine given(Map<String, VectorSet> sets) {
        LocalEngine local = new LocalEngine("exact", Long.MAX_VALUE);
        return new Engine() {
            public String name() {
                return "local";
            }

            public VectorSet embed(String name, List<Path> inputs, CurateConfig.Embedding e, Path w, Progress p) {
                VectorSet s = sets.get(name);
                return new VectorSet(s.name(), s.ids(), s.sources(), s.x().clone(), s.dim());
            }

            public VectorSet embedPixels(String n, List<Path> i, CurateConfig.Embedding e, Path w, Progress p) {
                throw new UnsupportedOperationException();
            }

            public VectorSet embedCopyDetector(String n, List<Path> i, CurateConfig.Embedding e, Path w, Progress p) {
                throw new UnsupportedOperationException();
            }

            public VectorSet embedModel(String n, List<Path> i, CurateConfig.Embedding e, Path w, Progress p) {
                throw new UnsupportedOperationException();
            }

            public Neighbours knn(VectorSet base, VectorSet queries, int k) {
                return local.knn(base, queries, k);
            }

            public KMeans.Data kmeansData(VectorSet set) {
                return local.kmeansData(set);
            }
        };
    }

    @Test
    void tablePipelineEqualsLocalCurator(@TempDir Path dir) throws IOException {
        int d = 24;
        float[] px = pool(3000, d, 5);
        VectorSet pool = set("pool", px, d);
        // evaluation images: 3 near-copies of pool rows (one in a duplicate group), and unrelated rows
        float[] ex = pool(40, d, 9);
        int[] near = {7, 100, 2500};
        SplittableRandom rnd = new SplittableRandom(3);
        for (int j = 0; j < near.length; j++)
            for (int t = 0; t < d; t++) ex[j * d + t] = px[near[j] * d + t] + 0.01f * (float) rnd.nextGaussian();
        Knn.normalizeRows(ex, 40, d);
        VectorSet eval = set("eval0", ex, d), a = set("seeds-a", pool(20, d, 11), d), b = set("seeds-b", pool(60, d, 12), d);
        Map<String, VectorSet> sets = Map.of("pool", pool, "eval0", eval, "seeds-a", a, "seeds-b", b);
        for (VectorSet s : sets.values()) table(s, dir.resolve("t-" + s.name()), 700); // chunks not aligned to the GEMM blocks
        Path yaml = Files.writeString(dir.resolve("curate.yaml"), """
                embedding: {kind: table, center: true}
                pool: [t-pool]
                eval_sets: [t-eval0]
                dedup: {k: 16, threshold: 0.97}
                eval_dedup: {threshold: 0.95}
                index: exact
                seeds:
                  - {name: a, inputs: [t-seeds-a], per_image: 3}
                  - {name: b, inputs: [t-seeds-b], per_image: 0}
                clusters: {k: 20, min_seeds: 1, per_cluster: 15, cap: 100, iterations: 20}
                hierarchical:
                  levels:
                    - {clusters: 30, resamples: 3, sample_size: 5}
                    - {clusters: 6, resamples: 2, sample_size: 3}
                  target: 400
                  iterations: 20
                """);
        CurateConfig cfg = CurateConfig.read(yaml);
        Curator.Curation local = new Curator(cfg, given(sets), (s, x, t) -> {}).run(dir.resolve("local"));
        CurationReport.write(local, cfg, "local", 0, dir.resolve("local"), null);
        SparkCurator.Result got = new SparkCurator(spark, cfg, (s, x, t) -> {}).run(dir.resolve("spark"));

        assertEquals(local.counts(), got.counts());
        assertEquals(Files.readString(dir.resolve("local/curated.tsv")), Files.readString(dir.resolve("spark/curated.tsv")));
        assertEquals(Files.readString(dir.resolve("local/removed.tsv")), Files.readString(dir.resolve("spark/removed.tsv")));
        // every stage did something, so the equality above says something
        Map<String, Long> c = local.counts();
        assertTrue(c.get("self-dedup removed") >= 60, c.toString());
        assertTrue(c.get("eval-dedup removed") >= 3, c.toString());
        assertTrue(c.get("retrieved by a") > 0 && c.get("retrieved by b") > 0 && c.get("balanced sample") > 0, c.toString());
        assertTrue(c.get("retrieved by b") <= 100, "cap: " + c);
        assertTrue(Files.size(dir.resolve("spark/similarity_histogram.png")) > 1000);
        assertTrue(Files.exists(dir.resolve("spark/duplicates.png")));

        // a rerun: every stage skipped, the same lists
        String before = Files.readString(dir.resolve("spark/curated.tsv"));
        SparkCurator.Result again = new SparkCurator(spark, cfg, (s, x, t) -> {}).run(dir.resolve("spark"));
        @SuppressWarnings("unchecked")
        Map<String, Map<String, Object>> stages = (Map<String, Map<String, Object>>) (Map<?, ?>) again.report().get("stages");
        assertTrue(stages.size() >= 8, stages.toString());
        for (var e : stages.entrySet()) assertEquals(true, e.getValue().get("skipped"), e.getKey());
        assertEquals(before, Files.readString(dir.resolve("spark/curated.tsv")));
    }
}
