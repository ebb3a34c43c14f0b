package org.dino4j.heads;

import java.util.function.BiConsumer;

import org.dino4j.heads.Grids.Grid;
import org.dino4j.kernels.Epilogue;
import org.dino4j.kernels.Kernels;
import org.dino4j.kernels.Mat;
import org.dino4j.kernels.Weight;
import org.dino4j.nn.Conv2d;
import org.dino4j.nn.ConvTranspose2d;
import org.dino4j.nn.Resize;

/**
 * The hub's DPT depth head ({@code _dd}: {@code DPTHead} of {@code dinov2/hub/depth/decode_heads.py}, readout
 * "project"): reassemble four blocks ([patch, CLS] → Linear + GELU, 1×1 conv, then ×4 / ×2 transposed conv, identity,
 * stride-2 conv), 3×3 convs to {@code channels}, four fusion blocks (pre-activation residual units, ×2 bilinear with
 * align_corners True, 1×1 projection; a skip of another size is first resized with align_corners False), a 3×3 conv +
 * ReLU, then {@code HeadDepth} (3×3 conv to channels/2, ×2 bilinear align_corners True, 3×3 conv to 32, ReLU, 1×1 conv to
 * 1) and {@code relu(x) + min_depth}. The widths come from the weights (the released heads use 256 channels).
 * Hugging Face's {@code DPTForDepthEstimation} is the same graph with {@code min_depth} 0 (its last ReLU) and the 3×3
 * conv + ReLU optional ({@code add_projection}).
 */
final class DptHead implements DepthDecoder {
    private static final String P = "reassemble_blocks.";
    private final int dim, features;
    private final float minDepth;
    private final float[][] readoutPatch = new float[4][], readoutBias = new float[4][], readoutCls = new float[4][];
    private final Conv2d[] projects = new Conv2d[4], convs = new Conv2d[4];
    private final ConvTranspose2d up4, up2;
    private final Conv2d down2;
    private final Fusion[] fusion = new Fusion[4];
    private final Conv2d project, head0, head2, head4; // project: null without it (HF's add_projection=False)

    /** A pre-activation residual unit: x + conv2(relu(conv1(relu(x)))), both 3×3 without bias. */
    private record Unit(Conv2d conv1, Conv2d conv2) {
        float[] forward(float[] x, int h, int w) {
            float[] y = conv2.forward(conv1.forward(x, h, w, true), h, w, true);
            addInto(y, x);
            return y;
        }
    }

    private record Fusion(Unit unit1, Unit unit2, Conv2d project) {}

    DptHead(HeadWeights w, int dim, float minDepth) {
        this(w, dim, minDepth, true);
    }

    DptHead(HeadWeights w, int dim, float minDepth, boolean withProject) {
        this.dim = dim;
        this.minDepth = minDepth;
        int[] r0 = w.shape(P + "readout_projects.0.0.weight");
        if (r0 == null || r0.length != 2) throw w.fail("not a DPT head: no 'reassemble_blocks.readout_projects.0.0.weight'");
        if (r0[0] != dim || r0[1] != 2 * dim)
            throw w.fail("a DPT head for another backbone: its readout takes width " + r0[0] + ", the backbone's width is " + dim);
        int[] post = new int[4];
        for (int i = 0; i < 4; i++) {
            int[] s = w.shape(P + "projects." + i + ".conv.weight");
            if (s == null) throw w.fail("missing key '" + P + "projects." + i + ".conv.weight'");
            post[i] = s[0];
        }
        int[] c0 = w.shape("convs.0.conv.weight");
        if (c0 == null) throw w.fail("missing key 'convs.0.conv.weight'");
        features = c0[0];
        for (int i = 0; i < 4; i++) {
            float[] rw = w.get(P + "readout_projects." + i + ".0.weight", dim, 2 * dim);
            readoutBias[i] = w.get(P + "readout_projects." + i + ".0.bias", dim);
            readoutPatch[i] = new float[dim * dim];
            readoutCls[i] = new float[dim * dim];
            for (int o = 0; o < dim; o++) {
                System.arraycopy(rw, o * 2 * dim, readoutPatch[i], o * dim, dim);
                System.arraycopy(rw, o * 2 * dim + dim, readoutCls[i], o * dim, dim);
            }
            projects[i] = conv(w, P + "projects." + i + ".conv", post[i], dim, 1, 1, 0, true);
            convs[i] = conv(w, "convs." + i + ".conv", features, post[i], 3, 1, 1, false);
        }
        up4 = new ConvTranspose2d(w.get(P + "resize_layers.0.weight", post[0], post[0], 4, 4), w.get(P + "resize_layers.0.bias", post[0]), post[0], post[0], 4);
        up2 = new ConvTranspose2d(w.get(P + "resize_layers.1.weight", post[1], post[1], 2, 2), w.get(P + "resize_layers.1.bias", post[1]), post[1], post[1], 2);
        down2 = conv(w, P + "resize_layers.3", post[3], post[3], 3, 2, 1, true);
        for (int i = 0; i < 4; i++) {
            String f = "fusion_blocks." + i + ".";
            fusion[i] = new Fusion(i == 0 ? null : unit(w, f + "res_conv_unit1."), unit(w, f + "res_conv_unit2."),
                    conv(w, f + "project.conv", features, features, 1, 1, 0, true));
        }
        project = withProject ? conv(w, "project.conv", features, features, 3, 1, 1, true) : null;
        head0 = conv(w, "conv_depth.head.0", features / 2, features, 3, 1, 1, true);
        head2 = conv(w, "conv_depth.head.2", 32, features / 2, 3, 1, 1, true);
        head4 = conv(w, "conv_depth.head.4", 1, 32, 1, 1, 0, true);
        w.requireAllUsed();
    }

