package org.dino4j.train.loss;

import org.dino4j.kernels.Kernels;
import org.dino4j.kernels.Parallel;

/**
 * The two ways DINOv2 turns teacher logits [rows, K] into targets: softmax centering with an EMA center, and
 * Sinkhorn-Knopp (the official {@code sinkhorn_knopp_teacher}, single process: the all-reduces are identities).
 */
public final class Centering {
    private Centering() {}

    /** softmax((t - center) / temp) per row; center [K]. */
    public static float[] softmaxCenter(float[] t, int rows, int k, float[] center, float temp) {
        float[] out = new float[rows * k];
        for (int i = 0; i < rows; i++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < k; j++) max = Math.max(max, (t[i * k + j] - center[j]) / temp);
            double sum = 0;
            for (int j = 0; j < k; j++) sum += Math.exp((t[i * k + j] - center[j]) / temp - max);
            for (int j = 0; j < k; j++) out[i * k + j] = (float) (Math.exp((t[i * k + j] - center[j]) / temp - max) / sum);
        }
        return out;
    }

    /**
     * Q = exp(t / temp)^T, normalised to total 1, then {@code iterations} rounds of: rows (prototypes) to sum 1/K,
     * columns (samples) to sum 1/B; finally columns scaled to sum 1. {@code b} is the number of samples the column
     * constraint counts (rows for DINO, the number of masked patches for iBOT). Float32 throughout, as the official
     * code, its divisions kept as divisions. Each sample's sum and the total are added up in double ({@link Ops#sum});
     * each prototype's sum over the samples in float, over fixed chunks of samples whose partial sums are added in
     * chunk order: the same result on every run, whatever the thread count. A sample's row (K floats) stays in cache
     * between the steps that touch it, so a round reads and writes Q once (it is rows x K: 320 MB for iBOT's masked
     * patches at ViT-S batch 16).
     */
    public static float[] sinkhornKnopp(float[] t, int rows, int k, float temp, int iterations, double b) {
        float[] q = new float[rows * k]; // q[i * k + j] = Q^T: sample i, prototype j
        // exp(t/temp), as the official code; only where that would overflow float (a logit above ~60·temp: the
        // official result is then NaN) is a constant subtracted first, which the division by the total cancels
        float[] rowMax = new float[rows];
        Parallel.forEach(rows, i -> rowMax[i] = Kernels.get().max(t, i * k, k));
        float max = Float.NEGATIVE_INFINITY;
        for (float m : rowMax) max = Math.max(max, m);
        float shift = Math.max(0f, max / temp - 60f);
        double[] rowSum = new double[rows];
        Parallel.forEach(rows, i -> {
            Kernels.get().expDiv(t, i * k, q, i * k, k, temp, shift);
            rowSum[i] = Kernels.get().sum(q, i * k, k);
        });
        double total = 0;
        for (double v : rowSum) total += v;
        float sumQ = (float) total, kf = k, bf = (float) b;
        int chunks = Math.min(rows, 16);
        float[][] part = new float[chunks][k];
        float[] colSum = new float[k];
        Parallel.forEach(chunks, c -> { // Q /= sum(Q), and the first round's column sums
            float[] p = part[c];
            for (int i = rows * c / chunks, end = rows * (c + 1) / chunks; i < end; i++)
                for (int j = 0, o = i * k; j < k; j++) p[j] += q[o + j] /= sumQ;
        });
        for (int it = 0; it < iterations; it++) {
            addParts(part, colSum, k);
            boolean last = it == iterations - 1;
            Parallel.forEach(chunks, c -> {
                float[] p = part[c];
                java.util.Arrays.fill(p, 0f);
                for (int i = rows * c / chunks, end = rows * (c + 1) / chunks; i < end; i++)
                    Kernels.get().sinkhornRow(q, i * k, k, colSum, kf, bf, last ? null : p); // p: the next round's column sums
            });
        }
        return q;
    }

    /**
     * The mean over the rows of p [rows, K] (probabilities, e.g. the teacher's targets) of each row's entropy
     * -Σ p log p, in nats: log K when every row is uniform, 0 when every row is one-hot. Row by row in double, added
     * in row order: the same value on every run, whatever the thread count.
     */
    public static double meanEntropy(float[] p, int rows, int k) {
        double[] h = new double[rows];
        Parallel.forEach(rows, i -> {
            double s = 0;
            for (int j = i * k, end = j + k; j < end; j++) if (p[j] > 0) s -= p[j] * StrictMath.log(p[j]); // StrictMath: the same bits in every JIT tier
            h[i] = s;
        });
        double sum = 0;
        for (double v : h) sum += v;
        return rows == 0 ? 0 : sum / rows;
    }

    /** colSum[j] = Σ_c part[c][j], chunks added in order (columns in parallel). */
    private static void addParts(float[][] part, float[] colSum, int k) {
        Parallel.forRange(k, 4096, (lo, hi) -> {
            System.arraycopy(part[0], lo, colSum, lo, hi - lo);
            for (int c = 1; c < part.length; c++) for (int j = lo; j < hi; j++) colSum[j] += part[c][j];
        });
    }
}
