package org.dino4j.viz;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

class PcaTest {
    /** Q diag(values) Q^T with Q a Householder reflection of a random vector: eigenvectors are Q's columns. */
    private static double[][] orthogonal(int d, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        double[] v = new double[d];
        double vv = 0;
        for (int i = 0; i < d; i++) vv += (v[i] = rnd.nextGaussian()) * v[i];
        double[][] q = new double[d][d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) q[i][j] = (i == j ? 1 : 0) - 2 * v[i] * v[j] / vv;
        return q;
    }

    private static double[] compose(double[][] q, double[] values) {
        int d = values.length;
        double[] a = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                for (int k = 0; k < d; k++) a[i * d + j] += q[i][k] * values[k] * q[j][k];
        return a;
    }

    private static double[] column(double[][] q, int c) {
        double[] v = new double[q.length];
        for (int i = 0; i < q.length; i++) v[i] = q[i][c];
        return v;
    }

    private static double dot(double[] x, double[] y) {
        double s = 0;
        for (int i = 0; i < x.length; i++) s += x[i] * y[i];
        return s;
    }

    private static void assertSignRule(double[] v) {
        int arg = 0;
        for (int i = 1; i < v.length; i++) if (Math.abs(v[i]) > Math.abs(v[arg])) arg = i;
        assertTrue(v[arg] > 0, "largest entry positive");
    }

    @Test
    void twoByTwoWithTheSignConvention() {
        Pca.Eigen e = Pca.topEigen(new double[] {2, 1, 1, 2}, 2, 2);
        assertArrayEquals(new double[] {3, 1}, e.values(), 1e-12);
        double r = Math.sqrt(0.5);
        assertArrayEquals(new double[] {r, r}, e.vectors()[0], 1e-12);
        assertArrayEquals(new double[] {r, -r}, e.vectors()[1], 1e-12); // a tie in |value|: the first entry is made positive
    }

    @Test
    void knownEigenvectorsByJacobiAndBySubspaceIteration() {
        for (int d : new int[] {6, 40, Pca.JACOBI_MAX_DIM + 1, 200}) {
            double[] values = new double[d];
            for (int i = 0; i < d; i++) values[i] = 10.0 / (i + 1); // distinct, descending
            double[] shuffled = new double[d]; // the matrix holds them out of order (7 is prime to every d here)
            for (int i = 0; i < d; i++) shuffled[i] = values[(i * 7 + 3) % d];
            double[][] q = orthogonal(d, d);
            double[] a = compose(q, shuffled);
            int k = Math.min(4, d);
            Pca.Eigen e = Pca.topEigen(a, d, k);
            for (int i = 0; i < k; i++) {
                assertEquals(values[i], e.values()[i], 1e-9 * values[0], "d=" + d + " value " + i);
                int src = -1;
                for (int c = 0; c < d; c++) if (shuffled[c] == values[i]) src = c;
                assertEquals(1, Math.abs(dot(e.vectors()[i], column(q, src))), 1e-8, "d=" + d + " vector " + i);
                assertEquals(1, dot(e.vectors()[i], e.vectors()[i]), 1e-10);
                assertSignRule(e.vectors()[i]);
            }
        }
    }

    @Test
    void jacobiAndSubspaceAgreeOnARandomMatrix() {
        int d = 50;
        SplittableRandom rnd = new SplittableRandom(3);
        double[] a = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = i; j < d; j++) a[i * d + j] = a[j * d + i] = rnd.nextGaussian() + (i == j ? 0.5 * (d - i) : 0);
        Pca.Eigen full = Pca.jacobi(a, d), sub = Pca.subspace(a, d, 3);
        for (int i = 0; i < 3; i++) {
            assertEquals(full.values()[i], sub.values()[i], 1e-9 * Math.abs(full.values()[0]));
            assertEquals(1, Math.abs(dot(full.vectors()[i], sub.vectors()[i])), 1e-8);
        }
        double trace = 0, sum = 0;
        for (int i = 0; i < d; i++) trace += a[i * d + i];
        for (double v : full.values()) sum += v;
        assertEquals(trace, sum, 1e-9 * Math.abs(trace));
    }

    @Test
    void findsAPlantedDominantDirection() {
        int n = 3000, d = 96; // above JACOBI_MAX_DIM: the subspace path
        SplittableRandom rnd = new SplittableRandom(7);
        double[] u = new double[d], w = new double[d];
        for (int j = 0; j < d; j++) {
            u[j] = rnd.nextGaussian();
            w[j] = rnd.nextGaussian();
        }
        double uu = Math.sqrt(dot(u, u));
        for (int j = 0; j < d; j++) u[j] /= uu;
        double uw = dot(u, w); // second direction orthogonal to the first
        for (int j = 0; j < d; j++) w[j] -= uw * u[j];
        double ww = Math.sqrt(dot(w, w));
        for (int j = 0; j < d; j++) w[j] /= ww;
        float[] x = new float[n * d];
        double[] g = new double[n];
        for (int r = 0; r < n; r++) {
            g[r] = rnd.nextGaussian();
            double h = rnd.nextGaussian();
            for (int j = 0; j < d; j++) x[r * d + j] = (float) (3 + 10 * g[r] * u[j] + 4 * h * w[j] + 0.1 * rnd.nextGaussian()); // offset 3: centring matters
        }
        Pca p = Pca.fit(x, n, d, 2);
        assertEquals(2, p.numComponents());
        assertEquals(1, Math.abs(dot(p.component(0), u)), 1e-4);
        assertEquals(1, Math.abs(dot(p.component(1), w)), 1e-3);
        assertSignRule(p.component(0));
        assertEquals(100, p.variances()[0], 8);
        assertEquals(16, p.variances()[1], 2);
        float[] t = p.transform(x, n);
        double sign = Math.signum(dot(p.component(0), u)), err = 0;
        for (int r = 0; r < n; r++) err = Math.max(err, Math.abs(t[2 * r] - sign * 10 * g[r]));
        assertTrue(err < 0.6, "projections follow the planted factor, max error " + err);
        assertEquals(3, p.mean()[0], 1.5);
    }

    @Test
    void degenerateInputs() {
        Pca one = Pca.fit(new float[] {1, 2, 3}, 1, 3, 2); // one row: no variance, still a usable (zero) projection
        assertArrayEquals(new float[] {0, 0}, one.transform(new float[] {1, 2, 3}, 1), 0f);
        Pca flat = Pca.fit(new float[100 * 70], 100, 70, 3); // zero covariance on the subspace path
        assertEquals(0, flat.variances()[0]);
        assertThrows(IllegalArgumentException.class, () -> Pca.fit(new float[6], 2, 3, 4));
        assertThrows(IllegalArgumentException.class, () -> Pca.fit(new float[5], 2, 3, 1));
    }
}
