package org.dino4j.eval.dense;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import org.dino4j.embed.Forward;
import org.dino4j.embed.Head;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.tensor.Tensor;

/**
 * One image's frozen features on its (h, w) patch grid, as the dense heads read them: {@code layers} blocks of
 * {@code dim}-wide patch tokens, channels-last ({@code patch[(y*w + x) * layers*dim + l*dim + c]}), and optionally
 * each block's CLS token ({@code cls[l*dim + c]}). The head's per-pixel input is the official channel order: without
 * CLS {@code cat(p_1, ..., p_L)} (segmentation BNHead, {@code resize_concat}); with CLS {@code cat(p_1, cls_1, ...,
 * p_L, cls_L)} (the depth BNHead's per-layer {@code cat((x, cls_token), 1)} before {@code resize_concat}), the CLS
 * broadcast to every pixel.
 */
public record FeatureMap(int h, int w, int layers, int dim, float[] patch, float[] cls) {
    public FeatureMap {
        if (h < 1 || w < 1 || layers < 1 || dim < 1) throw new IllegalArgumentException("feature map sizes must be positive");
        if (patch.length != h * w * layers * dim)
            throw new IllegalArgumentException("patch features have " + patch.length + " floats, expected " + h + "x" + w + "x" + layers + "x" + dim);
        if (cls != null && cls.length != layers * dim)
            throw new IllegalArgumentException("cls features have " + cls.length + " floats, expected " + layers + "x" + dim);
    }

    /** Width of the head's per-pixel input. */
    public int channels() {
        return layers * dim * (cls == null ? 1 : 2);
    }

    public int pixels() {
        return h * w;
    }

    /** Writes pixel p's head input (official channel order) into dst at off. */
    public void row(int p, float[] dst, int off) {
        int ld = layers * dim;
        if (cls == null) {
            System.arraycopy(patch, p * ld, dst, off, ld);
            return;
        }
        for (int l = 0; l < layers; l++) {
            System.arraycopy(patch, p * ld + l * dim, dst, off + 2 * l * dim, dim);
            System.arraycopy(cls, l * dim, dst, off + (2 * l + 1) * dim, dim);
        }
    }

    /**
     * The segmentation heads' input: {@code get_intermediate_layers(x, n, reshape=True)} with the final norm (the
     * official default), last {@code nLayers} blocks (1: the paper's "linear", 4: "+ms"), one map per image.
     */
    public static List<FeatureMap> segmentation(DinoVisionTransformer model, Tensor pixels, int nLayers) {
        return collect(model, pixels, model.intermediateLayers(pixels, nLayers, false, false, true), false);
    }

    /**
     * The depth heads' input: {@code get_intermediate_layers(x, out_index, reshape=True, return_class_token=True,
     * norm=False)} - no final LayerNorm, as {@code dinov2/hub/depthers.py}.
     */
    public static List<FeatureMap> depth(DinoVisionTransformer model, Tensor pixels, int[] blockIndices) {
        return collect(model, pixels, model.intermediateLayers(pixels, blockIndices, false, true, false), true);
    }

    /**
     * The official {@code out_index} (0-based) of the depth heads: 1 layer = the last block; 4 layers = S/B
     * [2,5,8,11], L [4,11,17,23], g [9,19,29,39]; other depths (test models) spread 4 evenly the same way
     * (round(depth*(i+1)/4) - 1).
     */
    public static int[] depthBlocks(int depth, int nLayers) {
        return org.dino4j.heads.Grids.outIndex(depth, nLayers); // the released depth heads' blocks
    }

    /**
     * A feature-pipeline head: image i's patch tokens of the given blocks (final norm applied or not), in this map's
     * {@link #patch} layout. Segmentation: {@code patches(model.lastBlocks(n), true)}; depth: {@code
     * patches(depthBlocks(depth, n), false)} with {@link #classTokens} beside it.
     */
    public static Head patches(int[] blocks, boolean norm) {
        return head("dense_patches", f -> f.layers(blocks, norm), FeatureMap::patchRow);
    }

    /** A feature-pipeline head: image i's CLS tokens of the given blocks, in this map's {@link #cls} layout. */
    public static Head classTokens(int[] blocks, boolean norm) {
        return head("dense_cls", f -> f.layers(blocks, norm), FeatureMap::clsRow);
    }

    /** One image's map from the rows of {@link #patches} (and {@link #classTokens}, or null) on its (h, w) patch grid. */
    public static FeatureMap of(int h, int w, int dim, float[] patch, float[] cls) {
        return new FeatureMap(h, w, patch.length / (h * w * dim), dim, patch, cls);
    }

    private interface Row {
        float[] of(List<DinoVisionTransformer.Layer> ls, int i, int d);
    }

    private static Head head(String key, Function<Forward, List<DinoVisionTransformer.Layer>> layers, Row row) {
        return new Head() {
            @Override
            public String key() {
                return key;
            }

            @Override
            public float[] row(Forward f, int i) {
                return row.of(layers.apply(f), i, f.model().config().embedDim());
            }
        };
    }

    private static float[] patchRow(List<DinoVisionTransformer.Layer> ls, int i, int d) {
        int nl = ls.size(), n = ls.get(0).patch().size(1);
        float[] x = new float[n * nl * d];
        for (int l = 0; l < nl; l++) {
            float[] pt = ls.get(l).patch().data();
            for (int q = 0; q < n; q++) System.arraycopy(pt, (i * n + q) * d, x, q * nl * d + l * d, d);
        }
        return x;
    }

    private static float[] clsRow(List<DinoVisionTransformer.Layer> ls, int i, int d) {
        float[] cls = new float[ls.size() * d];
        for (int l = 0; l < ls.size(); l++) System.arraycopy(ls.get(l).cls().data(), i * d, cls, l * d, d);
        return cls;
    }

    private static List<FeatureMap> collect(DinoVisionTransformer model, Tensor pixels, List<DinoVisionTransformer.Layer> ls, boolean withCls) {
        int b = pixels.size(0), p = model.config().patchSize(), gh = pixels.size(2) / p, gw = pixels.size(3) / p;
        int d = model.config().embedDim();
        List<FeatureMap> out = new ArrayList<>(b);
        for (int i = 0; i < b; i++) out.add(of(gh, gw, d, patchRow(ls, i, d), withCls ? clsRow(ls, i, d) : null));
        return out;
    }
}
