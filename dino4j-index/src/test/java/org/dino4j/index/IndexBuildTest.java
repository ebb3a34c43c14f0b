package org.dino4j.index;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;

import org.dino4j.data.Datasets;
import org.dino4j.data.ImageDecoder;
import org.dino4j.data.Preprocess;
import org.dino4j.embed.EmbedDir;
import org.dino4j.embed.Embedder;
import org.dino4j.embed.Output;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;
import org.dino4j.model.ModelConfig;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bulk loading a real (tiny, random-weight) `embed` run into the Lucene index: ids, metadata, vectors, resume, checks. */
class IndexBuildTest {
    static final Path IMAGES = Path.of("").toAbsolutePath().resolve("../fixtures/extra/images").normalize();
    static final int D = 32;
    @TempDir
    static Path dir;
    static Path embed;

    /** cats/ and dogs/ with real fixture images and one broken file, embedded (cls and patch mean) by a random tiny ViT. */
    @BeforeAll
    static void embedRun() throws IOException {
        Path cats = Files.createDirectories(dir.resolve("data/cats")), dogs = Files.createDirectories(dir.resolve("data/dogs"));
        for (String f : List.of("rgb.png", "baseline.jpg", "gray.png", "palette.png")) Files.copy(IMAGES.resolve(f), cats.resolve(f));
        for (String f : List.of("progressive.jpg", "lossless.webp", "image.bmp")) Files.copy(IMAGES.resolve(f), dogs.resolve(f));
        Files.writeString(dogs.resolve("broken.jpg"), "not an image");
        embed = dir.resolve("embed");
        var opts = new Embedder.Options(EnumSet.of(Output.CLS, Output.PATCH_MEAN), EnumSet.of(Embedder.Format.SAFETENSORS), 4, 3, 2,
                new Preprocess(64, 56, 0), ImageDecoder.DEFAULT_MAX_PIXELS);
        try (DinoVisionTransformer m = Dinov2.random(ModelConfig.fromJson("{\"embed_dim\": " + D + ", \"depth\": 2, \"num_heads\": 2, "
                + "\"patch_size\": 14, \"img_size\": 56, \"init_values\": 1.0}"), 7)) {
            Embedder.Result r = new Embedder(m, "random-7", opts).run(Datasets.of(List.of(dir.resolve("data"))), embed, (d, t, f) -> {});
            assertEquals(7, r.embedded());
        }
    }

