package org.dino4j.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

class KnnTest {
    /** The blocked search against a plain one: full similarity matrix, full sort (sizes cross the 4096-row train block). */
    @Test
    void blockedNeighboursEqualBruteForce() {
        int n = 5000, m = 300, d = 37, k = 25;
        SplittableRandom r = new SplittableRandom(3);
        float[] tr = rand(r, n * d), te = rand(r, m * d);
        Knn.normalizeRows(tr, n, d);
        Knn.normalizeRows(te, m, d);
        int[][] idx = new int[m][];
        float[][] sim = new float[m][];
        Knn.neighbours(tr, n, te, m, d, k, idx, sim);
        for (int i = 0; i < m; i++) {
            double[] s = new double[n];
            Integer[] order = new Integer[n];
            for (int j = 0; j < n; j++) {
                for (int c = 0; c < d; c++) s[j] += (double) te[i * d + c] * tr[j * d + c];
                order[j] = j;
            }
            Arrays.sort(order, (a, b) -> Double.compare(s[b], s[a]));
            for (int j = 0; j < k; j++) {
                assertEquals(s[order[j]], sim[i][j], 1e-5, "row " + i + " rank " + j);
                // the same neighbour unless two similarities tie to float precision
                if (idx[i][j] != order[j]) assertEquals(s[order[j]], s[idx[i][j]], 1e-5);
            }
        }
    }

    /** Two well separated clusters plus a point whose vote depends on k and T, worked out by hand. */
    @Test
    void votesAsTheOfficialKnnModule() {
        // 1-D "directions" in 2-D: class 0 near angle 0, class 1 near angle 90 degrees
        float[] tr = {1, 0, 1, 0.1f, 0, 1, 0.1f, 1, 0.2f, 1};
        int[] trl = {0, 0, 1, 1, 1};
        // test point at 30 degrees: nearer class 0 (2 rows) than class 1 (3 rows)
        float[] te = {(float) Math.cos(Math.PI / 6), (float) Math.sin(Math.PI / 6)};
        List<Knn.Result> r = Knn.evaluate(tr, new int[] {0, 0, 1, 1, 1}, te, new int[] {0}, 2, 2, new int[] {1, 5}, 0.07);
        assertEquals(1.0, r.get(0).top1()); // k = 1: the nearest is class 0
        // k = 5 with T = 0.07: class 0's two close rows outweigh class 1's three far ones
        double[] s = new double[5];
        for (int j = 0; j < 5; j++) {
            double nx = tr[2 * j], ny = tr[2 * j + 1], nn = Math.hypot(nx, ny);
            s[j] = (nx * te[0] + ny * te[1]) / nn;
        }
        double w0 = Math.exp(s[0] / 0.07) + Math.exp(s[1] / 0.07), w1 = Math.exp(s[2] / 0.07) + Math.exp(s[3] / 0.07) + Math.exp(s[4] / 0.07);
        assertEquals(w0 > w1 ? 1.0 : 0.0, r.get(1).top1());
        assertEquals(1.0, r.get(1).top5()); // two classes: always in the top 5
        // with a large temperature the votes become counts: 3 rows of class 1 beat 2 of class 0
        assertEquals(0.0, Knn.evaluate(tr, trl, te, new int[] {0}, 2, 2, new int[] {5}, 100).get(0).top1());
        assertArrayEquals(new int[] {0, 0, 1, 1, 1}, trl);
    }

    @Test
    void badInputIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> Knn.evaluate(new float[4], new int[] {0, 1}, new float[2], new int[] {0}, 2, 2, new int[] {3}, 0.07));
        assertThrows(IllegalArgumentException.class, () -> Knn.evaluate(new float[4], new int[] {0, 5}, new float[2], new int[] {0}, 2, 2, new int[] {1}, 0.07));
    }

    private static float[] rand(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }
}
