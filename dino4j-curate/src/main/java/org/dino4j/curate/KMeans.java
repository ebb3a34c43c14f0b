package org.dino4j.curate;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.SplittableRandom;

import org.dino4j.kernels.Epilogue;
import org.dino4j.kernels.Kernels;
import org.dino4j.kernels.Mat;
import org.dino4j.kernels.Parallel;
import org.dino4j.kernels.Weight;

/**
 * k-means (squared L2), as {@code facebookresearch/ssl-data-curation}'s {@code kmeans_gpu.py}: greedy k-means++
 * initialisation (2 + ln k candidates per step, the one that lowers the potential most is kept), Lloyd iterations
 * with the assignment as a GEMM (‖x‖² − 2x·c + ‖c‖², block by block), centroid means accumulated in double, an empty
 * cluster keeps its previous centroid. Iterations stop early once the centroids no longer move. The data sits behind
 * {@link Data}, so the Spark engine runs the same loop with its assignment step distributed.
 */
public final class KMeans {
    /** Per-cluster sums of the assigned rows (k x d), their counts, and the sum of squared distances. */
    public record Step(double[] sums, long[] counts, double objective) {}

    /** Where the rows live. */
    public interface Data {
        long n();

        int d();

        /** Assigns every row to its nearest centroid and returns the sums for the update. */
        Step step(float[] centroids, int k);

        /** Each row's nearest centroid and squared distance to it. */
        Assignment assign(float[] centroids, int k);

        /** The given rows, in the given order, as one row-major array. */
        float[] rows(int[] indices);
    }

    public record Assignment(int[] cluster, float[] dist2) {
        public double objective() {
            double s = 0;
            for (float v : dist2) s += v;
            return s;
        }
    }

    /**
     * @param objective sum over rows of the squared distance to the nearest final centroid
     * @param iterations Lloyd iterations run (the centroid update count)
     */
    public record Result(float[] centroids, int k, int d, int[] assignment, float[] dist2, double objective, int iterations) {
        public long[] sizes() {
            long[] s = new long[k];
            for (int c : assignment) s[c]++;
            return s;
        }
    }

    /** Hears each iteration's objective (of the assignment to the centroids before that iteration's update). */
    public interface Listener {
        void iteration(int iter, double objective);

        /** k-means++ has chosen {@code done} of {@code k} centres (slow for large k: each is a pass over the rows). */
        default void initProgress(int done, int k) {}
    }

    private static final int ROW_BLOCK = 256, COL_BLOCK = 4096;

    private KMeans() {}

    /** In-memory rows, n x d row-major. */
    public static Data local(float[] x, int n, int d) {
        if (x.length != (long) n * d) throw new IllegalArgumentException("x holds " + x.length + " floats, not " + n + " x " + d);
        return new Data() {
            public long n() {
                return n;
            }

            public int d() {
                return d;
            }

            public Step step(float[] c, int k) {
                return accumulate(x, n, d, assign(c, k), k);
            }

            public Assignment assign(float[] c, int k) {
                int[] a = new int[n];
                float[] dist = new float[n];
                KMeans.assign(x, n, d, c, k, a, dist);
                return new Assignment(a, dist);
            }

            public float[] rows(int[] indices) {
                float[] out = new float[indices.length * d];
                for (int i = 0; i < indices.length; i++) System.arraycopy(x, indices[i] * d, out, i * d, d);
                return out;
            }
        };
    }

    /** The sums and counts of rows x (n x d) under assignment a. */
    public static Step accumulate(float[] x, int n, int d, Assignment a, int k) {
        double[] sums = new double[k * d];
        long[] counts = new long[k];
        for (int i = 0; i < n; i++) {
            int c = a.cluster()[i];
            counts[c]++;
            for (int j = 0, o = c * d, r = i * d; j < d; j++) sums[o + j] += x[r + j];
        }
        return new Step(sums, counts, a.objective());
    }

    public static Result fit(float[] x, int n, int d, int k, int maxIter, long seed) {
        Data data = local(x, n, d);
        return fit(data, init(data, k, seed), k, maxIter, null);
    }

    /** Rows k-means++ starts from: all of them up to 256 per cluster (as faiss trains), else a seeded sample. */
    public static final int INIT_ROWS_PER_CLUSTER = 256;

