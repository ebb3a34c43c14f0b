package org.dino4j.eval.dense;

/**
 * Bilinear resize of a channels-last grid (H, W, C) as PyTorch's {@code F.interpolate(size=..., mode="bilinear",
 * align_corners=False)} (what mmseg's {@code resize} calls for the dense heads), and its adjoint for the backward
 * pass. ATen's recipe in float: source = (dst + 0.5) * in / out - 0.5, clamped at 0; taps floor(source) and the next
 * one (the last index repeats at the border); weights 1 - frac and frac.
 */
public final class Bilinear {
    private final int inH, inW, outH, outW;
    private final int[] y0, y1, x0, x1;
    private final float[] wy1, wx1;

    public Bilinear(int inH, int inW, int outH, int outW) {
        if (inH < 1 || inW < 1 || outH < 1 || outW < 1)
            throw new IllegalArgumentException("bilinear resize needs positive sizes, got " + inH + "x" + inW + " -> " + outH + "x" + outW);
        this.inH = inH;
        this.inW = inW;
        this.outH = outH;
        this.outW = outW;
        y0 = new int[outH];
        y1 = new int[outH];
        wy1 = new float[outH];
        x0 = new int[outW];
        x1 = new int[outW];
        wx1 = new float[outW];
        axis(inH, outH, y0, y1, wy1);
        axis(inW, outW, x0, x1, wx1);
    }

    private static void axis(int in, int out, int[] i0, int[] i1, float[] w1) {
        float scale = (float) in / out;
        for (int d = 0; d < out; d++) {
            float src = scale * (d + 0.5f) - 0.5f;
            if (src < 0) src = 0;
            int lo = (int) src;
            i0[d] = lo;
            i1[d] = lo < in - 1 ? lo + 1 : lo;
            w1[d] = src - lo;
        }
    }

    public int outH() {
        return outH;
    }

    public int outW() {
        return outW;
    }

    /** out[(Y*outW + X)*c + k] from in[(y*inW + x)*c + k]; out is overwritten. */
    public void forward(float[] in, int inOff, int c, float[] out, int outOff) {
        for (int oy = 0; oy < outH; oy++) {
            float b1 = wy1[oy], b0 = 1 - b1;
            int r0 = y0[oy] * inW, r1 = y1[oy] * inW;
            for (int ox = 0; ox < outW; ox++) {
                float a1 = wx1[ox], a0 = 1 - a1;
                float w00 = b0 * a0, w01 = b0 * a1, w10 = b1 * a0, w11 = b1 * a1;
                int p00 = inOff + (r0 + x0[ox]) * c, p01 = inOff + (r0 + x1[ox]) * c;
                int p10 = inOff + (r1 + x0[ox]) * c, p11 = inOff + (r1 + x1[ox]) * c;
                int o = outOff + (oy * outW + ox) * c;
                for (int k = 0; k < c; k++)
                    out[o + k] = w00 * in[p00 + k] + w01 * in[p01 + k] + w10 * in[p10 + k] + w11 * in[p11 + k];
            }
        }
    }

    /** The adjoint of {@link #forward}: dIn += resize^T(dOut) (accumulates, so dIn must be cleared by the caller). */
    public void backward(float[] dOut, int outOff, int c, float[] dIn, int inOff) {
        for (int oy = 0; oy < outH; oy++) {
            float b1 = wy1[oy], b0 = 1 - b1;
            int r0 = y0[oy] * inW, r1 = y1[oy] * inW;
            for (int ox = 0; ox < outW; ox++) {
                float a1 = wx1[ox], a0 = 1 - a1;
                float w00 = b0 * a0, w01 = b0 * a1, w10 = b1 * a0, w11 = b1 * a1;
                int p00 = inOff + (r0 + x0[ox]) * c, p01 = inOff + (r0 + x1[ox]) * c;
                int p10 = inOff + (r1 + x0[ox]) * c, p11 = inOff + (r1 + x1[ox]) * c;
                int o = outOff + (oy * outW + ox) * c;
                for (int k = 0; k < c; k++) {
                    float g = dOut[o + k];
                    dIn[p00 + k] += w00 * g;
                    dIn[p01 + k] += w01 * g;
                    dIn[p10 + k] += w10 * g;
                    dIn[p11 + k] += w11 * g;
                }
            }
        }
    }

    /** Convenience: a new (outH, outW, c) array. */
    public float[] forward(float[] in, int c) {
        if (in.length != inH * inW * c)
            throw new IllegalArgumentException("bilinear input has " + in.length + " floats, expected " + inH + "x" + inW + "x" + c);
        float[] out = new float[outH * outW * c];
        forward(in, 0, c, out, 0);
        return out;
    }
}
