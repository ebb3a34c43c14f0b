package org.dino4j.kernels;

import java.util.Arrays;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API kernels other than GEMM: LayerNorm, exact-erf GELU, SiLU-gating, fused attention. Each has a scalar
 * twin in {@link ScalarOps} that the tests compare against on awkward shapes.
 */
public final class Ops {
    static final VectorSpecies<Float> S = VectorWidth.FLOAT;
    static final int L = S.length();

    private Ops() {}

    /**
     * LayerNorm over the last dimension (biased variance, as PyTorch): out[r, :] = (x - mean) / sqrt(var + eps) * w + b
     * for {@code rows} rows of length {@code d}; row r at x[xOff + r*d], out[oOff + r*d]. out may alias x.
     */
    public static void layerNorm(float[] x, int xOff, float[] out, int oOff, int rows, int d, float[] w, float[] b, float eps) {
        Parallel.forRange(rows, 64, (lo, hi) -> {
            for (int r = lo; r < hi; r++) layerNormRow(x, xOff + r * d, out, oOff + r * d, d, w, b, eps);
        });
    }

    static void layerNormRow(float[] x, int xo, float[] out, int oo, int d, float[] w, float[] b, float eps) {
        int i = 0, ub = S.loopBound(d);
        FloatVector acc = FloatVector.zero(S);
        for (; i < ub; i += L) acc = acc.add(FloatVector.fromArray(S, x, xo + i));
        float sum = sumInOrder(acc.toArray());
        for (; i < d; i++) sum += x[xo + i];
        float mean = sum / d;
        // two-pass variance: as accurate as PyTorch's Welford for these sizes, and simpler
        FloatVector mv = FloatVector.broadcast(S, mean);
        FloatVector vacc = FloatVector.zero(S);
        for (i = 0; i < ub; i += L) {
            FloatVector c = FloatVector.fromArray(S, x, xo + i).sub(mv);
            vacc = c.fma(c, vacc);
        }
        float var = sumInOrder(vacc.toArray());
        for (; i < d; i++) {
            float c = x[xo + i] - mean;
            var += c * c;
        }
        var /= d;
        float rstd = (float) (1.0 / Math.sqrt(var + eps));
        FloatVector rv = FloatVector.broadcast(S, rstd);
        for (i = 0; i < ub; i += L) {
            FloatVector c = FloatVector.fromArray(S, x, xo + i).sub(mv).mul(rv);
            c.fma(FloatVector.fromArray(S, w, i), FloatVector.fromArray(S, b, i)).intoArray(out, oo + i);
        }
        for (; i < d; i++) out[oo + i] = (x[xo + i] - mean) * rstd * w[i] + b[i];
    }

    // exp without VectorOperators.EXP, whose compiled (SVML) and interpreted (Math.exp per lane) forms differ in
    // the last bit: a result then depends on the JIT tier that happened to run it, and a training run could not be
    // resumed bit-identically. Cody-Waite reduction x = n ln2 + r (n by the 1.5 * 2^23 rounding trick), a degree-6
    // polynomial for e^r on |r| <= ln2/2 (< 2 ulp), 2^n built from its bits: only IEEE add/mul/fma, the same in any tier.
    static final float EXP_HI = 88.37626f, EXP_LO = -87.33655f, LOG2E = 1.44269504f, ROUND = 12582912f,
            LN2_HI = 0.693145752f, LN2_LO = 1.42860677e-6f, E2 = 1f / 2, E3 = 1f / 6, E4 = 1f / 24, E5 = 1f / 120, E6 = 1f / 720;

