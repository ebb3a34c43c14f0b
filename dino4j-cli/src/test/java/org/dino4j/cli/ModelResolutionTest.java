package org.dino4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.dino4j.data.Preprocess;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;
import org.dino4j.model.ModelConfig;
import org.dino4j.model.StateDictSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Input sides default to the model's own img_size (issue 18, point 4). */
class ModelResolutionTest {
    @TempDir
    Path dir;

    /** A ViT whose safetensors metadata says img_size 28 (patch 14, width 48), as `dino4j export` writes a 28-px run. */
    static Path model28(Path dir) throws Exception {
        ModelConfig cfg = ModelConfig.fromJson("{\"arch\": \"vit_small\", \"img_size\": 28, \"patch_size\": 14, \"embed_dim\": 48, "
                + "\"depth\": 2, \"num_heads\": 3, \"init_values\": 1.0}");
        SplittableRandom rnd = new SplittableRandom(3);
        List<TensorEntry> t = new ArrayList<>();
        for (var e : StateDictSpec.expected(cfg).entrySet()) {
            float[] v = new float[Math.toIntExact(TensorEntry.numel(e.getValue()))];
            for (int i = 0; i < v.length; i++) v[i] = (float) (rnd.nextGaussian() * 0.02);
            t.add(TensorEntry.of(e.getKey(), e.getValue(), v));
        }
        Path f = dir.resolve("small.safetensors");
        SafeTensors.write(f, t, Map.of("config", cfg.toJson()));
        return f;
    }

    @Test
    void embedRunsAtTheImgSizeOfTheWeightsWithoutOptions() throws Exception {
        Path w = model28(dir), out = dir.resolve("emb");
        CliTest.Result r = CliTest.run("embed", "--weights", w.toString(), "--patch-tokens", PicturesCommandTest.image("rgb.png").toString(),
                PicturesCommandTest.image("baseline.jpg").toString(), "--output", out.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("2 inputs: 2 embedded, 0 failed"), r.out());
        try (TensorStore s = SafeTensors.read(out.resolve("shard-00000.safetensors"))) {
            assertArrayEquals(new long[] {2, 4, 48}, s.get("patch_tokens").shape()); // 28 x 28: 2 x 2 patches of 14
        }
        assertTrue(Files.readString(out.resolve("run.json")).contains("Preprocess[resize=28, crop=28, padMultiple=0]"));
    }

    @Test
    void aResolutionThatIsNoMultipleOfThePatchSizeIsAnOptionError() throws Exception {
        Path w = model28(dir), out = dir.resolve("emb");
        CliTest.Result r = CliTest.run("embed", "--weights", w.toString(), "--resolution", "30",
                PicturesCommandTest.image("rgb.png").toString(), "--output", out.toString());
        assertEquals(2, r.code(), r.out() + r.err());
        assertTrue(r.err().startsWith("--resolution 30: not a multiple of the model's patch size 14 (try 28 or 42)"), r.err());
        assertFalse(Files.exists(out), "nothing written");
        CliTest.Result c = CliTest.run("embed", "--weights", w.toString(), "--crop", "20",
                PicturesCommandTest.image("rgb.png").toString(), "--output", out.toString());
        assertEquals(2, c.code(), c.out() + c.err());
        assertTrue(c.err().startsWith("--crop 20: not a multiple of the model's patch size 14 (try 14 or 28)"), c.err());
        assertFalse(Files.exists(out), "nothing written");
    }

    @Test
    void hubModelsKeepTheEvalTransformAndPictureSides() {
        ModelConfig hub = ModelConfig.preset("dinov2_vits14");
        ModelConfig own = ModelConfig.fromJson(hub.toJson().replace("\"img_size\":518", "\"img_size\":28"));
        assertEquals(28, own.imgSize());
        var spec = picocli.CommandLine.Model.CommandSpec.create();
        assertEquals(new Preprocess(256, 224, 0), ModelOptions.transform(spec, hub, null, "--resolution", null, null, 0));
        assertEquals(new Preprocess(512, 448, 0), ModelOptions.transform(spec, hub, 448, "--resolution", null, null, 0));
        assertEquals(new Preprocess(28, 28, 0), ModelOptions.transform(spec, own, null, "--resolution", null, null, 0));
        assertEquals(new Preprocess(64, 56, 0), ModelOptions.transform(spec, own, 56, "--resolution", null, null, 0));
        assertEquals(new Preprocess(0, 0, 0), ModelOptions.transform(spec, own, null, "--resolution", 0, 0, 0));
        assertEquals(448, ModelOptions.picturesSide(null, hub));
        assertEquals(28, ModelOptions.picturesSide(null, own));
        assertEquals(112, ModelOptions.picturesSide(112, own));
    }
}