    private Unit unit(HeadWeights w, String p) {
        return new Unit(conv(w, p + "conv1.conv", features, features, 3, 1, 1, false),
                conv(w, p + "conv2.conv", features, features, 3, 1, 1, false));
    }

    private static Conv2d conv(HeadWeights w, String key, int out, int in, int k, int stride, int pad, boolean bias) {
        return new Conv2d(w.get(key + ".weight", out, in, k, k), bias ? w.get(key + ".bias", out) : null, out, in, k, stride, pad);
    }

    static boolean matches(HeadWeights w) {
        return w.contains(P + "readout_projects.0.0.weight");
    }

    @Override
    public int layers() {
        return 4;
    }

    @Override
    public Map forward(Grid[] g) {
        return forward(g, null);
    }

    /**
     * As {@link #forward(Grid[])}; {@code trace}, when not null, gets the channels-last maps Hugging Face's hooks see:
     * "reassemble.i", "neck_convs.i", "fusion.i" (0 = deepest) and "head.0" (the first head conv, before its ×2).
     */
    Map forward(Grid[] g, BiConsumer<String, Map> trace) {
        BiConsumer<String, Map> t = trace == null ? (k, v) -> { } : trace;
        int h = g[0].h(), w = g[0].w(), n = h * w;
        float[][] x = new float[4][];
        int[] hs = new int[4], ws = new int[4];
        for (int i = 0; i < 4; i++) {
            float[] b = readoutBias(i, g[i].cls());
            float[] r = new float[n * dim];
            Kernels.get().linear(Mat.of(g[i].patch(), dim), Weight.of(readoutPatch[i]), Epilogue.bias(b), Mat.of(r, dim), n, dim, dim);
            Kernels.get().gelu(r, 0, r.length);
            float[] p = projects[i].forward(r, h, w, false);
            int ph = h, pw = w;
            switch (i) {
                case 0 -> { p = up4.forward(p, h, w); ph = 4 * h; pw = 4 * w; }
                case 1 -> { p = up2.forward(p, h, w); ph = 2 * h; pw = 2 * w; }
                case 3 -> { p = down2.forward(p, h, w, false); ph = down2.outSize(h); pw = down2.outSize(w); }
                default -> { }
            }
            t.accept("reassemble." + i, new Map(ph, pw, p));
            x[i] = convs[i].forward(p, ph, pw, false);
            t.accept("neck_convs." + i, new Map(ph, pw, x[i]));
            hs[i] = ph;
            ws[i] = pw;
        }
        // fusion_blocks[0](x[3]), then fusion_blocks[i](out, x[3 - i])
        float[] out = x[3];
        int oh = hs[3], ow = ws[3];
        for (int i = 0; i < 4; i++) {
            Fusion f = fusion[i];
            if (i > 0) {
                float[] res = x[3 - i];
                if (hs[3 - i] != oh || ws[3 - i] != ow) res = Resize.bilinear(res, hs[3 - i], ws[3 - i], features, oh, ow, false);
                float[] u = f.unit1().forward(res, oh, ow);
                addInto(u, out);
                out = u;
            }
            out = f.unit2().forward(out, oh, ow);
            out = Resize.bilinear(out, oh, ow, features, 2 * oh, 2 * ow, true);
            oh *= 2;
            ow *= 2;
            out = f.project().forward(out, oh, ow, false);
            t.accept("fusion." + i, new Map(oh, ow, out));
        }
        if (project != null) {
            out = project.forward(out, oh, ow, false);
            reluPlus(out, 0f);
        }
        out = head0.forward(out, oh, ow, false);
        t.accept("head.0", new Map(oh, ow, out));
        out = Resize.bilinear(out, oh, ow, features / 2, 2 * oh, 2 * ow, true);
        oh *= 2;
        ow *= 2;
        out = head2.forward(out, oh, ow, false);
        out = head4.forward(out, oh, ow, true); // the ReLU after the 32-channel conv, applied as head4's input
        reluPlus(out, minDepth);
        return new Map(oh, ow, out);
    }

    // The element loops of the forward live in small methods of their own: a loop over a map's millions of values in
    // the forward itself had C2 compile the whole forward (with what it inlines) on stack, then once more in full:
    // 0.25 s of the one C2 thread in a one-photo run (0.75 s on a busy machine; 2 cores, 2026-12-07), while the kernels
    // waited for it. With these and DinoVisionTransformer's the cold depth call took 5.42 s instead of 5.66 s (medians
    // of 5 alternating runs).

    /** The readout's CLS half as a bias: readoutBias[i] + readoutCls[i] · cls, summed in double. */
    private float[] readoutBias(int i, float[] cls) {
        float[] b = new float[dim], wc = readoutCls[i];
        for (int o = 0; o < dim; o++) {
            double s = readoutBias[i][o];
            for (int c = 0; c < dim; c++) s += (double) wc[o * dim + c] * cls[c];
            b[o] = (float) s;
        }
        return b;
    }

    /** y += x. */
    private static void addInto(float[] y, float[] x) {
        for (int i = 0; i < y.length; i++) y[i] += x[i];
    }

    /** x = relu(x) + min. */
    private static void reluPlus(float[] x, float min) {
        for (int i = 0; i < x.length; i++) x[i] = Math.max(x[i], 0f) + min;
    }
}
