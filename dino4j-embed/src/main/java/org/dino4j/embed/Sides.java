package org.dino4j.embed;

import org.dino4j.data.Preprocess;
import org.dino4j.model.ModelConfig;
import org.dino4j.viz.PatchFeatures;

/**
 * The input sides a model is used at. The hub backbones (img_size 518, a pos_embed of 37 x 37 patches) are used at
 * 224 (the eval transform) and 448 (feature pictures); a model with another img_size (e.g. exported from a small
 * training run) at its own.
 */
public final class Sides {
    /** The hub backbones' img_size. */
    public static final int HUB_IMG_SIZE = 518;

    private Sides() {}

    /** The model's own input side, or null for the hub backbones (used at smaller sides). */
    public static Integer ownSide(ModelConfig cfg) {
        return cfg.imgSize() == HUB_IMG_SIZE ? null : cfg.imgSize();
    }

    /** The feature pictures' side (pca, match, depth in the server): the model's own, or 448 for the hub backbones. */
    public static int picturesSide(ModelConfig cfg) {
        Integer own = ownSide(cfg);
        return own != null ? own : PatchFeatures.DEFAULT_RESOLUTION;
    }

    /** The eval transform for embedding: resize 256 and crop 224 for the hub backbones, else resize and crop to the model's own side. */
    public static Preprocess evalTransform(ModelConfig cfg) {
        Integer own = ownSide(cfg);
        return own == null ? Preprocess.EVAL : new Preprocess(own, own, 0);
    }
}