    /** e^x per lane, deterministic across JIT tiers (see above); inputs below -87.3 give 2^-126 rather than 0. */
    static FloatVector exp(FloatVector x) {
        // clamps by compare and blend: the same lanes as max(EXP_LO).min(EXP_HI), NaN included, in 4 instructions, not 10
        x = x.blend(EXP_LO, x.compare(VectorOperators.LT, EXP_LO));
        x = x.blend(EXP_HI, x.compare(VectorOperators.GT, EXP_HI));
        FloatVector t = x.fma(LOG2E, ROUND), n = t.sub(ROUND);
        FloatVector r = n.fma(FloatVector.broadcast(S, -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(S, -LN2_LO), r);
        FloatVector p = r.fma(E6, E5).fma(r, FloatVector.broadcast(S, E4)).fma(r, FloatVector.broadcast(S, E3))
                .fma(r, FloatVector.broadcast(S, E2)).fma(r, FloatVector.broadcast(S, 1f)).fma(r, FloatVector.broadcast(S, 1f));
        var bits = t.reinterpretAsInts().sub(Float.floatToRawIntBits(ROUND) - 127).lanewise(VectorOperators.LSHL, 23);
        return p.mul(bits.reinterpretAsFloats());
    }

    /** The scalar twin of {@link #exp(FloatVector)}: the same operations, so the same bits. */
    static float exp(float x) {
        x = Math.min(Math.max(x, EXP_LO), EXP_HI);
        float t = Math.fma(x, LOG2E, ROUND), n = t - ROUND;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(r, E6, E5), r, E4), r, E3), r, E2), r, 1f), r, 1f);
        int bits = (Float.floatToRawIntBits(t) - (Float.floatToRawIntBits(ROUND) - 127)) << 23;
        return p * Float.intBitsToFloat(bits);
    }

    // erf(z) = z P(z²) / Q(z²) on z clamped to [-4, 4] (|erf| rounds to 1 beyond): the rational approximation of
    // TensorFlow/XLA and Eigen's float erf, abs error < 2e-7, with no exp and one division. (The Abramowitz &
    // Stegun 7.1.26 form PyTorch's vectorised CPU erf uses needs an exp as well and ran ~1.6x slower here.)
    static final float ERF_CLAMP = 4f;
    static final float EA1 = -1.60960333262415e-02f, EA3 = -2.95459980854025e-03f, EA5 = -7.34990630326855e-04f,
            EA7 = -5.69250639462346e-05f, EA9 = -2.10102402082508e-06f, EA11 = 2.77068142495902e-08f,
            EA13 = -2.72614225801306e-10f;
    static final float EB0 = -1.42647390514189e-02f, EB2 = -7.37332916720468e-03f, EB4 = -1.68282697438203e-03f,
            EB6 = -2.13374055278905e-04f, EB8 = -1.45660718464996e-05f;
    static final float SQRT1_2 = (float) (1 / Math.sqrt(2));

    /** Exact (erf) GELU in place on a[off, off+n): x * 0.5 * (1 + erf(x / sqrt 2)). */
    public static void gelu(float[] a, int off, int n) {
        int i = 0, ub = S.loopBound(n);
        for (; i < ub; i += L) geluAt(a, off + i);
        if (i < n) geluTail(a, off + i, n - i);
    }

    /**
     * One vector of GELU, erf inlined by hand: a helper taking or returning vectors would box them whenever C2
     * declines to inline it. Unmasked (masked loads with an all-true mask still pay a range-check call).
     */
    private static void geluAt(float[] a, int o) {
        FloatVector x = FloatVector.fromArray(S, a, o);
        FloatVector z = x.mul(SQRT1_2);
        z = z.blend(ERF_CLAMP, z.compare(VectorOperators.GT, ERF_CLAMP)).blend(-ERF_CLAMP, z.compare(VectorOperators.LT, -ERF_CLAMP));
        FloatVector z2 = z.mul(z);
        FloatVector num = z2.fma(EA13, EA11).fma(z2, FloatVector.broadcast(S, EA9)).fma(z2, FloatVector.broadcast(S, EA7))
                .fma(z2, FloatVector.broadcast(S, EA5)).fma(z2, FloatVector.broadcast(S, EA3))
                .fma(z2, FloatVector.broadcast(S, EA1)).mul(z);
        FloatVector den = z2.fma(EB8, EB6).fma(z2, FloatVector.broadcast(S, EB4)).fma(z2, FloatVector.broadcast(S, EB2))
                .fma(z2, FloatVector.broadcast(S, EB0));
        FloatVector hx = x.mul(0.5f);
        hx.fma(num.div(den), hx).intoArray(a, o); // x/2 (1 + erf)
    }

    /** {@link #geluAt} for the last n < L elements, through a one-vector copy. */
    private static void geluTail(float[] a, int o, int n) {
        float[] t = new float[L];
        System.arraycopy(a, o, t, 0, n);
        geluAt(t, 0);
        System.arraycopy(t, 0, a, o, n);
    }

    /**
     * GELU's backward: g[i] += dy[i] · (Φ(x) + x·φ(x)) over [0, n), in parallel; Φ by the erf of {@link #gelu}, φ by
     * {@link #exp(FloatVector)}. The scalar twin is {@link ScalarOps#geluBackward}.
     */
    public static void geluBackward(float[] x, float[] dy, float[] g, int n) {
        geluBackward(x, dy, g, n, true);
    }

    /**
     * {@link #geluBackward} that, with accumulate false, stores g[i] = dy[i] · (Φ(x) + x·φ(x)) instead of adding: g
     * may then be dy itself (the gradient made in place, no zeroed array to add into).
     */
    public static void geluBackward(float[] x, float[] dy, float[] g, int n, boolean accumulate) {
        Parallel.forRange(n, 1 << 14, (lo, hi) -> {
            int i = lo, ub = lo + S.loopBound(hi - lo);
            for (; i < ub; i += L) geluBackwardAt(x, dy, g, i, accumulate);
            if (i < hi) geluBackwardTail(x, dy, g, i, hi - i, accumulate);
        });
    }

    /** {@link #geluBackwardAt} for the last n < L elements, through one-vector copies: every element the same code. */
    private static void geluBackwardTail(float[] x, float[] dy, float[] g, int o, int n, boolean accumulate) {
        float[] tx = new float[L], td = new float[L], tg = new float[L];
        System.arraycopy(x, o, tx, 0, n);
        System.arraycopy(dy, o, td, 0, n);
        if (accumulate) System.arraycopy(g, o, tg, 0, n);
        geluBackwardAt(tx, td, tg, 0, accumulate);
        System.arraycopy(tg, 0, g, o, n);
    }

    static final float INV_SQRT_2PI = (float) (1 / Math.sqrt(2 * Math.PI));

    /** One vector of {@link #geluBackward}, erf written out as in {@link #geluAt}. */
    private static void geluBackwardAt(float[] xs, float[] dy, float[] g, int o, boolean accumulate) {
        FloatVector x = FloatVector.fromArray(S, xs, o);
        FloatVector z = x.mul(SQRT1_2);
        z = z.blend(ERF_CLAMP, z.compare(VectorOperators.GT, ERF_CLAMP)).blend(-ERF_CLAMP, z.compare(VectorOperators.LT, -ERF_CLAMP));
        FloatVector z2 = z.mul(z);
        FloatVector num = z2.fma(EA13, EA11).fma(z2, FloatVector.broadcast(S, EA9)).fma(z2, FloatVector.broadcast(S, EA7))
                .fma(z2, FloatVector.broadcast(S, EA5)).fma(z2, FloatVector.broadcast(S, EA3))
                .fma(z2, FloatVector.broadcast(S, EA1)).mul(z);
        FloatVector den = z2.fma(EB8, EB6).fma(z2, FloatVector.broadcast(S, EB4)).fma(z2, FloatVector.broadcast(S, EB2))
                .fma(z2, FloatVector.broadcast(S, EB0));
        FloatVector cdf = num.div(den).add(1f).mul(0.5f);
        FloatVector pdf = exp(x.mul(x).mul(-0.5f)).mul(INV_SQRT_2PI);
        FloatVector d = x.fma(pdf, cdf);
        FloatVector dv = FloatVector.fromArray(S, dy, o);
        (accumulate ? dv.fma(d, FloatVector.fromArray(S, g, o)) : dv.mul(d)).intoArray(g, o);
    }

    /**
     * max of x[o, o + n). The running maximum is a compare and blend: FloatVector.max's NaN and -0 handling costs five
     * instructions where two do (a NaN is skipped rather than returned; the max is exact in any order).
     */
    static float rowMax(float[] x, int o, int n) {
        int j = 0, ub = S.loopBound(n);
        FloatVector mv = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        for (; j < ub; j += L) {
            FloatVector v = FloatVector.fromArray(S, x, o + j);
            mv = mv.blend(v, mv.compare(VectorOperators.LT, v));
        }
        float max = mv.reduceLanes(VectorOperators.MAX);
        for (; j < n; j++) if (x[o + j] > max) max = x[o + j]; // NaN skipped here too
        return max;
    }

    /** max of x[o, o + n) (NaNs skipped), for callers outside the kernels. The scalar twin is {@link ScalarOps#max}. */
    public static float max(float[] x, int o, int n) {
        return rowMax(x, o, n);
    }

    /**
     * Σ x[o, o + n): lanes summed in float over 64-element chunks, the chunks added up in double, in order (the same
     * result on every run). The scalar twin is {@link ScalarOps#sum}.
     */
    public static double sum(float[] x, int o, int n) {
        int ub = S.loopBound(n), j;
        double sum = 0;
        for (j = 0; j < ub; ) {
            FloatVector sv = FloatVector.zero(S);
            for (int end = Math.min(ub, j + 64); j < end; j += L) sv = sv.add(FloatVector.fromArray(S, x, o + j));
            sum += sumInOrder(sv.toArray());
        }
        for (; j < n; j++) sum += x[o + j];
        return sum;
    }

    /**
     * g[j] += Σ_i x[i·n + j] for j < n, i < rows (a Linear's bias gradient). The scalar twin is
     * {@link ScalarOps#addColumnSums(float[], int, int, float[])}.
     */
    public static void addColumnSums(float[] x, int rows, int n, float[] g) {
        addColumnSums(x, null, null, 1, rows, n, g);
    }

    /**
     * g[j] += Σ_i s(i) · x[i·n + j] · y[i·n + j] (y null: 1) with s(i) = scale[i / rowsPerGroup] (scale null: 1; rows
     * whose s is 0 skipped): LayerScale's gradient through DropPath. Column ranges in parallel; each column summed in
     * row order, in float over blocks of 64 rows, the blocks added up in double, so the result does not depend on the
     * thread count. The scalar twin is {@link ScalarOps#addColumnSums(float[], float[], float[], int, int, int, float[])}.
     */
    public static void addColumnSums(float[] x, float[] y, float[] scale, int rowsPerGroup, int rows, int n, float[] g) {
        int ranges = Math.max(1, (n + 8 * L - 1) / (8 * L));
        Parallel.forEach(ranges, c -> {
            int lo = (int) ((long) n * c / ranges) / L * L, hi = c == ranges - 1 ? n : (int) ((long) n * (c + 1) / ranges) / L * L;
            if (hi <= lo) return;
            int w = hi - lo, vw = w / L * L;
            double[] acc = new double[w];
            float[] blk = new float[w];
            for (int i0 = 0; i0 < rows; i0 += 64) {
                Arrays.fill(blk, 0f);
                for (int i = i0, end = Math.min(rows, i0 + 64); i < end; i++) {
                    float sc = scale == null ? 1f : scale[i / rowsPerGroup];
                    if (sc == 0f) continue;
                    int q = i * n + lo, j = 0;
                    if (y == null && sc == 1f) {
                        for (; j < vw; j += L) FloatVector.fromArray(S, x, q + j).add(FloatVector.fromArray(S, blk, j)).intoArray(blk, j);
                        for (; j < w; j++) blk[j] += x[q + j];
                    } else {
                        FloatVector sv = FloatVector.broadcast(S, sc);
                        for (; j < vw; j += L) {
                            FloatVector v = FloatVector.fromArray(S, x, q + j).mul(sv);
                            if (y != null) v = v.mul(FloatVector.fromArray(S, y, q + j));
                            v.add(FloatVector.fromArray(S, blk, j)).intoArray(blk, j);
                        }
                        for (; j < w; j++) blk[j] += x[q + j] * sc * (y == null ? 1f : y[q + j]);
                    }
                }
                for (int j = 0; j < w; j++) acc[j] += blk[j];
            }
            for (int j = 0; j < w; j++) g[lo + j] += (float) acc[j];
        });
    }

    /**
     * One sample's row of a Sinkhorn-Knopp round (the official {@code sinkhorn_knopp_teacher}'s order of float
     * divisions): q[o + j] ← q[o + j] / colSum[j] / kf, then the row's sum s ({@link #sum}) and q[o + j] ← q[o + j] / s
     * / bf; where {@code next} is given, the new values are added into it (the next round's sums over samples), and
     * where it is null (the last round) each value is multiplied back by bf. The scalar twin is
     * {@link ScalarOps#sinkhornRow}.
     */
    public static void sinkhornRow(float[] q, int o, int k, float[] colSum, float kf, float bf, float[] next) {
        int ub = S.loopBound(k), j;
        FloatVector kv = FloatVector.broadcast(S, kf);
        for (j = 0; j < ub; j += L)
            FloatVector.fromArray(S, q, o + j).div(FloatVector.fromArray(S, colSum, j)).div(kv).intoArray(q, o + j);
        for (; j < k; j++) q[o + j] = q[o + j] / colSum[j] / kf;
        float sf = (float) sum(q, o, k);
        FloatVector sv = FloatVector.broadcast(S, sf), bv = FloatVector.broadcast(S, bf);
        if (next == null) {
            for (j = 0; j < ub; j += L) FloatVector.fromArray(S, q, o + j).div(sv).div(bv).mul(bv).intoArray(q, o + j);
            for (; j < k; j++) q[o + j] = q[o + j] / sf / bf * bf;
        } else {
            for (j = 0; j < ub; j += L) {
                FloatVector v = FloatVector.fromArray(S, q, o + j).div(sv).div(bv);
                v.intoArray(q, o + j);
                v.add(FloatVector.fromArray(S, next, j)).intoArray(next, j);
            }
            for (; j < k; j++) next[j] += q[o + j] = q[o + j] / sf / bf;
        }
    }

    /**
     * Training LayerNorm over the rows of x [rows, c]: out = (x − mean) · rstd · w + b, keeping each row's mean and
     * rstd = 1/√(var + eps) (biased variance) for {@link #layerNormBackward}; out null: the statistics only. Sums in
     * float lanes over 64-element chunks, added up in double. The scalar twin is {@link ScalarOps#layerNormStats}.
     */
    public static void layerNormStats(float[] x, float[] out, int rows, int c, float[] w, float[] b, float eps,
                                      float[] mean, float[] rstd) {
        Parallel.forRange(rows, 16, (lo, hi) -> {
            int ub = S.loopBound(c);
            for (int i = lo; i < hi; i++) {
                int o = i * c, j;
                float m = (float) (sum(x, o, c) / c);
                FloatVector mv = FloatVector.broadcast(S, m);
                double var = 0;
                for (j = 0; j < ub; ) {
                    FloatVector acc = FloatVector.zero(S);
                    for (int end = Math.min(ub, j + 64); j < end; j += L) {
                        FloatVector d = FloatVector.fromArray(S, x, o + j).sub(mv);
                        acc = d.fma(d, acc);
                    }
                    var += sumInOrder(acc.toArray());
                }
                for (; j < c; j++) var += (x[o + j] - m) * (x[o + j] - m);
                float rs = (float) (1 / Math.sqrt(var / c + eps));
                mean[i] = m;
                rstd[i] = rs;
                if (out == null) continue; // statistics only (the normalised rows made later, as a GEMM prologue)
                FloatVector rv = FloatVector.broadcast(S, rs);
                for (j = 0; j < ub; j += L)
                    FloatVector.fromArray(S, x, o + j).sub(mv).mul(rv)
                            .fma(FloatVector.fromArray(S, w, j), FloatVector.fromArray(S, b, j)).intoArray(out, o + j);
                for (; j < c; j++) out[o + j] = Math.fma((x[o + j] - m) * rs, w[j], b[j]);
            }
        });
    }

    /**
     * {@link #layerNormStats}' backward for dy [rows, c]: dx += rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ ⊙ x̂)) with
     * x̂ recomputed from x, mean and rstd and dx̂ = dy ⊙ w (dx null: not wanted); dw += Σ dy ⊙ x̂ and db += Σ dy over
     * the rows, summed per fixed chunk of rows in float and the chunks added in double, in order (thread-count
     * independent). The scalar twin is {@link ScalarOps#layerNormBackward}.
     */
    public static void layerNormBackward(float[] x, float[] dy, float[] w, float[] mean, float[] rstd, int rows, int c,
                                         float[] dx, float[] dw, float[] db) {
        int chunks = Math.max(1, Math.min(64, rows / 16));
        float[][] pw = new float[chunks][c], pb = new float[chunks][c];
        Parallel.forEach(chunks, ch -> {
            int lo = (int) ((long) rows * ch / chunks), hi = (int) ((long) rows * (ch + 1) / chunks), ub = S.loopBound(c);
            float[] cw = pw[ch], cb = pb[ch];
            for (int i = lo; i < hi; i++) {
                int o = i * c, j;
                FloatVector mv = FloatVector.broadcast(S, mean[i]), rv = FloatVector.broadcast(S, rstd[i]);
                FloatVector a1 = FloatVector.zero(S), a2 = a1;
                for (j = 0; j < ub; j += L) {
                    FloatVector xh = FloatVector.fromArray(S, x, o + j).sub(mv).mul(rv), g = FloatVector.fromArray(S, dy, o + j);
                    FloatVector dxh = g.mul(FloatVector.fromArray(S, w, j));
                    a1 = a1.add(dxh);
                    a2 = dxh.fma(xh, a2);
                    g.fma(xh, FloatVector.fromArray(S, cw, j)).intoArray(cw, j);
                    g.add(FloatVector.fromArray(S, cb, j)).intoArray(cb, j);
                }
                float m1 = sumInOrder(a1.toArray()), m2 = sumInOrder(a2.toArray());
                for (int t = j; t < c; t++) {
                    float xh = (x[o + t] - mean[i]) * rstd[i], dxh = dy[o + t] * w[t];
                    m1 += dxh;
                    m2 += dxh * xh;
                    cw[t] += dy[o + t] * xh;
                    cb[t] += dy[o + t];
                }
                if (dx == null) continue;
                m1 /= c;
                m2 /= c;
                FloatVector m1v = FloatVector.broadcast(S, m1), m2v = FloatVector.broadcast(S, m2);
                for (j = 0; j < ub; j += L) {
                    FloatVector xh = FloatVector.fromArray(S, x, o + j).sub(mv).mul(rv);
                    FloatVector dxh = FloatVector.fromArray(S, dy, o + j).mul(FloatVector.fromArray(S, w, j));
                    dxh.sub(m1v).sub(xh.mul(m2v)).fma(rv, FloatVector.fromArray(S, dx, o + j)).intoArray(dx, o + j);
                }
                for (; j < c; j++) {
                    float xh = (x[o + j] - mean[i]) * rstd[i], dxh = dy[o + j] * w[j];
                    dx[o + j] += rstd[i] * (dxh - m1 - xh * m2);
                }
            }
        });
        for (int j = 0; j < c; j++) {
            double sw = 0, sb = 0;
            for (int ch = 0; ch < chunks; ch++) {
                sw += pw[ch][j];
                sb += pb[ch][j];
            }
            if (dw != null) dw[j] += (float) sw;
            if (db != null) db[j] += (float) sb;
        }
    }

    /** x[o, o + n) *= f. */
    static void scale(float[] x, int o, int n, float f) {
        int j = 0, ub = S.loopBound(n);
        FloatVector fv = FloatVector.broadcast(S, f);
        for (; j < ub; j += L) FloatVector.fromArray(S, x, o + j).mul(fv).intoArray(x, o + j);
        for (; j < n; j++) x[o + j] *= f;
    }

    /**
     * One row of a cross-entropy against soft targets: p[po + j] ← softmax(s · invTemp)_j and returns
     * −Σ t_j log_softmax(s · invTemp)_j over j < k, with one exponential per element (log_softmax = s·invTemp − max −
     * log Σ). Sums run in float over 64-element chunks, added up in double. The scalar twin is
     * {@link ScalarOps#softCrossEntropyRow}.
     */
    public static float softCrossEntropyRow(float[] s, int so, int k, float invTemp, float[] t, int to, float[] p, int po) {
        int ub = S.loopBound(k), j;
        float mx = rowMax(s, so, k) * invTemp; // invTemp > 0: the max of s·invTemp
        FloatVector it = FloatVector.broadcast(S, invTemp), mb = FloatVector.broadcast(S, mx);
        double sum = 0, dot = 0, tsum = 0;
        for (j = 0; j < ub; ) {
            FloatVector sv = FloatVector.zero(S), dv = sv, tv = sv;
            for (int end = Math.min(ub, j + 64); j < end; j += L) { // 64 elements, then into the double sums
                FloatVector x = FloatVector.fromArray(S, s, so + j).fma(it, mb.neg());
                FloatVector e = exp(x), tt = FloatVector.fromArray(S, t, to + j);
                e.intoArray(p, po + j);
                sv = sv.add(e);
                dv = tt.fma(x, dv);
                tv = tv.add(tt);
            }
            sum += sumInOrder(sv.toArray()); // not reduceLanes: its order may depend on the JIT tier (see sumInOrder)
            dot += sumInOrder(dv.toArray());
            tsum += sumInOrder(tv.toArray());
        }
        for (; j < k; j++) {
            float x = Math.fma(s[so + j], invTemp, -mx), e = exp(x);
            p[po + j] = e;
            sum += e;
            dot += t[to + j] * x;
            tsum += t[to + j];
        }
        scale(p, po, k, (float) (1 / sum));
        return (float) (Math.log(sum) * tsum - dot);
    }

    /** out[i] = exp(x[i] / div - shift) for i < n, in parallel (the vector exp; the tail by its scalar twin). */
    public static void expDivParallel(float[] x, float[] out, int n, float div, float shift) {
        Parallel.forRange(n, 1 << 14, (lo, hi) -> expDiv(x, lo, out, lo, hi - lo, div, shift));
    }

    /** out[oo + i] = exp(x[xo + i] / div − shift) for i < n, on the calling thread. The scalar twin is {@link ScalarOps#expDiv}. */
    public static void expDiv(float[] x, int xo, float[] out, int oo, int n, float div, float shift) {
        int i = 0, ub = S.loopBound(n);
        for (; i < ub; i += L) exp(FloatVector.fromArray(S, x, xo + i).div(div).sub(shift)).intoArray(out, oo + i);
        for (; i < n; i++) out[oo + i] = exp(x[xo + i] / div - shift);
    }

    /** GELU over a large buffer, in parallel. */
    /**
     * GELU as a GEMM {@link Prologue}: the same floats as {@link #gelu} over the whole array (every element goes
     * through the same vector code, a tail through a one-vector copy), wherever a packed run starts.
     */
    public static final Prologue GELU = (row, c0, src, s, dst, d, n) -> {
        System.arraycopy(src, s, dst, d, n);
        gelu(dst, d, n);
    };

    /**
     * LayerNorm as a GEMM {@link Prologue}, from each row's mean and 1/std ({@link #layerNormStats} with no
     * output): the same floats as layerNormStats writes, fma((x − mean)·rstd, w, b) per element.
     */
    public static Prologue layerNorm(float[] mean, float[] rstd, float[] w, float[] b) {
        return (row, c0, src, s, dst, d, n) -> {
            float m = mean[row], rs = rstd[row];
            FloatVector mv = FloatVector.broadcast(S, m), rv = FloatVector.broadcast(S, rs);
            int j = 0, ub = S.loopBound(n);
            for (; j < ub; j += L)
                FloatVector.fromArray(S, src, s + j).sub(mv).mul(rv)
                        .fma(FloatVector.fromArray(S, w, c0 + j), FloatVector.fromArray(S, b, c0 + j)).intoArray(dst, d + j);
            for (; j < n; j++) dst[d + j] = Math.fma((src[s + j] - m) * rs, w[c0 + j], b[c0 + j]);
        };
    }

    public static void geluParallel(float[] a, int off, int n) {
        Parallel.forRange(n, 1 << 14, (lo, hi) -> gelu(a, off + lo, hi - lo));
    }

    /**
     * SwiGLU gating: for each row r, out[r*h + j] = silu(in[r*2h + j]) * in[r*2h + h + j] (x1, x2 = chunk(2) of w12's
     * output).
     */
    public static void siluGate(float[] in, float[] out, int rows, int h) {
        Parallel.forRange(rows, 16, (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int io = r * 2 * h, oo = r * h, j = 0, ub = S.loopBound(h);
                for (; j < ub; j += L) {
                    FloatVector x1 = FloatVector.fromArray(S, in, io + j);
                    FloatVector x2 = FloatVector.fromArray(S, in, io + h + j);
                    FloatVector sig = exp(x1.neg()).add(1f);
                    x1.div(sig).mul(x2).intoArray(out, oo + j);
                }
                for (; j < h; j++) {
                    float x1 = in[io + j];
                    out[oo + j] = x1 / (1 + exp(-x1)) * in[io + h + j];
                }
            }
        });
    }

    /**
     * Fused multi-head attention, softmax(q kᵀ · scale) v, straight from the packed qkv buffer (B·T rows of 3·D:
     * [q heads | k heads | v heads], the layout of the official qkv Linear), writing (B·T, D) with heads
     * concatenated. No per-head Q/K/V tensors are made: a task (image, head) packs that head's keys into key panels
     * and its values into value panels once (both laid out as the GEMM's B micro-panels), then per block of RB query
     * rows packs the queries (as A micro-panels), computes the RB × T scores with the 6 × 2-vector micro-kernel (one
     * key panel stays in L1 across the block) into the layout P·V's kernel reads as A ({@link MicroKernels#kernel6x2Blocked}),
     * exponentiates them in place (max subtracted), multiplies by V (one value panel stays in L1 across the block) and
     * divides each output row by its sum.
     * Reading K and V in place instead, a 4 KiB-strided walk per key, ran ~20% slower.
     */
    public static void attention(float[] qkv, float[] out, int batch, int tokens, int dim, int heads) {
        attention(qkv, out, batch, tokens, dim, heads, false);
    }

    /**
     * {@link #attention} from qkv stored as column panels, as {@link Gemm#linearPanels} writes it: element (row i,
     * column j) at (j / W)·B·T·W + i·W + j % W, W = {@link Gemm#W2}. Each head's queries, keys and values are then
     * read in order rather than one strided row per token. Needs {@link #attentionPanelsFit}.
     */
    public static void attentionPanels(float[] qkv, float[] out, int batch, int tokens, int dim, int heads) {
        if (!attentionPanelsFit(batch * tokens, dim, heads))
            throw new IllegalArgumentException("attentionPanels needs head dims that are multiples of " + MicroKernels.W2
                    + " and at least 6 rows; got dim " + dim + ", " + heads + " heads, " + batch * tokens + " rows");
        attention(qkv, out, batch, tokens, dim, heads, true);
    }

    /** Whether qkv for these shapes can come as column panels ({@link #attentionPanels}, {@link Gemm#linearPanels}). */
    public static boolean attentionPanelsFit(int rows, int dim, int heads) {
        return rows >= 6 && dim % heads == 0 && (dim / heads) % MicroKernels.W2 == 0;
    }

    private static void attention(float[] qkv, float[] out, int batch, int tokens, int dim, int heads, boolean panels) {
        int hd = dim / heads;
        float scale = (float) (1.0 / Math.sqrt(hd));
        Parallel.forEach(batch * heads, task -> attentionHead(qkv, out, task / heads, task % heads, batch, tokens, dim, hd,
                scale, panels));
    }

    /** Query rows per block (a multiple of the 6-row kernel): the block's scores (RB x T) stay in L2 between QKᵀ, softmax and PV. */
    private static final int RB = 66;
    private static final ThreadLocal<float[][]> ATT = ThreadLocal.withInitial(() -> new float[6][0]);

    private static void attentionHead(float[] qkv, float[] out, int b, int h, int B, int T, int D, int hd, float scale,
                                      boolean panels) {
        final int W = 2 * L, ld = 3 * D, base = b * T * ld, pw = B * T * W; // pw: one column panel (panels layout)
        int np = (T + W - 1) / W, tp = np * W, nc = (hd + W - 1) / W;
        float[][] sc = ATT.get();
        if (sc[0].length < np * hd * W) sc[0] = new float[np * hd * W];
        if (sc[1].length < RB * tp) sc[1] = new float[RB * tp];
        if (sc[2].length < nc * T * W) sc[2] = new float[nc * T * W];
        if (sc[3].length < (RB + 5) / 6 * 6 * hd) sc[3] = new float[(RB + 5) / 6 * 6 * hd];
        if (sc[4].length < RB) sc[4] = new float[RB];
        if (sc[5].length < 6 * W) sc[5] = new float[6 * W];
        float[] kp = sc[0], p = sc[1], vp = sc[2], qp = sc[3], inv = sc[4], tile = sc[5];
        int ko = base + D + h * hd, kpo = (D + h * hd) / W * pw + b * T * W; // this head's keys: rows / first panel
        if (panels)
            for (int jb = 0; jb < np; jb++) { // key panel jb as keyPanels lays it out, from W x W blocks (keys x dims)
                int j0 = jb * W, keys = Math.min(W, T - j0), dst = jb * hd * W;
                if (keys < W) Arrays.fill(kp, dst, dst + hd * W, 0f);
                for (int c = 0; c < nc; c++)
                    for (int jj = 0, src = kpo + c * pw + j0 * W, o = dst + c * W * W; jj < keys; jj++, src += W)
                        for (int dd = 0; dd < W; dd++) kp[o + dd * W + jj] = qkv[src + dd];
            }
        else keyPanels(qkv, ko, ld, T, hd, kp);
        // value panels: chunk c holds dims [c·W, c·W + W) of every key as [j][W]; dims past hd are zero. The panels
        // layout already is that: read in place.
        float[] vsrc = vp;
        int vbase = 0, vstride = T * W;
        if (panels) {
            vsrc = qkv;
            vbase = (2 * D + h * hd) / W * pw + b * T * W;
            vstride = pw;
        } else valuePanels(qkv, base + 2 * D + h * hd, ld, T, hd, vp);
        int qpo = h * hd / W * pw + b * T * W; // this head's queries: first panel (panels layout)
        for (int r0 = 0; r0 < T; r0 += RB) {
            int rn = Math.min(RB, T - r0);
            // query block packed as the GEMM's A panels: group g holds rows r0+6g..+5 as [d][6] (last row repeated)
            for (int i0 = 0; i0 < rn; i0 += 6) {
                int rows = Math.min(6, rn - i0), q0 = base + (r0 + i0) * ld + h * hd;
                if (panels)
                    for (int c = 0; c < nc; c++) panel6(qkv, qpo + c * pw + (r0 + i0) * W, W, rows, W, qp, i0 * hd + c * W * 6);
                else panel6(qkv, q0, ld, rows, hd, qp, i0 * hd);
            }
            // scores: the GEMM's 6 x 2-vector micro-kernel on packed Q and K panels, each 6 x W tile stored as one
            // block of group g's [key block][6][W] layout, which P·V's kernel reads as its A panel (no repacking)
            float[] zero = MicroKernels.zeros(W), one = MicroKernels.ones(W);
            for (int jb = 0; jb < np; jb++)
                for (int i0 = 0; i0 < rn; i0 += 6)
                    MicroKernels.kernel6x2(qp, i0 * hd, kp, jb * hd * W, hd, p, i0 * tp + jb * 6 * W, W, false, zero, one, 0);
            // softmax numerators in place; each output row is divided by its sum after P·V
            for (int r = 0; r < rn; r++) inv[r] = 1f / Ops.expRowBlocked(p, r / 6 * 6 * tp + r % 6 * W, T, scale);
            for (int c = 0; c < nc; c++) {
                int d0 = c * W, cols = Math.min(W, hd - d0);
                for (int i0 = 0; i0 < rn; i0 += 6) {
                    int rows = Math.min(6, rn - i0), oo = (b * T + r0 + i0) * D + h * hd + d0;
                    if (rows == 6 && cols == W) {
                        MicroKernels.kernel6x2Blocked(p, i0 * tp, vsrc, vbase + c * vstride, T, out, oo, D);
                        for (int r = 0; r < 6; r++) scale(out, oo + r * D, W, inv[i0 + r]);
                        continue;
                    }
                    MicroKernels.kernel6x2Blocked(p, i0 * tp, vsrc, vbase + c * vstride, T, tile, 0, W);
                    for (int r = 0; r < rows; r++) {
                        float f = inv[i0 + r];
                        for (int d = 0; d < cols; d++) out[oo + r * D + d] = tile[r * W + d] * f;
                    }
                }
            }
        }
    }

    /**
     * Up to six rows of len floats, lda apart from a[s], as a GEMM A panel [len][6] at ap[d] (a short group repeats
     * its last row).
     */
    private static void panel6(float[] a, int s, int lda, int rows, int len, float[] ap, int d) {
        if (rows == 6) {
            MicroKernels.interleave6(a, s, lda, len, ap, d);
            return;
        }
        for (int r = 0; r < 6; r++)
            for (int kk = 0, s0 = s + Math.min(r, rows - 1) * lda; kk < len; kk++) ap[d + kk * 6 + r] = a[s0 + kk];
    }

    /**
     * One head's T rows of hd floats (row j at qkv[o + j·ld]) as the GEMM's B panels for a product with the rows as
     * columns: [key block of W][d][W], written in order; rows past T zero.
     */
    private static void keyPanels(float[] qkv, int o, int ld, int T, int hd, float[] kp) {
        final int W = 2 * L;
        for (int jb = 0, np = (T + W - 1) / W; jb < np; jb++) {
            int j0 = jb * W, keys = Math.min(W, T - j0), dst = jb * hd * W;
            if (keys < W) Arrays.fill(kp, dst, dst + hd * W, 0f);
            for (int d = 0, src = o + j0 * ld; d < hd; d++, src++)
                for (int jj = 0, q = dst + d * W; jj < keys; jj++) kp[q + jj] = qkv[src + jj * ld];
        }
    }

    /**
     * The same rows as value panels, the B panels of a product over the rows: chunk c holds dims [c·W, c·W + W) of
     * every row as [j][W]; dims past hd zero.
     */
    private static void valuePanels(float[] qkv, int o, int ld, int T, int hd, float[] vp) {
        final int W = 2 * L;
        for (int c = 0, nc = (hd + W - 1) / W; c < nc; c++) {
            int d0 = c * W, cols = Math.min(W, hd - d0);
            for (int j = 0; j < T; j++) {
                int src = o + j * ld + d0, dst = (c * T + j) * W;
                if (cols == W) {
                    FloatVector.fromArray(S, qkv, src).intoArray(vp, dst);
                    FloatVector.fromArray(S, qkv, src + L).intoArray(vp, dst + L);
                } else for (int d = 0; d < W; d++) vp[dst + d] = d < cols ? qkv[src + d] : 0f;
            }
        }
    }

    /**
     * The backward of {@link #attention}: from qkv [B·T, 3D] and the output's gradient dOut [B·T, D], adds dQ, dK and
     * dV into g [B·T, 3D] (qkv's layout). Per (image, head) in parallel, the 6 × 2-vector GEMM micro-kernel runs on
     * operands packed once per head: P = softmax(Q Kᵀ · scale) recomputed, dP = dO Vᵀ, dS = P ⊙ (dP − rowsum(dP ⊙ P))
     * · scale, dQ = dS K, dKᵀ = Qᵀ dS, dVᵀ = dOᵀ P. P and dS are kept as key-block column panels, [T/W][T6][W] (T6: T
     * rounded up to 6), which the kernel reads as B for dKᵀ and dVᵀ and as blocked A for dQ: no T × T matrix is
     * transposed or repacked. The scalar twin is {@link ScalarOps#attentionBackward}.
     */
    public static void attentionBackward(float[] qkv, float[] dOut, float[] g, int batch, int tokens, int dim, int heads) {
        int hd = dim / heads;
        if (dim % heads != 0 || qkv.length < batch * tokens * 3 * dim || dOut.length < batch * tokens * dim || g.length < qkv.length)
            throw new IllegalArgumentException("attentionBackward: " + batch + " x " + tokens + " tokens, dim " + dim + ", " + heads + " heads");
        float scale = (float) (1.0 / Math.sqrt(hd));
        Parallel.forEach(batch * heads, task -> attentionHeadBackward(qkv, dOut, g, task / heads, task % heads, tokens, dim, hd, scale));
    }

    private static final ThreadLocal<float[][]> ATT_BACK = ThreadLocal.withInitial(() -> new float[12][0]);

    private static void attentionHeadBackward(float[] qkv, float[] dOut, float[] g, int b, int h, int T, int D, int hd, float scale) {
        final int W = 2 * L, ld = 3 * D, base = b * T * ld, obase = b * T * D;
        final int np = (T + W - 1) / W, tp = np * W, tq = (T + 5) / 6 * 6, nc = (hd + W - 1) / W, ndg = (hd + 5) / 6;
        float[][] sc = ATT_BACK.get();
        int[] need = {tq * hd, tq * hd, np * hd * W, np * hd * W, nc * T * W, ndg * tq * 6, ndg * tq * 6, np * tq * W,
                np * tq * W, ndg * 6 * tp, ndg * 6 * tp, 6 * W};
        for (int i = 0; i < need.length; i++) if (sc[i].length < need[i]) sc[i] = new float[need[i]];
        float[] qa = sc[0], oa = sc[1], kb = sc[2], vb = sc[3], kv = sc[4], qt = sc[5], ot = sc[6], pc = sc[7], ds = sc[8],
                dkt = sc[9], dvt = sc[10], tile = sc[11];
        int q0 = base + h * hd, k0 = base + D + h * hd, v0 = base + 2 * D + h * hd, o0 = obase + h * hd;
        // Q and dO as A panels [group][d][6] (a partial last group repeats its last row); Qᵀ and dOᵀ as A panels
        // [dim group][i][6] (zero past T and past hd)
        for (int i0 = 0; i0 < T; i0 += 6) {
            int rows = Math.min(6, T - i0);
            panel6(qkv, q0 + i0 * ld, ld, rows, hd, qa, i0 * hd);
            panel6(dOut, o0 + i0 * D, D, rows, hd, oa, i0 * hd);
        }
        for (int q = 0; q < ndg; q++) {
            int d0 = q * 6, dn = Math.min(6, hd - d0), dst = q * tq * 6;
            for (int i = 0; i < tq; i++, dst += 6)
                for (int r = 0; r < 6; r++) {
                    boolean in = i < T && r < dn;
                    qt[dst + r] = in ? qkv[q0 + i * ld + d0 + r] : 0f;
                    ot[dst + r] = in ? dOut[o0 + i * D + d0 + r] : 0f;
                }
        }
        // K and V as B panels [key block][d][W keys] (zero past T); K as value panels [dim chunk][key][W dims] (zero past hd)
        keyPanels(qkv, k0, ld, T, hd, kb);
        keyPanels(qkv, v0, ld, T, hd, vb);
        valuePanels(qkv, k0, ld, T, hd, kv);
        float[] zero = MicroKernels.zeros(W), one = MicroKernels.ones(W);
        final int panel = tq * W; // one key block of P or dS: [T6][W]
        // S = Q Kᵀ and dP = dO Vᵀ, 6 x W tiles into the key-block panels
        for (int jb = 0; jb < np; jb++)
            for (int i0 = 0; i0 < tq; i0 += 6) {
                MicroKernels.kernel6x2(qa, i0 * hd, kb, jb * hd * W, hd, pc, jb * panel + i0 * W, W, false, zero, one, 0);
                MicroKernels.kernel6x2(oa, i0 * hd, vb, jb * hd * W, hd, ds, jb * panel + i0 * W, W, false, zero, one, 0);
            }
        // P = softmax(S · scale) and dS = P ⊙ (dP − Σ dP ⊙ P) · scale over each row's first T keys (the padded keys
        // stay 0: their scores and dP are products with zero panels)
        for (int i = 0; i < tq; i++) {
            float inv = 1f / expRowBlocked(pc, i * W, T, scale, panel);
            FloatVector iv = FloatVector.broadcast(S, inv), acc = FloatVector.zero(S);
            int full = T / L, j = 0;
            for (int u = 0; u < full; u++, j += L) {
                int o = (j / W) * panel + i * W + j % W;
                FloatVector pv = FloatVector.fromArray(S, pc, o).mul(iv);
                pv.intoArray(pc, o);
                acc = FloatVector.fromArray(S, ds, o).fma(pv, acc);
            }
            float dot = sumInOrder(acc.toArray());
            for (; j < T; j++) {
                int o = (j / W) * panel + i * W + j % W;
                pc[o] *= inv;
                dot += ds[o] * pc[o];
            }
            FloatVector dv = FloatVector.broadcast(S, dot), sv = FloatVector.broadcast(S, scale);
            j = 0;
            for (int u = 0; u < full; u++, j += L) {
                int o = (j / W) * panel + i * W + j % W;
                FloatVector.fromArray(S, ds, o).sub(dv).mul(FloatVector.fromArray(S, pc, o)).mul(sv).intoArray(ds, o);
            }
            for (; j < T; j++) {
                int o = (j / W) * panel + i * W + j % W;
                ds[o] = (ds[o] - dot) * pc[o] * scale;
            }
        }
        // dQ = dS K: dS read as blocked A (its key blocks one panel apart), K as value panels; added into g
        for (int c = 0; c < nc; c++) {
            int d0 = c * W, cols = Math.min(W, hd - d0);
            for (int i0 = 0; i0 < T; i0 += 6) {
                MicroKernels.kernel6x2Blocked(ds, i0 * W, panel, kv, c * T * W, T, tile, 0, W);
                for (int r = 0, rows = Math.min(6, T - i0); r < rows; r++)
                    for (int d = 0, o = q0 + (i0 + r) * ld + d0; d < cols; d++) g[o + d] += tile[r * W + d];
            }
        }
        // dKᵀ = Qᵀ dS and dVᵀ = dOᵀ P: [dims][keys], the panels read as B over all T6 rows (zero A past T)
        for (int q = 0; q < ndg; q++)
            for (int jb = 0; jb < np; jb++) {
                MicroKernels.kernel6x2(qt, q * tq * 6, ds, jb * panel, tq, dkt, q * 6 * tp + jb * W, tp, false, zero, one, 0);
                MicroKernels.kernel6x2(ot, q * tq * 6, pc, jb * panel, tq, dvt, q * 6 * tp + jb * W, tp, false, zero, one, 0);
            }
        for (int j = 0; j < T; j++) {
            int ko = k0 + j * ld, vo = v0 + j * ld;
            for (int d = 0; d < hd; d++) {
                g[ko + d] += dkt[d * tp + j];
                g[vo + d] += dvt[d * tp + j];
            }
        }
    }

    /**
     * Lanes added first to last. reduceLanes(ADD) may associate differently when compiled than when interpreted, and
     * results must not depend on the JIT tier (bit-identical resumed training).
     */
    static float sumInOrder(float[] lanes) {
        float s = 0;
        for (float v : lanes) s += v;
        return s;
    }

    /**
     * p ← exp((p - max p) · scale) in place over a row of n stored in blocks of W = 2L floats, 6·W apart (a 6-row
     * group's [key block][6][W] layout); returns the sum (the softmax is p / sum). The running maximum is a compare
     * and blend: FloatVector.max's NaN and -0 handling costs five instructions where two do.
     */
    static float expRowBlocked(float[] p, int o, int n, float scale) {
        return expRowBlocked(p, o, n, scale, 12 * L);
    }

    /** {@link #expRowBlocked(float[], int, int, float)} with the row's W-float blocks {@code step} floats apart. */
    static float expRowBlocked(float[] p, int o, int n, float scale, int step) {
        final int W = 2 * L, full = n / W;
        FloatVector mv = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        for (int jb = 0, q = o; jb < full; jb++, q += step) {
            FloatVector v0 = FloatVector.fromArray(S, p, q), v1 = FloatVector.fromArray(S, p, q + L);
            mv = mv.blend(v0, mv.compare(VectorOperators.LT, v0));
            mv = mv.blend(v1, mv.compare(VectorOperators.LT, v1));
        }
        float max = mv.reduceLanes(VectorOperators.MAX);
        int tail = o + full * step;
        for (int j = 0; j < n - full * W; j++) max = Math.max(max, p[tail + j]);
        FloatVector sv = FloatVector.zero(S), mb = FloatVector.broadcast(S, max), sc = FloatVector.broadcast(S, scale);
        for (int jb = 0, q = o; jb < full; jb++, q += step) {
            FloatVector e0 = exp(FloatVector.fromArray(S, p, q).sub(mb).mul(sc));
            e0.intoArray(p, q);
            FloatVector e1 = exp(FloatVector.fromArray(S, p, q + L).sub(mb).mul(sc));
            e1.intoArray(p, q + L);
            sv = sv.add(e0).add(e1);
        }
        float sum = sumInOrder(sv.toArray());
        for (int j = 0; j < n - full * W; j++) {
            float e = exp((p[tail + j] - max) * scale);
            p[tail + j] = e;
            sum += e;
        }
        return sum;
    }
}
