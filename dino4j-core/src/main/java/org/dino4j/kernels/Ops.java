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

    static FloatVector erf(FloatVector x) {
        FloatVector ax = x.abs();
        FloatVector t = FloatVector.broadcast(S, 1f).div(ax.fma(ERF_P, 1f));
        FloatVector r = t.fma(A5, A4).fma(t, FloatVector.broadcast(S, A3)).fma(t, FloatVector.broadcast(S, A2))
                .fma(t, FloatVector.broadcast(S, A1));
        FloatVector e = x.mul(x).neg().lanewise(VectorOperators.EXP);
        FloatVector y = t.mul(e).neg().fma(r, FloatVector.broadcast(S, 1f)); // 1 - r t exp(-x^2)
        return y.blend(y.neg(), x.compare(VectorOperators.LT, 0f));
    }

    /** Exact (erf) GELU in place on a[off, off+n): x * 0.5 * (1 + erf(x / sqrt 2)). */
    public static void gelu(float[] a, int off, int n) {
        int i = 0, ub = S.loopBound(n);
        for (; i < ub; i += L) geluVec(a, off + i);
        if (i < n) {
            VectorMask<Float> m = S.indexInRange(i, n);
            FloatVector x = FloatVector.fromArray(S, a, off + i, m);
            x.mul(0.5f).mul(erf(x.mul(SQRT1_2)).add(1f)).intoArray(a, off + i, m);
        }
    }

    private static void geluVec(float[] a, int o) {
        FloatVector x = FloatVector.fromArray(S, a, o);
        x.mul(0.5f).mul(erf(x.mul(SQRT1_2)).add(1f)).intoArray(a, o);
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
     * [q heads | k heads | v heads], the layout of the official qkv Linear). Writes (B·T, D) with heads concatenated.
     * No per-head Q/K/V tensors are made: each task transposes one head's K into a per-thread tile (so the score
     * loop runs along keys in vector lanes) and reads Q and V in place.
     */
    public static void attention(float[] qkv, float[] out, int batch, int tokens, int dim, int heads) {
        int hd = dim / heads;
        float scale = (float) (1.0 / Math.sqrt(hd));
        // a task = (image, head, block of query rows): enough tasks to balance at batch 1 too
        int qBlock = 64;
        int qBlocks = (tokens + qBlock - 1) / qBlock;
        Parallel.forEach(batch * heads * qBlocks, task -> {
            int qb = task % qBlocks, bh = task / qBlocks, h = bh % heads, b = bh / heads;
            Scratch sc = Scratch.get(tokens, hd);
            attentionTask(qkv, out, b, h, qb * qBlock, Math.min(tokens, (qb + 1) * qBlock), tokens, dim, hd, scale, sc);
        });
    }

    static final class Scratch {
        private static final ThreadLocal<Scratch> TL = ThreadLocal.withInitial(Scratch::new);
        float[] kt = new float[0];
        float[] p = new float[0];
        int ktB = -1, ktH = -1, ktOwnerTokens = -1;
        float[] ktSrc;

        static Scratch get(int tokens, int hd) {
            Scratch s = TL.get();
            int tp = (tokens + L - 1) / L * L; // pad rows of kᵀ to whole vectors
            if (s.kt.length < hd * tp) s.kt = new float[hd * tp];
            if (s.p.length < 4 * tp) s.p = new float[4 * tp];
            return s;
        }
    }

    private static void attentionTask(float[] qkv, float[] out, int b, int h, int q0, int q1, int T, int D, int hd,
                                      float scale, Scratch sc) {
        int ld = 3 * D, tp = (T + L - 1) / L * L;
        int base = b * T * ld;
        float[] kt = sc.kt;
        // kᵀ for this (image, head), reused when the same thread gets the next query block of the same head
        if (sc.ktSrc != qkv || sc.ktB != b || sc.ktH != h || sc.ktOwnerTokens != T) {
            int ko = base + D + h * hd;
            for (int j = 0; j < T; j++) {
                int src = ko + j * ld;
                for (int d = 0; d < hd; d++) kt[d * tp + j] = qkv[src + d];
            }
            for (int d = 0; d < hd; d++) for (int j = T; j < tp; j++) kt[d * tp + j] = 0f;
            sc.ktSrc = qkv;
            sc.ktB = b;
            sc.ktH = h;
            sc.ktOwnerTokens = T;
        }
        float[] p = sc.p;
        int qo = base + h * hd, vo = base + 2 * D + h * hd;
        for (int i = q0; i < q1; i += 4) {
            int rows = Math.min(4, q1 - i);
            scores(qkv, qo + i * ld, ld, rows, kt, tp, hd, p, scale);
            float i0 = softmaxRow(p, 0, T);
            float i1 = rows > 1 ? softmaxRow(p, tp, T) : 0f;
            float i2 = rows > 2 ? softmaxRow(p, 2 * tp, T) : 0f;
            float i3 = rows > 3 ? softmaxRow(p, 3 * tp, T) : 0f;
            int oo = (b * T + i) * D + h * hd;
            for (int d0 = 0; d0 < hd; d0 += 2 * L) pv(qkv, vo + d0, ld, p, tp, T, rows, Math.min(2 * L, hd - d0),
                    out, oo + d0, D, i0, i1, i2, i3);
        }
    }

    /**
     * out[r, 0..w) = inv_r · Σ_j p[r, j] · V[j, 0..w) for up to 4 rows and a slice of up to 2 vectors of the head
     * dimension: 8 accumulators, each V load feeds 4 FMAs.
     */
    private static void pv(float[] qkv, int vo, int ld, float[] p, int tp, int T, int rows, int w, float[] out, int oo,
                           int D, float i0, float i1, float i2, float i3) {
        VectorMask<Float> m0 = S.indexInRange(0, w), m1 = S.indexInRange(L, w);
        FloatVector a0 = FloatVector.zero(S), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, e0 = a0, e1 = a0;
        boolean two = w > L;
        if (w == 2 * L) {
            for (int j = 0; j < T; j++) {
                FloatVector v0 = FloatVector.fromArray(S, qkv, vo + j * ld);
                FloatVector v1 = FloatVector.fromArray(S, qkv, vo + j * ld + L);
                FloatVector p0 = FloatVector.broadcast(S, p[j]), p1 = FloatVector.broadcast(S, p[tp + j]),
                        p2 = FloatVector.broadcast(S, p[2 * tp + j]), p3 = FloatVector.broadcast(S, p[3 * tp + j]);
                a0 = v0.fma(p0, a0); a1 = v1.fma(p0, a1);
                b0 = v0.fma(p1, b0); b1 = v1.fma(p1, b1);
                c0 = v0.fma(p2, c0); c1 = v1.fma(p2, c1);
                e0 = v0.fma(p3, e0); e1 = v1.fma(p3, e1);
            }
        } else { // head-dim tail: masked loads (an all-false mask loads nothing)
            for (int j = 0; j < T; j++) {
                FloatVector v0 = FloatVector.fromArray(S, qkv, vo + j * ld, m0);
                FloatVector v1 = FloatVector.fromArray(S, qkv, vo + j * ld + L, m1);
                FloatVector p0 = FloatVector.broadcast(S, p[j]), p1 = FloatVector.broadcast(S, p[tp + j]),
                        p2 = FloatVector.broadcast(S, p[2 * tp + j]), p3 = FloatVector.broadcast(S, p[3 * tp + j]);
                a0 = v0.fma(p0, a0); a1 = v1.fma(p0, a1);
                b0 = v0.fma(p1, b0); b1 = v1.fma(p1, b1);
                c0 = v0.fma(p2, c0); c1 = v1.fma(p2, c1);
                e0 = v0.fma(p3, e0); e1 = v1.fma(p3, e1);
            }
        }
        store(a0, a1, i0, out, oo, m0, m1, two);
        if (rows > 1) store(b0, b1, i1, out, oo + D, m0, m1, two);
        if (rows > 2) store(c0, c1, i2, out, oo + 2 * D, m0, m1, two);
        if (rows > 3) store(e0, e1, i3, out, oo + 3 * D, m0, m1, two);
    }

    private static void store(FloatVector x0, FloatVector x1, float inv, float[] out, int o, VectorMask<Float> m0,
                              VectorMask<Float> m1, boolean two) {
        x0.mul(inv).intoArray(out, o, m0);
        if (two) x1.mul(inv).intoArray(out, o + L, m1);
    }

    /**
     * p[r*tp + j] = scale · q_r · k_j for 4 query rows, keys in vector lanes (kᵀ padded to tp). Rows past
     * {@code rows} repeat row 0: the loop stays branch-free so C2 keeps every vector in a register.
     */
    private static void scores(float[] qkv, int qo, int ld, int rows, float[] kt, int tp, int hd, float[] p, float scale) {
        int o1 = rows > 1 ? qo + ld : qo, o2 = rows > 2 ? qo + 2 * ld : qo, o3 = rows > 3 ? qo + 3 * ld : qo;
        FloatVector sv = FloatVector.broadcast(S, scale);
        for (int j = 0; j < tp; j += L) {
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
            for (int d = 0; d < hd; d++) {
                FloatVector k = FloatVector.fromArray(S, kt, d * tp + j);
                a0 = k.fma(FloatVector.broadcast(S, qkv[qo + d]), a0);
                a1 = k.fma(FloatVector.broadcast(S, qkv[o1 + d]), a1);
                a2 = k.fma(FloatVector.broadcast(S, qkv[o2 + d]), a2);
                a3 = k.fma(FloatVector.broadcast(S, qkv[o3 + d]), a3);
            }
            a0.mul(sv).intoArray(p, j);
            a1.mul(sv).intoArray(p, tp + j);
            a2.mul(sv).intoArray(p, 2 * tp + j);
            a3.mul(sv).intoArray(p, 3 * tp + j);
        }
    }

    /** exp(p - max) in place over p[o, o+n); returns 1/sum. */
    private static float softmaxRow(float[] p, int o, int n) {
        int j = 0, ub = S.loopBound(n);
        FloatVector mv = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        for (; j < ub; j += L) mv = mv.max(FloatVector.fromArray(S, p, o + j));
        float max = mv.reduceLanes(VectorOperators.MAX);
        for (; j < n; j++) max = Math.max(max, p[o + j]);
        FloatVector sv = FloatVector.zero(S);
        FloatVector mb = FloatVector.broadcast(S, max);
        for (j = 0; j < ub; j += L) {
            FloatVector e = FloatVector.fromArray(S, p, o + j).sub(mb).lanewise(VectorOperators.EXP);
            e.intoArray(p, o + j);
            sv = sv.add(e);
        }
        float sum = sv.reduceLanes(VectorOperators.ADD);
        for (; j < n; j++) {
            float e = (float) Math.exp(p[o + j] - max);
            p[o + j] = e;
            sum += e;
        }
        return 1f / sum;
    }
}
