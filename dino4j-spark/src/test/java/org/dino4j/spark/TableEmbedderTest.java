package org.dino4j.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.dino4j.curate.CurateConfig;
import org.dino4j.curate.LocalEngine;
import org.dino4j.curate.VectorSet;
import org.dino4j.data.Dataset;
import org.dino4j.data.Datasets;
import org.dino4j.data.ImageDecoder;
import org.dino4j.data.View;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Embedding into a Parquet table on a local[2] session: the rows read back equal the local engine's vectors, ids and
 * sources bit for bit (model, raw pixels of an IDX file, a copy detector through views, embed folders), nothing but
 * the missing chunks is redone on a rerun, and a table made with another configuration is rebuilt.
 */
class TableEmbedderTest {
    static SparkSession spark;
    static JavaSparkContext jsc;
    @TempDir
    static Path dir;
    /** 37 PNGs of the Fashion-MNIST test set and a broken file (index 10), embedded by the local engine (tiny model). */
    static CurateConfig model;
    static VectorSet modelLocal;

    @BeforeAll
    static void start() throws IOException {
        spark = SparkSession.builder().master("local[2]").appName("TableEmbedderTest").config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1").getOrCreate();
        spark.sparkContext().setLogLevel("WARN");
        jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Path test = SparkCurationEqualsLocalTest.FMNIST.resolve("t10k-images-idx3-ubyte.gz");
        Path fx = SparkCurationEqualsLocalTest.fixtures();
        if (!Files.exists(test) || fx == null) return;
        Path images = dir.resolve("images");
        SparkCurationEqualsLocalTest.writePngs(Datasets.open(test), 0, 37, images);
        Files.writeString(images.resolve("000010-broken.png"), "not a png"); // shifts the local batches after it
        try (TensorStore f = SafeTensors.read(fx.resolve("official/official_vit_tiny.safetensors"))) {
            Files.writeString(dir.resolve("tiny.json"), f.metadata().get("config"));
        }
        model = modelConfig(8);
        modelLocal = LocalEngine.embedLocally("pool", model.pool(), model.embedding(), dir.resolve("local"), SparkCurationEqualsLocalTest.QUIET);
    }

    static CurateConfig modelConfig(int batch) throws IOException {
        return CurateConfig.read(Files.writeString(dir.resolve("model-" + batch + ".yaml"), "embedding: {kind: model, weights: "
                + SparkCurationEqualsLocalTest.fixtures().resolve("official/official_vit_tiny.pth") + ", model: tiny.json, resolution: 28, batch_size: "
                + batch + "}\npool: [images]\n"));
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
    }

    static void needFixtures() {
        assumeTrue(model != null, "needs Fashion-MNIST and fixtures/official");
    }

    /** All rows of a table, read back chunk by chunk: items, ids, sources, vectors. */
    record Rows(List<Long> items, List<String> ids, List<String> sources, float[] x) {}

    static Rows rows(VectorTable t) {
        List<Long> items = new ArrayList<>();
        List<String> ids = new ArrayList<>(), sources = new ArrayList<>();
        float[] x = new float[Math.toIntExact(t.rows() * t.dim())];
        int o = 0;
        for (int c = 0; c < t.chunks(); c++) {
            VectorTable.Chunk ch = t.read(c, true);
            for (int i = 0; i < ch.n(); i++) {
                items.add(ch.item()[i]);
                ids.add(ch.id()[i]);
                sources.add(ch.source()[i]);
            }
            System.arraycopy(ch.x(), 0, x, o, ch.x().length);
            o += ch.x().length;
        }
        assertEquals(x.length, o);
        return new Rows(items, ids, sources, x);
    }

    /** The table equals the local set: ids, sources, dimension, vectors bit for bit; items the ids' input positions. */
    static void assertSame(VectorSet want, VectorTable t, List<Path> inputs) {
        Rows r = rows(t);
        assertEquals(want.dim(), t.dim());
        assertEquals(want.size(), t.rows());
        assertEquals(want.ids(), r.ids());
        assertEquals(want.sources(), r.sources());
        assertArrayEquals(want.x(), r.x());
        Dataset ds = Datasets.of(inputs);
        List<String> all = new ArrayList<>();
        for (int i = 0; i < ds.size(); i++) all.add(ds.get(i).id());
        for (int i = 0; i < r.ids().size(); i++) assertEquals(all.indexOf(r.ids().get(i)), r.items().get(i).intValue(), r.ids().get(i));
    }

    static String uri(Path p) {
        return p.toUri().toString();
    }

