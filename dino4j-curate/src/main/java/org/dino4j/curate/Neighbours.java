package org.dino4j.curate;

import org.dino4j.eval.Knn;

/**
 * The k most similar base rows of each query row: {@code idx[q * k + j]} and {@code sim[q * k + j]} for j < k, most
 * similar first (equal similarities: lower base index first). Flat arrays, because a pool of a million images with
 * k = 64 is 64M entries.
 */
public record Neighbours(int queries, int k, int[] idx, float[] sim) {
    public Neighbours {
        if (idx.length != (long) queries * k || sim.length != idx.length)
            throw new IllegalArgumentException("neighbour arrays must hold queries x k entries");
    }

    public int index(int q, int j) {
        return idx[q * k + j];
    }

    public float similarity(int q, int j) {
        return sim[q * k + j];
    }

    /**
     * Exact search by blocked GEMM (queries x a slice of the base at a time): the inner products of L2-normalised rows,
     * i.e. cosine similarities.
     */
    public static Neighbours exact(float[] base, int n, float[] queries, int m, int d, int k) {
        if (k < 1 || k > n) throw new IllegalArgumentException("k = " + k + " with " + n + " base rows");
        int[][] idx = new int[m][];
        float[][] sim = new float[m][];
        Knn.neighbours(base, n, queries, m, d, k, idx, sim);
        return flatten(idx, sim, k);
    }

    static Neighbours flatten(int[][] idx, float[][] sim, int k) {
        int m = idx.length;
        int[] fi = new int[m * k];
        float[] fs = new float[m * k];
        for (int q = 0; q < m; q++) {
            System.arraycopy(idx[q], 0, fi, q * k, k);
            System.arraycopy(sim[q], 0, fs, q * k, k);
        }
        return new Neighbours(m, k, fi, fs);
    }

    /**
     * For a search of a set against itself with k + 1 neighbours: each row's list without the row itself (when the
     * row is not among its own k + 1, e.g. behind k + 1 exact copies, the last entry goes instead).
     */
    public Neighbours withoutSelf() {
        int k1 = k - 1;
        int[] fi = new int[queries * k1];
        float[] fs = new float[queries * k1];
        for (int q = 0; q < queries; q++) {
            int skip = k - 1;
            for (int j = 0; j < k; j++) if (idx[q * k + j] == q) { skip = j; break; }
            for (int j = 0, o = 0; j < k; j++) {
                if (j == skip) continue;
                fi[q * k1 + o] = idx[q * k + j];
                fs[q * k1 + o] = sim[q * k + j];
                o++;
            }
        }
        return new Neighbours(queries, k1, fi, fs);
    }

    /**
     * Per query, the k best of both lists (same k), a base row found by both counted once at its higher similarity;
     * the order rule as {@link #exact}.
     */
    public static Neighbours merge(Neighbours a, Neighbours b) {
        if (a.queries != b.queries || a.k != b.k) throw new IllegalArgumentException("merging neighbour lists of different shapes");
        int k = a.k;
        int[] fi = new int[a.idx.length];
        float[] fs = new float[a.sim.length];
        for (int q = 0; q < a.queries; q++) {
            java.util.Map<Integer, Float> best = new java.util.HashMap<>();
            for (Neighbours l : new Neighbours[] {a, b})
                for (int j = 0; j < k; j++) best.merge(l.index(q, j), l.similarity(q, j), Math::max);
            Integer[] rows = best.keySet().toArray(new Integer[0]);
            java.util.Arrays.sort(rows, (x, y) -> !best.get(x).equals(best.get(y)) ? Float.compare(best.get(y), best.get(x)) : Integer.compare(x, y));
            for (int j = 0; j < k; j++) {
                fi[q * k + j] = rows[j];
                fs[q * k + j] = best.get(rows[j]);
            }
        }
        return new Neighbours(a.queries, k, fi, fs);
    }
}
