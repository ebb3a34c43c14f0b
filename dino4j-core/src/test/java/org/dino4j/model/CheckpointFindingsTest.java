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

/** Checkpoints found by fuzzing (dino4j-fuzz PthFuzzTest, SafeTensorsFuzzTest, HfDirFuzzTest). */
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
}
