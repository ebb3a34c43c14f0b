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
    public static void bilinearAxis(int in, int out, boolean alignCorners, int[] i0, int[] i1, float[] lambda1) {
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

    /**
     * See {@link KernelOperations#winogradInput}: across channels in vectors, the tail by the same float operations.
     * A tile inside the image is read where it is; one hanging over the padding has its window copied, zeros filled
     * in, to a small scratch first (the image's rim: few tiles).
     */
    public static void winogradInput(float[] x, int h, int w, int c, int padding, boolean relu, int tilesW, int t0, int t1,
                                     float[] v, int xiStride) {
        float[] edge = null, u = new float[16 * L];
        for (int t = t0; t < t1; t++) {
            int y0 = t / tilesW * 2 - padding, x0 = t % tilesW * 2 - padding, vo = (t - t0) * c;
            if (y0 >= 0 && x0 >= 0 && y0 + 4 <= h && x0 + 4 <= w) {
                inputTile(x, (y0 * w + x0) * c, w * c, c, relu, v, vo, xiStride, u);
                continue;
            }
            if (edge == null) edge = new float[16 * c];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) {
                    int iy = y0 + i, ix = x0 + j, e = (i * 4 + j) * c;
                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) Arrays.fill(edge, e, e + c, 0f);
                    else System.arraycopy(x, (iy * w + ix) * c, edge, e, c);
                }
            inputTile(edge, 0, 4 * c, c, relu, v, vo, xiStride, u);
        }
    }

    /**
     * One tile's V = Bᵀ d B, d (i, j, ch) at s[o + i·rs + j·c + ch] (ReLU'd on loading when relu: x < 0 → 0, NaN and −0
     * kept), per channel vector in two passes through the L1 scratch u (16 vectors): d B row by row (u_i = d_i0 − d_i2,
     * d_i1 + d_i2, d_i2 − d_i1, d_i1 − d_i3), then Bᵀ (d B) the same way down the columns, each V a sum of 4 ±d in 2
     * roundings. (One pass holding all 16 u in registers ran 1.4x slower without the ReLU and 2x with it: spills.)
     */
    private static void inputTile(float[] s, int o, int rs, int c, boolean relu, float[] v, int vo, int xs, float[] u) {
        float floor = relu ? 0f : Float.NEGATIVE_INFINITY; // x < floor → 0: no branch around the vectors
        FloatVector zero = FloatVector.zero(S), fl = FloatVector.broadcast(S, floor);
        int ch = 0, ub = S.loopBound(c);
        for (; ch < ub; ch += L) {
            for (int i = 0, p = o + ch; i < 4; i++, p += rs) {
                FloatVector a0 = FloatVector.fromArray(S, s, p), a1 = FloatVector.fromArray(S, s, p + c),
                        a2 = FloatVector.fromArray(S, s, p + 2 * c), a3 = FloatVector.fromArray(S, s, p + 3 * c);
                a0 = a0.blend(zero, a0.lt(fl));
                a1 = a1.blend(zero, a1.lt(fl));
                a2 = a2.blend(zero, a2.lt(fl));
                a3 = a3.blend(zero, a3.lt(fl));
                a0.sub(a2).intoArray(u, 4 * i * L);
                a1.add(a2).intoArray(u, (4 * i + 1) * L);
                a2.sub(a1).intoArray(u, (4 * i + 2) * L);
                a1.sub(a3).intoArray(u, (4 * i + 3) * L);
            }
            for (int b = 0, q = vo + ch; b < 4; b++, q += xs) {
                FloatVector u0 = FloatVector.fromArray(S, u, b * L), u1 = FloatVector.fromArray(S, u, (4 + b) * L),
                        u2 = FloatVector.fromArray(S, u, (8 + b) * L), u3 = FloatVector.fromArray(S, u, (12 + b) * L);
                u0.sub(u2).intoArray(v, q);
                u1.add(u2).intoArray(v, q + 4 * xs);
                u2.sub(u1).intoArray(v, q + 8 * xs);
                u1.sub(u3).intoArray(v, q + 12 * xs);
            }
        }
        for (; ch < c; ch++) {
            for (int i = 0, p = o + ch; i < 4; i++, p += rs) {
                float a0 = s[p] < floor ? 0f : s[p], a1 = s[p + c] < floor ? 0f : s[p + c],
                        a2 = s[p + 2 * c] < floor ? 0f : s[p + 2 * c], a3 = s[p + 3 * c] < floor ? 0f : s[p + 3 * c];
                u[4 * i] = a0 - a2;
                u[4 * i + 1] = a1 + a2;
                u[4 * i + 2] = a2 - a1;
                u[4 * i + 3] = a1 - a3;
            }
            for (int b = 0, q = vo + ch; b < 4; b++, q += xs) {
                v[q] = u[b] - u[8 + b];
                v[q + 4 * xs] = u[4 + b] + u[8 + b];
                v[q + 8 * xs] = u[8 + b] - u[4 + b];
                v[q + 12 * xs] = u[4 + b] - u[12 + b];
            }
        }
    }

    /**
     * See {@link KernelOperations#winogradOutput}: across channels in vectors, the tail by the same float operations.
     * A 2x2 block hanging over the edge is written to a small scratch first and its pixels inside copied out.
     */
    public static void winogradOutput(float[] m, int xiStride, int tilesW, int t0, int t1, float[] bias, float[] y, int oh,
                                      int ow, int n) {
        float[] bs = bias != null ? bias : MicroKernels.zeros(n), edge = null, r = new float[8];
        for (int t = t0; t < t1; t++) {
            int y0 = t / tilesW * 2, x0 = t % tilesW * 2, mo = (t - t0) * n;
            if (y0 + 2 <= oh && x0 + 2 <= ow) {
                outputTile(m, mo, xiStride, n, bs, y, (y0 * ow + x0) * n, ow * n, r);
                continue;
            }
            if (edge == null) edge = new float[4 * n];
            outputTile(m, mo, xiStride, n, bs, edge, 0, 2 * n, r);
            for (int i = 0; i < 2 && y0 + i < oh; i++)
                for (int j = 0; j < 2 && x0 + j < ow; j++)
                    System.arraycopy(edge, (i * 2 + j) * n, y, ((y0 + i) * ow + x0 + j) * n, n);
        }
    }

    /**
     * One tile's 2x2 block b + Aᵀ M A, M[ξ] (ch) at m[mo + ξ·xs + ch], the block's pixel (i, j) at y[yo + i·rs + j·n]:
     * M A row by row (r_a = m_a0 + m_a1 + m_a2, m_a1 − m_a2 − m_a3), then Aᵀ (M A) the same way down the columns and
     * the bias added last: 5 roundings on b + Σ|M| terms. r: 8 floats of scratch for the tail.
     */
    private static void outputTile(float[] m, int mo, int xs, int n, float[] b, float[] y, int yo, int rs, float[] r) {
        int ch = 0, ub = S.loopBound(n);
        for (; ch < ub; ch += L) {
            int p = mo + ch;
            FloatVector m0 = FloatVector.fromArray(S, m, p), m1 = FloatVector.fromArray(S, m, p + xs),
                    m2 = FloatVector.fromArray(S, m, p + 2 * xs), m3 = FloatVector.fromArray(S, m, p + 3 * xs);
            FloatVector r00 = m0.add(m1).add(m2), r01 = m1.sub(m2).sub(m3);
            p += 4 * xs;
            m0 = FloatVector.fromArray(S, m, p); m1 = FloatVector.fromArray(S, m, p + xs);
            m2 = FloatVector.fromArray(S, m, p + 2 * xs); m3 = FloatVector.fromArray(S, m, p + 3 * xs);
            FloatVector r10 = m0.add(m1).add(m2), r11 = m1.sub(m2).sub(m3);
            p += 4 * xs;
            m0 = FloatVector.fromArray(S, m, p); m1 = FloatVector.fromArray(S, m, p + xs);
            m2 = FloatVector.fromArray(S, m, p + 2 * xs); m3 = FloatVector.fromArray(S, m, p + 3 * xs);
            FloatVector r20 = m0.add(m1).add(m2), r21 = m1.sub(m2).sub(m3);
            p += 4 * xs;
            m0 = FloatVector.fromArray(S, m, p); m1 = FloatVector.fromArray(S, m, p + xs);
            m2 = FloatVector.fromArray(S, m, p + 2 * xs); m3 = FloatVector.fromArray(S, m, p + 3 * xs);
            FloatVector r30 = m0.add(m1).add(m2), r31 = m1.sub(m2).sub(m3);
            FloatVector bv = FloatVector.fromArray(S, b, ch);
            int q = yo + ch;
            r00.add(r10).add(r20).add(bv).intoArray(y, q);
            r01.add(r11).add(r21).add(bv).intoArray(y, q + n);
            r10.sub(r20).sub(r30).add(bv).intoArray(y, q + rs);
            r11.sub(r21).sub(r31).add(bv).intoArray(y, q + rs + n);
        }
        for (; ch < n; ch++) {
            for (int a = 0, p = mo + ch; a < 4; a++, p += 4 * xs) {
                r[2 * a] = m[p] + m[p + xs] + m[p + 2 * xs];
                r[2 * a + 1] = m[p + xs] - m[p + 2 * xs] - m[p + 3 * xs];
            }
            int q = yo + ch;
            y[q] = r[0] + r[2] + r[4] + b[ch];
            y[q + n] = r[1] + r[3] + r[5] + b[ch];
            y[q + rs] = r[2] - r[4] - r[6] + b[ch];
            y[q + rs + n] = r[3] - r[5] - r[7] + b[ch];
        }
    }
}
