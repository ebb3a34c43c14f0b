package org.dino4j.embed;

import java.util.Arrays;

import org.dino4j.tensor.Tensor;

/** The per-image outputs of {@code forward_features}, as heads of the feature pipeline and keys of the embedding shards. */
public enum Output implements Head {
    /** {@code x_norm_clstoken}: D floats. */
    CLS("cls"),
    /** The mean of {@code x_norm_patchtokens} over the patches: D floats. */
    PATCH_MEAN("patch_mean"),
    /** {@code x_norm_regtokens}: R x D floats. */
    REGISTERS("registers"),
    /** {@code x_norm_patchtokens}: N x D floats. */
    PATCH_TOKENS("patch_tokens");

    public final String key;

    Output(String key) {
        this.key = key;
    }

    @Override
    public String key() {
        return key;
    }

    @Override
    public float[] row(Forward f, int i) {
        var ft = f.features();
        return switch (this) {
            case CLS -> slice(ft.xNormClstoken(), i);
            case PATCH_MEAN -> Head.patchMean(ft.xNormPatchtokens(), i);
            case REGISTERS -> slice(ft.xNormRegtokens(), i);
            case PATCH_TOKENS -> slice(ft.xNormPatchtokens(), i);
        };
    }

    /** Image i's part of a (B, ...) tensor. */
    static float[] slice(Tensor t, int i) {
        int per = t.numel() / t.size(0);
        return Arrays.copyOfRange(t.data(), i * per, (i + 1) * per);
    }
}
