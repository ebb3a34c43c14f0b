package org.dino4j.heads;

import org.dino4j.heads.Grids.Grid;
import org.dino4j.kernels.Epilogue;
import org.dino4j.kernels.Kernels;
import org.dino4j.kernels.Mat;
import org.dino4j.kernels.Weight;
import org.dino4j.nn.Resize;

/**
 * The linear segmentation head ({@code BNHead} of {@code dinov2/eval/segmentation/models/decode_heads/linear_head.py}):
 * the selected blocks' patch grids resized to the first one's size and concatenated ({@code resize_concat}), BatchNorm
 * with running statistics (eval mode, eps 1e-5), then {@code conv_seg}, a 1×1 conv to the classes (dropout is off at
 * test time). BatchNorm is folded into the conv at load: both are affine per channel.
 */
final class SegHead {
    static final float BN_EPS = 1e-5f;
    final int channels, classes, layers;
    private final float[] weight, bias;

    private SegHead(int channels, int classes, int layers, float[] weight, float[] bias) {
        this.channels = channels;
        this.classes = classes;
        this.layers = layers;
        this.weight = weight;
        this.bias = bias;
    }

    static SegHead of(HeadWeights w, int dim, int expectedClasses, String datasetName) {
        int[] s = w.shape("conv_seg.weight");
        if (s == null || s.length != 4 || s[2] != 1 || s[3] != 1)
            throw w.fail("not a linear segmentation head: no (classes, C, 1, 1) 'conv_seg.weight'");
        int classes = s[0], c = s[1];
        if (c % dim != 0)
            throw w.fail("a segmentation head for another backbone: its conv takes " + c + " channels, not a multiple of the backbone's width " + dim);
        if (expectedClasses > 0 && classes != expectedClasses)
            throw w.fail("a head for another dataset: it predicts " + classes + " classes, " + datasetName + " has " + expectedClasses);
        float[] cw = w.get("conv_seg.weight", classes, c, 1, 1), cb = w.get("conv_seg.bias", classes);
        float[] gamma = w.get("bn.weight", c), beta = w.get("bn.bias", c), mean = w.get("bn.running_mean", c), var = w.get("bn.running_var", c);
        w.ignore("bn.num_batches_tracked");
        w.requireAllUsed();
        float[] fw = new float[classes * c], fb = new float[classes];
        for (int k = 0; k < classes; k++) {
            double b = cb[k];
            for (int j = 0; j < c; j++) {
                double scale = gamma[j] / Math.sqrt((double) var[j] + BN_EPS);
                fw[k * c + j] = (float) (cw[k * c + j] * scale);
                b += cw[k * c + j] * (beta[j] - mean[j] * scale);
            }
            fb[k] = (float) b;
        }
        return new SegHead(c, classes, c / dim, fw, fb);
    }

    /** One image's grids → logits on the first grid, (h·w, classes) channels-last. */
    float[] forward(Grid[] g) {
        int h = g[0].h(), w = g[0].w(), n = h * w, d = g[0].dim();
        float[] a = new float[n * channels];
        for (int l = 0; l < layers; l++) {
            float[] p = g[l].patch();
            if (g[l].h() != h || g[l].w() != w) p = Resize.bilinear(p, g[l].h(), g[l].w(), d, h, w, false);
            for (int q = 0; q < n; q++) System.arraycopy(p, q * d, a, q * channels + l * d, d);
        }
        float[] out = new float[n * classes];
        Kernels.get().linear(Mat.of(a, channels), Weight.of(weight), Epilogue.bias(bias), Mat.of(out, classes), n, classes, channels);
        return out;
    }
}
