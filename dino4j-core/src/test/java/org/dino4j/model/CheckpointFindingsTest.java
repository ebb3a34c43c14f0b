package org.dino4j.model;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.dino4j.io.CheckpointException;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorEntry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoints found by fuzzing (dino4j-fuzz PthFuzzTest, SafeTensorsFuzzTest, HfDirFuzzTest) and by reviewing the code
 * paths those targets cover.
 */
class CheckpointFindingsTest {
    @TempDir
    Path dir;

    /** A hub-layout file for a one-block ViT of width 64, with {@code key} given {@code shape} instead. */
    private Path hubWith(String key, long... shape) throws IOException {
        ModelConfig cfg = new ModelConfig(4, 2, 3, 64, 1, 1, 1.0, true, true, true, 1.0, "mlp", 0, false, 0.1, 1e-6);
        List<TensorEntry> t = new ArrayList<>();
        for (Map.Entry<String, long[]> e : StateDictSpec.expected(cfg).entrySet()) {
            long[] s = e.getKey().equals(key) ? shape : e.getValue();
            t.add(TensorEntry.of(e.getKey(), s, new float[Math.toIntExact(TensorEntry.numel(s))]));
        }
        Path f = dir.resolve("model.safetensors");
        SafeTensors.write(f, t, Map.of());
        return f;
    }

    private static String refusal(Path f) {
        return assertThrows(CheckpointException.class, () -> Dinov2.load(f).close()).getMessage();
    }

    @Test
    void posEmbedWithOnlyTheClassTokenIsACheckpointErrorNotAConfigCrash() throws IOException {
        String m = refusal(hubWith("pos_embed", 1, 1, 64));
        assertTrue(m.contains("model.safetensors") && m.contains("cannot infer the model config"), m);
    }

    @Test
    void patchEmbedOfTheWrongRankIsNamed() throws IOException {
        String m = refusal(hubWith("patch_embed.proj.weight", 64, 12));
        assertTrue(m.contains("patch_embed.proj.weight has shape [64, 12]"), m);
    }

    @Test
    void theFixedFileStillLoads() throws IOException {
        Dinov2.load(hubWith("none")).close();
    }

    private Path hfDir(String configJson, List<TensorEntry> tensors) throws IOException {
        Path d = java.nio.file.Files.createDirectories(dir.resolve("hf"));
        java.nio.file.Files.writeString(d.resolve("config.json"), configJson);
        SafeTensors.write(d.resolve("model.safetensors"), tensors, Map.of());
        return d;
    }

    private static TensorEntry zeros(String name, long... shape) {
        return TensorEntry.of(name, shape, new float[Math.toIntExact(TensorEntry.numel(shape))]);
    }

    @Test
    void hfQueryKeyValueOfDifferentWidthsAreRefusedNotCopiedOutOfBounds() throws IOException {
        String p = "embeddings.patch_embeddings.projection.weight", a = "encoder.layer.0.attention.attention.";
        Path d = hfDir("{\"model_type\": \"dinov2\"}", List.of(zeros(p, 4, 3, 2, 2), zeros(a + "query.weight", 4, 4),
                zeros(a + "key.weight", 4, 8), zeros(a + "value.weight", 4, 4)));
        String m = assertThrows(CheckpointException.class, () -> Dinov2.load(d).close()).getMessage();
        assertTrue(m.contains("model.safetensors") && m.contains("have shapes [4, 4] and [4, 8]: cannot stack them"), m);
    }

    @Test
    void hfConfigWithAStringOrANullWhereANumberGoesIsACheckpointError() throws IOException {
        for (String bad : new String[] {"\"hidden_size\": \"6\"", "\"mlp_ratio\": null, \"layer_norm_eps\": true",
                "\"num_hidden_layers\": 2.5"}) {
            Path d = hfDir("{\"model_type\": \"dinov2\", " + bad + "}", List.of(zeros("embeddings.patch_embeddings.projection.weight", 6, 3, 2, 2)));
            String m = assertThrows(CheckpointException.class, () -> Dinov2.load(d).close()).getMessage();
            assertTrue(m.contains("config.json") && (m.contains("expected a number") || m.contains("expected an integer")), m);
        }
    }

    @Test
    void configDepthBeyondTheTensorsIsRefusedBeforeBuildingTheKeyList() throws IOException {
        Path d = hfDir("{\"model_type\": \"dinov2\", \"hidden_size\": 6, \"num_attention_heads\": 2, \"num_hidden_layers\": 99999999}",
                List.of(zeros("embeddings.patch_embeddings.projection.weight", 6, 3, 2, 2)));
        String m = assertThrows(CheckpointException.class, () -> Dinov2.load(d).close()).getMessage();
        assertTrue(m.contains("the config says 99999999 blocks but the checkpoint has only"), m);
    }

    @Test
    void strideZeroViewLargerThanItsStorageIsRefused() throws Exception {
        // torch.save({'w': torch.ones(1).expand(16384, 16384)}): one float, read back as 1 GiB
        Path f = dir.resolve("expanded.pth");
        try (var in = getClass().getResourceAsStream("/org/dino4j/io/expanded-stride0.pth")) {
            java.nio.file.Files.copy(in, f);
        }
        String m = assertThrows(CheckpointException.class, () -> org.dino4j.io.TorchPth.read(f).close()).getMessage();
        assertTrue(m.contains("expanded.pth") && m.contains("overlapping view (268435456 elements of a storage of 1"), m);
    }

    @Test
    void safetensorsShapeWhoseProductWrapsIsRefused() throws IOException {
        // 2305843009213693953 x 8 wrapped to 8 elements, so 32 bytes of data_offsets matched it
        String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2305843009213693953,8],\"data_offsets\":[0,32]}}";
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 + header.length() + 32).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length()).put(header.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        Path f = java.nio.file.Files.write(dir.resolve("wrap.safetensors"), b.array());
        String m = assertThrows(CheckpointException.class, () -> SafeTensors.read(f).close()).getMessage();
        assertTrue(m.contains("wrap.safetensors") && m.contains("has a negative size or overflows"), m);
    }
}
