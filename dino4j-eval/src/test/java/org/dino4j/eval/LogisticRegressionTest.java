package org.dino4j.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorStore;
import org.dino4j.kernels.Parallel;
import org.junit.jupiter.api.Test;

class LogisticRegressionTest {
    /**
     * The objective and gradient against a plain double implementation and its central differences, on more rows
     * than one block so that the block sums are covered, with X packed for the GEMMs and without.
     */
    @Test
    void gradientMatchesFiniteDifferences() {
        gradientMatchesFiniteDifferences(true);
        gradientMatchesFiniteDifferences(false);
    }

    private static void gradientMatchesFiniteDifferences(boolean pack) {
        int n = 2 * LogisticRegression.BLOCK + 37, d = 7, k = 3;
        double C = 0.7;
        SplittableRandom r = new SplittableRandom(11);
        float[] x = new float[n * d];
        for (int i = 0; i < x.length; i++) x[i] = (float) (2 * r.nextDouble() - 1);
        int[] y = new int[n];
        for (int i = 0; i < n; i++) y[i] = r.nextInt(k);
        double[] w = new double[k * d + k];
        for (int j = 0; j < w.length; j++) w[j] = r.nextDouble() - 0.5;
        double[] grad = new double[w.length];
        double f = LogisticRegression.objective(x, y, n, d, k, C, w, grad, pack);
        assertEquals(plainObjective(x, y, n, d, k, C, w), f, 1e-6 * Math.abs(f)); // float32 logits
        double h = 1e-5, gMax = 0;
        for (double g : grad) gMax = Math.max(gMax, Math.abs(g));
        for (int j = 0; j < w.length; j++) {
            double[] wp = w.clone(), wm = w.clone();
            wp[j] += h;
            wm[j] -= h;
            double fd = (plainObjective(x, y, n, d, k, C, wp) - plainObjective(x, y, n, d, k, C, wm)) / (2 * h);
            // float32 GEMM with double sums: ~1e-7 of the largest component; differences add ~1e-10
            assertEquals(fd, grad[j], 1e-5 * gMax, "parameter " + j);
        }
    }

