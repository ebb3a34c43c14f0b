package org.dino4j.embed;

import java.util.List;

import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.tensor.Tensor;

/** The model's work on one batch, computed when a head first asks for it. */
public final class Forward {
    private final DinoVisionTransformer model;
    private final Tensor input;
    private DinoVisionTransformer.Features features;
    private List<DinoVisionTransformer.Layer> layers;

    Forward(DinoVisionTransformer model, Tensor input) {
        this.model = model;
        this.input = input;
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
        if (layers == null || layers.size() != n) layers = model.intermediateLayers(input, n, false, true, true);
        return layers;
    }
}
