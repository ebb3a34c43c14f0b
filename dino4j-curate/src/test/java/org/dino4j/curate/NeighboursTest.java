package org.dino4j.curate;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

class NeighboursTest {
    static VectorSet random(String name, int n, int d, long seed, int copiesOfRow0) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n * d];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        for (int c = 1; c <= copiesOfRow0; c++) System.arraycopy(x, 0, x, c * 7 * d, d); // exact copies: ties
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) ids.add(name + i);
        return VectorSet.normalized(name, ids, Collections.nCopies(n, name), x, d);
    }

    @Test
    void exactSearchEqualsBruteForceWithTiesBrokenByIndex() {
        VectorSet base = random("b", 301, 23, 1, 5), q = random("q", 37, 23, 2, 0);
        System.arraycopy(base.x(), 0, q.x(), 3 * 23, 23); // query 3 is base row 0, which has 5 exact copies
        int k = 9;
        Neighbours nn = Neighbours.exact(base.x(), base.size(), q.x(), q.size(), 23, k);
        for (int i = 0; i < q.size(); i++) {
            Integer[] order = new Integer[base.size()];
            double[] s = new double[base.size()];
            for (int j = 0; j < base.size(); j++) {
                order[j] = j;
                for (int t = 0; t < 23; t++) s[j] += q.x()[i * 23 + t] * base.x()[j * 23 + t];
            }
            java.util.Arrays.sort(order, (a, b) -> Math.abs(s[a] - s[b]) > 1e-5 ? Double.compare(s[b], s[a]) : Integer.compare(a, b));
            for (int j = 0; j < k; j++) {
                assertEquals(s[order[j]], nn.similarity(i, j), 1e-5);
                assertEquals((int) order[j], nn.index(i, j), "query " + i + " rank " + j);
            }
        }
        assertArrayEquals(new int[] {0, 7, 14, 21, 28, 35}, java.util.Arrays.copyOfRange(nn.idx(), 3 * k, 3 * k + 6));
    }

    @Test
    void withoutSelfDropsTheRowItselfEvenBehindExactCopies() {
        VectorSet s = random("s", 100, 8, 3, 4);
        Neighbours nn = Neighbours.exact(s.x(), 100, s.x(), 100, 8, 3).withoutSelf(); // row 28 ties with 0, 7, 14, 21
        assertEquals(2, nn.k());
        for (int q = 0; q < 100; q++) for (int j = 0; j < 2; j++) assertNotEquals(q, nn.index(q, j));
        assertEquals(7, nn.index(0, 0));
        assertEquals(1.0f, nn.similarity(28, 1), 1e-5f);
    }

    @Test
    void hnswFindsAlmostAllExactNeighbours() {
        VectorSet base = random("b", 3000, 32, 4, 0), q = random("q", 200, 32, 5, 0);
        int k = 10;
        Neighbours exact = Neighbours.exact(base.x(), base.size(), q.x(), q.size(), 32, k);
        Neighbours approx = HnswIndex.build(base).search(q, k);
        int hit = 0;
        for (int i = 0; i < q.size(); i++) {
            java.util.Set<Integer> truth = new java.util.HashSet<>();
            for (int j = 0; j < k; j++) truth.add(exact.index(i, j));
            for (int j = 0; j < k; j++) {
                if (truth.contains(approx.index(i, j))) hit++;
                if (j > 0) assertTrue(approx.similarity(i, j) <= approx.similarity(i, j - 1), "sorted");
            }
        }
        double recall = hit / (double) (q.size() * k);
        assertTrue(recall >= 0.95, "recall@10 " + recall);
        // similarities are recomputed exactly: where both found a row, they agree
        assertEquals(exact.similarity(0, 0) == approx.similarity(0, 0), exact.index(0, 0) == approx.index(0, 0));
    }

    @Test
    void hnswOverFewerRowsThanKReturnsThemAllWithTiesByRow() {
        VectorSet base = random("b", 15, 16, 6, 1), q = random("q", 1, 16, 7, 0); // row 7 is a copy of row 0: a tie
        System.arraycopy(base.x(), 0, q.x(), 0, 16);
        float[][] rows = new float[base.size()][];
        for (int i = 0; i < rows.length; i++) rows[i] = java.util.Arrays.copyOfRange(base.x(), i * 16, (i + 1) * 16);
        Neighbours got = HnswIndex.build(rows, 16).search(q.x(), 0, 40);
        assertEquals(15, got.k(), "every row, no padding");
        assertEquals(0, got.index(0, 0));
        assertEquals(7, got.index(0, 1));
        java.util.Set<Integer> seen = new java.util.HashSet<>();
        for (int j = 0; j < got.k(); j++) {
            seen.add(got.index(0, j));
            float s = 0; // the plain loop, in order: the re-scoring's arithmetic
            for (int t = 0; t < 16; t++) s += q.x()[t] * base.x()[got.index(0, j) * 16 + t];
            assertEquals(s, got.similarity(0, j));
            if (j > 0) assertTrue(got.similarity(0, j) <= got.similarity(0, j - 1));
        }
        assertEquals(15, seen.size());
    }
}
