package org.dino4j.curate;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

class KMeansTest {
    static float[] blobs(int n, int d, int centres, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[][] c = new float[centres][d];
        for (float[] row : c) for (int t = 0; t < d; t++) row[t] = (float) (r.nextDouble() * 10);
        float[] x = new float[n * d];
        for (int i = 0; i < n; i++) for (int t = 0; t < d; t++) x[i * d + t] = c[i % centres][t] + (float) (r.nextDouble() - 0.5);
        return x;
    }

    @Test
    void assignmentIsTheNearestCentroidByBruteForce() {
        int n = 517, d = 19, k = 37; // awkward sizes: not multiples of the vector width or the blocks
        float[] x = blobs(n, d, 7, 1), c = blobs(k, d, 5, 2);
        int[] a = new int[n];
        float[] dist = new float[n];
        KMeans.assign(x, n, d, c, k, a, dist);
        for (int i = 0; i < n; i++) {
            double best = Double.POSITIVE_INFINITY;
            int bi = -1;
            for (int j = 0; j < k; j++) {
                double s = 0;
                for (int t = 0; t < d; t++) s += Math.pow(x[i * d + t] - c[j * d + t], 2);
                if (s < best) { best = s; bi = j; }
            }
            assertEquals(best, dist[i], 1e-3 * Math.max(1, best), "row " + i);
            if (bi != a[i]) { // only a near tie may pick another centroid
                double other = 0;
                for (int t = 0; t < d; t++) other += Math.pow(x[i * d + t] - c[a[i] * d + t], 2);
                assertEquals(best, other, 1e-3 * Math.max(1, best), "row " + i);
            }
        }
    }

    @Test
    void lloydLowersTheObjectiveAndFindsSeparatedBlobs() {
        int n = 900, d = 8, k = 6;
        float[] x = blobs(n, d, k, 3);
        KMeans.Data data = KMeans.local(x, n, d);
        float[] init = KMeans.init(data, k, 42);
        assertArrayEquals(init, KMeans.init(data, k, 42), "same seed, same start");
        double[] objs = new double[100];
        int[] count = {0};
        KMeans.Result r = KMeans.fit(data, init, k, 100, (it, obj) -> objs[count[0]++] = obj);
        for (int i = 1; i < count[0]; i++) assertTrue(objs[i] <= objs[i - 1] * (1 + 1e-6), "objective rose at " + i);
        assertTrue(r.iterations() < 100, "converged");
        // blobs of spread 0.5 per axis, centres ~10 apart: each blob is one cluster
        for (int i = 0; i < n; i++) assertEquals(r.assignment()[i % k], r.assignment()[i], "row " + i);
        assertEquals(n * d / 12.0, r.objective(), n * d / 12.0 * 0.2, "uniform(-0.5, 0.5) noise: variance 1/12 per axis");
    }

    @Test
    void anEmptyClusterKeepsItsCentroid() {
        int n = 40, d = 2;
        float[] x = new float[n * d];
        for (int i = 0; i < n; i++) x[i * d] = i % 2;
        float[] init = {0, 0, 1, 0, 1000, 1000};
        KMeans.Result r = KMeans.fit(KMeans.local(x, n, d), init, 3, 10, null);
        assertEquals(1000f, r.centroids()[4]);
        assertEquals(0, r.sizes()[2]);
        assertEquals(0.0, r.objective(), 1e-9);
    }

    @Test
    void hierarchicalSamplingHitsTheTargetAndBalancesClusters() {
        // one dense blob of 600 rows and five small blobs of 60: a balanced sample takes far fewer from the dense one
        int d = 4;
        int n = 600 + 5 * 60;
        float[] x = new float[n * d];
        SplittableRandom r = new SplittableRandom(5);
        for (int i = 0; i < n; i++) {
            int blob = i < 600 ? 0 : 1 + (i - 600) / 60;
            for (int t = 0; t < d; t++) x[i * d + t] = blob * 20 + (t == blob % d ? 5 : 0) + (float) r.nextDouble();
        }
        List<HierarchicalKMeans.LevelResult> levels = HierarchicalKMeans.fit(KMeans.local(x, n, d),
                List.of(new HierarchicalKMeans.Level(24, 3, 10), new HierarchicalKMeans.Level(6, 2, 3)), 30, true, 1, null);
        int[] pick = HierarchicalSampling.sample(levels, 180, true, 1);
        assertEquals(180, pick.length);
        assertEquals(180, java.util.Arrays.stream(pick).distinct().count());
        long dense = java.util.Arrays.stream(pick).filter(i -> i < 600).count();
        assertTrue(dense < 100, "the dense blob holds 67% of the rows; a balanced sample gives it " + dense + " of 180");
        assertTrue(dense >= 20, "but not nothing: " + dense);
    }

    @Test
    void subclusterTargetsFollowTheBestCut() {
        long[] t = targetsOf(new long[] {10, 1, 5}, 8);
        assertEquals(8, t[0] + t[1] + t[2]);
        assertEquals(1, t[1]);
        assertTrue((t[0] == 4 && t[2] == 3) || (t[0] == 3 && t[2] == 4), java.util.Arrays.toString(t));
        assertArrayEquals(new long[] {10, 1, 5}, targetsOf(new long[] {10, 1, 5}, 100));
    }

    private static long[] targetsOf(long[] sizes, long target) {
        List<HierarchicalKMeans.LevelResult> one = List.of(new HierarchicalKMeans.LevelResult(new float[0], 1, new int[] {0}, new float[] {0}));
        return HierarchicalSampling.forTest(one).targets(sizes, target);
    }
}
