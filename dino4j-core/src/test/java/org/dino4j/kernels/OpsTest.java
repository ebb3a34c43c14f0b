package org.dino4j.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.dino4j.kernels.FloatBounds.EXP_REL;
import static org.dino4j.kernels.FloatBounds.U;
import static org.dino4j.kernels.FloatBounds.anyOrder;
import static org.dino4j.kernels.FloatBounds.assertWithin;
import static org.dino4j.kernels.FloatBounds.chunkedSum;
import static org.dino4j.kernels.FloatBounds.gamma;
import static org.dino4j.kernels.FloatBounds.rowSum;

import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/**
 * Each Vector API kernel against its scalar twin on awkward shapes (1 row, 1 column, non-multiples of 16), each
 * element held to the rounding bound of the kernel's arithmetic at the lane count in force ({@link FloatBounds}; the
 * build runs this class at 256 and 512 bits too). The bounds are first order in u: the terms they leave out are under
 * n·u of those they keep, covered by the 1 % margin of {@link FloatBounds#assertWithin}.
 */
class OpsTest {
    static final int L = Ops.L;

    static float[] rand(SplittableRandom r, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextGaussian() * scale);
        return a;
    }

    static double sumAbs(float[] x, int o, int n) {
        double s = 0;
        for (int j = 0; j < n; j++) s += Math.abs(x[o + j]);
        return s;
    }

    /**
     * Rounding of erf's rational approximation z·P(z²)/Q(z²) evaluated two ways, by fma (the vector kernels: one
     * rounding a Horner step) and by multiply and add (ScalarOps.erf: two): their difference at z, from the
     * absolute-value polynomials (Higham §5.1); z and z² are the same floats on both sides.
     */
    static double erfTwinsDiff(float z) {
        float c = Math.min(Math.max(z, -Ops.ERF_CLAMP), Ops.ERF_CLAMP);
        double z2 = (double) c * c, az = Math.abs(c);
        double[] ea = {Ops.EA1, Ops.EA3, Ops.EA5, Ops.EA7, Ops.EA9, Ops.EA11, Ops.EA13}, eb = {Ops.EB0, Ops.EB2, Ops.EB4, Ops.EB6, Ops.EB8};
        double num = 0, numAbs = 0, den = 0, denAbs = 0;
        for (int i = ea.length - 1; i >= 0; i--) { num = num * z2 + ea[i]; numAbs = numAbs * z2 + Math.abs(ea[i]); }
        for (int i = eb.length - 1; i >= 0; i--) { den = den * z2 + eb[i]; denAbs = denAbs * z2 + Math.abs(eb[i]); }
        num *= c;
        numAbs *= az;
        if (num == 0) return 0;
        // numerator: 6 fma steps + the product by z against 12 + 1 roundings; denominator 4 against 8; one division each
        double rel = gamma(7 + 13) * numAbs / Math.abs(num) + gamma(4 + 8) * denAbs / Math.abs(den) + 2 * U;
        return Math.abs(num / den) * rel;
    }

    @Test
    void layerNormMatchesScalar() {
        SplittableRandom r = new SplittableRandom(1);
        for (int[] s : new int[][] {{1, 1}, {1, 17}, {3, 16}, {5, 33}, {257, 384}, {2, 1000}}) {
            int rows = s[0], d = s[1];
            float[] x = rand(r, rows * d + 3, 2), w = rand(r, d, 1), b = rand(r, d, 1);
            for (int i = 0; i < x.length; i++) x[i] += 5; // an offset mean stresses the variance
            float[] a = new float[rows * d + 5], c = new float[rows * d + 5];
            Ops.layerNorm(x, 3, a, 5, rows, d, w, b, 1e-6f);
            ScalarOps.layerNorm(x, 3, c, 5, rows, d, w, b, 1e-6f);
            double[] tol = new double[c.length];
            for (int i = 0; i < rows; i++) layerNormRowBound(x, 3 + i * d, d, w, b, 1e-6f, rowSum(d, L), tol, 5 + i * d);
            assertWithin(c, a, tol, "layerNorm " + rows + "x" + d);
        }
    }

    /**
     * Bound of a LayerNorm row computed in float (mean with a float chain of {@code chain} additions, then the
     * two-pass variance on the rounded mean) against the exact one. Mean: |Δm| ≤ γ(chain+1)·mean|x|; each x − m̂ off
     * by Δm plus its rounding; the variance off by Σ(2|c|Δc + Δc²)/d plus its own chain; rstd by half the variance's
     * relative error and two roundings; the output (x − m)·rstd·w + b by all of these and two roundings, and the
     * scalar twin's final rounding.
     */
    static void layerNormRowBound(float[] x, int xo, int d, float[] w, float[] b, float eps, int chain, double[] tol, int to) {
        double mean = 0, sAbs = sumAbs(x, xo, d) / d;
        for (int i = 0; i < d; i++) mean += x[xo + i];
        mean /= d;
        double em = gamma(chain + 1) * sAbs, var = 0, ev = 0, cAbs2 = 0;
        for (int i = 0; i < d; i++) {
            double c = x[xo + i] - mean, ec = em + U * (Math.abs(c) + em);
            var += c * c;
            ev += 2 * Math.abs(c) * ec + ec * ec;
            cAbs2 += (Math.abs(c) + ec) * (Math.abs(c) + ec);
        }
        var /= d;
        ev = (ev + gamma(chain + 2) * cAbs2) / d;
        double r = 1 / Math.sqrt(var + eps), er = 0.5 * ev / (var + eps) + 3 * U;
        for (int i = 0; i < d; i++) {
            double c = x[xo + i] - mean, ec = em + U * (Math.abs(c) + em), aw = Math.abs(w[i]);
            double out = c * r * w[i] + b[i];
            tol[to + i] = aw * r * (ec + Math.abs(c) * er + ec * er) + 2 * U * (Math.abs(c * r * w[i]) + Math.abs(b[i])) + U * Math.abs(out);
        }
    }

    @Test
    void layerNormOfConstantRowIsBias() {
        float[] x = {2, 2, 2, 2, 2}, w = {1, 1, 1, 1, 1}, b = {0.5f, -1, 0, 3, 7}, o = new float[5];
        Ops.layerNorm(x, 0, o, 0, 1, 5, w, b, 1e-6f);
        assertArrayEquals(b, o); // the sum 10 and the mean 2 are exact, every x − mean is 0: exactly b
    }

    @Test
    void geluMatchesScalarAndErf() {
        SplittableRandom r = new SplittableRandom(2);
        for (int n : new int[] {1, 15, 16, 17, 100, 1031}) {
            float[] x = rand(r, n, 3), a = x.clone(), c = x.clone();
            Ops.gelu(a, 0, n);
            ScalarOps.gelu(c, 0, n);
            // x/2·(1 + erf): x/2 exact; the erfs differ by their evaluations; fma(erf, x/2, x/2) rounds once, the
            // twin's 1 + erf and its product once each
            double[] tol = new double[n];
            for (int i = 0; i < n; i++) {
                double hx = Math.abs(x[i] * 0.5), e = erfSeries(x[i] / Math.sqrt(2));
                tol[i] = hx * (erfTwinsDiff(x[i] * Ops.SQRT1_2) + U * Math.abs(1 + e)) + 2 * U * hx * Math.abs(1 + e);
            }
            assertWithin(c, a, tol, "gelu n=" + n);
            // against the exact definition computed with a high-precision erf series
            for (int i = 0; i < n; i++) {
                double exact = x[i] * 0.5 * (1 + erfSeries(x[i] / Math.sqrt(2)));
                assertEquals(exact, a[i], 1e-6 * Math.max(1, Math.abs(x[i])), "gelu(" + x[i] + ")");
            }
        }
        // the tails, around erf's clamp at |x/sqrt 2| = 4, and tiny inputs
        float[] x = {0f, 1e-3f, -1e-3f, 2.5f, -2.5f, 5.6f, -5.6f, 5.7f, -5.7f, 6f, -6f, 10f, -10f, 100f, -100f, 0.7f};
        float[] a = x.clone(), c = x.clone();
        Ops.gelu(a, 0, x.length);
        ScalarOps.gelu(c, 0, x.length);
        for (int i = 0; i < x.length; i++) {
            double exact = x[i] * 0.5 * (1 + erfSeries(x[i] / Math.sqrt(2)));
            assertEquals(exact, a[i], 1e-6 * Math.max(1, Math.abs(x[i])), "gelu(" + x[i] + ")");
            assertEquals(exact, c[i], 1e-6 * Math.max(1, Math.abs(x[i])), "scalar gelu(" + x[i] + ")");
        }
    }

    /** erf by its Taylor series (|x| < 3) or continued fraction tail: an independent reference. */
    static double erfSeries(double x) {
        double ax = Math.abs(x);
        if (ax > 5) return Math.signum(x);
        double sum = 0, term = ax;
        for (int n = 0; n < 200; n++) {
            sum += term / (2 * n + 1);
            term *= -ax * ax / (n + 1);
        }
        return Math.signum(x) * 2 / Math.sqrt(Math.PI) * sum;
    }

    @Test
    void siluGateMatchesScalar() {
        SplittableRandom r = new SplittableRandom(3);
        for (int[] s : new int[][] {{1, 1}, {3, 17}, {7, 176}, {2, 1024}}) {
            float[] in = rand(r, s[0] * 2 * s[1], 2), a = new float[s[0] * s[1]], c = new float[s[0] * s[1]];
            Ops.siluGate(in, a, s[0], s[1]);
            ScalarOps.siluGate(in, c, s[0], s[1]);
            // x1/(1 + e^-x1)·x2: exp's error damped by e/(1 + e); 1 +, /, · round once each, the twin's cast and · too
            double[] tol = new double[c.length];
            for (int r0 = 0; r0 < s[0]; r0++)
                for (int j = 0; j < s[1]; j++) {
                    double x1 = in[r0 * 2 * s[1] + j], e = Math.exp(-x1), out = x1 / (1 + e) * in[r0 * 2 * s[1] + s[1] + j];
                    tol[r0 * s[1] + j] = Math.abs(out) * (EXP_REL * e / (1 + e) + 5 * U);
                }
            assertWithin(c, a, tol, "siluGate " + s[0] + "x" + s[1]);
        }
    }

    @Test
    void expVectorIsItsScalarTwinAndCloseToMathExp() {
        var sp = Ops.S;
        SplittableRandom r = new SplittableRandom(7);
        float[] x = new float[4096];
        float[] edges = {0f, -0f, 1f, -1f, 88.37626f, 88.5f, 200f, -87.33655f, -87.4f, -104f, -1000f,
                Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, Float.MIN_VALUE, 1e-30f};
        System.arraycopy(edges, 0, x, 0, edges.length);
        for (int i = edges.length; i < x.length; i++) x[i] = (float) (r.nextDouble(-90, 90));
        float[] v = new float[x.length];
        for (int i = 0; i < x.length; i += sp.length())
            Ops.exp(jdk.incubator.vector.FloatVector.fromArray(sp, x, i)).intoArray(v, i);
        for (int i = 0; i < x.length; i++) {
            float s = Ops.exp(x[i]);
            assertEquals(Float.floatToRawIntBits(s), Float.floatToRawIntBits(v[i]), "exp(" + x[i] + ") lanes differ from the scalar twin");
            double want = Math.exp(Math.min(Math.max(x[i], Ops.EXP_LO), Ops.EXP_HI));
            if (Float.isNaN(x[i])) assertTrue(Float.isNaN(s));
            else assertEquals(want, s, 4e-7 * want, "exp(" + x[i] + ")");
        }
    }

    @Test
    void geluBackwardMatchesScalar() {
        SplittableRandom r = new SplittableRandom(11);
        for (int n : new int[] {1, 7, 33, 40_000}) {
            float[] x = rand(r, n, 2.5), dy = rand(r, n, 1), g0 = rand(r, n, 1);
            if (n > 10) { x[0] = 100f; x[1] = -100f; x[2] = 5.7f; x[3] = -5.7f; x[4] = 0f; }
            float[] a = g0.clone(), c = g0.clone();
            Ops.geluBackward(x, dy, a, n);
            ScalarOps.geluBackward(x, dy, c, n);
            // dy·(Φ + x·φ) + g: Φ = (1 + erf)/2 by the two erf evaluations and two roundings; φ = exp(−x²/2)/√2π with
            // exp's error, x²'s rounding moved into the exponent and two roundings (at least 2^-126: exp's floor);
            // fma(x, φ, Φ) and fma(dy, d, g) once each; the twin's cast and add
            double[] tol = new double[n];
            for (int i = 0; i < n; i++) {
                double z = x[i], pdf = Math.max(Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI), 0x1p-126);
                double cdf = 0.5 * (1 + erfSeries(z / Math.sqrt(2))), d = cdf + z * pdf;
                double ed = 0.5 * erfTwinsDiff(x[i] * Ops.SQRT1_2) + 2 * U * cdf
                        + Math.abs(z) * pdf * (EXP_REL + U * z * z / 2 + 3 * U) + U * Math.abs(d);
                tol[i] = Math.abs(dy[i]) * ed + 3 * U * (Math.abs(g0[i]) + Math.abs(dy[i] * d));
            }
            assertWithin(c, a, tol, "geluBackward n=" + n);
            // the GELU prologue, in runs of any start and length: the floats of Ops.gelu over the whole array
            float[] whole = x.clone(), runs = new float[n];
            Ops.gelu(whole, 0, n);
            for (int i = 0; i < n; ) {
                int len = Math.min(n - i, 1 + r.nextInt(50));
                Ops.GELU.apply(0, i, x, i, runs, i, len);
                i += len;
            }
            assertArrayEquals(whole, runs);
            // stored in place of dy (accumulate false): the added terms alone, as into zeros
            float[] inPlace = dy.clone(), z = new float[n];
            Ops.geluBackward(x, inPlace, inPlace, n, false);
            Ops.geluBackward(x, dy, z, n);
            for (int i = 0; i < n; i++) assertEquals(z[i], inPlace[i], 0f, "in place " + i);
        }
        // a tail shorter than a vector goes through the same vector code: the first 5 of 5 equal the first 5 of 64
        float[] x = rand(r, 64, 2.5), dy = rand(r, 64, 1), g5 = new float[5], g64 = new float[64];
        Ops.geluBackward(x, dy, g5, 5);
        Ops.geluBackward(x, dy, g64, 64);
        for (int i = 0; i < 5; i++) assertEquals(g64[i], g5[i], 0f, "tail " + i);
        // d/dx GELU at 0 is 1/2; at large |x| it tends to 1 (x > 0) and 0 (x < 0)
        float[] g = new float[3];
        Ops.geluBackward(new float[] {0f, 30f, -30f}, new float[] {1f, 1f, 1f}, g, 3);
        assertEquals(0.5f, g[0], 1e-7);
        assertEquals(1f, g[1], 1e-6);
        assertEquals(0f, g[2], 1e-6);
    }

    @Test
    void expDivMatchesScalar() {
        SplittableRandom r = new SplittableRandom(16);
        for (int n : new int[] {1, 7, 64, 1001}) {
            float[] x = rand(r, n + 1, 0.3), a = new float[n + 2], c = new float[n + 2];
            Ops.expDiv(x, 1, a, 2, n, 0.07f, 1.5f);
            ScalarOps.expDiv(x, 1, c, 2, n, 0.07f, 1.5f);
            // x/div rounds alike on both sides; − shift rounds in float (|arg|·u, moved into the result's relative
            // error); exp's own error; the twin's cast
            double[] tol = new double[n + 2];
            for (int i = 0; i < n; i++) {
                double arg = (double) (x[1 + i] / 0.07f) - 1.5f;
                tol[2 + i] = Math.exp(arg) * (EXP_REL + U * Math.abs(arg) + 2 * U);
            }
            assertWithin(c, a, tol, "expDiv n=" + n);
            assertEquals(0f, a[0]);
        }
    }

    @Test
    void addColumnSumsMatchesScalar() {
        SplittableRandom r = new SplittableRandom(17);
        for (int[] s : new int[][] {{1, 1}, {3, 7}, {65, 8}, {130, 9}, {200, 384}, {64, 1537}}) {
            int rows = s[0], n = s[1];
            float[] x = rand(r, rows * n, 1), g0 = rand(r, n, 1), a = g0.clone(), c = g0.clone();
            Ops.addColumnSums(x, rows, n, a);
            ScalarOps.addColumnSums(x, rows, n, c);
            assertWithin(c, a, columnSumBound(x, null, null, 1, rows, n, g0), "addColumnSums " + rows + "x" + n);
            // products with per-group scales (LayerScale through DropPath: groups of 2 rows, one group dropped)
            float[] y = rand(r, rows * n, 1), sc = new float[(rows + 1) / 2];
            for (int i = 0; i < sc.length; i++) sc[i] = i == 1 ? 0f : 1.25f;
            float[] a2 = g0.clone(), c2 = g0.clone();
            Ops.addColumnSums(x, y, sc, 2, rows, n, a2);
            ScalarOps.addColumnSums(x, y, sc, 2, rows, n, c2);
            assertWithin(c2, a2, columnSumBound(x, y, sc, 2, rows, n, g0), "addColumnSums scaled " + rows + "x" + n);
        }
    }

    /**
     * A column summed in row order in float over blocks of 64 rows (terms x·s·y: two roundings), the blocks in double
     * (one), cast and added to g (one each side).
     */
    static double[] columnSumBound(float[] x, float[] y, float[] sc, int per, int rows, int n, float[] g0) {
        double[] tol = new double[n];
        for (int j = 0; j < n; j++) {
            double t = 0, v = 0;
            for (int i = 0; i < rows; i++) {
                double term = (double) x[i * n + j] * (y == null ? 1 : y[i * n + j]) * (sc == null ? 1 : sc[i / per]);
                t += Math.abs(term);
                v += term;
            }
            tol[j] = gamma(Math.min(64, rows) + 3) * t + 2 * U * (Math.abs(g0[j]) + Math.abs(v));
        }
        return tol;
    }

    @Test
    void sinkhornRowMatchesScalar() {
        SplittableRandom r = new SplittableRandom(18);
        for (int k : new int[] {1, 7, 64, 1001}) {
            float[] q = new float[k + 3], col = new float[k], next = new float[k];
            for (int j = 0; j < k; j++) {
                q[3 + j] = (float) r.nextDouble() + 0.01f;
                col[j] = (float) r.nextDouble() + 0.5f;
                next[j] = (float) r.nextDouble();
            }
            for (boolean last : new boolean[] {false, true}) {
                float[] qa = q.clone(), qc = q.clone(), na = next.clone(), nc = next.clone();
                Ops.sinkhornRow(qa, 3, k, col, k, 5f, last ? null : na);
                ScalarOps.sinkhornRow(qc, 3, k, col, k, 5f, last ? null : nc);
                // q/col/kf: the same float divisions on both sides. The row's sum s (positive terms): the kernel's
                // chunked float chain against the twin's double one, each cast to float; then /s/bf (·bf) rounds two
                // (three) times a side. next += q: the differences in q plus one rounding a side
                double ds = gamma(chunkedSum(k, L)) + 2 * U;
                double[] tq = new double[k + 3], tn = new double[k];
                for (int j = 0; j < k; j++) {
                    tq[3 + j] = Math.abs(qc[3 + j]) * (ds + 6 * U);
                    tn[j] = last ? 0 : Math.abs(qc[3 + j]) * (ds + 4 * U) + 2 * U * Math.abs(nc[j]);
                }
                assertWithin(qc, qa, tq, "sinkhornRow k=" + k + " last=" + last);
                assertWithin(nc, na, tn, "sinkhornRow next k=" + k);
                double s = 0;
                for (int j = 3; j < k + 3; j++) s += qa[j];
                assertEquals(last ? 1.0 : 0.2, s, 1e-5, "the row sums to 1 / bf, or to 1 once multiplied back");
            }
        }
    }

    @Test
    void layerNormStatsAndBackwardMatchScalar() {
        SplittableRandom r = new SplittableRandom(19);
        for (int[] s : new int[][] {{1, 1}, {3, 7}, {17, 64}, {40, 384}, {70, 1001}}) {
            int rows = s[0], c = s[1];
            float[] x = rand(r, rows * c, 2), w = rand(r, c, 1), b = rand(r, c, 1), dy = rand(r, rows * c, 1);
            for (int i = 0; i < x.length; i++) x[i] += 3f; // an offset, as activations have
            float[] oa = new float[x.length], oc = new float[x.length], ma = new float[rows], mc = new float[rows], ra = new float[rows], rc = new float[rows];
            Ops.layerNormStats(x, oa, rows, c, w, b, 1e-6f, ma, ra);
            ScalarOps.layerNormStats(x, oc, rows, c, w, b, 1e-6f, mc, rc);
            // as layerNormRowBound with the chunked sums (float lanes over 64, chunks in double), plus the casts of
            // mean and rstd to float on both sides
            double[] to = new double[x.length], tm = new double[rows], tr = new double[rows];
            int chain = chunkedSum(c, L);
            for (int i = 0; i < rows; i++) {
                layerNormRowBound(x, i * c, c, w, b, 1e-6f, chain, to, i * c);
                double m = 0, v = 0;
                for (int j = 0; j < c; j++) m += x[i * c + j];
                m /= c;
                for (int j = 0; j < c; j++) v += (x[i * c + j] - m) * (x[i * c + j] - m);
                double em = gamma(chain + 1) * sumAbs(x, i * c, c) / c, ev = 0, cAbs2 = 0;
                for (int j = 0; j < c; j++) {
                    double d = Math.abs(x[i * c + j] - m), ed = em + U * (d + em);
                    ev += 2 * d * ed + ed * ed;
                    cAbs2 += (d + ed) * (d + ed);
                }
                ev = (ev + gamma(chain + 3) * cAbs2) / c;
                tm[i] = em + 2 * U * Math.abs(m);
                tr[i] = rc[i] * (0.5 * ev / (v / c + 1e-6f) + 3 * U);
            }
            assertWithin(oc, oa, to, "layerNormStats out " + rows + "x" + c);
            assertWithin(mc, ma, tm, "layerNormStats mean " + rows + "x" + c);
            assertWithin(rc, ra, tr, "layerNormStats rstd " + rows + "x" + c);
            // statistics only, then the rows made by the LayerNorm prologue in runs of any start and length: the same
            // floats as the written rows
            float[] ms = new float[rows], rs = new float[rows], pro = new float[x.length];
            Ops.layerNormStats(x, null, rows, c, w, b, 1e-6f, ms, rs);
            assertArrayEquals(ma, ms);
            assertArrayEquals(ra, rs);
            Prologue ln = Ops.layerNorm(ms, rs, w, b);
            for (int i = 0; i < rows; i++)
                for (int c0 = 0; c0 < c; ) {
                    int len = Math.min(c - c0, 1 + r.nextInt(40));
                    ln.apply(i, c0, x, i * c + c0, pro, i * c + c0, len);
                    c0 += len;
                }
            assertArrayEquals(oa, pro);
            float[] g0 = rand(r, x.length, 1), ga = g0.clone(), gc = g0.clone(), wa0 = rand(r, c, 1), wa = wa0.clone(), wc = wa0.clone(),
                    ba0 = rand(r, c, 1), ba = ba0.clone(), bc = ba0.clone();
            Ops.layerNormBackward(x, dy, w, mc, rc, rows, c, ga, wa, ba);
            ScalarOps.layerNormBackward(x, dy, w, mc, rc, rows, c, gc, wc, bc);
            layerNormBackwardBounds(x, dy, w, mc, rc, rows, c, g0, wa0, ba0, ga, gc, wa, wc, ba, bc);
        }
    }

    /**
     * layerNormBackward against its double twin. Per row: x̂ = (x − mean)·rstd (two roundings), dx̂ = dy·w (one); m1 =
     * Σdx̂/c and m2 = Σdx̂·x̂/c by one float chain a lane over the row; dx += ((dx̂ − m1) − x̂·m2)·rstd (four
     * roundings; the twin's cast and add two). dw, db: float chains down each chunk of rows (x̂'s two roundings and
     * an fma a term), the chunks in double, cast and added on both sides.
     */
    static void layerNormBackwardBounds(float[] x, float[] dy, float[] w, float[] mean, float[] rstd, int rows, int c,
                                        float[] g0, float[] w0, float[] b0, float[] ga, float[] gc, float[] wa, float[] wc,
                                        float[] ba, float[] bc) {
        double[] tg = new double[x.length], tw = new double[c], tb = new double[c], sw = new double[c], sb = new double[c];
        double[] vw = new double[c], vb = new double[c];
        int chain = rowSum(c, L) + 4;
        for (int i = 0; i < rows; i++) {
            double m1 = 0, m2 = 0, a1 = 0, a2 = 0, rs = rstd[i];
            for (int j = 0; j < c; j++) {
                double xh = (x[i * c + j] - (double) mean[i]) * rs, dxh = (double) dy[i * c + j] * w[j];
                m1 += dxh;
                m2 += dxh * xh;
                a1 += Math.abs(dxh);
                a2 += Math.abs(dxh * xh);
                sw[j] += Math.abs(dy[i * c + j] * xh);
                sb[j] += Math.abs(dy[i * c + j]);
                vw[j] += dy[i * c + j] * xh;
                vb[j] += dy[i * c + j];
            }
            m1 /= c;
            m2 /= c;
            double e1 = gamma(chain) * a1 / c + U * Math.abs(m1), e2 = gamma(chain) * a2 / c + U * Math.abs(m2);
            for (int j = 0; j < c; j++) {
                double xh = (x[i * c + j] - (double) mean[i]) * rs, dxh = (double) dy[i * c + j] * w[j];
                double d = rs * (dxh - m1 - xh * m2), ax = Math.abs(xh);
                double inner = U * Math.abs(dxh) + e1 + ax * e2 + Math.abs(m2) * gamma(2) * ax
                        + gamma(3) * (Math.abs(dxh) + Math.abs(m1) + ax * Math.abs(m2));
                tg[i * c + j] = rs * inner + 3 * U * (Math.abs(g0[i * c + j]) + Math.abs(d));
            }
        }
        int chunks = Math.max(1, Math.min(64, rows / 16)), perChunk = (rows + chunks - 1) / chunks;
        for (int j = 0; j < c; j++) {
            tw[j] = gamma(perChunk + 4) * sw[j] + 2 * U * (Math.abs(w0[j]) + Math.abs(vw[j]));
            tb[j] = gamma(perChunk + 2) * sb[j] + 2 * U * (Math.abs(b0[j]) + Math.abs(vb[j]));
        }
        assertWithin(gc, ga, tg, "layerNormBackward dx " + rows + "x" + c);
        assertWithin(wc, wa, tw, "layerNormBackward dw " + rows + "x" + c);
        assertWithin(bc, ba, tb, "layerNormBackward db " + rows + "x" + c);
    }

    @Test
    void maxAndSumMatchScalar() {
        SplittableRandom r = new SplittableRandom(15);
        for (int n : new int[] {1, 7, 63, 64, 65, 1000, 65_536}) {
            float[] x = rand(r, n + 2, 3);
            x[1 + r.nextInt(n)] = 50f; // the max somewhere inside
            assertEquals(ScalarOps.max(x, 1, n), Ops.max(x, 1, n), "n=" + n);
            double want = ScalarOps.sum(x, 1, n);
            assertEquals(want, Ops.sum(x, 1, n), gamma(chunkedSum(n, L)) * sumAbs(x, 1, n), "n=" + n);
        }
        assertEquals(2f, Ops.max(new float[] {1f, Float.NaN, 2f}, 0, 3)); // NaN skipped
    }

    @Test
    void softCrossEntropyRowMatchesScalar() {
        SplittableRandom r = new SplittableRandom(13);
        for (int k : new int[] {1, 7, 64, 65, 1000, 65_536}) {
            float[] s = rand(r, k + 2, 1), t = new float[k + 1], a = new float[k + 3], c = new float[k + 3];
            double tot = 0;
            for (int j = 0; j < k; j++) tot += t[1 + j] = (float) r.nextDouble();
            for (int j = 0; j < k; j++) t[1 + j] /= (float) tot; // a distribution, as the teacher's targets
            float got = Ops.softCrossEntropyRow(s, 2, k, 10f, t, 1, a, 3);
            float want = ScalarOps.softCrossEntropyRow(s, 2, k, 10f, t, 1, c, 3);
            // x = s·T⁻¹ − max: the float max·T⁻¹ and the fma round once each; e = exp(x): exp's error and x's moved
            // into it; Σe, Σt·x and Σt: chunked float chains; p = e·(1/Σ): two roundings and the twin's cast; the
            // loss log(Σ)·Σt − Σt·x in double, cast on both sides
            int chain = chunkedSum(k, L);
            double mx = Double.NEGATIVE_INFINITY, sum = 0, sumErr = 0, dotErr = 0, dotAbs = 0, tsum = 0, dot = 0;
            for (int j = 0; j < k; j++) mx = Math.max(mx, s[2 + j] * 10.0);
            double[] ex = new double[k], tp = new double[k + 3];
            for (int j = 0; j < k; j++) {
                double xj = s[2 + j] * 10.0 - mx, e = Math.exp(xj);
                ex[j] = EXP_REL + U * Math.abs(mx) + U * (Math.abs(xj) + U * Math.abs(mx));
                sum += e;
                sumErr += e * ex[j];
                tsum += t[1 + j];
                dot += t[1 + j] * xj;
                dotAbs += Math.abs(t[1 + j] * xj);
                dotErr += t[1 + j] * (U * Math.abs(mx) + U * Math.abs(xj));
            }
            double dSum = (sumErr + gamma(chain) * sum) / sum;
            for (int j = 0; j < k; j++) tp[3 + j] = Math.exp(s[2 + j] * 10.0 - mx) / sum * (ex[j] + dSum + 3 * U);
            double loss = Math.log(sum) * tsum - dot;
            double tl = dSum * tsum + Math.abs(Math.log(sum)) * gamma(chain) * tsum + dotErr + gamma(chain) * dotAbs + 2 * U * Math.abs(loss);
            assertEquals(want, got, tl, "k=" + k);
            assertWithin(c, a, tp, "softCrossEntropyRow p k=" + k);
        }
        // one prototype: log_softmax is 0 whatever the logit, so the loss is 0 and p is 1
        float[] p = new float[1];
        assertEquals(0f, Ops.softCrossEntropyRow(new float[] {3f}, 0, 1, 10f, new float[] {1f}, 0, p, 0), 1e-7);
        assertEquals(1f, p[0]);
    }

    @Test
    void attentionMatchesScalar() {
        SplittableRandom r = new SplittableRandom(4);
        // (batch, tokens, dim, heads): 1 token, head dims 16/64/8/20 (masked tails), token counts off the vector width
        for (int[] s : new int[][] {{1, 1, 16, 1}, {2, 5, 48, 3}, {1, 17, 64, 4}, {3, 14, 24, 3}, {1, 70, 40, 2},
                {2, 257, 128, 2}, {1, 33, 192, 3}}) {
            int b = s[0], t = s[1], d = s[2], h = s[3];
            float[] qkv = rand(r, b * t * 3 * d, 1.5);
            float[] a = new float[b * t * d], c = new float[b * t * d];
            Ops.attention(qkv, a, b, t, d, h);
            ScalarOps.attention(qkv, c, b, t, d, h);
            assertWithin(c, a, attentionBound(qkv, null, null, b, t, d, h), "attention " + java.util.Arrays.toString(s));
        }
    }

    @Test
    void attentionBackwardMatchesScalar() {
        SplittableRandom r = new SplittableRandom(21);
        // batch, tokens, dim, heads: one token, tokens short of a 6-row group and of a key block, head dims short of
        // 6 and of a vector, a full ViT-S head, and ViT-S's local-crop and global-crop token counts
        for (int[] s : new int[][] {{1, 1, 4, 1}, {2, 5, 12, 2}, {1, 9, 9, 3}, {2, 17, 40, 2}, {1, 23, 64, 1}, {2, 50, 128, 2}, {1, 257, 64, 1}}) {
            int b = s[0], t = s[1], d = s[2], h = s[3];
            float[] qkv = rand(r, b * t * 3 * d, 1.5), dOut = rand(r, b * t * d, 1);
            float[] g0 = rand(r, qkv.length, 0.5), a = g0.clone(), c = g0.clone();
            Ops.attentionBackward(qkv, dOut, a, b, t, d, h);
            ScalarOps.attentionBackward(qkv, dOut, c, b, t, d, h);
            assertWithin(c, a, attentionBound(qkv, dOut, g0, b, t, d, h), "attentionBackward " + java.util.Arrays.toString(s));
            double moved = 0;
            for (int i = 0; i < a.length; i++) moved = Math.max(moved, Math.abs(a[i] - g0[i]));
            assertTrue(moved > 1e-2, "gradient added: " + moved);
        }
    }

    @Test
    void attentionFromColumnPanelsMatchesScalar() {
        SplittableRandom r = new SplittableRandom(5);
        int w = Gemm.W2;
        // (batch, tokens, heads, head dim in panels): 6 rows, a partial query group and key panel, ViT-S's shape
        for (int[] s : new int[][] {{1, 6, 1, 1}, {2, 5, 2, 1}, {1, 70, 3, 2}, {2, 257, 6, 64 / w}, {3, 17, 1, 3}}) {
            int b = s[0], t = s[1], h = s[2], d = h * s[3] * w, rows = b * t, n = 3 * d;
            assertTrue(Ops.attentionPanelsFit(rows, d, h));
            float[] qkv = rand(r, rows * n, 1.5), panels = new float[rows * n];
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < n; j++) panels[j / w * rows * w + i * w + j % w] = qkv[i * n + j];
            float[] a = new float[rows * d], c = new float[rows * d];
            Ops.attentionPanels(panels, a, b, t, d, h);
            ScalarOps.attention(qkv, c, b, t, d, h);
            assertWithin(c, a, attentionBound(qkv, null, null, b, t, d, h), "attentionPanels " + java.util.Arrays.toString(s));
        }
        assertTrue(!Ops.attentionPanelsFit(5, 2 * w, 1) && !Ops.attentionPanelsFit(60, 40, 2));
    }

    @Test
    void attentionIsThreadSafe() throws Exception {
        SplittableRandom r = new SplittableRandom(5);
        int b = 2, t = 40, d = 64, h = 4;
        float[][] inputs = new float[4][];
        float[][] want = new float[4][];
        for (int i = 0; i < 4; i++) {
            inputs[i] = rand(r, b * t * 3 * d, 1);
            want[i] = new float[b * t * d];
            ScalarOps.attention(inputs[i], want[i], b, t, d, h);
        }
        Thread[] ts = new Thread[4];
        float[][] got = new float[4][];
        for (int i = 0; i < 4; i++) {
            int k = i;
            ts[i] = new Thread(() -> {
                for (int rep = 0; rep < 20; rep++) {
                    float[] o = new float[b * t * d];
                    Ops.attention(inputs[k], o, b, t, d, h);
                    got[k] = o;
                }
            });
            ts[i].start();
        }
        for (Thread th : ts) th.join();
        for (int i = 0; i < 4; i++) assertWithin(want[i], got[i], attentionBound(inputs[i], null, null, b, t, d, h), "thread " + i);
    }

    /**
     * Bound of the fused attention against its double twin (dOut null), or of its backward added to g0. Scores
     * q·k: a float chain over the head dim ({@link FloatBounds#anyOrder}); the exponent (s − max)·scale: the two
     * scores' errors, the float scale and two roundings; p = e/Σe: exp's error, Σe's chain and rounding. Forward:
     * o = Σp·v / Σe, a chain over the keys. Backward: dp = dO·v a chain over the head dim, dot = Σ dp·p over the keys,
     * dS = p·(dp − dot)·scale (four roundings), dQ = dS·K, dK = dSᵀ·Q, dV = Pᵀ·dO chains over the tokens; every
     * result cast and added to g on both sides.
     */
    static double[] attentionBound(float[] qkv, float[] dOut, float[] g0, int batch, int t, int dim, int heads) {
        int hd = dim / heads, ld = 3 * dim;
        double scale = 1 / Math.sqrt(hd), gHd = gamma(anyOrder(hd, L) + 1), gT = gamma(anyOrder(t, L) + 1);
        double[] tol = new double[dOut == null ? batch * t * dim : qkv.length];
        double[][] p = new double[t][t], dp = new double[t][t], ep = new double[t][t], edp = new double[t][t];
        double[][] ds = new double[t][t], eds = new double[t][t];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++) {
                int q0 = b * t * ld + h * hd, k0 = q0 + dim, v0 = q0 + 2 * dim, o0 = b * t * dim + h * hd;
                for (int i = 0; i < t; i++) {
                    double max = Double.NEGATIVE_INFINITY, sum = 0, sumErr = 0, esMax = 0;
                    double[] es = new double[t];
                    for (int j = 0; j < t; j++) {
                        double sc = 0, abs = 0, d = 0, dAbs = 0;
                        for (int e = 0; e < hd; e++) {
                            sc += (double) qkv[q0 + i * ld + e] * qkv[k0 + j * ld + e];
                            abs += Math.abs((double) qkv[q0 + i * ld + e] * qkv[k0 + j * ld + e]);
                            if (dOut != null) {
                                d += (double) dOut[o0 + i * dim + e] * qkv[v0 + j * ld + e];
                                dAbs += Math.abs((double) dOut[o0 + i * dim + e] * qkv[v0 + j * ld + e]);
                            }
                        }
                        p[i][j] = sc;
                        es[j] = gHd * abs;
                        esMax = Math.max(esMax, es[j]);
                        dp[i][j] = d;
                        edp[i][j] = gHd * dAbs;
                        max = Math.max(max, sc);
                    }
                    for (int j = 0; j < t; j++) {
                        double x = (p[i][j] - max) * scale;
                        p[i][j] = Math.exp(x);
                        ep[i][j] = EXP_REL + scale * (es[j] + esMax) + 3 * U * Math.abs(x); // relative, of e
                        sum += p[i][j];
                        sumErr += p[i][j] * ep[i][j];
                    }
                    double dSum = (sumErr + gT * sum) / sum + U;
                    for (int j = 0; j < t; j++) {
                        p[i][j] /= sum;
                        ep[i][j] += dSum + 2 * U; // now relative, of p
                    }
                    if (dOut == null)
                        for (int e = 0; e < hd; e++) {
                            double o = 0, err = 0, abs = 0;
                            for (int j = 0; j < t; j++) {
                                double v = qkv[v0 + j * ld + e];
                                o += p[i][j] * v;
                                err += p[i][j] * ep[i][j] * Math.abs(v);
                                abs += p[i][j] * Math.abs(v);
                            }
                            tol[o0 + i * dim + e] = err + gT * abs + 3 * U * Math.abs(o);
                        }
                    else {
                        double dot = 0, dotErr = 0, dotAbs = 0;
                        for (int j = 0; j < t; j++) {
                            dot += dp[i][j] * p[i][j];
                            dotErr += edp[i][j] * p[i][j] + Math.abs(dp[i][j]) * p[i][j] * ep[i][j];
                            dotAbs += Math.abs(dp[i][j] * p[i][j]);
                        }
                        dotErr += gT * dotAbs;
                        for (int j = 0; j < t; j++) {
                            ds[i][j] = p[i][j] * (dp[i][j] - dot) * scale;
                            eds[i][j] = scale * (p[i][j] * ep[i][j] * Math.abs(dp[i][j] - dot) + p[i][j] * (edp[i][j] + dotErr))
                                    + 4 * U * Math.abs(ds[i][j]);
                        }
                    }
                }
                if (dOut == null) continue;
                for (int i = 0; i < t; i++)
                    for (int e = 0; e < hd; e++) {
                        double[] val = new double[3], err = new double[3], abs = new double[3];
                        for (int j = 0; j < t; j++) {
                            double k = qkv[k0 + j * ld + e], q = qkv[q0 + j * ld + e], o = dOut[o0 + j * dim + e];
                            val[0] += ds[i][j] * k;                                     // dQ
                            err[0] += eds[i][j] * Math.abs(k);
                            abs[0] += Math.abs(ds[i][j] * k);
                            val[1] += ds[j][i] * q;                                     // dK
                            err[1] += eds[j][i] * Math.abs(q);
                            abs[1] += Math.abs(ds[j][i] * q);
                            val[2] += p[j][i] * o;                                      // dV
                            err[2] += p[j][i] * ep[j][i] * Math.abs(o);
                            abs[2] += p[j][i] * Math.abs(o);
                        }
                        for (int w = 0; w < 3; w++) {
                            int gi = q0 + w * dim + i * ld + e;
                            tol[gi] = err[w] + gT * abs[w] + 3 * U * (Math.abs(g0[gi]) + Math.abs(val[w]));
                        }
                    }
            }
        return tol;
    }
}
