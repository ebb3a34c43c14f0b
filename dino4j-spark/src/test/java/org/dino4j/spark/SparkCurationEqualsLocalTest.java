package org.dino4j.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.apache.spark.sql.SparkSession;
import org.dino4j.curate.CurateConfig;
import org.dino4j.curate.CurationReport;
import org.dino4j.curate.Curator;
import org.dino4j.curate.Engine;
import org.dino4j.curate.LocalEngine;
import org.dino4j.curate.NearDuplicates;
import org.dino4j.data.Dataset;
import org.dino4j.data.Datasets;
import org.dino4j.data.ImageDecoder;
import org.dino4j.viz.Png;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The curation on Spark (the table pipeline, images embedded in the executors) against the local engine on the
 * Fashion-MNIST pool with copies: the same curated.tsv and removed.tsv, the same vectors, the same clusters.
 */
class SparkCurationEqualsLocalTest {
    static final Path FMNIST = Path.of("/usr/share/datasets/fashion-mnist");
    static final Engine.Progress QUIET = (step, done, total) -> {};
    static SparkSession spark;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("SparkCurationEqualsLocalTest").config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1").config("spark.sql.shuffle.partitions", "8").getOrCreate();
        spark.sparkContext().setLogLevel("WARN");
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
    }

    static Path fixtures() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("fixtures/official"))) p = p.getParent();
        return p == null ? null : p.resolve("fixtures");
    }

    static void writePngs(Dataset ds, int from, int count, Path dir) throws IOException {
        Files.createDirectories(dir);
        ImageDecoder dec = new ImageDecoder();
        for (int i = from; i < from + count; i++)
            Png.write(Png.toBufferedImage(ds.get(i).source().load(dec)), dir.resolve(String.format(Locale.ROOT, "%06d.png", i)));
    }

    @Test
    void curationOnSparkEqualsLocal(@TempDir Path dir) throws IOException {
        Path train = FMNIST.resolve("train-images-idx3-ubyte.gz"), test = FMNIST.resolve("t10k-images-idx3-ubyte.gz");
        assumeTrue(Files.exists(train) && Files.exists(test), "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        Dataset tr = Datasets.open(train), te = Datasets.open(test);
        NearDuplicates.writeOriginals(tr, 600, dir.resolve("originals"));
        NearDuplicates.writeCopies(tr, 600, 40, 1, 7L, dir.resolve("copies"));
        writePngs(te, 0, 20, dir.resolve("seeds-a"));
        writePngs(te, 20, 20, dir.resolve("seeds-b"));
        writePngs(te, 40, 20, dir.resolve("eval"));
        writePngs(tr, 100, 3, dir.resolve("eval")); // pool images in the evaluation set: their components must go
        Path yaml = Files.writeString(dir.resolve("curate.yaml"), """
                embedding: {kind: pixels}
                pool: [originals, copies]
                eval_sets: [eval]
                dedup: {k: 16, threshold: 0.98, flip: true, crop: 0.93}
                eval_dedup: {threshold: 0.95}
                seeds:
                  - {name: a, inputs: [seeds-a], per_image: 3}
                  - {name: b, inputs: [seeds-b], per_image: 0}
                clusters: {k: 20, min_seeds: 1, per_cluster: 15, cap: 100, iterations: 20}
                hierarchical:
                  levels:
                    - {clusters: 30, resamples: 3, sample_size: 5}
                    - {clusters: 6, resamples: 2, sample_size: 3}
                  target: 150
                  iterations: 20
                """);
        CurateConfig cfg = CurateConfig.read(yaml);

        Path outLocal = dir.resolve("local"), outSpark = dir.resolve("spark");
        Curator.Curation local = new Curator(cfg, new LocalEngine("exact", Long.MAX_VALUE), QUIET).run(outLocal);
        CurationReport.write(local, cfg, "local", 0, outLocal, CurationReport.poolImages(cfg));
        SparkCurator.Result onSpark = new SparkCurator(spark, cfg, QUIET).run(outSpark);
        assertTrue(!spark.sparkContext().isStopped(), "the curation must leave a given session running");

        // the same decisions, written the same way: every curated image with its reason, every removal with its own
        assertEquals(local.counts(), onSpark.counts());
        assertEquals(Files.readString(outLocal.resolve("curated.tsv")), Files.readString(outSpark.resolve("curated.tsv")));
        assertEquals(Files.readString(outLocal.resolve("removed.tsv")), Files.readString(outSpark.resolve("removed.tsv")));
        // the same pool vectors (the table the executors wrote), bit for bit, with the same ids and sources
        VectorTable pool = VectorTable.open(outSpark.resolve("tables/embeddings/pool").toString(), null);
        assertEquals(local.pool().size(), pool.rows());
        float[] x = new float[(int) pool.rows() * pool.dim()];
        List<String> ids = new ArrayList<>(), sources = new ArrayList<>();
        for (int c = 0; c < pool.chunks(); c++) {
            VectorTable.Chunk ch = pool.read(c, true);
            System.arraycopy(ch.x(), 0, x, (int) ch.start() * pool.dim(), ch.x().length);
            ids.addAll(List.of(ch.id()));
            sources.addAll(List.of(ch.source()));
        }
        assertEquals(local.pool().ids(), ids);
        assertEquals(local.pool().sources(), sources);
        assertArrayEquals(local.pool().x(), x);
        Map<String, Object> repL = org.dino4j.io.Json.parseObject(Files.readString(outLocal.resolve("report.json")));
        Map<String, Object> repS = org.dino4j.io.Json.parseObject(Files.readString(outSpark.resolve("report.json")));
        assertEquals(((Number) repL.get("clusters")).longValue(), ((Number) repS.get("clusters")).longValue());
        double objective = ((Number) repL.get("kmeans_objective")).doubleValue();
        assertEquals(objective, ((Number) repS.get("kmeans_objective")).doubleValue(), 1e-6 * objective);
        // and a curation where every stage did something
        assertEquals(640L, local.counts().get("pool"));
        assertTrue(local.counts().get("self-dedup removed") >= 20, local.counts().toString());
        assertTrue(local.counts().get("eval-dedup removed") >= 3, local.counts().toString());
        assertTrue(local.counts().get("retrieved by a") > 0 && local.counts().get("retrieved by b") > 0, local.counts().toString());
        assertTrue(local.counts().get("balanced sample") > 0, local.counts().toString());
    }

}
