package org.dino4j.eval;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import org.dino4j.kernels.Epilogue;
import org.dino4j.kernels.Kernels;
import org.dino4j.kernels.Mat;
import org.dino4j.kernels.Weight;

/**
 * Instance retrieval scored as the revisited Oxford/Paris benchmark (Radenović et al. 2018, {@code revisitop}'s
 * {@code compute_map}): the gallery ranked by cosine similarity to each query; per query, the ranks of its positives
 * after its junk images are removed from the ranking; AP by the benchmark's trapezoid rule; mAP and mean precision at
 * k over the queries that have positives. The three protocols: Easy (positives easy, junk junk + hard), Medium
 * (positives easy + hard, junk junk), Hard (positives hard, junk junk + easy).
 */
public final class Retrieval {
    /** One query's ground truth: gallery indices. */
    public record Truth(int[] easy, int[] hard, int[] junk) {}

    public enum Protocol { EASY, MEDIUM, HARD }

    /** mAP and mean precision at each k, in [0, 1]. */
    public record Score(Protocol protocol, double map, int[] ks, double[] meanPrecisionAt, int queries) {}

    private Retrieval() {}

    /**
     * For each query, the gallery indices by decreasing cosine similarity (features L2-normalised here on copies).
     */
    public static int[][] rank(float[] gallery, int n, float[] queries, int q, int d) {
        float[] g = Knn.normalizeRows(gallery.clone(), n, d), x = Knn.normalizeRows(queries.clone(), q, d);
        float[] sim = new float[n];
        int[][] out = new int[q][];
        MemorySegment gs = MemorySegment.ofArray(g);
        for (int i = 0; i < q; i++) {
            Kernels.get().linear(new Mat(x, i * d, d), Weight.of(gs), Epilogue.STORE, Mat.of(sim, n), 1, n, d);
            Integer[] idx = new Integer[n];
            for (int j = 0; j < n; j++) idx[j] = j;
            final float[] s = sim.clone();
            Arrays.sort(idx, (a, b) -> s[b] != s[a] ? Float.compare(s[b], s[a]) : Integer.compare(a, b));
            out[i] = Arrays.stream(idx).mapToInt(Integer::intValue).toArray();
        }
        return out;
    }

    /** revisitop's compute_ap: ranks = 0-based positions of the positives in the junk-free ranking, sorted. */
    static double averagePrecision(int[] ranks, int positives) {
        double ap = 0, step = 1.0 / positives;
        for (int j = 0; j < ranks.length; j++) {
            int r = ranks[j];
            double p0 = r == 0 ? 1.0 : (double) j / r, p1 = (double) (j + 1) / (r + 1);
            ap += (p0 + p1) * step / 2;
        }
        return ap;
    }

    public static Score score(int[][] ranking, List<Truth> truth, Protocol p, int[] ks) {
        if (ranking.length != truth.size())
            throw new IllegalArgumentException(ranking.length + " rankings for " + truth.size() + " queries");
        double mapSum = 0;
        double[] prec = new double[ks.length];
        int used = 0;
        for (int i = 0; i < ranking.length; i++) {
            Truth t = truth.get(i);
            Set<Integer> pos = new HashSet<>(), junk = new HashSet<>();
            switch (p) {
                case EASY -> { add(pos, t.easy()); add(junk, t.junk()); add(junk, t.hard()); }
                case MEDIUM -> { add(pos, t.easy()); add(pos, t.hard()); add(junk, t.junk()); }
                case HARD -> { add(pos, t.hard()); add(junk, t.junk()); add(junk, t.easy()); }
            }
            if (pos.isEmpty()) continue; // revisitop skips queries without positives in this protocol
            used++;
            List<Integer> ranks = new ArrayList<>();
            int r = 0;
            for (int g : ranking[i]) {
                if (junk.contains(g)) continue;
                if (pos.contains(g)) ranks.add(r);
                r++;
            }
            int[] rk = ranks.stream().mapToInt(Integer::intValue).toArray();
            mapSum += averagePrecision(rk, pos.size());
            // revisitop's precision at k: at min(k, 1-based rank of the last positive found), junk-free ranking
            int last = rk.length == 0 ? 0 : rk[rk.length - 1] + 1;
            for (int k = 0; k < ks.length; k++) {
                int kq = Math.min(last, ks[k]), hits = 0;
                for (int v : rk) if (v + 1 <= kq) hits++;
                prec[k] += kq == 0 ? 0 : (double) hits / kq;
            }
        }
        for (int k = 0; k < ks.length; k++) prec[k] = used == 0 ? 0 : prec[k] / used;
        return new Score(p, used == 0 ? 0 : mapSum / used, ks.clone(), prec, used);
    }

    private static void add(Set<Integer> s, int[] v) {
        if (v != null) for (int x : v) s.add(x);
    }
}
