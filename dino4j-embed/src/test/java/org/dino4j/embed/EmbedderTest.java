package org.dino4j.embed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;

import org.dino4j.data.Dataset;
import org.dino4j.data.Datasets;
import org.dino4j.data.ImageDecoder;
import org.dino4j.data.Preprocess;
import org.dino4j.embed.Embedder.Format;
import org.dino4j.embed.Output;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorStore;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;
import org.dino4j.model.ModelConfig;
import org.dino4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The embedding pipeline on a small ImageFolder with broken files: shards, manifest, row mapping, resume. */
class EmbedderTest {
    static final Path IMAGES = Path.of("").toAbsolutePath().resolve("../fixtures/extra/images").normalize();

    /** cats/ and dogs/ class folders with real fixture images, a broken file in each, and a stray top-level file. */
    static Path folder(Path dir) throws IOException {
        Path cats = Files.createDirectories(dir.resolve("data/cats")), dogs = Files.createDirectories(dir.resolve("data/dogs"));
        for (String f : List.of("rgb.png", "baseline.jpg", "gray.png", "palette.png")) Files.copy(IMAGES.resolve(f), cats.resolve(f));
        for (String f : List.of("progressive.jpg", "lossless.webp", "image.bmp")) Files.copy(IMAGES.resolve(f), dogs.resolve(f));
        Files.writeString(cats.resolve("broken.jpg"), "not an image");
        Files.write(dogs.resolve("empty.png"), new byte[0]);
        Files.writeString(dogs.resolve("notes.txt"), "ignored: not an image extension");
        Files.copy(IMAGES.resolve("rgb.png"), dir.resolve("data/stray.png")); // ImageFolder ignores top-level files
        return dir.resolve("data");
    }

    static DinoVisionTransformer model() {
        return Dinov2.random(ModelConfig.fromJson("{\"embed_dim\": 32, \"depth\": 2, \"num_heads\": 2, \"patch_size\": 14, "
                + "\"img_size\": 56, \"num_register_tokens\": 2, \"init_values\": 1.0}"), 7);
    }

