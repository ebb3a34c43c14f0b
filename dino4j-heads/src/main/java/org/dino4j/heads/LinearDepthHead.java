package org.dino4j.heads;

import org.dino4j.heads.Grids.Grid;
import org.dino4j.kernels.Epilogue;
import org.dino4j.kernels.Kernels;
import org.dino4j.kernels.Mat;
import org.dino4j.kernels.Weight;
import org.dino4j.nn.Resize;

/**
 * The hub's linear depth head ({@code _ld}: {@code BNHead} of {@code dinov2/hub/depth/decode_heads.py} with
 * {@code classify=True}): per block [patch, CLS broadcast], each resized bilinearly ×4 (align_corners False), concatenated,
 * a 1×1 conv to 256 bins, {@code relu + 0.1}, normalised, dot product with {@code linspace(min, max, 256)}. There is no
 * BatchNorm (commented out in the official code), and the factory fixes max_depth at 80 whatever the dataset.
 * <p>The 1×1 conv is applied on the patch grid before the ×4 resize: both are linear and the resize's weights sum to 1,
 * so the order does not change the result, and the conv then runs on 16× fewer pixels; the CLS half of the conv is a
 * per-image bias.
 */
final class LinearDepthHead implements DepthDecoder {
    static final int UPSAMPLE = 4;
    static final float MIN_DEPTH = 0.001f, MAX_DEPTH = 80f;
    private final int dim, layers, bins;
    private final float[] wPatch, wCls, bias, centres;

    private LinearDepthHead(int dim, int layers, float[] wPatch, float[] wCls, float[] bias, float[] centres) {
        this.dim = dim;
        this.layers = layers;
        this.bins = bias.length;
        this.wPatch = wPatch;
        this.wCls = wCls;
        this.bias = bias;
        this.centres = centres;
    }

    static boolean matches(HeadWeights w) {
        return w.contains("conv_depth.weight") && !w.contains("reassemble_blocks.projects.0.conv.weight");
    }

    static LinearDepthHead of(HeadWeights w, int dim) {
        int[] s = w.shape("conv_depth.weight");
        if (s == null || s.length != 4 || s[2] != 1 || s[3] != 1) throw w.fail("not a linear depth head: 'conv_depth.weight' must be (bins, C, 1, 1)");
        int bins = s[0], c = s[1];
        int layers = c == 2 * dim ? 1 : c == 8 * dim ? 4 : -1;
        if (layers < 0)
            throw w.fail("a depth head for another backbone: its conv takes " + c + " channels, the backbone's width " + dim
                    + " needs " + 2 * dim + " (1 layer) or " + 8 * dim + " (4 layers)"
                    + (c % 2 == 0 ? " (width " + c / 2 + " or " + c / 8 + "?)" : ""));
        float[] weight = w.get("conv_depth.weight", bins, c, 1, 1), bias = w.get("conv_depth.bias", bins);
        w.requireAllUsed();
        // split each block's [patch | cls] channels: patches of all blocks side by side, and the CLS part
        float[] wp = new float[bins * layers * dim], wc = new float[bins * layers * dim];
        for (int k = 0; k < bins; k++)
            for (int l = 0; l < layers; l++) {
                System.arraycopy(weight, k * c + l * 2 * dim, wp, (k * layers + l) * dim, dim);
                System.arraycopy(weight, k * c + l * 2 * dim + dim, wc, (k * layers + l) * dim, dim);
            }
        return new LinearDepthHead(dim, layers, wp, wc, bias, linspace(MIN_DEPTH, MAX_DEPTH, bins));
    }

    /** torch.linspace in float32: the first half counted up from start, the second half down from end. */
    static float[] linspace(float start, float end, int steps) {
        float[] v = new float[steps];
        if (steps == 1) {
            v[0] = start;
            return v;
        }
        float step = (end - start) / (steps - 1);
        int half = steps / 2;
        for (int i = 0; i < steps; i++) v[i] = i < half ? start + step * i : end - step * (steps - i - 1);
        return v;
    }

    @Override
    public int layers() {
        return layers;
    }

    @Override
    public Map forward(Grid[] g) {
        int h = g[0].h(), w = g[0].w(), n = h * w, k = layers * dim;
        float[] a = new float[n * k], cls = new float[k];
        for (int l = 0; l < layers; l++) {
            for (int p = 0; p < n; p++) System.arraycopy(g[l].patch(), p * dim, a, p * k + l * dim, dim);
            System.arraycopy(g[l].cls(), 0, cls, l * dim, dim);
        }
        float[] b = new float[bins];
        for (int j = 0; j < bins; j++) {
            double s = bias[j];
            for (int c = 0; c < k; c++) s += (double) wCls[j * k + c] * cls[c];
            b[j] = (float) s;
        }
        float[] logits = new float[n * bins];
        Kernels.get().linear(Mat.of(a, k), Weight.of(wPatch), Epilogue.bias(b), Mat.of(logits, bins), n, bins, k);
        int oh = h * UPSAMPLE, ow = w * UPSAMPLE;
        float[] up = Resize.bilinear(logits, h, w, bins, oh, ow, false);
        float[] depth = new float[oh * ow];
        for (int p = 0; p < oh * ow; p++) {
            double sum = 0, dot = 0;
            for (int j = 0; j < bins; j++) {
                float v = Math.max(up[p * bins + j], 0f) + 0.1f;
                sum += v;
                dot += v * centres[j];
            }
            depth[p] = (float) (dot / sum);
        }
        return new Map(oh, ow, depth);
    }
}