    @Test
    void loadsIdsMetadataAndVectorsAndResumes() {
        IndexSpec spec = IndexBuild.specOf(embed, IndexSpec.CLS_PATCH_MEAN);
        assertEquals(2 * D, spec.dim());
        assertEquals("random-7", spec.model());
        EmbedDir.Rows cls = EmbedDir.read(embed, "cls"), mean = EmbedDir.read(embed, "patch_mean");
        Path ixDir = dir.resolve("ix-cpm");
        try (LuceneIndex ix = LuceneIndex.create(ixDir, spec, LuceneIndex.Options.DEFAULT)) {
            // a build that was killed after its first two entries were acknowledged
            List<Entry> first = new ArrayList<>();
            for (int i = 0; i < 2; i++)
                first.add(new Entry(cls.ids().get(i), spec.vectorOf(java.util.Arrays.copyOfRange(cls.x(), i * D, (i + 1) * D),
                        java.util.Arrays.copyOfRange(mean.x(), i * D, (i + 1) * D)), Map.of()));
            ix.add(first);
            List<long[]> calls = new ArrayList<>();
            IndexBuild.Result r = IndexBuild.run(List.of(embed), ix, 2, (done, total, rate, eta) -> calls.add(new long[] {done, total}));
            assertEquals(new IndexBuild.Result(7, 5, 2, r.seconds()), r);
            assertEquals(7, ix.count());
            assertEquals(List.of(0L, 2L, 4L, 6L, 7L), calls.stream().map(c -> c[0]).toList());
            assertTrue(calls.stream().allMatch(c -> c[1] == 7));
            for (int i = 0; i < 7; i++) {
                String id = cls.ids().get(i);
                Entry e = ix.get(id).orElseThrow();
                float[] want = spec.vectorOf(java.util.Arrays.copyOfRange(cls.x(), i * D, (i + 1) * D), java.util.Arrays.copyOfRange(mean.x(), i * D, (i + 1) * D));
                for (int j = 0; j < 2 * D; j++) assertEquals(want[j], e.vector()[j], 1e-6f, id);
                // the file metadata: where a server finds the picture (ids here are paths of files that exist)
                if (i >= 2) assertEquals(Map.of("class", cls.classNames().get(i), "label", String.valueOf(cls.labels()[i]),
                        "file", java.nio.file.Path.of(id).toAbsolutePath().normalize().toString()), e.metadata());
                assertEquals(1.0, ix.search(want, 1, Map.of()).get(0).score(), 1e-5, id); // itself, or one as close (random weights)
            }
            assertTrue(ix.get(cls.ids().get(3)).orElseThrow().metadata().get("class").matches("cats|dogs"));
            assertEquals(3, ix.search(cls.x().length > 0 ? spec.vectorOf(java.util.Arrays.copyOfRange(cls.x(), 0, D),
                    java.util.Arrays.copyOfRange(mean.x(), 0, D)) : null, 10, Map.of("class", "dogs")).size()); // broken.jpg is not there
            // run again: nothing left to add
            assertEquals(new IndexBuild.Result(7, 0, 7, 0).added(), IndexBuild.run(List.of(embed), ix, 1000, (a, b, c, d) -> {}).added());
        }
    }

    @Test
    void clsOnlyIndexIntoExactIndex() {
        try (ExactIndex ix = new ExactIndex(IndexBuild.specOf(embed, IndexSpec.CLS))) {
            assertEquals(7, IndexBuild.run(List.of(embed), ix, IndexBuild.DEFAULT_BATCH, (a, b, c, d) -> {}).added());
            assertEquals(7, ix.count());
        }
    }

    @Test
    void refusesARunOfAnotherModelWidthOrWithoutPatchMean() throws IOException {
        var wrongModel = new ExactIndex(new IndexSpec("vits14", "x", IndexSpec.CLS, D));
        LuceneIndexTest.assertMessage(() -> IndexBuild.run(List.of(embed), wrongModel, 10, (a, b, c, d) -> {}),
                embed.resolve("run.json") + ": embedded with model random-7, the index holds vits14");
        var wrongDim = new ExactIndex(new IndexSpec("random-7", "x", IndexSpec.CLS_PATCH_MEAN, D));
        LuceneIndexTest.assertMessage(() -> IndexBuild.run(List.of(embed), wrongDim, 10, (a, b, c, d) -> {}),
                embed.resolve("run.json") + ": cls+patchmean vectors of 64 values, the index holds 32");
        Path clsOnly = Files.createDirectories(dir.resolve("cls-only"));
        Files.writeString(clsOnly.resolve("run.json"), Files.readString(embed.resolve("run.json")).replace("\"cls\",\"patch_mean\"", "\"cls\""));
        var cpm = new ExactIndex(new IndexSpec("random-7", "x", IndexSpec.CLS_PATCH_MEAN, 2 * D));
        LuceneIndexTest.assertMessage(() -> IndexBuild.run(List.of(clsOnly), cpm, 10, (a, b, c, d) -> {}),
                clsOnly.resolve("run.json") + ": the run has no 'patch_mean' output (the index holds cls+patchmean; embed with --patch-mean)");
        LuceneIndexTest.assertMessage(() -> IndexBuild.run(List.of(dir.resolve("data")), cpm, 10, (a, b, c, d) -> {}),
                dir.resolve("data") + ": not a `dino4j embed` output (no run.json)");
    }
}
