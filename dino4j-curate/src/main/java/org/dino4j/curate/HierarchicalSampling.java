package org.dino4j.curate;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Balanced sampling from a hierarchy of clusters, as {@code hierarchical_sampling} of ssl-data-curation (multiplier
 * 1): the target is split top-down: at each level the cut c with Σ min(c, size_i) closest to the target from below,
 * c + 1 for randomly chosen clusters larger than c to hit the target exactly; at level 1 the points closest to the
 * centroid (or random ones). Large clusters give up points, small clusters are kept whole.
 */
public final class HierarchicalSampling {
    private final List<HierarchicalKMeans.LevelResult> levels;
    private final int[][][] children; // children[l][c]: level-l cluster c's members (rows for l = 0, else level-(l-1) clusters)
    private final long[][] flatSize;  // flatSize[l][c]: rows under level-l cluster c
    private final boolean closest;
    private final SplittableRandom rnd;

    /** sizes0: the level-1 cluster sizes when level 1's rows are not here (its assignment stays on executors). */
    private HierarchicalSampling(List<HierarchicalKMeans.LevelResult> levels, long[] sizes0, boolean closest, long seed) {
        this.levels = levels;
        this.closest = closest;
        this.rnd = new SplittableRandom(seed);
        int L = levels.size();
        children = new int[L][][];
        flatSize = new long[L][];
        for (int l = 0; l < L; l++) {
            HierarchicalKMeans.LevelResult r = levels.get(l);
            // level 1 members sorted by distance (closest strategy) or shuffled; upper levels by distance too (order unused)
            if (l == 0 && sizes0 != null) {
                flatSize[0] = sizes0.clone();
                continue;
            }
            children[l] = HierarchicalKMeans.members(r.assignment(), r.dist2(), r.k(), l == 0 && !closest ? rnd : null);
            flatSize[l] = new long[r.k()];
            for (int c = 0; c < r.k(); c++) {
                if (l == 0) flatSize[l][c] = children[l][c].length;
                else for (int sub : children[l][c]) flatSize[l][c] += flatSize[l - 1][sub];
            }
        }
    }

    static HierarchicalSampling forTest(List<HierarchicalKMeans.LevelResult> levels) {
        return new HierarchicalSampling(levels, null, true, 0);
    }

    /** Row indices (level-1 members) of a balanced sample of {@code target} rows (all rows if fewer). */
    public static int[] sample(List<HierarchicalKMeans.LevelResult> levels, long target, boolean closest, long seed) {
        HierarchicalSampling s = new HierarchicalSampling(levels, null, closest, seed);
        List<int[]> parts = new ArrayList<>();
        s.split(target, parts, null);
        int total = 0;
        for (int[] p : parts) total += p.length;
        int[] out = new int[total];
        int o = 0;
        for (int[] p : parts) {
            System.arraycopy(p, 0, out, o, p.length);
            o += p.length;
        }
        return out;
    }

    /**
     * How many rows of each level-1 cluster the balanced sample takes (strategy closest: its rows closest to the
     * centroid), given the level-1 sizes and every level's result (level 1's assignment unused): what a caller whose
     * rows stay on executors needs; the same choices as {@link #sample}.
     */
    public static long[] levelOneTargets(long[] sizes0, List<HierarchicalKMeans.LevelResult> levels, long target, long seed) {
        long[] t0 = new long[sizes0.length];
        new HierarchicalSampling(levels, sizes0, true, seed).split(target, null, t0);
        return t0;
    }

    private void split(long target, List<int[]> out, long[] t0) {
        int top = levels.size() - 1;
        long[] sizes = flatSize[top];
        long[] t = targets(sizes, target);
        for (int c = 0; c < sizes.length; c++) recurse(top, c, t[c], out, t0);
    }

    /** Level 0: the first rows of the cluster into out, or only their number into t0. */
    private void recurse(int level, int c, long target, List<int[]> out, long[] t0) {
        if (target <= 0) return;
        if (level == 0) {
            if (t0 != null) t0[c] = Math.min(target, flatSize[0][c]);
            else out.add(java.util.Arrays.copyOf(children[0][c], (int) Math.min(target, children[0][c].length)));
            return;
        }
        int[] ch = children[level][c];
        long[] sizes = new long[ch.length];
        for (int i = 0; i < ch.length; i++) sizes[i] = flatSize[level - 1][ch[i]];
        long[] t = targets(sizes, target);
        for (int i = 0; i < ch.length; i++) recurse(level - 1, ch[i], t[i], out, t0);
    }

    /** find_subcluster_target_size: per-cluster targets summing to min(target, Σ sizes), each ≤ its size. */
    long[] targets(long[] sizes, long target) {
        long max = 0, sum = 0;
        for (long v : sizes) {
            max = Math.max(max, v);
            sum += v;
        }
        if (sum <= target) return sizes.clone();
        long cut = bestCutLeft(sizes, target);
        long[] t = new long[sizes.length];
        long got = 0;
        List<Integer> bigger = new ArrayList<>();
        for (int i = 0; i < sizes.length; i++) {
            t[i] = Math.min(cut, sizes[i]);
            got += t[i];
            if (sizes[i] > cut) bigger.add(i);
        }
        long rem = target - got;
        for (int i = 0; i < rem; i++) { // rem distinct random clusters among the bigger ones get one more
            int j = i + rnd.nextInt(bigger.size() - i);
            java.util.Collections.swap(bigger, i, j);
            t[bigger.get(i)]++;
        }
        return t;
    }

    private static long bestCutLeft(long[] arr, long target) {
        long left = 0, right = 0;
        for (long v : arr) right = Math.max(right, v);
        while (right - left > 1) {
            long mid = (left + right) / 2, s = sumMin(arr, mid);
            if (s > target) right = mid;
            else if (s < target) left = mid;
            else return mid;
        }
        return sumMin(arr, right) <= target ? right : left;
    }

    private static long sumMin(long[] arr, long c) {
        long s = 0;
        for (long v : arr) s += Math.min(v, c);
        return s;
    }
}
