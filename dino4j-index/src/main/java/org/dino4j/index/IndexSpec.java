package org.dino4j.index;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What an index's vectors are, fixed at creation and checked when a model is put in front of it.
 *
 * @param model      the model's name or weights file, as {@code embed}'s run.json names it
 * @param preprocess the transform's description (e.g. "eval 224")
 * @param vectors    {@link #CLS} or {@link #CLS_PATCH_MEAN}
 * @param dim        values per vector (embed dim, twice that for cls+patchmean)
 */
public record IndexSpec(String model, String preprocess, String vectors, int dim) {
    /** The normalised CLS token ({@code x_norm_clstoken}). */
    public static final String CLS = "cls";
    /** The normalised CLS token and the normalised mean of the patch tokens, concatenated and scaled by 1/sqrt(2):
     * the cosine of two such vectors is the mean of the two cosines. */
    public static final String CLS_PATCH_MEAN = "cls+patchmean";

    public IndexSpec {
        if (!CLS.equals(vectors) && !CLS_PATCH_MEAN.equals(vectors))
            throw new IllegalArgumentException("vectors must be '" + CLS + "' or '" + CLS_PATCH_MEAN + "', got '" + vectors + "'");
        if (dim < 1) throw new IllegalArgumentException("dim must be >= 1, got " + dim);
    }

    /** Values per vector of this kind for a model of {@code embedDim}: the embed dim, twice it for cls+patchmean. */
    public static int dimFor(String vectors, int embedDim) {
        return CLS.equals(vectors) ? embedDim : 2 * embedDim;
    }

    /** The index vector of one image from its CLS token and patch-token mean (the latter unused for {@link #CLS}). */
    public float[] vectorOf(float[] cls, float[] patchMean) {
        if (CLS.equals(vectors)) return VectorIndex.normalized(cls, dim, "cls");
        int d = dim / 2;
        float[] a = VectorIndex.normalized(cls, d, "cls"), b = VectorIndex.normalized(patchMean, d, "patch mean");
        float[] out = new float[dim];
        float s = (float) (1 / Math.sqrt(2));
        for (int i = 0; i < d; i++) {
            out[i] = a[i] * s;
            out[d + i] = b[i] * s;
        }
        return out;
    }

    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", model);
        m.put("preprocess", preprocess);
        m.put("vectors", vectors);
        m.put("dim", dim);
        return m;
    }

    public static IndexSpec fromJson(Map<String, Object> m) {
        Object dim = m.get("dim");
        if (!(dim instanceof Number n)) throw new IllegalArgumentException("no numeric 'dim'");
        return new IndexSpec(String.valueOf(m.get("model")), String.valueOf(m.get("preprocess")), String.valueOf(m.get("vectors")), n.intValue());
    }
}
