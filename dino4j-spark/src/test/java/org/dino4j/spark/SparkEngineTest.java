package org.dino4j.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

import org.apache.spark.sql.SparkSession;
import org.dino4j.curate.CurateConfig;
import org.dino4j.curate.Curator;
import org.dino4j.curate.Engine;
import org.dino4j.curate.KMeans;
import org.dino4j.curate.LocalEngine;
import org.dino4j.curate.NearDuplicates;
import org.dino4j.curate.Neighbours;
import org.dino4j.curate.VectorSet;
import org.dino4j.data.Dataset;
import org.dino4j.data.Datasets;
import org.dino4j.data.ImageDecoder;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorStore;
import org.dino4j.viz.Png;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Spark engine on a real local[2] session against the local engine: the same curation (curated list, removals,
 * counts, vectors), the same neighbours (ties included), the same k-means.
 */
class SparkEngineTest {
    static final Path FMNIST = Path.of("/usr/share/datasets/fashion-mnist");
    static final Engine.Progress QUIET = (step, done, total) -> {};
    static SparkSession spark;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("SparkEngineTest").config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1").getOrCreate();
        spark.sparkContext().setLogLevel("WARN");
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
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

        Curator.Curation local = new Curator(cfg, new LocalEngine("exact", Long.MAX_VALUE), QUIET).run(dir.resolve("work-local"));
        Curator.Curation onSpark;
        try (SparkEngine engine = new SparkEngine(spark)) {
            onSpark = new Curator(cfg, engine, QUIET).run(dir.resolve("work-spark"));
        }
        assertTrue(!spark.sparkContext().isStopped(), "closing an engine on a given session must leave the session running");

