package org.dino4j.curate;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Hierarchical k-means with resampling, as {@code hierarchical_kmeans_with_resampling} of
 * {@code facebookresearch/ssl-data-curation} (Vo et al. 2024): level 1 clusters the rows, level l the centroids of
 * level l−1. Per level, after the first k-means, {@code resamples} times: take the {@code sampleSize} points of each
 * cluster closest to its centroid (or random ones), run k-means (fresh k-means++) on those points only, and re-assign
 * every point of the level to the new centroids. This moves centroids from the dense regions toward a uniform cover
 * of the data, which balanced sampling then turns into a balanced dataset.
 */
public final class HierarchicalKMeans {
    /** One level: its cluster count, resampling steps and points per cluster per step (≤ 1: no resampling). */
    public record Level(int clusters, int resamples, int sampleSize) {}

    /**
     * @param assignment for level 1 each row's cluster; for level l ≥ 2 each level-(l−1) cluster's cluster
     * @param dist2      the squared distance of each member to its centroid
     */
    public record LevelResult(float[] centroids, int k, int[] assignment, float[] dist2) {}

    private HierarchicalKMeans() {}

    public static List<LevelResult> fit(KMeans.Data rows, List<Level> levels, int iters, boolean closest, long seed,
                                        KMeans.Listener listener) {
        return fit(rows, levels, iters, closest, new SplittableRandom(seed), listener);
    }

    /** As above, drawing from rnd: a caller that ran the first levels elsewhere goes on with the same draws. */
    public static List<LevelResult> fit(KMeans.Data rows, List<Level> levels, int iters, boolean closest, SplittableRandom rnd,
                                        KMeans.Listener listener) {
        if (levels.isEmpty()) throw new IllegalArgumentException("hierarchical k-means needs at least one level");
        List<LevelResult> out = new ArrayList<>();
        KMeans.Data data = rows;
        for (int l = 0; l < levels.size(); l++) {
            Level lv = levels.get(l);
            if (l > 0) {
                LevelResult prev = out.get(l - 1);
                data = KMeans.local(prev.centroids(), prev.k(), rows.d());
            }
            if (data.n() < lv.clusters())
                throw new IllegalArgumentException("level " + (l + 1) + ": " + lv.clusters() + " clusters for " + data.n()
                        + (l == 0 ? " rows" : " clusters of the level below"));
            KMeans.Result r = KMeans.fit(data, KMeans.init(data, lv.clusters(), rnd.nextLong(), listener), lv.clusters(), iters, listener);
            float[] c = r.centroids();
            int[] assign = r.assignment();
            float[] dist2 = r.dist2();
            if (lv.sampleSize() > 1) {
                for (int s = 0; s < lv.resamples(); s++) {
                    int[] pick = sample(assign, dist2, lv.clusters(), lv.sampleSize(), closest, rnd);
                    float[] pts = data.rows(pick);
                    KMeans.Data sub = KMeans.local(pts, pick.length, rows.d());
                    int k = Math.min(lv.clusters(), pick.length);
                    c = KMeans.fit(sub, KMeans.init(sub, k, rnd.nextLong()), k, iters, null).centroids();
                    KMeans.Assignment a = data.assign(c, k);
                    assign = a.cluster();
                    dist2 = a.dist2();
                }
            }
            out.add(new LevelResult(c, c.length / rows.d(), assign, dist2));
        }
        return out;
    }

    /** Per cluster, its {@code size} members closest to the centroid (or random ones), cluster by cluster. */
    static int[] sample(int[] assign, float[] dist2, int k, int size, boolean closest, SplittableRandom rnd) {
        int[][] members = members(assign, dist2, k, closest ? null : rnd);
        int total = 0;
        for (int[] m : members) total += Math.min(size, m.length);
        int[] out = new int[total];
        int o = 0;
        for (int[] m : members) for (int i = 0; i < Math.min(size, m.length); i++) out[o++] = m[i];
        return out;
    }

    /** Each cluster's members, closest to the centroid first (ties: lower index), or shuffled when rnd is given. */
    static int[][] members(int[] assign, float[] dist2, int k, SplittableRandom rnd) {
        int[] count = new int[k];
        for (int a : assign) count[a]++;
        int[][] m = new int[k][];
        for (int c = 0; c < k; c++) m[c] = new int[count[c]];
        int[] fill = new int[k];
        for (int i = 0; i < assign.length; i++) m[assign[i]][fill[assign[i]]++] = i;
        for (int[] c : m) {
            if (rnd != null) {
                for (int i = c.length - 1; i > 0; i--) {
                    int j = rnd.nextInt(i + 1), t = c[i];
                    c[i] = c[j];
                    c[j] = t;
                }
            } else {
                Integer[] boxed = Arrays.stream(c).boxed().toArray(Integer[]::new);
                Arrays.sort(boxed, (a, b) -> dist2[a] != dist2[b] ? Float.compare(dist2[a], dist2[b]) : Integer.compare(a, b));
                for (int i = 0; i < c.length; i++) c[i] = boxed[i];
            }
        }
        return m;
    }
}
