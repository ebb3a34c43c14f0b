package org.dino4j.heads;

import java.util.List;

import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.tensor.Tensor;

/** The backbone's side of the dense heads: {@code CenterPadding}, the hub's block choices, per-image token grids. */
public final class Grids {
    private Grids() {}

    /**
     * One image's tokens from one block: {@code patch} (h·w, D) channels-last, row-major over the grid, and its CLS
     * token (D) or null.
     */
    public record Grid(int h, int w, int dim, float[] patch, float[] cls) {}

    /**
     * The hub's {@code out_index}: {@code [depth - 1]} for one layer; for four, the table of {@code hub/depthers.py}
     * (12 blocks: [2, 5, 8, 11], 24: [4, 11, 17, 23], 40: [9, 19, 29, 39]), else four evenly spaced blocks ending at the last.
     */
    public static int[] outIndex(int depth, int layers) {
        if (layers == 1) return new int[] {depth - 1};
        if (layers != 4) throw new IllegalArgumentException("the released heads use 1 or 4 layers, got " + layers);
        return switch (depth) {
            case 12 -> new int[] {2, 5, 8, 11};
            case 24 -> new int[] {4, 11, 17, 23};
            case 40 -> new int[] {9, 19, 29, 39};
            default -> {
                if (depth < 4) throw new IllegalArgumentException("a 4-layer head needs a backbone with >= 4 blocks, got " + depth);
                int[] idx = new int[4];
                for (int i = 0; i < 4; i++) idx[i] = (int) Math.round(depth * (i + 1) / 4.0) - 1;
                yield idx;
            }
        };
    }

    /** {@code CenterPadding(multiple)}: zeros around (B, C, H, W), floor(pad / 2) before, the rest after, on each side. */
    public static Tensor centerPad(Tensor x, int multiple) {
        int b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
        int ph = ceil(h, multiple), pw = ceil(w, multiple);
        if (ph == h && pw == w) return x;
        int top = (ph - h) / 2, left = (pw - w) / 2;
        float[] src = x.data(), out = new float[b * c * ph * pw];
        for (int i = 0; i < b * c; i++)
            for (int y = 0; y < h; y++) System.arraycopy(src, (i * h + y) * w, out, (i * ph + y + top) * pw + left, w);
        return new Tensor(out, b, c, ph, pw);
    }

    /**
     * What Hugging Face's patch conv sees of an image whose sides are not multiples of the patch: the top-left
     * (H - H mod p) × (W - W mod p) pixels (stride p, no padding: the rest of the last row and column is dropped).
     */
    public static Tensor floorCrop(Tensor x, int multiple) {
        int b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
        int fh = h / multiple * multiple, fw = w / multiple * multiple;
        if (fh == h && fw == w) return x;
        if (fh == 0 || fw == 0)
            throw new IllegalArgumentException("image size " + h + "x" + w + " is smaller than one " + multiple + "-pixel patch");
        float[] src = x.data(), out = new float[b * c * fh * fw];
        for (int i = 0; i < b * c; i++)
            for (int y = 0; y < fh; y++) System.arraycopy(src, (i * h + y) * w, out, (i * fh + y) * fw, fw);
        return new Tensor(out, b, c, fh, fw);
    }

    static int ceil(int size, int multiple) {
        return (size + multiple - 1) / multiple * multiple;
    }

    /**
     * {@code get_intermediate_layers(padded, n=blocks, reshape=True, return_class_token=withCls, norm)} split per image:
     * result[i][j] is image i's grid of block {@code blocks[j]}.
     */
    public static Grid[][] grids(DinoVisionTransformer backbone, Tensor padded, int[] blocks, boolean norm, boolean withCls) {
        return grids(backbone.intermediateLayers(padded, blocks, false, true, norm), padded, backbone.config().patchSize(), withCls);
    }

    static Grid[][] grids(List<DinoVisionTransformer.Layer> layers, Tensor padded, int patch, boolean withCls) {
        int b = padded.size(0), h = padded.size(2) / patch, w = padded.size(3) / patch;
        int d = layers.get(0).patch().size(2), n = h * w;
        Grid[][] out = new Grid[b][layers.size()];
        for (int j = 0; j < layers.size(); j++) {
            float[] pt = layers.get(j).patch().data(), cls = layers.get(j).cls().data();
            for (int i = 0; i < b; i++) {
                float[] p = new float[n * d];
                System.arraycopy(pt, i * n * d, p, 0, n * d);
                float[] c = null;
                if (withCls) {
                    c = new float[d];
                    System.arraycopy(cls, i * d, c, 0, d);
                }
                out[i][j] = new Grid(h, w, d, p, c);
            }
        }
        return out;
    }
}