    /** k-means++ over the data, or over a seeded sample of 256·k rows when there are more. Same seed, same centres. */
    public static float[] init(Data data, int k, long seed) {
        return init(data, k, seed, null);
    }

    public static float[] init(Data data, int k, long seed, Listener listener) {
        int[] idx = initSample(data.n(), k, seed);
        return initPlusPlus(data.rows(idx), idx.length, data.d(), k, seed, listener);
    }

    /** The rows k-means++ starts from (sorted): all, or a seeded sample of 256·k. */
    public static int[] initSample(long n, int k, long seed) {
        if (n < k) throw new IllegalArgumentException(k + " clusters for " + n + " rows");
        long cap = (long) INIT_ROWS_PER_CLUSTER * k;
        if (n > cap) return new SplittableRandom(seed ^ 0x5DEECE66DL).ints(0, Math.toIntExact(n)).distinct().limit(cap).sorted().toArray();
        int[] idx = new int[(int) n];
        for (int i = 0; i < n; i++) idx[i] = i;
        return idx;
    }

    /** Lloyd's iterations from {@code init} (k x d, not modified). */
    public static Result fit(Data data, float[] init, int k, int maxIter, Listener listener) {
        Fitted f = iterate(data, init, k, maxIter, listener);
        Assignment a = data.assign(f.centroids(), k);
        return new Result(f.centroids(), k, data.d(), a.cluster(), a.dist2(), a.objective(), f.iterations());
    }

    /** Centroids after Lloyd's iterations, and how many ran. */
    public record Fitted(float[] centroids, int iterations) {}

    /** Lloyd's iterations only (data.step): what a distributed caller runs before assigning on the executors. */
    public static Fitted iterate(Data data, float[] init, int k, int maxIter, Listener listener) {
        int d = data.d();
        if (init.length != k * d) throw new IllegalArgumentException("init holds " + init.length + " floats, not k x d = " + k + " x " + d);
        if (data.n() < k) throw new IllegalArgumentException(k + " clusters for " + data.n() + " rows");
        float[] c = init.clone();
        int it = 0;
        for (; it < maxIter; it++) {
            Step s = data.step(c, k);
            if (listener != null) listener.iteration(it, s.objective());
            float[] next = c.clone();
            for (int j = 0; j < k; j++) {
                if (s.counts()[j] == 0) continue; // empty: keeps its centroid
                double inv = 1.0 / s.counts()[j];
                for (int t = 0; t < d; t++) next[j * d + t] = (float) (s.sums()[j * d + t] * inv);
            }
            boolean moved = !Arrays.equals(next, c);
            c = next;
            if (!moved) {
                it++;
                break;
            }
        }
        return new Fitted(c, it);
    }

    /** Nearest centroid of each row (ties: the lower index) and the squared distance, by blocked GEMM. */
    public static void assign(float[] x, int n, int d, float[] c, int k, int[] assign, float[] dist2) {
        float[] cn = rowSqNorms(c, k, d);
        MemorySegment cs = MemorySegment.ofArray(c);
        int blocks = (n + ROW_BLOCK - 1) / ROW_BLOCK;
        Parallel.forEach(blocks, b -> {
            int i0 = b * ROW_BLOCK, rows = Math.min(ROW_BLOCK, n - i0);
            int cb = Math.min(COL_BLOCK, k);
            float[] s = new float[rows * cb];
            float[] best = new float[rows];
            Arrays.fill(best, Float.POSITIVE_INFINITY);
            for (int j0 = 0; j0 < k; j0 += COL_BLOCK) {
                int cols = Math.min(COL_BLOCK, k - j0);
                Kernels.get().linear(new Mat(x, i0 * d, d), Weight.of(cs.asSlice(4L * j0 * d, 4L * cols * d)), Epilogue.STORE,
                        Mat.of(s, cols), rows, cols, d);
                for (int r = 0; r < rows; r++) {
                    float bv = best[r];
                    int bi = assign[i0 + r];
                    for (int j = 0; j < cols; j++) {
                        float v = cn[j0 + j] - 2 * s[r * cols + j];
                        if (v < bv) {
                            bv = v;
                            bi = j0 + j;
                        }
                    }
                    best[r] = bv;
                    assign[i0 + r] = bi;
                }
            }
            for (int r = 0; r < rows; r++) {
                float xn = 0;
                for (int t = 0, o = (i0 + r) * d; t < d; t++) xn += x[o + t] * x[o + t];
                dist2[i0 + r] = Math.max(0f, xn + best[r]);
            }
        });
    }