    /** mean CE + |W|^2 / (2 C n) in double, row by row. */
    static double plainObjective(float[] x, int[] y, int n, int d, int k, double C, double[] w) {
        double loss = 0;
        double[] z = new double[k];
        for (int i = 0; i < n; i++) {
            double m = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < k; c++) {
                double s = w[k * d + c];
                for (int j = 0; j < d; j++) s += w[c * d + j] * x[i * d + j];
                z[c] = s;
                m = Math.max(m, s);
            }
            double se = 0;
            for (int c = 0; c < k; c++) se += Math.exp(z[c] - m);
            loss += m + Math.log(se) - z[y[i]];
        }
        double ww = 0;
        for (int j = 0; j < k * d; j++) ww += w[j] * w[j];
        return loss / n + ww / (2 * C * n);
    }

    /** Three separable clusters, weakly regularised: every training row right. */
    @Test
    void separableDataReachesFullAccuracy() {
        int n = 600, d = 5, k = 3;
        SplittableRandom r = new SplittableRandom(5);
        float[] x = new float[n * d];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = i % k;
            for (int j = 0; j < d; j++) x[i * d + j] = (float) ((j == y[i] ? 4 : 0) + r.nextDouble() - 0.5);
        }
        LogisticRegression.Model m = LogisticRegression.fit(x, y, n, d, k, 1e4, 1000, 1e-8);
        assertEquals(1.0, m.accuracy(x, y));
        assertTrue(m.meanLoss() < 1e-2, "loss " + m.meanLoss());
    }

    /**
     * scikit-learn's fits (fixtures/extra/logreg.safetensors, tools/make_logreg_fixture.py; same max_iter and tol).
     * The objective is strictly convex (but for the intercepts' common shift, which both fits leave at zero), so
     * both solvers aim at one point, which the fixture holds to rounding level (Newton from sklearn's solution).
     * <ul>
     * <li>Without the relative-reduction stop, ours reaches that optimum within 2e-5 of the largest |parameter|:
     * the float32 GEMM gradient is off by ~1e-7 (against a double one), which over the curvature leaves ~1e-6
     * relative here.</li>
     * <li>As sklearn runs (ftol = 64 eps), both stop on that test short of the optimum, where the stop decides
     * (sklearn's distance: up to 1e-5 relative, at C = 10, whose scaled features make the Hessian's smallest
     * eigenvalue 1e-5). Strong convexity bounds each distance by |gradient|_2 / that eigenvalue (in the fixture), so
     * |ours - sklearn|_2 <= (|g_ours|_2 + |g_sklearn|_2) / eigenvalue, both gradients computed here in double. In
     * practice they agree within 5e-5 of the largest |parameter| (printed); about as many iterations (the same
     * L-BFGS: within 1.5x); every test prediction equal, every probability within 5e-4.</li>
     * </ul>
     */
    @Test
    void matchesScikitLearn() {
        try (TensorStore s = fixture()) {
            float[] x = s.get("x_train").toFloatArray(), xt = s.get("x_test").toFloatArray();
            int[] y = ints(s, "y_train");
            int n = y.length, d = x.length / n, m = xt.length / d, k = 4;
            for (int i = 0; i < 3; i++) {
                String p = "mc/" + i + "/";
                double C = doubles(s, p + "C")[0];
                double[] exact = concat(doubles(s, p + "coef_exact"), doubles(s, p + "intercept_exact"));
                double[] sk = concat(doubles(s, p + "coef"), doubles(s, p + "intercept"));
                LogisticRegression.Model full = LogisticRegression.fit(x, y, n, d, k, C, 10000, 0, 0, null);
                LogisticRegression.Model fit = LogisticRegression.fit(x, y, n, d, k, C, 10000, 1e-10);
                double[] w = concat(fit.coef(), fit.intercept());
                compare("C=" + C, concat(full.coef(), full.intercept()), w, exact, sk,
                        norm(plainGradient(x, y, n, d, k, C, w)), doubles(s, p + "grad")[1], doubles(s, p + "hess_min")[0]);
                assertEquals(LogisticRegression.Stop.REL_REDUCTION, fit.stop());
                int skIter = ints(s, p + "n_iter")[0];
                assertTrue(fit.iterations() < 1.5 * skIter && skIter < 1.5 * fit.iterations(),
                        fit.iterations() + " iterations, sklearn " + skIter);
                assertArrayEquals(ints(s, p + "pred"), fit.predict(xt, m), "C=" + C);
                assertProbabilities(doubles(s, p + "proba"), fit.decision(xt, m), k, "C=" + C);
            }
            // two classes: sklearn's binomial model, coef_ = w1 - w0
            int[] keep = java.util.stream.IntStream.range(0, n).filter(i -> y[i] < 2).toArray();
            int nb = keep.length;
            float[] xb = new float[nb * d];
            int[] yb = new int[nb];
            for (int i = 0; i < nb; i++) {
                System.arraycopy(x, keep[i] * d, xb, i * d, d);
                yb[i] = y[keep[i]];
            }
            double C = doubles(s, "bin/C")[0];
            LogisticRegression.Model full = LogisticRegression.fit(xb, yb, nb, d, 2, C, 10000, 0, 0, null);
            LogisticRegression.Model fit = LogisticRegression.fit(xb, yb, nb, d, 2, C, 10000, 1e-10);
            double[] v = binomial(fit, d), gv = new double[d + 1];
            for (int i = 0; i < nb; i++) { // the binomial objective's gradient: X^T (sigmoid - y) / n + v / (C n)
                double t = v[d];
                for (int j = 0; j < d; j++) t += v[j] * xb[i * d + j];
                double r = 1 / (1 + Math.exp(-t)) - yb[i];
                for (int j = 0; j < d; j++) gv[j] += r * xb[i * d + j] / nb;
                gv[d] += r / nb;
            }
            for (int j = 0; j < d; j++) gv[j] += v[j] / (C * nb);
            compare("binary", binomial(full, d), v, concat(doubles(s, "bin/coef_exact"), doubles(s, "bin/intercept_exact")),
                    concat(doubles(s, "bin/coef"), doubles(s, "bin/intercept")), norm(gv), doubles(s, "bin/grad")[1],
                    doubles(s, "bin/hess_min")[0]);
            float[] xbt = s.get("bin/x_test").toFloatArray();
            assertArrayEquals(ints(s, "bin/pred"), fit.predict(xbt, xbt.length / d), "binary");
            assertProbabilities(doubles(s, "bin/proba"), fit.decision(xbt, xbt.length / d), 2, "binary");
        }
    }

    /** sklearn's binomial parameters [coef_, intercept_] = [w1 - w0, b1 - b0]. */
    private static double[] binomial(LogisticRegression.Model m, int d) {
        double[] v = new double[d + 1];
        for (int j = 0; j < d; j++) v[j] = m.coef()[d + j] - m.coef()[j];
        v[d] = m.intercept()[1] - m.intercept()[0];
        return v;
    }

    private static void compare(String what, double[] full, double[] ours, double[] exact, double[] sk, double gOurs,
                                double gSk, double hessMin) {
        double scale = 0, dFull = 0, dSk = 0, skExact = 0, dist2 = 0;
        for (int j = 0; j < exact.length; j++) {
            scale = Math.max(scale, Math.abs(exact[j]));
            dFull = Math.max(dFull, Math.abs(full[j] - exact[j]));
            dSk = Math.max(dSk, Math.abs(ours[j] - sk[j]));
            skExact = Math.max(skExact, Math.abs(sk[j] - exact[j]));
            dist2 += (ours[j] - sk[j]) * (ours[j] - sk[j]);
        }
        double bound = (gOurs + gSk) / hessMin;
        System.out.printf("%s: relative to max |w| %.2e: unstopped fit - optimum %.1e, sklearn - optimum %.1e, "
                + "fit - sklearn %.1e (|.|_2 %.1e, bound %.1e)%n", what, scale, dFull / scale, skExact / scale,
                dSk / scale, Math.sqrt(dist2), bound);
        assertTrue(dFull <= 2e-5 * scale, what + ": " + dFull + " from the optimum");
        assertTrue(Math.sqrt(dist2) <= bound, what + ": " + Math.sqrt(dist2) + " from sklearn, bound " + bound);
    }

    /** The gradient of mean CE + |W|^2 / (2 C n) in double, row by row. */
    static double[] plainGradient(float[] x, int[] y, int n, int d, int k, double C, double[] w) {
        double[] g = new double[k * d + k], z = new double[k];
        for (int i = 0; i < n; i++) {
            double m = Double.NEGATIVE_INFINITY, se = 0;
            for (int c = 0; c < k; c++) {
                double s = w[k * d + c];
                for (int j = 0; j < d; j++) s += w[c * d + j] * x[i * d + j];
                z[c] = s;
                m = Math.max(m, s);
            }
            for (int c = 0; c < k; c++) se += Math.exp(z[c] - m);
            for (int c = 0; c < k; c++) {
                double r = Math.exp(z[c] - m) / se - (c == y[i] ? 1 : 0);
                for (int j = 0; j < d; j++) g[c * d + j] += r * x[i * d + j] / n;
                g[k * d + c] += r / n;
            }
        }
        for (int j = 0; j < k * d; j++) g[j] += w[j] / (C * n);
        return g;
    }

    static double norm(double[] v) {
        double s = 0;
        for (double e : v) s += e * e;
        return Math.sqrt(s);
    }

    private static void assertProbabilities(double[] expected, float[] logits, int k, String what) {
        double worst = 0;
        for (int i = 0; i < expected.length / k; i++) {
            double mx = Double.NEGATIVE_INFINITY, s = 0;
            for (int c = 0; c < k; c++) mx = Math.max(mx, logits[i * k + c]);
            for (int c = 0; c < k; c++) s += Math.exp(logits[i * k + c] - mx);
            for (int c = 0; c < k; c++)
                worst = Math.max(worst, Math.abs(expected[i * k + c] - Math.exp(logits[i * k + c] - mx) / s));
        }
        System.out.printf("%s: probabilities within %.1e of sklearn's%n", what, worst);
        assertTrue(worst <= 5e-4, what + ": probabilities " + worst + " from sklearn's");
    }

    /** A class with no training row is never predicted, and the others fit as if it did not exist. */
    @Test
    void absentClassIsNeverPredicted() {
        int n = 300, d = 4;
        SplittableRandom r = new SplittableRandom(9);
        float[] x = new float[n * d];
        int[] y = new int[n], y3 = new int[n];
        for (int i = 0; i < n; i++) {
            y3[i] = i % 3;
            y[i] = y3[i] == 2 ? 3 : y3[i]; // classes 0, 1, 3 of 4
            for (int j = 0; j < d; j++) x[i * d + j] = (float) ((j == y3[i] ? 1.5 : 0) + r.nextGaussian());
        }
        LogisticRegression.Model m4 = LogisticRegression.fit(x, y, n, d, 4, 0.5, 1000, 1e-10);
        LogisticRegression.Model m3 = LogisticRegression.fit(x, y3, n, d, 3, 0.5, 1000, 1e-10);
        assertEquals(Double.NEGATIVE_INFINITY, m4.intercept()[2]);
        for (int j = 0; j < d; j++) assertEquals(0.0, m4.coef()[2 * d + j]);
        for (int j = 0; j < 2 * d; j++) assertEquals(m3.coef()[j], m4.coef()[j], 1e-12);
        for (int j = 0; j < d; j++) assertEquals(m3.coef()[2 * d + j], m4.coef()[3 * d + j], 1e-12);
        for (int p : m4.predict(x, n)) assertNotEquals(2, p);
    }

    @Test
    void badInputIsRejected() {
        float[] x = {0, 1, 1, 0, 2, 2};
        int[] y = {0, 1, 1};
        assertThrows(IllegalArgumentException.class, () -> LogisticRegression.fit(x, y, 3, 3, 2, 1, 10, 1e-4)); // 6 != 9
        assertThrows(IllegalArgumentException.class, () -> LogisticRegression.fit(x, new int[] {0, 1}, 3, 2, 2, 1, 10, 1e-4));
        var e = assertThrows(IllegalArgumentException.class, () -> LogisticRegression.fit(x, new int[] {0, 2, 1}, 3, 2, 2, 1, 10, 1e-4));
        assertTrue(e.getMessage().contains("label 2"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> LogisticRegression.fit(x, new int[] {0, -1, 1}, 3, 2, 2, 1, 10, 1e-4));
        assertThrows(IllegalArgumentException.class, () -> LogisticRegression.fit(x, y, 3, 2, 2, 0, 10, 1e-4));
        assertThrows(IllegalArgumentException.class, () -> LogisticRegression.fit(x, y, 3, 2, 2, -1, 10, 1e-4));
        assertThrows(IllegalArgumentException.class, () -> LogisticRegression.fit(x, y, 3, 2, 2, Double.NaN, 10, 1e-4));
        assertThrows(IllegalArgumentException.class, () -> LogisticRegression.fit(x, new int[] {1, 1, 1}, 3, 2, 2, 1, 10, 1e-4));
        assertThrows(IllegalArgumentException.class, () -> LogisticRegression.fit(x, y, 3, 2, 2, 1, -1, 1e-4));
        Features tr = new Features(x, y, 2, 2), te = new Features(new float[3], new int[] {0}, 3, 2);
        assertThrows(IllegalArgumentException.class, () -> LogisticRegression.sweep(tr, te, new double[] {1}, 0, 10, 1e-4, null));
    }

    /** The split the Python peer draws too (values from tools/logreg_peer.py's permutation()). */
    @Test
    void permutationIsSplitMixFisherYates() {
        assertArrayEquals(new int[] {6, 3, 2, 9, 8, 1, 4, 7, 0, 5}, LogisticRegression.permutation(10, 0));
        assertArrayEquals(new int[] {4, 2, 9, 7, 3, 10, 6, 8, 1, 5, 11, 0}, LogisticRegression.permutation(12, -7));
        int[] p = LogisticRegression.permutation(60000, 0);
        assertArrayEquals(new int[] {17103, 3854, 34173, 44489, 57167, 51101, 4008, 54553}, java.util.Arrays.copyOf(p, 8));
        boolean[] seen = new boolean[p.length];
        for (int v : p) seen[v] = true;
        for (boolean b : seen) assertTrue(b);
    }

    /** The protocol: points in C order, the first best C, the refit on all training rows scored on the test rows. */
    @Test
    void sweepPicksTheFirstBestCAndRefits() {
        int n = 400, m = 200, d = 6, k = 3;
        SplittableRandom r = new SplittableRandom(21);
        float[] x = new float[n * d], xt = new float[m * d];
        int[] y = new int[n], yt = new int[m];
        for (int i = 0; i < n + m; i++) {
            int c = i % k;
            for (int j = 0; j < d; j++) {
                float v = (float) ((j == c ? 1.0 : 0) + r.nextGaussian());
                if (i < n) x[i * d + j] = v;
                else xt[(i - n) * d + j] = v;
            }
            if (i < n) y[i] = c;
            else yt[i - n] = c;
        }
        double[] cs = {1e-6, 1e-4, 1e-2, 1, 100};
        List<LogisticRegression.Point> heard = new ArrayList<>();
        LogisticRegression.Sweep s = LogisticRegression.sweep(new Features(x, y, d, k), new Features(xt, yt, d, k), cs, 0,
                1000, 1e-8, heard::add);
        assertEquals(s.points(), heard);
        double best = -1, bestC = 0;
        for (int i = 0; i < cs.length; i++) {
            assertEquals(cs[i], s.points().get(i).c());
            if (s.points().get(i).validationAccuracy() > best) {
                best = s.points().get(i).validationAccuracy();
                bestC = cs[i];
            }
        }
        assertEquals(bestC, s.bestC());
        LogisticRegression.Model refit = LogisticRegression.fit(x, y, n, d, k, bestC, 1000, 1e-8);
        assertArrayEquals(refit.coef(), s.model().coef());
        assertEquals(refit.accuracy(xt, yt), s.testAccuracy());
        assertTrue(s.testAccuracy() > 0.6, "test accuracy " + s.testAccuracy());
    }

    /** Packing X once per fit changes only the GEMMs' rounding: the same optimum either way. */
    @Test
    void packedAndUnpackedFitsAgree() {
        int n = 2 * LogisticRegression.BLOCK + 100, d = 30, k = 5;
        SplittableRandom r = new SplittableRandom(4);
        float[] x = new float[n * d];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = r.nextInt(k);
            for (int j = 0; j < d; j++) x[i * d + j] = (float) ((j % k == y[i] ? 0.7 : 0) + r.nextGaussian());
        }
        LogisticRegression.Model a = LogisticRegression.fit(x, y, n, d, k, 0.01, 1000, 0, 0, true);
        LogisticRegression.Model b = LogisticRegression.fit(x, y, n, d, k, 0.01, 1000, 0, 0, false);
        double scale = 0, diff = 0;
        for (int j = 0; j < a.coef().length; j++) {
            scale = Math.max(scale, Math.abs(a.coef()[j]));
            diff = Math.max(diff, Math.abs(a.coef()[j] - b.coef()[j]));
        }
        assertTrue(diff <= 1e-5 * scale, diff + " of " + scale);
        assertArrayEquals(a.predict(x, n), b.predict(x, n));
    }

    /** Fixed block sizes decide every summation order: one thread or several give the same bits. */
    @Test
    void resultDoesNotDependOnThreadCount() {
        int n = 3 * LogisticRegression.BLOCK + 5, d = 9, k = 4;
        SplittableRandom r = new SplittableRandom(2);
        float[] x = new float[n * d];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = r.nextInt(k);
            for (int j = 0; j < d; j++) x[i * d + j] = (float) ((j == y[i] ? 1 : 0) + r.nextGaussian());
        }
        int threads = Parallel.threads();
        LogisticRegression.Model a = LogisticRegression.fit(x, y, n, d, k, 1, 50, 1e-10), b;
        try {
            Parallel.setThreads(1);
            b = LogisticRegression.fit(x, y, n, d, k, 1, 50, 1e-10);
        } finally {
            Parallel.setThreads(threads);
        }
        assertArrayEquals(a.coef(), b.coef());
        assertArrayEquals(a.intercept(), b.intercept());
    }

    static TensorStore fixture() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("fixtures/official"))) p = p.getParent();
        if (p == null) throw new IllegalStateException("fixtures/ not found above " + Path.of("").toAbsolutePath());
        return SafeTensors.read(p.resolve("fixtures/extra/logreg.safetensors"));
    }

    static double[] doubles(TensorStore s, String name) {
        return s.get(name).data().toArray(ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
    }

    static int[] ints(TensorStore s, String name) {
        long[] l = s.get(name).data().toArray(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
        int[] out = new int[l.length];
        for (int i = 0; i < l.length; i++) out[i] = Math.toIntExact(l[i]);
        return out;
    }

    static double[] concat(double[] a, double[] b) {
        double[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