    @Test
    void tablesEqualLocalEngine() throws IOException {
        needFixtures();
        // the model: one chunk of 38 images, the broken one left out and reported as the local engine reports it
        Path work = dir.resolve("work");
        VectorTable t = TableEmbedder.embed(jsc, "pool", model.pool(), model.embedding(), uri(dir.resolve("t-model")), work,
                SparkCurationEqualsLocalTest.QUIET);
        assertEquals(37, t.rows());
        assertSame(modelLocal, t, model.pool());
        List<String> failed = Files.readAllLines(work.resolve("embeddings/pool/failed.tsv"));
        assertEquals(2, failed.size());
        assertTrue(failed.get(1).startsWith(dir.resolve("images/000010-broken.png") + "\t"), failed.get(1));

        // raw pixels of an IDX file (300 images: two chunks, ids file#index, the executors read the file themselves)
        Path idxFile = dir.resolve("small-images-idx3-ubyte");
        try (var in = new java.io.DataInputStream(new java.util.zip.GZIPInputStream(Files.newInputStream(
                SparkCurationEqualsLocalTest.FMNIST.resolve("t10k-images-idx3-ubyte.gz"))));
             var out = new java.io.DataOutputStream(Files.newOutputStream(idxFile))) {
            int magic = in.readInt(), count = in.readInt(), rows = in.readInt(), cols = in.readInt();
            out.writeInt(magic);
            out.writeInt(300);
            out.writeInt(rows);
            out.writeInt(cols);
            out.write(in.readNBytes(300 * rows * cols));
        }
        CurateConfig px = CurateConfig.read(Files.writeString(dir.resolve("p.yaml"), "embedding: {kind: pixels}\npool: [" + idxFile + "]\n"));
        VectorTable pt = TableEmbedder.embed(jsc, "idx", px.pool(), px.embedding(), uri(dir.resolve("t-pixels")), work, SparkCurationEqualsLocalTest.QUIET);
        assertEquals(2, pt.chunks());
        assertEquals(784, pt.dim());
        assertEquals(idxFile + "#299", rows(pt).ids().get(299));
        VectorSet pxLocal = LocalEngine.embedLocally("idx", px.pool(), px.embedding(), dir.resolve("local"), SparkCurationEqualsLocalTest.QUIET);
        assertSame(pxLocal, pt, px.pool());

        // a copy detector (briefly trained on these images) on the PNGs as they are, mirrored, cropped and mirrored
        float[] rows = new float[300 * 784];
        Dataset idxDs = Datasets.open(idxFile);
        ImageDecoder dec = new ImageDecoder();
        for (int i = 0; i < 300; i++) org.dino4j.curate.CopyDetectorInput.row(idxDs.get(i).source().load(dec), 28, 1, rows, i * 784);
        var o = new org.dino4j.train.copydetect.CopyDetectorTrainer.Options(28, 1, 64, 16, 5, 32, 1e-3, 1e-4, 0.1f, 0f, 0.08, 0.05, true, true, 1);
        org.dino4j.train.copydetect.CopyDetectorTrainer.train(rows, 300, o, null).save(dir.resolve("cd.safetensors"));
        CurateConfig cdc = CurateConfig.read(Files.writeString(dir.resolve("cd.yaml"),
                "embedding: {kind: copy_detector, weights: cd.safetensors}\npool: [images]\n"));
        int v = 0;
        for (CurateConfig.Embedding e : List.of(cdc.embedding(), cdc.embedding().withView(new View(1, true)),
                cdc.embedding().withView(new View(0.9, true)))) {
            VectorSet l = LocalEngine.embedLocally("cd", cdc.pool(), e, dir.resolve("local"), SparkCurationEqualsLocalTest.QUIET);
            VectorTable g = TableEmbedder.run(jsc, "cd", cdc.pool(), e, uri(dir.resolve("t-cd" + v++)), SparkCurationEqualsLocalTest.QUIET, 16).table();
            assertEquals(3, g.chunks());
            assertEquals(37, g.rows());
            assertSame(l, g, cdc.pool());
        }

        // kind embedded: dino4j embed folders (the local engine's shards of the model above, twice), one task each
        Path folder = dir.resolve("local/embeddings/pool");
        List<Path> folders = List.of(folder, folder);
        CurateConfig emb = CurateConfig.read(Files.writeString(dir.resolve("e.yaml"), "embedding: {kind: embedded}\npool: ["
                + folder + ", " + folder + "]\n"));
        VectorTable et = TableEmbedder.embed(jsc, "emb", emb.pool(), emb.embedding(), uri(dir.resolve("t-embedded")), work,
                SparkCurationEqualsLocalTest.QUIET);
        VectorSet el = VectorSet.embedded("emb", folders, "cls");
        Rows er = rows(et);
        assertEquals(2, et.chunks());
        assertEquals(74, et.rows());
        assertEquals(el.ids(), er.ids());
        assertEquals(el.sources(), er.sources());
        assertArrayEquals(el.x(), er.x());
        for (int i = 0; i < 74; i++) assertEquals(i, er.items().get(i).longValue());
        assertArrayEquals(modelLocal.x(), java.util.Arrays.copyOf(er.x(), 37 * et.dim())); // and the shards hold the model's vectors
    }

