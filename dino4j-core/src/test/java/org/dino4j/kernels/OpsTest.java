package org.dino4j.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/** Each Vector API kernel against its scalar twin on awkward shapes (1 row, 1 column, non-multiples of 16). */
class OpsTest {
    static float[] rand(SplittableRandom r, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextGaussian() * scale);
        return a;
    }

    static void close(float[] want, float[] got, double tol) {
        assertEquals(want.length, got.length);
        double max = 0;
        for (int i = 0; i < want.length; i++) max = Math.max(max, Math.abs(want[i] - got[i]));
        assertTrue(max <= tol, "max abs diff " + max + " > " + tol);
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
            close(c, a, 2e-5);
        }
    }

    @Test
    void layerNormOfConstantRowIsBias() {
        float[] x = {2, 2, 2, 2, 2}, w = {1, 1, 1, 1, 1}, b = {0.5f, -1, 0, 3, 7}, o = new float[5];
        Ops.layerNorm(x, 0, o, 0, 1, 5, w, b, 1e-6f);
        close(b, o, 1e-6);
    }

    @Test
    void geluMatchesScalarAndErf() {
        SplittableRandom r = new SplittableRandom(2);
        for (int n : new int[] {1, 15, 16, 17, 100, 1031}) {
            float[] x = rand(r, n, 3), a = x.clone(), c = x.clone();
            Ops.gelu(a, 0, n);
            ScalarOps.gelu(c, 0, n);
            close(c, a, 1e-6);
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
            close(c, a, 1e-5);
        }
    }

    @Test
    void expVectorIsItsScalarTwinAndCloseToMathExp() {
        var sp = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;
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
            close(c, a, 2e-6);
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
            for (int i = 2; i < n + 2; i++) assertEquals(c[i], a[i], 2e-6 * c[i], "n=" + n + " i=" + i); // the argument rounds in float
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
            close(c, a, 2e-5 * Math.sqrt(rows));
            // products with per-group scales (LayerScale through DropPath: groups of 2 rows, one group dropped)
            float[] y = rand(r, rows * n, 1), sc = new float[(rows + 1) / 2];
            for (int i = 0; i < sc.length; i++) sc[i] = i == 1 ? 0f : 1.25f;
            float[] a2 = g0.clone(), c2 = g0.clone();
            Ops.addColumnSums(x, y, sc, 2, rows, n, a2);
            ScalarOps.addColumnSums(x, y, sc, 2, rows, n, c2);
            close(c2, a2, 4e-5 * Math.sqrt(rows));
        }
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
                close(qc, qa, 1e-7 / Math.min(k, 64));
                close(nc, na, 1e-7);
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
            close(oc, oa, 2e-5);
            close(mc, ma, 2e-6);
            close(rc, ra, c == 1 ? 10 : 2e-5); // one column: var 0, rstd 1/sqrt(eps)
            // statistics only, then the rows made by the LayerNorm prologue in runs of any start and length: the same
            // floats as the written rows
            float[] ms = new float[rows], rs = new float[rows], pro = new float[x.length];
            Ops.layerNormStats(x, null, rows, c, w, b, 1e-6f, ms, rs);
            assertArrayEquals(ma, ms);
            assertArrayEquals(ra, rs);
            Gemm.Prologue ln = Ops.layerNorm(ms, rs, w, b);
            for (int i = 0; i < rows; i++)
                for (int c0 = 0; c0 < c; ) {
                    int len = Math.min(c - c0, 1 + r.nextInt(40));
                    ln.apply(i, c0, x, i * c + c0, pro, i * c + c0, len);
                    c0 += len;
                }
            assertArrayEquals(oa, pro);
            float[] g0 = rand(r, x.length, 1), ga = g0.clone(), gc = g0.clone(), wa = rand(r, c, 1), wc = wa.clone(), ba = rand(r, c, 1), bc = ba.clone();
            Ops.layerNormBackward(x, dy, w, mc, rc, rows, c, ga, wa, ba);
            ScalarOps.layerNormBackward(x, dy, w, mc, rc, rows, c, gc, wc, bc);
            close(gc, ga, c == 1 ? 1e-2 : 5e-5);
            close(wc, wa, 1e-4 * Math.sqrt(rows));
            close(bc, ba, 1e-5 * Math.sqrt(rows));
        }
    }

    @Test
    void maxAndSumMatchScalar() {
        SplittableRandom r = new SplittableRandom(15);
        for (int n : new int[] {1, 7, 63, 64, 65, 1000, 65_536}) {
            float[] x = rand(r, n + 2, 3);
            x[1 + r.nextInt(n)] = 50f; // the max somewhere inside
            assertEquals(ScalarOps.max(x, 1, n), Ops.max(x, 1, n), "n=" + n);
            double want = ScalarOps.sum(x, 1, n);
            assertEquals(want, Ops.sum(x, 1, n), 1e-6 * Math.sqrt(n) * 3 + 1e-6, "n=" + n);
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
            assertEquals(want, got, 2e-6 * Math.max(1, Math.abs(want)), "k=" + k);
            close(c, a, 1e-6);
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
            close(c, a, 2e-5);
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
            close(c, a, 2e-5);
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
            close(c, a, 2e-5);
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
        for (int i = 0; i < 4; i++) close(want[i], got[i], 2e-5);
    }
}