        // the same vectors, bit for bit, with the same ids and sources
        assertEquals(local.pool().ids(), onSpark.pool().ids());
        assertEquals(local.pool().sources(), onSpark.pool().sources());
        assertEquals(local.pool().dim(), onSpark.pool().dim());
        assertArrayEquals(local.pool().x(), onSpark.pool().x());
        assertArrayEquals(local.nearestSim(), onSpark.nearestSim());
        // the same decisions
        assertEquals(local.counts(), onSpark.counts());
        assertEquals(local.removed(), onSpark.removed());
        for (Curator.Removal r : onSpark.removed()) // the edge that removed each self-duplicate, crop views included
            assertTrue(r.stage().equals("eval-dedup") ? Float.isNaN(r.sim()) : r.sim() > 0.98f, r.id() + " " + r.sim());
        assertEquals(local.curated(), onSpark.curated());
        assertEquals(local.groups(), onSpark.groups());
        assertArrayEquals(local.clusterSizes(), onSpark.clusterSizes());
        assertEquals(local.kmeansObjective(), onSpark.kmeansObjective(), 1e-6 * Math.abs(local.kmeansObjective()));
        // and a curation where every stage did something
        assertEquals(640L, local.counts().get("pool"));
        assertTrue(local.counts().get("self-dedup removed") >= 20, local.counts().toString());
        assertTrue(local.counts().get("eval-dedup removed") >= 3, local.counts().toString());
        assertTrue(local.counts().get("retrieved by a") > 0 && local.counts().get("retrieved by b") > 0, local.counts().toString());
        assertTrue(local.counts().get("balanced sample") > 0, local.counts().toString());
    }

    /** Unit rows with many exact duplicates (ties at every rank, and more copies of one row than k). */
    static float[] rowsWithTies(int n, int d, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = new float[n * d];
        for (int i = 0; i < n * d; i++) x[i] = (float) rnd.nextGaussian();
        for (int i = n / 2; i < n; i += 2) System.arraycopy(x, (i - n / 2) * d, x, i * d, d); // every other row of the 2nd half: a copy
        for (int i = 1; i < 40; i++) System.arraycopy(x, 7 * d, x, (n / 2 + 1 + 2 * i) * d, d); // 40 copies of row 7
        return org.dino4j.eval.Knn.normalizeRows(x, n, d);
    }

    static VectorSet set(String name, float[] x, int n, int d) {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) ids.add(name + i);
        return new VectorSet(name, ids, Collections.nCopies(n, name), x, d);
    }

    @Test
    void knnEqualsExactSearchWithTies() {
        int n = 5000, d = 16, k = 24;
        float[] x = rowsWithTies(n, d, 1);
        VectorSet base = set("base", x, n, d);
        Neighbours want = Neighbours.exact(x, n, x, n, d, k);
        // default blocks (multiples of the local GEMM's): 4 query blocks x 2 base blocks
        Neighbours got = new SparkEngine(spark).knn(base, base, k);
        assertArrayEquals(want.idx(), got.idx());
        assertArrayEquals(want.sim(), got.sim());
        // odd blocks: more merges, and a last base block (4 rows) smaller than k
        int m = 700;
        float[] q = java.util.Arrays.copyOfRange(x, 0, m * d);
        Neighbours want2 = Neighbours.exact(x, n, q, m, d, k);
        Neighbours got2 = new SparkEngine(spark, 300, 1249).knn(base, set("q", q, m, d), k);
        assertArrayEquals(want2.idx(), got2.idx());
        for (int i = 0; i < want2.sim().length; i++) assertEquals(want2.sim()[i], got2.sim()[i], 1e-6f, "similarity " + i);
        // ties really are there: row 7's 40 copies fill its whole list, in index order
        assertEquals(7, got.index(7, 0));
        for (int j = 1; j < k; j++) assertTrue(got.index(7, j) > got.index(7, j - 1) && got.similarity(7, j) == got.similarity(7, 0));
    }

    @Test
    void kmeansEqualsLocal() {
        int n = 3000, d = 32, k = 12;
        SplittableRandom rnd = new SplittableRandom(3);
        float[] centres = new float[k * d];
        for (int i = 0; i < centres.length; i++) centres[i] = (float) rnd.nextGaussian();
        float[] x = new float[n * d];
        for (int i = 0; i < n; i++) {
            int c = rnd.nextInt(k);
            for (int t = 0; t < d; t++) x[i * d + t] = centres[c * d + t] + 0.7f * (float) rnd.nextGaussian();
        }
        KMeans.Data local = KMeans.local(x, n, d);
        KMeans.Data dist = new SparkEngine(spark).kmeansData(set("x", x.clone(), n, d));
        assertEquals(n, dist.n());
        assertEquals(d, dist.d());
        int[] pick = {5, 2999, 3, 5, 0, 1024, 767, 768};
        assertArrayEquals(local.rows(pick), dist.rows(pick));
        float[] init = KMeans.init(local, k, 11);
        assertArrayEquals(init, KMeans.init(dist, k, 11));
        KMeans.Result a = KMeans.fit(local, init, k, 25, null), b = KMeans.fit(dist, init, k, 25, null);
        assertArrayEquals(a.assignment(), b.assignment());
        assertArrayEquals(a.dist2(), b.dist2());
        assertEquals(a.objective(), b.objective(), 1e-6 * a.objective());
        assertEquals(a.iterations(), b.iterations());
        for (int i = 0; i < a.centroids().length; i++) assertEquals(a.centroids()[i], b.centroids()[i], 1e-5f, "centroid value " + i);
        KMeans.Step s1 = local.step(init, k), s2 = dist.step(init, k);
        assertArrayEquals(s1.counts(), s2.counts());
        assertEquals(s1.objective(), s2.objective(), 1e-9 * s1.objective());
    }

    static Path fixtures() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("fixtures/official"))) p = p.getParent();
        return p == null ? null : p.resolve("fixtures");
    }

    @Test
    void modelEmbeddingsEqualLocal(@TempDir Path dir) throws IOException {
        Path test = FMNIST.resolve("t10k-images-idx3-ubyte.gz");
        Path fx = fixtures();
        assumeTrue(Files.exists(test) && fx != null, "needs Fashion-MNIST and fixtures/official");
        Path images = dir.resolve("images");
        writePngs(Datasets.open(test), 0, 37, images);
        Files.writeString(images.resolve("000010-broken.png"), "not a png"); // shifts the local batches after it
        try (TensorStore f = SafeTensors.read(fx.resolve("official/official_vit_tiny.safetensors"))) {
            Files.writeString(dir.resolve("tiny.json"), f.metadata().get("config"));
        }
        CurateConfig cfg = CurateConfig.read(Files.writeString(dir.resolve("c.yaml"), "embedding: {kind: model, weights: "
                + fx.resolve("official/official_vit_tiny.pth") + ", model: tiny.json, resolution: 28, batch_size: 8}\npool: [images]\n"));
        VectorSet want = LocalEngine.embedLocally("pool", cfg.pool(), cfg.embedding(), dir.resolve("local"), QUIET);
        SparkEngine engine = new SparkEngine(spark);
        VectorSet got = engine.embed("pool", cfg.pool(), cfg.embedding(), dir.resolve("spark"), QUIET);
        assertEquals(1, engine.lastFailures());
        assertEquals(37, got.size());
        assertEquals(want.ids(), got.ids());
        assertEquals(want.sources(), got.sources());
        assertArrayEquals(want.x(), got.x());
        // IDX input (300 images cut from the test set): ids file#index, the executors read the file themselves
        Path idxFile = dir.resolve("small-images-idx3-ubyte");
        try (var in = new java.io.DataInputStream(new java.util.zip.GZIPInputStream(Files.newInputStream(test)));
             var out = new java.io.DataOutputStream(Files.newOutputStream(idxFile))) {
            int magic = in.readInt(), count = in.readInt(), rows = in.readInt(), cols = in.readInt();
            assertEquals(0x803, magic);
            assertTrue(count >= 300);
            out.writeInt(magic);
            out.writeInt(300);
            out.writeInt(rows);
            out.writeInt(cols);
            out.write(in.readNBytes(300 * rows * cols));
        }
        CurateConfig idx = CurateConfig.read(Files.writeString(dir.resolve("p.yaml"), "embedding: {kind: pixels}\npool: [" + idxFile + "]\n"));
        VectorSet px = engine.embed("idx", idx.pool(), idx.embedding(), dir.resolve("spark"), QUIET);
        assertEquals(300, px.size());
        assertEquals(idxFile + "#299", px.ids().get(299));
        assertEquals(784, px.dim());
        VectorSet pxLocal = LocalEngine.embedLocally("idx", idx.pool(), idx.embedding(), dir.resolve("local"), QUIET);
        assertEquals(pxLocal.ids(), px.ids());
        assertEquals(pxLocal.sources(), px.sources());
        assertArrayEquals(pxLocal.x(), px.x());

        // a copy detector (briefly trained on these images), as files, mirrored, cropped and mirrored: the same descriptors in the executors
        float[] rows = new float[300 * 784];
        Dataset idxDs = Datasets.open(idxFile);
        ImageDecoder dec = new ImageDecoder();
        for (int i = 0; i < 300; i++) org.dino4j.curate.CopyDetectorInput.row(idxDs.get(i).source().load(dec), 28, 1, rows, i * 784);
        var o = new org.dino4j.train.copydetect.CopyDetectorTrainer.Options(28, 1, 64, 16, 5, 32, 1e-3, 1e-4, 0.1f, 0f, 0.08, 0.05, true, true, 1);
        org.dino4j.train.copydetect.CopyDetectorTrainer.train(rows, 300, o, null).save(dir.resolve("cd.safetensors"));
        CurateConfig cdc = CurateConfig.read(Files.writeString(dir.resolve("cd.yaml"),
                "embedding: {kind: copy_detector, weights: cd.safetensors}\npool: [images]\n"));
        for (CurateConfig.Embedding e : List.of(cdc.embedding(), cdc.embedding().withView(new org.dino4j.data.View(1, true)),
                cdc.embedding().withView(new org.dino4j.data.View(0.9, true)))) {
            VectorSet l = LocalEngine.embedLocally("cd", cdc.pool(), e, dir.resolve("local"), QUIET);
            VectorSet g = engine.embed("cd", cdc.pool(), e, dir.resolve("spark"), QUIET);
            assertEquals(37, g.size());
            assertEquals(l.ids(), g.ids());
            assertArrayEquals(l.x(), g.x());
        }
    }
}
