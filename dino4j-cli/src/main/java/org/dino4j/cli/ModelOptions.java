package org.dino4j.cli;

import java.nio.file.Path;

import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;
import org.dino4j.model.ModelConfig;

import picocli.CommandLine.Option;

/** --weights / --config / --model, shared by the commands that load a backbone. */
public final class ModelOptions {
    @Option(names = "--weights", paramLabel = "W",
            description = "Weights: a .pth (hub or training checkpoint), a .safetensors, or a Hugging Face model directory.")
    Path weights;

    @Option(names = "--config", paramLabel = "C.json",
            description = "Model config JSON with the official constructor's argument names (embed_dim, depth, num_heads, ...).")
    Path config;

    @Option(names = "--model", paramLabel = "NAME",
            description = "A hub preset: dinov2_vits14, dinov2_vitb14, dinov2_vitl14, dinov2_vitg14, each also _reg.")
    String model;

    ModelConfig configOrNull() {
        if (config != null && model != null) throw new IllegalArgumentException("give --config or --model, not both");
        if (config != null) return ModelConfig.read(config);
        if (model != null) return ModelConfig.preset(model);
        return null;
    }

    /** Loads the weights (required). */
    DinoVisionTransformer load() {
        if (weights == null) throw new IllegalArgumentException("--weights is required");
        return Dinov2.load(weights, configOrNull());
    }
}
