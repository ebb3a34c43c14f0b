package org.dino4j.kernels;

import java.util.Arrays;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API kernels over channels-last image grids (one image (H, W, C) row-major), for the convolutional heads:
 * im2col (a convolution's GEMM operand), ReLU as a GEMM prologue, bilinear resize vectorised across channels. Their
 * scalar twins are in {@link ScalarOps}.
 */
public final class GridOps {
    static final VectorSpecies<Float> S = VectorWidth.FLOAT;
    static final int L = S.length();

    private GridOps() {}

    /**
     * Rows [p0, p1) of the im2col matrix of x (h, w, c) for a square kernel: row p is output pixel (p / outW, p % outW),
     * kernel·kernel·c floats in (ky, kx, c) order, zeros where the window leaves the zero-padded image, ReLU'd if asked;
     * row p lands at cols[(p − p0)·kernel²·c]. Rows are split over the pool.
     */
    public static void im2col(float[] x, int h, int w, int c, int kernel, int stride, int padding, boolean relu, int p0,
                              int p1, float[] cols) {
        int outW = (w + 2 * padding - kernel) / stride + 1, kk = kernel * c * kernel;
        Parallel.forRange(p1 - p0, Math.max(1, (1 << 15) / Math.max(1, kk)), (lo, hi) -> {
            for (int p = p0 + lo; p < p0 + hi; p++) {
                int oy = p / outW, ox = p % outW, o = (p - p0) * kk;
                int ix0 = ox * stride - padding, kx0 = Math.max(0, -ix0), kx1 = Math.min(kernel, w - ix0);
                for (int ky = 0; ky < kernel; ky++, o += kernel * c) {
                    int iy = oy * stride - padding + ky;
                    if (iy < 0 || iy >= h || kx0 >= kx1) {
                        Arrays.fill(cols, o, o + kernel * c, 0f);
                        continue;
                    }
                    // the window's columns inside the image are consecutive pixels: one contiguous run of channels
                    int run = (kx1 - kx0) * c, src = (iy * w + ix0 + kx0) * c, dst = o + kx0 * c;
                    Arrays.fill(cols, o, dst, 0f);
                    if (relu) relu(x, src, cols, dst, run);
                    else System.arraycopy(x, src, cols, dst, run);
                    Arrays.fill(cols, dst + run, o + kernel * c, 0f);
                }
            }
        });
    }

    /** dst[d + i] = max(src[s + i], 0) for i < n (NaN and -0 stay, as torch.relu keeps them). */
    static void relu(float[] src, int s, float[] dst, int d, int n) {
        int i = 0, ub = S.loopBound(n);
        for (; i < ub; i += L) {
            FloatVector v = FloatVector.fromArray(S, src, s + i);
            v.blend(0f, v.compare(VectorOperators.LT, 0f)).intoArray(dst, d + i);
        }
        for (; i < n; i++) {
            float v = src[s + i];
            dst[d + i] = v < 0f ? 0f : v;
        }
    }

    /** ReLU as a GEMM operand's prologue (a pre-activation 1x1 convolution reads relu(x) without a copy of it). */
    public static final Prologue RELU = (row, c0, src, s, dst, d, n) -> relu(src, s, dst, d, n);

    /**
     * Source taps and weights along one axis as PyTorch's CPU upsample_bilinear2d computes them in float
     * (area_pixel_compute_scale, area_pixel_compute_source_index, guard_index_and_lambda): i0[d], i1[d] (i1 = i0 + 1
     * but the last index repeats) and lambda1[d] (lambda0 = 1 − lambda1, in float).
     */
    static void bilinearAxis(int in, int out, boolean alignCorners, int[] i0, int[] i1, float[] lambda1) {
        float scale = alignCorners ? (out > 1 ? (float) (in - 1) / (out - 1) : 0f) : (float) in / out;
        for (int d = 0; d < out; d++) {
            if (in == out) { // ATen's shortcut: the identity, whatever the formula would round to
                i0[d] = i1[d] = d;
                lambda1[d] = 0f;
                continue;
            }
            float src = alignCorners ? scale * d : scale * (d + 0.5f) - 0.5f;
            if (src < 0f) src = 0f;
            int lo = Math.min((int) Math.floor(src), in - 1);
            i0[d] = lo;
            i1[d] = lo + (lo < in - 1 ? 1 : 0);
            lambda1[d] = Math.min(Math.max(src - lo, 0f), 1f);
        }
    }

    /**
     * F.interpolate(mode="bilinear") of in (inH, inW, c) at inOff to out (outH, outW, c) at outOff, rows split over the
     * pool. Each output is x00·w00 + x01·w01 + x10·w10 + x11·w11 with w = λh·λw (ATen's channels-last kernel),
     * the sum as a chain of FMAs across channels (the tail lanes by the same scalar FMAs).
     */
    public static void resizeBilinear(float[] in, int inOff, int inH, int inW, int c, float[] out, int outOff, int outH,
                                      int outW, boolean alignCorners) {
        int[] y0 = new int[outH], y1 = new int[outH], x0 = new int[outW], x1 = new int[outW];
        float[] ly = new float[outH], lx = new float[outW];
        bilinearAxis(inH, outH, alignCorners, y0, y1, ly);
        bilinearAxis(inW, outW, alignCorners, x0, x1, lx);
        Parallel.forRange(outH, Math.max(1, (1 << 14) / Math.max(1, outW * c)), (lo, hi) -> {
            for (int oy = lo; oy < hi; oy++) {
                float h1 = ly[oy], h0 = 1f - h1;
                int r0 = inOff + y0[oy] * inW * c, r1 = inOff + y1[oy] * inW * c;
                for (int ox = 0; ox < outW; ox++) {
                    float w1 = lx[ox], w0 = 1f - w1;
                    float w00 = h0 * w0, w01 = h0 * w1, w10 = h1 * w0, w11 = h1 * w1;
                    int c0 = x0[ox] * c, c1 = x1[ox] * c, o = outOff + (oy * outW + ox) * c;
                    int k = 0, ub = S.loopBound(c);
                    if (ub > 0) {
                        FloatVector v01 = FloatVector.broadcast(S, w01), v10 = FloatVector.broadcast(S, w10),
                                v11 = FloatVector.broadcast(S, w11);
                        for (; k < ub; k += L) {
                            FloatVector v = FloatVector.fromArray(S, in, r0 + c0 + k).mul(w00);
                            v = FloatVector.fromArray(S, in, r0 + c1 + k).fma(v01, v);
                            v = FloatVector.fromArray(S, in, r1 + c0 + k).fma(v10, v);
                            v = FloatVector.fromArray(S, in, r1 + c1 + k).fma(v11, v);
                            v.intoArray(out, o + k);
                        }
                    }
                    for (; k < c; k++) {
                        float v = in[r0 + c0 + k] * w00;
                        v = Math.fma(in[r0 + c1 + k], w01, v);
                        v = Math.fma(in[r1 + c0 + k], w10, v);
                        out[o + k] = Math.fma(in[r1 + c1 + k], w11, v);
                    }
                }
            }
        });
    }

    /** See {@link KernelOperations#sumTaps}: across j in vectors, the taps added in order (the tail by the same adds). */
    public static void sumTaps(float[] p, int pOff, int pixelStride, int tapStride, int taps, float[] bias, float[] y,
                               int yOff, int pixels, int n) {
        int ub = S.loopBound(n);
        for (int x = 0; x < pixels; x++) {
            int po = pOff + x * pixelStride, yo = yOff + x * n, j = 0;
            for (; j < ub; j += L) {
                FloatVector v = bias == null ? FloatVector.zero(S) : FloatVector.fromArray(S, bias, j);
                for (int t = 0; t < taps; t++) v = v.add(FloatVector.fromArray(S, p, po + t * tapStride + j));
                v.intoArray(y, yo + j);
            }
            for (; j < n; j++) {
                float v = bias == null ? 0f : bias[j];
                for (int t = 0; t < taps; t++) v += p[po + t * tapStride + j];
                y[yo + j] = v;
            }
        }
    }
}
