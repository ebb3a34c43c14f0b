package org.dino4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.dino4j.Fixtures;
import org.dino4j.io.CheckpointException;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;
import org.dino4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelLoadingTest {
    @TempDir
    Path dir;

    static final Path TINY = Fixtures.file("official/official_vit_tiny.safetensors");

    /** The fixture's weights under their official names, written as a plain hub-style safetensors. */
    Path hubStyle(java.util.function.UnaryOperator<Map<String, TensorEntry>> edit) throws IOException {
        try (TensorStore f = SafeTensors.read(TINY)) {
            Map<String, TensorEntry> w = new LinkedHashMap<>(f.withPrefix("weights/").tensors());
            w = edit.apply(w);
            Path out = dir.resolve("w" + System.nanoTime() + ".safetensors");
            SafeTensors.write(out, w.values(), Map.of("config", f.metadata().get("config")));
            return out;
        }
    }

    @Test
    void missingKeyIsNamed() throws IOException {
        Path p = hubStyle(w -> { w.remove("blocks.1.ls2.gamma"); return w; });
        CheckpointException e = assertThrows(CheckpointException.class, () -> Dinov2.load(p));
        assertTrue(e.getMessage().contains("missing key 'blocks.1.ls2.gamma'"), e.getMessage());
        assertTrue(e.getMessage().startsWith(p.toString()), e.getMessage());
    }

    @Test
    void wrongShapeIsNamed() throws IOException {
        Path p = hubStyle(w -> {
            TensorEntry t = w.get("blocks.0.attn.proj.weight");
            w.put(t.name(), TensorEntry.of(t.name(), new long[] {48, 47}, new float[48 * 47]));
            return w;
        });
        CheckpointException e = assertThrows(CheckpointException.class, () -> Dinov2.load(p));
        assertTrue(e.getMessage().contains("key 'blocks.0.attn.proj.weight' has shape [48, 47] but the model expects [48, 48]"), e.getMessage());
    }

    @Test
    void unexpectedKeyIsNamed() throws IOException {
        Path p = hubStyle(w -> { w.put("head.weight", TensorEntry.of("head.weight", new long[] {2}, new float[2])); return w; });
        CheckpointException e = assertThrows(CheckpointException.class, () -> Dinov2.load(p));
        assertTrue(e.getMessage().contains("unexpected key 'head.weight'"), e.getMessage());
    }

    @Test
    void configMismatchIsReportedNotCrashed() throws IOException {
        Path p = hubStyle(w -> w);
        // 2 blocks in the config, 3 in the file
        ModelConfig two = ModelConfig.fromJson("{\"arch\":\"vit_small\",\"img_size\":56,\"patch_size\":14,\"init_values\":1.0,\"embed_dim\":48,\"depth\":2,\"num_heads\":3}");
        CheckpointException e = assertThrows(CheckpointException.class, () -> Dinov2.load(p, two));
        assertTrue(e.getMessage().contains("unexpected key 'blocks.2."), e.getMessage());
    }

    @Test
    void trainingCheckpointLayoutsNormalise() throws IOException {
        // teacher wrapper, backbone./module. prefixes, chunked block names and head keys, as the official trainer saves
        try (TensorStore f = SafeTensors.read(TINY); DinoVisionTransformer ref = Dinov2.load(hubStyle(w -> w))) {
            Map<String, TensorEntry> w = new LinkedHashMap<>();
            for (var e : f.withPrefix("weights/").tensors().entrySet()) {
                String k = e.getKey().replaceFirst("^blocks\\.(\\d+)\\.", "blocks.0.$1.");
                w.put("teacher.module.backbone." + k, e.getValue().withName("teacher.module.backbone." + k));
            }
            w.put("teacher.dino_head.mlp.0.weight", TensorEntry.of("teacher.dino_head.mlp.0.weight", new long[] {2, 2}, new float[4]));
            Path p = dir.resolve("train.safetensors");
            SafeTensors.write(p, w.values(), Map.of());
            ModelConfig cfg = ModelConfig.fromJson(f.metadata().get("config"));
            try (DinoVisionTransformer m = Dinov2.load(p, cfg)) {
                Tensor x = new Tensor(f.get("input0").toFloatArray(), f.get("input0").intShape());
                assertTrue(maxAbsDiff(ref.forward(x).data(), m.forward(x).data()) < 1e-6); // not bitwise: see below
            }
        }
    }

    @Test
    void inferConfigRecoversTheFixtureConfigBesidesHeads() throws IOException {
        try (TensorStore f = SafeTensors.read(TINY)) {
            ModelConfig want = ModelConfig.fromJson(f.metadata().get("config"));
            CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoints.inferConfig(f.withPrefix("weights/")));
            assertTrue(e.getMessage().contains("num_heads"), e.getMessage()); // 48 is not a multiple of the hub head width
            assertEquals(3, want.depth());
        }
    }

    @Test
    void presetsMatchTheHub() {
        assertEquals(1536, ModelConfig.preset("dinov2_vits14").ffnHidden());
        assertEquals(4096, ModelConfig.preset("dinov2_vitg14").ffnHidden()); // swiglu rounding
        assertEquals(2736, ModelConfig.fromJson("{\"arch\":\"vit_large\",\"ffn_layer\":\"swiglufused\"}").ffnHidden()); // vitl14.yaml
        ModelConfig r = ModelConfig.preset("dinov2_vitb14_reg");
        assertEquals(4, r.numRegisterTokens());
        assertTrue(r.interpolateAntialias());
        assertEquals(0.0, r.interpolateOffset());
        assertEquals(37, r.posGrid());
        assertEquals(0.1, ModelConfig.preset("dinov2_vitl14").interpolateOffset());
        assertEquals(ModelConfig.preset("dinov2_vitg14"), ModelConfig.fromJson(ModelConfig.preset("dinov2_vitg14").toJson()));
        assertThrows(IllegalArgumentException.class, () -> ModelConfig.preset("dinov2_vitx14"));
        assertThrows(IllegalArgumentException.class, () -> ModelConfig.fromJson("{\"embed_dim\": 10, \"num_heads\": 3}"));
        assertThrows(IllegalArgumentException.class, () -> ModelConfig.fromJson("{\"emb_dim\": 10}"));
    }

    @Test
    void badImageSizesAreClearErrors() {
        DinoVisionTransformer m = Dinov2.random(ModelConfig.fromJson("{\"arch\":\"vit_small\",\"img_size\":28,\"patch_size\":14,\"embed_dim\":32,\"depth\":1,\"num_heads\":2}"), 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.forward(Tensor.zeros(1, 3, 30, 28)));
        assertTrue(e.getMessage().contains("multiple of the patch size 14"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> m.forward(Tensor.zeros(1, 4, 28, 28)));
    }

    @Test
    void concurrentInferenceGivesTheSameResults() throws Exception {
        try (TensorStore f = SafeTensors.read(TINY); DinoVisionTransformer m = Dinov2.load(hubStyle(w -> w))) {
            List<Tensor> inputs = new ArrayList<>();
            List<float[]> want = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Tensor x = new Tensor(f.get("input" + i).toFloatArray(), f.get("input" + i).intShape());
                inputs.add(x);
                want.add(m.forwardFeatures(x).xPrenorm().data());
            }
            ExecutorService ex = Executors.newFixedThreadPool(6);
            try {
                // Not bitwise: the JIT tier decides whether exp is SVML's or Math.exp, which differ in the last bit.
                // A race (shared scratch, a torn buffer) would show as errors many orders of magnitude larger.
                List<Future<Double>> fs = new ArrayList<>();
                for (int t = 0; t < 24; t++) {
                    int i = t % 3;
                    fs.add(ex.submit(() -> maxAbsDiff(want.get(i), m.forwardFeatures(inputs.get(i)).xPrenorm().data())));
                }
                for (Future<Double> fu : fs) assertTrue(fu.get() < 1e-5, "max abs diff " + fu.get());
            } finally {
                ex.shutdown();
            }
        }
    }

    static double maxAbsDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }
}
