package org.dino4j.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API kernels other than GEMM: LayerNorm, exact-erf GELU, SiLU-gating, fused attention. Each has a scalar
 * twin in {@link ScalarOps} that the tests compare against on awkward shapes.
 */
public final class Ops {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
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
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < d; i++) sum += x[xo + i];
        float mean = sum / d;
        // two-pass variance: as accurate as PyTorch's Welford for these sizes, and simpler
        FloatVector mv = FloatVector.broadcast(S, mean);
        FloatVector vacc = FloatVector.zero(S);
        for (i = 0; i < ub; i += L) {
            FloatVector c = FloatVector.fromArray(S, x, xo + i).sub(mv);
            vacc = c.fma(c, vacc);
        }
        float var = vacc.reduceLanes(VectorOperators.ADD);
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

    // Abramowitz & Stegun 7.1.26, the same formula PyTorch's vectorised CPU erf uses (abs error < 1.5e-7).
    static final float ERF_P = 0.3275911f, A1 = 0.254829592f, A2 = -0.284496736f, A3 = 1.421413741f,
            A4 = -1.453152027f, A5 = 1.061405429f;
    static final float SQRT1_2 = (float) (1 / Math.sqrt(2));

    /** Exact (erf) GELU in place on a[off, off+n): x * 0.5 * (1 + erf(x / sqrt 2)). */
    public static void gelu(float[] a, int off, int n) {
        int i = 0, ub = S.loopBound(n);
        for (; i < ub; i += L) geluAt(a, off + i, S.maskAll(true));
        if (i < n) geluAt(a, off + i, S.indexInRange(i, n));
    }

    /**
     * One vector of GELU, erf inlined by hand: a helper taking or returning vectors would box them whenever C2
     * declines to inline it.
     */
    private static void geluAt(float[] a, int o, VectorMask<Float> m) {
        FloatVector x = FloatVector.fromArray(S, a, o, m);
        FloatVector z = x.mul(SQRT1_2), az = z.abs();
        FloatVector t = FloatVector.broadcast(S, 1f).div(az.fma(ERF_P, 1f));
        FloatVector r = t.fma(A5, A4).fma(t, FloatVector.broadcast(S, A3)).fma(t, FloatVector.broadcast(S, A2))
                .fma(t, FloatVector.broadcast(S, A1));
        FloatVector e = z.mul(z).neg().lanewise(VectorOperators.EXP);
        FloatVector y = t.mul(e).neg().fma(r, FloatVector.broadcast(S, 1f)); // erf(|z|) = 1 - r t exp(-z^2)
        FloatVector erf = y.blend(y.neg(), z.compare(VectorOperators.LT, 0f));
        x.mul(0.5f).mul(erf.add(1f)).intoArray(a, o, m);
    }

    /** GELU over a large buffer, in parallel. */
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
                    FloatVector sig = x1.neg().lanewise(VectorOperators.EXP).add(1f);
                    x1.div(sig).mul(x2).intoArray(out, oo + j);
                }
                for (; j < h; j++) {
                    float x1 = in[io + j];
                    out[oo + j] = (float) (x1 / (1 + Math.exp(-x1))) * in[io + h + j];
                }
            }
        });
    }

    /**
     * Fused multi-head attention, softmax(q kᵀ · scale) v, straight from the packed qkv buffer (B·T rows of 3·D:
     * [q heads | k heads | v heads], the layout of the official qkv Linear), writing (B·T, D) with heads
     * concatenated. No per-head Q/K/V tensors are made: each task takes a block of one head's query rows, computes
     * its scores with the packed GEMM reading Q and K in place (row stride 3·D), turns them into probabilities in
     * place, and multiplies by V (also read in place) straight into the head's columns of the output. Only a
     * (rows × T) score block per thread is materialised, so memory stays bounded at any resolution.
     */
    public static void attention(float[] qkv, float[] out, int batch, int tokens, int dim, int heads) {
        int hd = dim / heads, ld = 3 * dim;
        float scale = (float) (1.0 / Math.sqrt(hd));
        int qBlocks = Math.max(1, (tokens + 127) / 128); // ~128 query rows per task: K packing stays < 1%
        int rowsPer = (tokens + qBlocks - 1) / qBlocks;
        Parallel.forEach(batch * heads * qBlocks, task -> {
            int qb = task % qBlocks, bh = task / qBlocks, h = bh % heads, b = bh / heads;
            int q0 = qb * rowsPer, m = Math.min(tokens, q0 + rowsPer) - q0;
            if (m <= 0) return;
            float[] sc = SCORES.get();
            if (sc.length < m * tokens) SCORES.set(sc = new float[m * tokens]);
            int base = b * tokens * ld;
            Gemm.linearSerial(qkv, base + q0 * ld + h * hd, ld, qkv, base + dim + h * hd, ld, sc, 0, tokens, m, tokens, hd);
            for (int r = 0; r < m; r++) softmaxRow(sc, r * tokens, tokens, scale);
            Gemm.matmulSerial(sc, 0, tokens, qkv, base + 2 * dim + h * hd, ld, out, (b * tokens + q0) * dim + h * hd,
                    dim, m, hd, tokens);
        });
    }

    private static final ThreadLocal<float[]> SCORES = ThreadLocal.withInitial(() -> new float[0]);

    /** p ← softmax(p · scale) in place over p[o, o+n). */
    static void softmaxRow(float[] p, int o, int n, float scale) {
        int j = 0, ub = S.loopBound(n);
        FloatVector mv = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        for (; j < ub; j += L) mv = mv.max(FloatVector.fromArray(S, p, o + j));
        float max = mv.reduceLanes(VectorOperators.MAX);
        for (; j < n; j++) max = Math.max(max, p[o + j]);
        FloatVector sv = FloatVector.zero(S), mb = FloatVector.broadcast(S, max), sc = FloatVector.broadcast(S, scale);
        for (j = 0; j < ub; j += L) {
            FloatVector e = FloatVector.fromArray(S, p, o + j).sub(mb).mul(sc).lanewise(VectorOperators.EXP);
            e.intoArray(p, o + j);
            sv = sv.add(e);
        }
        float sum = sv.reduceLanes(VectorOperators.ADD);
        for (; j < n; j++) {
            float e = (float) Math.exp((p[o + j] - max) * scale);
            p[o + j] = e;
            sum += e;
        }
        FloatVector inv = FloatVector.broadcast(S, 1f / sum);
        for (j = 0; j < ub; j += L) FloatVector.fromArray(S, p, o + j).mul(inv).intoArray(p, o + j);
        float iv = 1f / sum;
        for (; j < n; j++) p[o + j] *= iv;
    }
}
