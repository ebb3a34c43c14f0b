package org.dino4j.train.loss;

import org.dino4j.kernels.Ops;
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
     * code, its divisions kept as divisions; each sample's sum and the total are added up in double (float lanes over
     * 64-element chunks, {@link Ops#sum}), each prototype's sum over the samples in float, all in a fixed order.
     */
    public static float[] sinkhornKnopp(float[] t, int rows, int k, float temp, int iterations, double b) {
        float[] q = new float[rows * k]; // q[i * k + j] = Q^T: sample i, prototype j
        // exp(t/temp), as the official code; only where that would overflow float (a logit above ~60·temp: the
        // official result is then NaN) is a constant subtracted first, which the division by the total cancels
        float[] rowMax = new float[rows];
        Parallel.forEach(rows, i -> rowMax[i] = Ops.max(t, i * k, k));
        float max = Float.NEGATIVE_INFINITY;
        for (float m : rowMax) max = Math.max(max, m);
        Ops.expDivParallel(t, q, rows * k, temp, Math.max(0f, max / temp - 60f));
        double[] rowSum = new double[rows];
        Parallel.forEach(rows, i -> rowSum[i] = Ops.sum(q, i * k, k));
        double total = 0;
        for (double v : rowSum) total += v;
        float sumQ = (float) total, kf = k, bf = (float) b;
        Parallel.forRange(q.length, 1 << 14, (lo, hi) -> { for (int i = lo; i < hi; i++) q[i] /= sumQ; });
        float[] colSum = new float[k];
        for (int it = 0; it < iterations; it++) {
            java.util.Arrays.fill(colSum, 0f);
            Parallel.forRange(k, 1024, (lo, hi) -> { // prototypes: each task its own range of columns
                for (int i = 0; i < rows; i++) for (int j = lo; j < hi; j++) colSum[j] += q[i * k + j];
            });
            Parallel.forEach(rows, i -> {
                int o = i * k;
                for (int j = 0; j < k; j++) q[o + j] = q[o + j] / colSum[j] / kf;
                float sf = (float) Ops.sum(q, o, k);
                for (int j = 0; j < k; j++) q[o + j] = q[o + j] / sf / bf;
            });
        }
        Parallel.forRange(q.length, 1 << 14, (lo, hi) -> { for (int i = lo; i < hi; i++) q[i] *= bf; });
        return q;
    }
}
