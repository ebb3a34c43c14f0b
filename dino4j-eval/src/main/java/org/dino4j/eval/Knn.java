package org.dino4j.eval;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import org.dino4j.kernels.Epilogue;
import org.dino4j.kernels.Kernels;
import org.dino4j.kernels.Mat;
import org.dino4j.kernels.Parallel;
import org.dino4j.kernels.Weight;

/**
 * Weighted k-NN classification as the official {@code dinov2/eval/knn.py} (KnnModule): L2-normalised features,
 * cosine similarity, the max(k) most similar training rows, votes weighted by softmax(sim / T) over those
 * neighbours (the same ranking as DINO's exp(sim / T)), class scores summed over the first k for each k; top-1 and
 * top-5. The similarity is computed block by block with the engine's GEMM (test rows x a slice of training rows), so
 * memory stays at one block whatever the sizes: a million training rows cost their features, not a 1M x N matrix.
 */
public final class Knn {
    /** Accuracies (fractions, 0..1) for one k. */
    public record Result(int k, double top1, double top5) {}

    private static final int TEST_BLOCK = 256, TRAIN_BLOCK = 4096;

    private Knn() {}

    /** Divides each of the n rows of length d by its L2 norm (rows of zeros stay zero), in place; returns x. */
    public static float[] normalizeRows(float[] x, int n, int d) {
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < d; j++) s += (double) x[i * d + j] * x[i * d + j];
            float inv = s > 0 ? (float) (1 / Math.max(Math.sqrt(s), 1e-12)) : 0f;
            for (int j = 0; j < d; j++) x[i * d + j] *= inv;
        }
        return x;
    }

    /**
     * @param train      training features, n x d row-major (normalised here on a copy)
     * @param test       test features, m x d
     * @param numClasses labels are 0..numClasses-1
     * @param ks         the k values (e.g. 10, 20, 100, 200); each at most n
     * @param temperature T (official 0.07)
     */
    public static List<Result> evaluate(float[] train, int[] trainLabels, float[] test, int[] testLabels, int d,
                                        int numClasses, int[] ks, double temperature) {
        int n = trainLabels.length, m = testLabels.length;
        if (train.length != (long) n * d || test.length != (long) m * d)
            throw new IllegalArgumentException("feature arrays do not match the label counts x " + d);
        int maxK = 0;
        for (int k : ks) {
            if (k < 1 || k > n) throw new IllegalArgumentException("k = " + k + " with " + n + " training rows");
            maxK = Math.max(maxK, k);
        }
        for (int l : trainLabels) if (l < 0 || l >= numClasses) throw new IllegalArgumentException("training label " + l + " outside 0.." + (numClasses - 1));
        float[] tr = normalizeRows(train.clone(), n, d), te = normalizeRows(test.clone(), m, d);
        int[][] nbrIdx = new int[m][];
        float[][] nbrSim = new float[m][];
        neighbours(tr, n, te, m, d, maxK, nbrIdx, nbrSim);
        long[] correct1 = new long[ks.length], correct5 = new long[ks.length];
        double[] score = new double[numClasses];
        for (int i = 0; i < m; i++) {
            for (int q = 0; q < ks.length; q++) {
                vote(nbrIdx[i], nbrSim[i], ks[q], trainLabels, temperature, score);
                int rank = rankOf(score, testLabels[i]);
                if (rank == 0) correct1[q]++;
                if (rank < 5) correct5[q]++;
            }
        }
        List<Result> out = new ArrayList<>();
        for (int q = 0; q < ks.length; q++) out.add(new Result(ks[q], (double) correct1[q] / m, (double) correct5[q] / m));
        return out;
    }

    /** The top-1 class of every test row for one k (for confusion matrices and per-class accuracy). */
    public static int[] predict(float[] train, int[] trainLabels, float[] test, int m, int d, int numClasses, int k,
                                double temperature) {
        int n = trainLabels.length;
        if (k < 1 || k > n) throw new IllegalArgumentException("k = " + k + " with " + n + " training rows");
        float[] tr = normalizeRows(train.clone(), n, d), te = normalizeRows(test.clone(), m, d);
        int[][] idx = new int[m][];
        float[][] sim = new float[m][];
        neighbours(tr, n, te, m, d, k, idx, sim);
        int[] out = new int[m];
        double[] score = new double[numClasses];
        for (int i = 0; i < m; i++) {
            vote(idx[i], sim[i], k, trainLabels, temperature, score);
            int best = 0;
            for (int c = 1; c < numClasses; c++) if (score[c] > score[best]) best = c;
            out[i] = best;
        }
        return out;
    }

    /** score[c] = sum over the first k neighbours of class c of exp((sim − sim_0) / T): softmax votes up to a common factor. */
    private static void vote(int[] idx, float[] sim, int k, int[] trainLabels, double temperature, double[] score) {
        java.util.Arrays.fill(score, 0);
        for (int j = 0; j < k; j++) score[trainLabels[idx[j]]] += Math.exp((sim[j] - sim[0]) / temperature);
    }

    /** How many classes score strictly higher than the true one, ties broken toward the lower class index (as topk). */
    private static int rankOf(double[] score, int label) {
        int r = 0;
        for (int c = 0; c < score.length; c++)
            if (score[c] > score[label] || (score[c] == score[label] && c < label)) r++;
        return r;
    }

    /**
     * For each test row, the maxK most similar training rows (inner product: cosine when both are L2-normalised), most
     * similar first; equal similarities keep the lower training index first.
     */
    public static void neighbours(float[] tr, int n, float[] te, int m, int d, int maxK, int[][] idx, float[][] sim) {
        int blocks = (m + TEST_BLOCK - 1) / TEST_BLOCK;
        // test blocks in parallel, each with its own similarity buffer; the GEMM inside runs single-threaded
        MemorySegment train = MemorySegment.ofArray(tr);
        Parallel.forEach(blocks, b -> {
            int i0 = b * TEST_BLOCK, rows = Math.min(TEST_BLOCK, m - i0);
            float[] s = new float[rows * TRAIN_BLOCK];
            float[][] topS = new float[rows][maxK];
            int[][] topI = new int[rows][maxK];
            int[] filled = new int[rows];
            for (int j0 = 0; j0 < n; j0 += TRAIN_BLOCK) {
                int cols = Math.min(TRAIN_BLOCK, n - j0);
                Kernels.get().linear(new Mat(te, i0 * d, d), Weight.of(train.asSlice(4L * j0 * d, 4L * cols * d)), Epilogue.STORE,
                        Mat.of(s, cols), rows, cols, d);
                for (int r = 0; r < rows; r++) {
                    float[] ts = topS[r];
                    int[] ti = topI[r];
                    for (int c = 0; c < cols; c++) {
                        float v = s[r * cols + c];
                        int f = filled[r];
                        if (f == maxK && !(v > ts[maxK - 1])) continue;
                        int p = f == maxK ? maxK - 1 : f; // insertion keeps the list sorted; equal values keep the earlier row first
                        while (p > 0 && v > ts[p - 1]) {
                            ts[p] = ts[p - 1];
                            ti[p] = ti[p - 1];
                            p--;
                        }
                        ts[p] = v;
                        ti[p] = j0 + c;
                        if (f < maxK) filled[r] = f + 1;
                    }
                }
            }
            for (int r = 0; r < rows; r++) {
                idx[i0 + r] = topI[r];
                sim[i0 + r] = topS[r];
            }
        });
    }
}
