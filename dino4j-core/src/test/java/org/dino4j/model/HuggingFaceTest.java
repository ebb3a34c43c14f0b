package org.dino4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import org.dino4j.Fixtures;
import org.dino4j.io.DType;
import org.dino4j.io.Json;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;
import org.dino4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Dinov2WithRegistersModel: there is no HF fixture for it, but HF's register model has the official register
 * semantics (size path, antialias). So the official register+SwiGLU fixture's weights, renamed the way HF stores
 * them, must reproduce Meta's outputs through an HF directory.
 */
class HuggingFaceTest {
    @TempDir
    Path dir;

    static String hfName(String k) {
        return switch (k) {
            case "cls_token" -> "embeddings.cls_token";
            case "mask_token" -> "embeddings.mask_token";
            case "pos_embed" -> "embeddings.position_embeddings";
            case "register_tokens" -> "embeddings.register_tokens";
            case "patch_embed.proj.weight" -> "embeddings.patch_embeddings.projection.weight";
            case "patch_embed.proj.bias" -> "embeddings.patch_embeddings.projection.bias";
            case "norm.weight" -> "layernorm.weight";
            case "norm.bias" -> "layernorm.bias";
            default -> k.replaceFirst("^blocks\\.", "encoder.layer.").replace("attn.proj.", "attention.output.dense.")
                    .replace("ls1.gamma", "layer_scale1.lambda1").replace("ls2.gamma", "layer_scale2.lambda1")
                    .replace("mlp.w12.", "mlp.weights_in.").replace("mlp.w3.", "mlp.weights_out.");
        };
    }

    @Test
    void registersModelDirectoryReproducesTheOfficialOutputs() throws IOException {
        Path fx = Fixtures.file("official/official_vit_tiny_reg_swiglu.safetensors");
        Path model = dir.resolve("dinov2_with_registers");
        Files.createDirectories(model);
        try (TensorStore f = SafeTensors.read(fx)) {
            Map<String, TensorEntry> hf = new LinkedHashMap<>();
            for (var e : f.withPrefix("weights/").tensors().entrySet()) {
                String k = e.getKey();
                if (k.contains("attn.qkv.")) { // split into query / key / value as HF stores them
                    TensorEntry t = e.getValue();
                    float[] all = t.toFloatArray();
                    int rows = (int) t.shape()[0] / 3, per = all.length / 3;
                    String layer = hfName(k.substring(0, k.indexOf("attn.qkv."))), kind = k.endsWith("weight") ? "weight" : "bias";
                    String[] names = {"query", "key", "value"};
                    for (int i = 0; i < 3; i++) {
                        long[] shape = t.shape().clone();
                        shape[0] = rows;
                        String n = layer + "attention.attention." + names[i] + "." + kind;
                        hf.put(n, new TensorEntry(n, DType.F32, shape,
                                MemorySegment.ofArray(Arrays.copyOfRange(all, i * per, (i + 1) * per))));
                    }
                } else hf.put(hfName(k), e.getValue().withName(hfName(k)));
            }
            SafeTensors.write(model.resolve("model.safetensors"), hf.values(), Map.of("format", "pt"));
            Map<String, Object> cfg = new LinkedHashMap<>();
            cfg.put("model_type", "dinov2_with_registers");
            cfg.put("hidden_size", 64);
            cfg.put("num_hidden_layers", 2);
            cfg.put("num_attention_heads", 4);
            cfg.put("mlp_ratio", 4);
            cfg.put("image_size", 42);
            cfg.put("patch_size", 14);
            cfg.put("num_register_tokens", 4);
            cfg.put("use_swiglu_ffn", true);
            cfg.put("layerscale_value", 1.0);
            cfg.put("layer_norm_eps", 1e-6);
            cfg.put("hidden_act", "gelu");
            Files.writeString(model.resolve("config.json"), Json.write(cfg));

            ModelConfig c = HuggingFace.readConfig(model);
            assertEquals(4, c.numRegisterTokens());
            assertTrue(c.interpolateAntialias());
            assertEquals(0.0, c.interpolateOffset());
            try (DinoVisionTransformer m = Dinov2.load(model)) {
                for (int i = 0; i < 3; i++) { // input1 and input2 need position resizing (non-square, smaller)
                    Tensor x = new Tensor(f.get("input" + i).toFloatArray(), f.get("input" + i).intShape());
                    var out = m.forwardFeatures(x);
                    for (var e : out.asMap().entrySet()) {
                        float[] want = f.get("output" + i + "/" + e.getKey()).toFloatArray(), got = e.getValue().data();
                        assertEquals(want.length, got.length);
                        for (int j = 0; j < want.length; j++)
                            assertEquals(want[j], got[j], 1e-4, "input" + i + " " + e.getKey() + "[" + j + "]");
                    }
                }
            }
        }
    }

    @Test
    void unsupportedConfigsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> HuggingFace.config(Map.of("model_type", "vit")));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> HuggingFace.config(Map.of("model_type", "dinov2", "hidden_act", "relu")));
        assertTrue(e.getMessage().contains("relu"));
    }
}
