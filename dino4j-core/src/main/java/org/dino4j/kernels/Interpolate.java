package org.dino4j.kernels;

/**
 * Bicubic resampling of a channels-last grid (H, W, C), as PyTorch's {@code F.interpolate(mode="bicubic",
 * align_corners=False)} does it in float32 — the two flavours DINOv2 uses for its position embeddings
 * (dinov2-spec §1.6):
 * <ul>
 * <li>classic (antialias=False): Keys cubic with A = −0.75, border replicated; the source step is
 * 1/scale_factor when a scale factor is given (the official 0.1-offset path), else in/out (size path);</li>
 * <li>antialiased (antialias=True, size path): PIL-style support widened by the scale when downsampling,
 * a = −0.5, weights renormalised, no border replication; width pass first, then height.</li>
 * </ul>
 * The grids are tiny (37×37 at most for the hub models), so one scalar implementation is all there is.
 */
public final class Interpolate {
    private Interpolate() {}

    static float cc1(float x, float a) {
        return ((a + 2) * x - (a + 3)) * x * x + 1;
    }

    static float cc2(float x, float a) {
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    }

    /**
     * @param scaleH user scale factor along H (the value passed as {@code scale_factor}), or NaN for the size path
     * @param scaleW same along W
     */
    public static float[] bicubic(float[] in, int inH, int inW, int c, int outH, int outW, double scaleH,
                                  double scaleW, boolean antialias) {
        return antialias ? bicubicAA(in, inH, inW, c, outH, outW) : bicubicClassic(in, inH, inW, c, outH, outW, scaleH, scaleW);
    }

    /** ATen area_pixel_compute_scale for align_corners=False in float opmath. */
    static float sourceStep(int in, int out, double userScale) {
        return !Double.isNaN(userScale) && userScale > 0 ? (float) (1.0 / userScale) : (float) in / out;
    }

    private static float[] bicubicClassic(float[] in, int inH, int inW, int c, int outH, int outW, double sh, double sw) {
        final float A = -0.75f;
        int[][] iy = new int[outH][4], ix = new int[outW][4];
        float[][] wy = new float[outH][4], wx = new float[outW][4];
        axisClassic(inH, outH, sourceStep(inH, outH, sh), A, iy, wy);
        axisClassic(inW, outW, sourceStep(inW, outW, sw), A, ix, wx);
        float[] out = new float[outH * outW * c];
        for (int oy = 0; oy < outH; oy++)
            for (int ox = 0; ox < outW; ox++) {
                int o = (oy * outW + ox) * c;
                for (int ch = 0; ch < c; ch++) {
                    float acc = 0;
                    for (int a = 0; a < 4; a++) {
                        int row = iy[oy][a] * inW;
                        float t = 0;
                        for (int b = 0; b < 4; b++) t += in[(row + ix[ox][b]) * c + ch] * wx[ox][b];
                        acc += t * wy[oy][a];
                    }
                    out[o + ch] = acc;
                }
            }
        return out;
    }

    static void axisClassic(int in, int out, float step, float A, int[][] idx, float[][] w) {
        for (int i = 0; i < out; i++) {
            float real = step * (i + 0.5f) - 0.5f; // cubic: no clamp at 0
            int i0 = Math.min((int) Math.floor(real), in - 1);
            float t = Math.min(Math.max(real - i0, 0f), 1f);
            w[i][0] = cc2(t + 1, A);
            w[i][1] = cc1(t, A);
            w[i][2] = cc1(1 - t, A);
            w[i][3] = cc2(2 - t, A);
            for (int j = 0; j < 4; j++) idx[i][j] = Math.max(Math.min(i0 - 1 + j, in - 1), 0);
        }
    }

    static float aaFilter(float x) {
        final float a = -0.5f;
        x = Math.abs(x);
        if (x < 1f) return cc1(x, a);
        if (x < 2f) return cc2(x, a);
        return 0f;
    }

    /** Per output index: {xmin, xsize} and normalised weights (ATen _compute_indices_min_size_weights_aa). */
    static void axisAA(int in, int out, int[] xmin, int[] xsize, float[][] w) {
        float scale = (float) in / out;
        float support = scale >= 1f ? 2f * scale : 2f;
        float invscale = scale >= 1f ? 1f / scale : 1f;
        for (int i = 0; i < out; i++) {
            float center = scale * (i + 0.5f);
            int lo = Math.max((int) (center - support + 0.5f), 0);
            int size = Math.min((int) (center + support + 0.5f), in) - lo;
            float[] ws = new float[Math.max(size, 0)];
            float total = 0;
            for (int j = 0; j < size; j++) {
                ws[j] = aaFilter((j + lo - center + 0.5f) * invscale);
                total += ws[j];
            }
            if (total != 0f) for (int j = 0; j < size; j++) ws[j] /= total;
            xmin[i] = lo;
            xsize[i] = size;
            w[i] = ws;
        }
    }

    private static float[] bicubicAA(float[] in, int inH, int inW, int c, int outH, int outW) {
        float[] cur = in;
        int curW = inW;
        if (outW != inW) { // width pass
            int[] lo = new int[outW], n = new int[outW];
            float[][] w = new float[outW][];
            axisAA(inW, outW, lo, n, w);
            float[] t = new float[inH * outW * c];
            for (int y = 0; y < inH; y++)
                for (int ox = 0; ox < outW; ox++)
                    for (int ch = 0; ch < c; ch++) {
                        float acc = 0;
                        for (int j = 0; j < n[ox]; j++) acc += cur[(y * curW + lo[ox] + j) * c + ch] * w[ox][j];
                        t[(y * outW + ox) * c + ch] = acc;
                    }
            cur = t;
            curW = outW;
        }
        if (outH != inH) { // height pass
            int[] lo = new int[outH], n = new int[outH];
            float[][] w = new float[outH][];
            axisAA(inH, outH, lo, n, w);
            float[] t = new float[outH * curW * c];
            for (int oy = 0; oy < outH; oy++)
                for (int x = 0; x < curW; x++)
                    for (int ch = 0; ch < c; ch++) {
                        float acc = 0;
                        for (int j = 0; j < n[oy]; j++) acc += cur[((lo[oy] + j) * curW + x) * c + ch] * w[oy][j];
                        t[(oy * curW + x) * c + ch] = acc;
                    }
            cur = t;
        }
        return cur == in ? in.clone() : cur;
    }
}
