package org.dino4j.embed;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.tensor.Tensor;

/** The model's work on one batch, computed when a head first asks for it. */
public final class Forward {
    private final DinoVisionTransformer model;
    private final Tensor input;
    private DinoVisionTransformer.Features features;
    private final Map<String, List<DinoVisionTransformer.Layer>> layers = new HashMap<>();

    Forward(DinoVisionTransformer model, Tensor input) {
        this.model = model;
        this.input = input;
    }

    /** The work on one batch of pixels (B, 3, H, W), for heads used outside the pipeline. */
    public static Forward of(DinoVisionTransformer model, Tensor input) {
        return new Forward(model, input);
    }

    public DinoVisionTransformer model() {
        return model;
    }

    /** The (B, 3, H, W) pixels. */
    public Tensor input() {
        return input;
    }

    /** {@code forward_features(x)}. */
    public DinoVisionTransformer.Features features() {
        if (features == null) features = model.forwardFeatures(input);
        return features;
    }

    /** {@code get_intermediate_layers(x, n, reshape=False, return_class_token=True, norm=True)}, oldest first. */
    public List<DinoVisionTransformer.Layer> lastLayers(int n) {
        return layers(model.lastBlocks(n), true);
    }

    /**
     * {@code get_intermediate_layers(x, blocks, reshape=False, return_class_token=True, norm)}: the given 0-based
     * blocks in ascending order, computed once per batch for all the heads that ask.
     */
    public List<DinoVisionTransformer.Layer> layers(int[] blocks, boolean norm) {
        return layers.computeIfAbsent(Arrays.toString(blocks) + norm, k -> model.intermediateLayers(input, blocks, false, true, norm));
    }
}