    static float[] rowSqNorms(float[] a, int rows, int d) {
        float[] out = new float[rows];
        for (int i = 0; i < rows; i++) {
            float s = 0;
            for (int t = 0; t < d; t++) s += a[i * d + t] * a[i * d + t];
            out[i] = s;
        }
        return out;
    }

    /**
     * Greedy k-means++ (as scikit-learn and ssl-data-curation): the first centre uniformly at random, then each next
     * one the best of 2 + ln k candidates drawn with probability proportional to the squared distance to the nearest
     * centre so far. Deterministic for a seed.
     */
    public static float[] initPlusPlus(float[] x, int n, int d, int k, long seed) {
        return initPlusPlus(x, n, d, k, seed, null);
    }

    static float[] initPlusPlus(float[] x, int n, int d, int k, long seed, Listener listener) {
        if (k < 1 || k > n) throw new IllegalArgumentException(k + " clusters for " + n + " rows");
        SplittableRandom rnd = new SplittableRandom(seed);
        int trials = 2 + (int) Math.log(k);
        float[] c = new float[k * d];
        float[] xn = rowSqNorms(x, n, d);
        int first = rnd.nextInt(n);
        System.arraycopy(x, first * d, c, 0, d);
        float[] closest = new float[n];
        distancesTo(x, n, d, xn, c, 0, 1, new float[n], closest);
        float[] cand = new float[trials * d], dc = new float[trials * n];
        int[] pick = new int[trials];
        double[] cum = new double[n]; // cumulative squared distances, refilled for every centre
        for (int j = 1; j < k; j++) {
            double acc = 0;
            for (int i = 0; i < n; i++) cum[i] = acc += closest[i];
            for (int t = 0; t < trials; t++) {
                int i;
                if (acc <= 0) i = rnd.nextInt(n);
                else {
                    i = Arrays.binarySearch(cum, rnd.nextDouble() * acc);
                    i = Math.min(i < 0 ? -i - 1 : i, n - 1);
                }
                pick[t] = i;
                System.arraycopy(x, i * d, cand, t * d, d);
            }
            distancesTo(x, n, d, xn, cand, 0, trials, dc, null);
            int best = -1;
            double bestPot = Double.POSITIVE_INFINITY;
            for (int t = 0; t < trials; t++) {
                double p = 0;
                for (int i = 0; i < n; i++) p += Math.min(closest[i], dc[t * n + i]);
                if (p < bestPot) {
                    bestPot = p;
                    best = t;
                }
            }
            for (int i = 0; i < n; i++) closest[i] = Math.min(closest[i], dc[best * n + i]);
            System.arraycopy(x, pick[best] * d, c, j * d, d);
            if (listener != null && ((j + 1) % 16 == 0 || j + 1 == k)) listener.initProgress(j + 1, k);
        }
        return c;
    }

    /** out[t * n + i] = ‖x_i − c_t‖² for centres t in [t0, t0 + count); with {@code min}, min over those into min. */
    private static void distancesTo(float[] x, int n, int d, float[] xn, float[] c, int t0, int count, float[] out, float[] min) {
        float[] cn = rowSqNorms(Arrays.copyOfRange(c, t0 * d, (t0 + count) * d), count, d);
        MemorySegment xs = MemorySegment.ofArray(x);
        // centres x all rows as one GEMM: a = centres (count x d), w = the rows (n x d)
        Kernels.get().linear(new Mat(c, t0 * d, d), Weight.of(xs), Epilogue.STORE, Mat.of(out, n), count, n, d);
        for (int t = 0; t < count; t++)
            for (int i = 0; i < n; i++) out[t * n + i] = Math.max(0f, xn[i] - 2 * out[t * n + i] + cn[t]);
        if (min != null) {
            Arrays.fill(min, Float.POSITIVE_INFINITY);
            for (int t = 0; t < count; t++) for (int i = 0; i < n; i++) min[i] = Math.min(min[i], out[t * n + i]);
        }
    }

}
