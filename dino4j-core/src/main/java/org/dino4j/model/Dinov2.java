package org.dino4j.model;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import org.dino4j.io.CheckpointException;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;

/**
 * Entry points for library users:
 * <pre>{@code
 * try (var model = Dinov2.pretrained("dinov2_vits14", Path.of("dinov2_vits14_pretrain.pth"))) {
 *     var f = model.forwardFeatures(pixels);          // pixels: Tensor (B, 3, H, W), H and W multiples of 14
 *     Tensor cls = f.xNormClstoken();                   // (B, 384)
 * }
 * }</pre>
 * Models are immutable and safe to call from many threads at once.
 */
public final class Dinov2 {
    private Dinov2() {}

    /**
     * Loads weights from a .pth, a .safetensors or a Hugging Face directory. The config comes from the HF
     * config.json, or from a {@code config} entry of the safetensors metadata, or is inferred from the shapes.
     */
    public static DinoVisionTransformer load(Path weights) {
        return load(weights, null);
    }

    /** Loads weights with an explicit config (null: as {@link #load(Path)}). */
    public static DinoVisionTransformer load(Path weights, ModelConfig config) {
        TensorStore raw = Checkpoints.open(weights);
        try {
            boolean hf = HuggingFace.looksLikeHf(raw);
            TensorStore sd = Checkpoints.normalize(raw);
            ModelConfig cfg = config;
            if (cfg == null && hf && Files.isDirectory(weights)) cfg = HuggingFace.readConfig(weights);
            if (cfg == null && raw.metadata().containsKey("config")) {
                try {
                    cfg = ModelConfig.fromJson(raw.metadata().get("config"));
                } catch (IllegalArgumentException e) {
                    throw new CheckpointException(weights, "bad config in metadata: " + e.getMessage());
                }
            }
            if (cfg == null && hf) throw new CheckpointException(weights, "Hugging Face weights need their config.json (load the model directory)");
            if (cfg == null) cfg = Checkpoints.inferConfig(sd);
            return DinoVisionTransformer.fromStateDict(cfg, sd, raw);
        } catch (RuntimeException e) {
            raw.close();
            throw e;
        }
    }

    /** A hub backbone ({@code dinov2_vits14}, ..., {@code dinov2_vitg14_reg}) with the hub's settings and the given weights. */
    public static DinoVisionTransformer pretrained(String name, Path weights) {
        return load(weights, ModelConfig.preset(name));
    }

    /**
     * A model with random weights drawn like the official init (trunc-normal 0.02 for Linear weights, zero biases,
     * LayerScale at init_values or 1) — for benchmarks and tests, not for features.
     */
    public static DinoVisionTransformer random(ModelConfig cfg, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        Map<String, TensorEntry> t = new LinkedHashMap<>();
        for (var e : StateDictSpec.expected(cfg).entrySet()) {
            String k = e.getKey();
            float[] v = new float[Math.toIntExact(TensorEntry.numel(e.getValue()))];
            if (k.endsWith(".gamma")) java.util.Arrays.fill(v, cfg.initValues() == null ? 1f : cfg.initValues().floatValue());
            else if (k.contains("norm") && k.endsWith(".weight")) java.util.Arrays.fill(v, 1f);
            else if (!k.endsWith(".bias") && !k.equals("mask_token"))
                for (int i = 0; i < v.length; i++) v[i] = (float) (rnd.nextGaussian() * 0.02);
            t.put(k, TensorEntry.of(k, e.getValue(), v));
        }
        return DinoVisionTransformer.fromStateDict(cfg, TensorStore.inMemory(t), null);
    }
}