    static FileTime[] times(Path table, int chunks) throws IOException {
        FileTime[] t = new FileTime[chunks];
        for (int c = 0; c < chunks; c++) t[c] = Files.getLastModifiedTime(table.resolve(VectorTable.chunkName(c)));
        return t;
    }

    @Test
    void rerunRedoesOnlyMissingChunksAndAnotherConfigRebuilds() throws IOException {
        needFixtures();
        Path table = dir.resolve("t-resume");
        String uri = uri(table);
        // 38 images in chunks of 8: five chunks, the broken image in chunk 1. (It shifts the local engine's batches after
        // it, so chunks 1-4 hold other batches than the local ones: 7 images, then 8 across a chunk boundary. The GEMM
        // gives these rows the same bits at 7 or 8 images per batch; not always (one image alone against two), hence the
        // rebuild below in one chunk.)
        TableEmbedder.Result first = TableEmbedder.run(jsc, "pool", model.pool(), model.embedding(), uri, SparkCurationEqualsLocalTest.QUIET, 8);
        assertEquals(5, first.chunksRun());
        assertEquals(38, first.imagesRun());
        assertSame(modelLocal, first.table(), model.pool());
        assertEquals(1, first.failures().size());
        assertTrue(Files.exists(table.resolve("_failed-00001.tsv")));
        assertTrue(Files.notExists(table.resolve(TableEmbedder.PENDING)));

        // a complete table: no job
        TableEmbedder.Result again = TableEmbedder.run(jsc, "pool", model.pool(), model.embedding(), uri, SparkCurationEqualsLocalTest.QUIET, 8);
        assertEquals(0, again.chunksRun());
        assertEquals(first.failures(), again.failures());

        // a chunk file deleted from the sealed table: that chunk alone is redone (the one with the failure)
        FileTime[] before = times(table, 5);
        Files.delete(table.resolve(VectorTable.chunkName(1)));
        Files.delete(table.resolve("_failed-00001.tsv"));
        TableEmbedder.Result redo = TableEmbedder.run(jsc, "pool", model.pool(), model.embedding(), uri, SparkCurationEqualsLocalTest.QUIET, 8);
        assertEquals(1, redo.chunksRun());
        assertEquals(8, redo.imagesRun());
        FileTime[] after = times(table, 5);
        for (int c = 0; c < 5; c++) if (c != 1) assertEquals(before[c], after[c], "chunk " + c + " was rewritten");
        assertSame(modelLocal, redo.table(), model.pool());
        assertEquals(first.failures(), redo.failures());

        // a killed job: not sealed (pending), chunks 3 and 4 missing
        Files.delete(table.resolve(VectorTable.META));
        Files.writeString(table.resolve(TableEmbedder.PENDING), first.table().fingerprint() + "\n");
        Files.delete(table.resolve(VectorTable.chunkName(3)));
        Files.delete(table.resolve(VectorTable.chunkName(4)));
        assertNull(VectorTable.open(uri, null));
        before = times(table, 3);
        TableEmbedder.Result resumed = TableEmbedder.run(jsc, "pool", model.pool(), model.embedding(), uri, SparkCurationEqualsLocalTest.QUIET, 8);
        assertEquals(2, resumed.chunksRun());
        assertEquals(14, resumed.imagesRun()); // 8 + the last 6
        assertArrayEquals(before, times(table, 3));
        assertSame(modelLocal, resumed.table(), model.pool());
        assertEquals(first.failures(), resumed.failures()); // chunk 1's failure kept from the first run
        assertEquals(first.table().fingerprint(), VectorTable.open(uri, null).fingerprint());

        // another embedding (batches of 4, in one chunk of 40) into the same folder: the old table is deleted, all rebuilt
        FileTime old = Files.getLastModifiedTime(table.resolve(VectorTable.chunkName(0)));
        CurateConfig b4 = modelConfig(4);
        TableEmbedder.Result rebuilt = TableEmbedder.run(jsc, "pool", b4.pool(), b4.embedding(), uri, SparkCurationEqualsLocalTest.QUIET, 40);
        assertEquals(1, rebuilt.chunksRun());
        assertEquals(1, rebuilt.table().chunks());
        assertNotEquals(old, Files.getLastModifiedTime(table.resolve(VectorTable.chunkName(0))));
        for (int c = 1; c < 5; c++) assertTrue(Files.notExists(table.resolve(VectorTable.chunkName(c))), "old chunk " + c + " left");
        assertNotEquals(first.table().fingerprint(), rebuilt.table().fingerprint());
        assertSame(LocalEngine.embedLocally("pool", b4.pool(), b4.embedding(), dir.resolve("local-b4"), SparkCurationEqualsLocalTest.QUIET),
                rebuilt.table(), b4.pool());
        // the same embedding in other chunks: rebuilt too (chunk files are not mixed)
        TableEmbedder.Result rechunked = TableEmbedder.run(jsc, "pool", b4.pool(), b4.embedding(), uri, SparkCurationEqualsLocalTest.QUIET, 12);
        assertEquals(4, rechunked.chunksRun());
        assertEquals(4, rechunked.table().chunks());
        assertEquals(37, rechunked.table().rows());

        // a folder that holds something else is refused, not deleted
        Path other = Files.createDirectories(dir.resolve("not-a-table"));
        Files.writeString(other.resolve("notes.txt"), "mine");
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> TableEmbedder.run(jsc, "pool",
                model.pool(), model.embedding(), uri(other), SparkCurationEqualsLocalTest.QUIET, 8));
        assertTrue(ex.getMessage().contains("not a dino4j vector table"), ex.getMessage());
        assertTrue(Files.exists(other.resolve("notes.txt")));
    }

    @Test
    void chunksHoldWholeBatchesWithinShards() {
        assertEquals(256, TableEmbedder.chunkSize(38, 8, 0)); // a small set: one chunk of at least MIN_CHUNK
        assertEquals(264, TableEmbedder.chunkSize(10_000, 24, 0)); // 157 -> 256 -> whole batches of 24
        assertEquals(4096, TableEmbedder.chunkSize(10_000_000, 64, 0)); // a large set: a whole shard
        assertEquals(4096, TableEmbedder.chunkSize(10_000_000, 48, 0)); // 4096 is no multiple of 48: the shard is the chunk
        assertEquals(16, TableEmbedder.chunkSize(1000, 8, 10));
    }

    @Test
    void aFailedTaskIsOneLine() {
        assertEquals("a Spark task failed: /w.pth: file not found", TableEmbedder.taskFailure("""
                Job aborted due to stage failure: Task 0 in stage 0.0 failed 1 times, most recent failure: Lost task 0.0 in \
                stage 0.0 (TID 0) (192.0.2.2 executor driver): org.dino4j.io.CheckpointException: /w.pth: file not found
                Driver stacktrace:
                \tat org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages(DAGScheduler.scala:3055)"""));
        assertEquals("a Spark task failed: something else", TableEmbedder.taskFailure("something else\nmore"));
    }

    @Test
    void embedCommandOnSpark() throws IOException {
        needFixtures();
        Path out = dir.resolve("embed-out");
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        long failed;
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            failed = SparkEmbedJob.run("local[2]", model.pool(), model.embedding(), out, SparkCurationEqualsLocalTest.QUIET);
            failed += SparkEmbedJob.run("local[2]", model.pool(), model.embedding(), out, SparkCurationEqualsLocalTest.QUIET);
        } finally {
            System.setOut(old);
        }
        String text = buf.toString(StandardCharsets.UTF_8);
        assertEquals(2, failed, text);
        assertTrue(text.contains("38 inputs: 37 embedded, 1 failed; 1 chunk(s) written, 0 already done"), text);
        assertTrue(text.contains("38 inputs: 37 embedded, 1 failed; 0 chunk(s) written, 1 already done"), text);
        assertTrue(!spark.sparkContext().isStopped(), "a session already running is left running");
        assertSame(modelLocal, VectorTable.open(uri(out.resolve("vectors")), null), model.pool());
        List<String> f = Files.readAllLines(out.resolve("failed.tsv"));
        assertEquals(List.of("id\terror"), f.subList(0, 1));
        assertTrue(f.get(1).startsWith(dir.resolve("images/000010-broken.png") + "\t"), f.get(1));
    }
}