    @Test
    void shardsManifestAndResume(@TempDir Path dir) throws IOException {
        Dataset ds = Datasets.of(List.of(folder(dir)));
        assertEquals(9, ds.size());
        assertEquals(List.of("cats", "dogs"), ds.classes());
        Preprocess pre = new Preprocess(64, 56, 0);
        var opts = new Embedder.Options(EnumSet.of(Output.CLS, Output.PATCH_MEAN, Output.REGISTERS, Output.PATCH_TOKENS),
                EnumSet.of(Format.SAFETENSORS, Format.NPY), 3, 4, 2, pre, ImageDecoder.DEFAULT_MAX_PIXELS);
        Path out = dir.resolve("out");
        try (DinoVisionTransformer m = model()) {
            long[] last = new long[3];
            Embedder.Result r = new Embedder(m, "random-7", opts).run(ds, out, (d, t, f) -> { last[0] = d; last[1] = t; last[2] = f; });
            assertEquals(9, r.inputs());
            assertEquals(7, r.embedded());
            assertEquals(2, r.failed());
            assertEquals(3, r.shardsWritten());
            assertArrayEquals(new long[] {9, 9, 2}, last);
            assertTrue(r.errors().stream().anyMatch(e -> e.contains("broken.jpg") && e.contains("not an image")), r.errors().toString());
            assertTrue(r.errors().stream().anyMatch(e -> e.contains("empty.png") && e.contains("empty")), r.errors().toString());

            List<String> manifest = Files.readAllLines(out.resolve("manifest.tsv"));
            assertEquals(10, manifest.size()); // header + one row per input
            ImageDecoder dec = new ImageDecoder();
            int checked = 0;
            for (String line : manifest.subList(1, manifest.size())) {
                String[] f = line.split("\t", -1);
                int index = Integer.parseInt(f[0]);
                assertEquals(ds.get(index).id(), f[1]);
                assertEquals(String.valueOf(ds.get(index).label()), f[2]);
                if (!f[6].equals("ok")) {
                    assertEquals("", f[4]);
                    continue;
                }
                // the row holds this image's features: the same as a forward on it alone
                Tensor x = pre.apply(ds.get(index).source().load(dec));
                var want = m.forwardFeatures(x);
                try (TensorStore s = SafeTensors.read(out.resolve(Embedder.shardName(Integer.parseInt(f[4])) + ".safetensors"))) {
                    int row = Integer.parseInt(f[5]);
                    float[] cls = s.get("cls").toFloatArray();
                    for (int c = 0; c < 32; c++) assertEquals(want.xNormClstoken().data()[c], cls[row * 32 + c], 1e-5, line);
                    float[] reg = s.get("registers").toFloatArray();
                    for (int c = 0; c < 64; c++) assertEquals(want.xNormRegtokens().data()[c], reg[row * 64 + c], 1e-5, line);
                    float[] pt = s.get("patch_tokens").toFloatArray(), pm = s.get("patch_mean").toFloatArray();
                    assertEquals(16 * 32 * s.get("index").shape()[0], pt.length);
                    for (int c = 0; c < 32; c++) {
                        double mean = 0;
                        for (int t = 0; t < 16; t++) mean += want.xNormPatchtokens().data()[t * 32 + c];
                        assertEquals(mean / 16, pm[row * 32 + c], 1e-5);
                        assertEquals(want.xNormPatchtokens().data()[5 * 32 + c], pt[(row * 16 + 5) * 32 + c], 1e-5);
                    }
                    assertEquals(index, s.get("index").data().getAtIndex(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, row));
                }
                checked++;
            }
            assertEquals(7, checked);
            assertTrue(Files.exists(out.resolve("shard-00002.patch_tokens.npy")));

            // a rerun skips every shard and rewrites the same manifest
            byte[] before = Files.readAllBytes(out.resolve("manifest.tsv"));
            Embedder.Result again = new Embedder(m, "random-7", opts).run(ds, out, (d, t, f) -> {});
            assertEquals(0, again.shardsWritten());
            assertEquals(3, again.shardsSkipped());
            assertEquals(2, again.failed());
            assertArrayEquals(before, Files.readAllBytes(out.resolve("manifest.tsv")));

            // a half-finished shard (data without its .tsv) is redone; a different run in the folder is refused
            Files.delete(out.resolve("shard-00001.tsv"));
            assertEquals(1, new Embedder(m, "random-7", opts).run(ds, out, (d, t, f) -> {}).shardsWritten());
            var other = new Embedder.Options(EnumSet.of(Output.CLS), EnumSet.of(Format.SAFETENSORS), 3, 4, 2, pre, ImageDecoder.DEFAULT_MAX_PIXELS);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Embedder(m, "random-7", other).run(ds, out, (d, t, f) -> {}));
            assertTrue(e.getMessage().contains("run.json"), e.getMessage());
        }
    }

    @Test
    void listFilesAndLabels(@TempDir Path dir) throws IOException {
        Path data = folder(dir);
        Path list = Files.writeString(dir.resolve("list.csv"), "# path,label\ndata/cats/rgb.png,7\ndata/dogs/image.bmp,10\n\n"
                + dir.resolve("data/dogs/progressive.jpg") + "\t2\n");
        Dataset ds = Datasets.of(List.of(list));
        assertEquals(3, ds.size());
        assertEquals(List.of("2", "7", "10"), ds.classes()); // integer labels sort numerically
        assertEquals(1, ds.get(0).label());
        assertEquals(2, ds.get(1).label());
        assertEquals(dir.resolve("data/cats/rgb.png").toString(), ds.get(0).id());
        Dataset flat = Datasets.of(List.of(data.resolve("cats")));
        assertEquals(5, flat.size()); // a folder without class folders: its images, unlabelled
        assertEquals(-1, flat.get(0).label());
        assertThrows(IllegalArgumentException.class, () -> Datasets.of(List.of(dir.resolve("missing"))));
    }

    // ---- run-state files a crash or a bad disk left behind (RunStateFuzzTest findings): refused by name, never a stack trace

    /** A finished two-shard run of two fixture images (one per shard) in {@code out}. */
    static Embedder finishedRun(Dataset ds, Path out, DinoVisionTransformer m) throws IOException {
        var opts = new Embedder.Options(EnumSet.of(Output.CLS), EnumSet.of(Format.SAFETENSORS), 2, 1, 1, new Preprocess(64, 56, 0),
                ImageDecoder.DEFAULT_MAX_PIXELS);
        Embedder e = new Embedder(m, "random-7", opts);
        assertEquals(2, e.run(ds, out, (d, t, f) -> {}).embedded());
        return e;
    }

    static Dataset twoImages() throws IOException {
        return Dataset.of(List.of(new org.dino4j.data.Sample("rgb.png", 0, "a", new org.dino4j.data.Sample.BytesSource("rgb.png",
                Files.readAllBytes(IMAGES.resolve("rgb.png")))), new org.dino4j.data.Sample("gray.png", 1, "b",
                new org.dino4j.data.Sample.BytesSource("gray.png", Files.readAllBytes(IMAGES.resolve("gray.png"))))), List.of("a", "b"));
    }

    @Test
    void runJsonNotUtf8IsRefusedByName(@TempDir Path dir) throws IOException {
        Dataset ds = twoImages();
        try (DinoVisionTransformer m = model()) {
            Embedder e = finishedRun(ds, dir, m);
            Files.write(dir.resolve("run.json"), new byte[] {'{', (byte) 0xff, (byte) 0xfe, '}'});
            IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> e.run(ds, dir, (d, t, f) -> {}));
            assertTrue(x.getMessage().startsWith(dir.resolve("run.json") + ": this folder holds a run with other inputs"), x.getMessage());
            assertTrue(x.getMessage().contains("run.json is not valid JSON"), x.getMessage());
        }
    }

    @Test
    void shardTsvNotUtf8OrWithoutColumnsIsRefusedByName(@TempDir Path dir) throws IOException {
        Dataset ds = twoImages();
        try (DinoVisionTransformer m = model()) {
            Embedder e = finishedRun(ds, dir, m);
            Path tsv = dir.resolve("shard-00001.tsv");
            byte[] good = Files.readAllBytes(tsv);
            Files.write(tsv, new byte[] {'1', '\t', (byte) 0xc3, '\n'});
            IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> e.run(ds, dir, (d, t, f) -> {}));
            assertEquals(tsv + ": not UTF-8 text; delete it to embed this shard again", x.getMessage());
            Files.writeString(tsv, "no tabs here\n");
            x = assertThrows(IllegalArgumentException.class, () -> e.run(ds, dir, (d, t, f) -> {}));
            assertEquals(tsv + ":1: not the manifest row of input 1; delete it to embed this shard again", x.getMessage());
            Files.writeString(tsv, "");
            x = assertThrows(IllegalArgumentException.class, () -> e.run(ds, dir, (d, t, f) -> {}));
            assertEquals(tsv + ": 0 rows for the shard's 1 inputs; delete it to embed this shard again", x.getMessage());
            // as the message says: without its .tsv the shard is embedded again, and the run is whole
            Files.delete(tsv);
            assertEquals(1, e.run(ds, dir, (d, t, f) -> {}).shardsWritten());
            assertArrayEquals(good, Files.readAllBytes(tsv));
        }
    }

    @Test
    void embedDirNegativeRowOrRowlessShardIsRefusedByName(@TempDir Path dir) throws IOException {
        try (DinoVisionTransformer m = model()) {
            finishedRun(twoImages(), dir, m);
        }
        Path manifest = dir.resolve("manifest.tsv");
        String good = Files.readString(manifest);
        assertEquals(2, EmbedDir.read(dir, "cls").size());
        Files.writeString(manifest, good.replace("\t1\t0\tok", "\t1\t-1\tok"));
        IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> EmbedDir.read(dir, "cls"));
        assertEquals(manifest + ":3: row -1 is not in shard 1", x.getMessage());
        Files.writeString(manifest, good);
        SafeTensors.write(dir.resolve("shard-00001.safetensors"), List.of(org.dino4j.io.TensorEntry.of("cls", new long[] {0, 32}, new float[0])), java.util.Map.of());
        x = assertThrows(IllegalArgumentException.class, () -> EmbedDir.read(dir, "cls"));
        assertEquals(dir.resolve("shard-00001.safetensors") + ": 'cls' of shape [0, 32] holds no rows", x.getMessage());
        SafeTensors.write(dir.resolve("shard-00001.safetensors"), List.of(org.dino4j.io.TensorEntry.of("cls", new long[] {1, 8}, new float[8])), java.util.Map.of());
        x = assertThrows(IllegalArgumentException.class, () -> EmbedDir.read(dir, "cls"));
        assertEquals(dir.resolve("shard-00001.safetensors") + ": 'cls' rows of 8 values, earlier shards' of 32", x.getMessage());
    }

    @Test
    void shardTsvPointingAtAnotherShardsVectorsIsRefused(@TempDir Path dir) throws IOException { // found in review
        Dataset ds = twoImages();
        try (DinoVisionTransformer m = model()) {
            Embedder e = finishedRun(ds, dir, m);
            Path tsv = dir.resolve("shard-00000.tsv");
            String good = Files.readString(tsv);
            Files.writeString(tsv, good.replace("\t0\t0\tok", "\t1\t0\tok")); // input 0 given shard 1's row 0 (input 1's vector)
            IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> e.run(ds, dir, (d, t, f) -> {}));
            assertEquals(tsv + ":1: not the manifest row of input 0; delete it to embed this shard again", x.getMessage());
        }
    }

    @Test
    void embedDirRowGivenTwiceOrVectorsWithoutWidthAreRefused(@TempDir Path dir) throws IOException { // found in review
        try (DinoVisionTransformer m = model()) {
            finishedRun(twoImages(), dir, m);
        }
        Path manifest = dir.resolve("manifest.tsv");
        String good = Files.readString(manifest);
        Files.writeString(manifest, good + good.lines().skip(2).findFirst().orElseThrow() + "\n");
        IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> EmbedDir.read(dir, "cls"));
        assertEquals(manifest + ":4: row 0 of shard 1 is given twice", x.getMessage());
        Files.writeString(manifest, good);
        SafeTensors.write(dir.resolve("shard-00001.safetensors"), List.of(org.dino4j.io.TensorEntry.of("cls", new long[] {32}, new float[32])), java.util.Map.of());
        x = assertThrows(IllegalArgumentException.class, () -> EmbedDir.read(dir, "cls"));
        assertEquals(dir.resolve("shard-00001.safetensors") + ": 'cls' of shape [32] holds no rows", x.getMessage());
    }
}
