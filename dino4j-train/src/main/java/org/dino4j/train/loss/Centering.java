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
     * code, its divisions kept as divisions; the total and each sample's sum are added up in double, each
     * prototype's sum over the samples in float.
     */
    public static float[] sinkhornKnopp(float[] t, int rows, int k, float temp, int iterations, double b) {
        float[] q = new float[rows * k]; // q[i * k + j] = Q^T: sample i, prototype j
        // exp(t/temp), as the official code; only where that would overflow float (a logit above ~60·temp: the
        // official result is then NaN) is a constant subtracted first, which the division by the total cancels
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < rows * k; i++) max = Math.max(max, t[i]);
        Ops.expDivParallel(t, q, rows * k, temp, Math.max(0f, max / temp - 60f));
        double total = 0;
        for (float v : q) total += v;
        float sumQ = (float) total, kf = k, bf = (float) b;
        Parallel.forRange(q.length, 1 << 14, (lo, hi) -> { for (int i = lo; i < hi; i++) q[i] /= sumQ; });
        float[] colSum = new float[k];
        for (int it = 0; it < iterations; it++) {
            java.util.Arrays.fill(colSum, 0f);
            Parallel.forRange(k, 1024, (lo, hi) -> { // prototypes: each task its own range of columns
                for (int i = 0; i < rows; i++) for (int j = lo; j < hi; j++) colSum[j] += q[i * k + j];
            });
            Parallel.forRange(rows, 1, (lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    int o = i * k;
                    for (int j = 0; j < k; j++) q[o + j] = q[o + j] / colSum[j] / kf;
                    double s = 0;
                    for (int j = 0; j < k; j++) s += q[o + j];
                    float sf = (float) s;
                    for (int j = 0; j < k; j++) q[o + j] = q[o + j] / sf / bf;
                }
            });
        }
        Parallel.forRange(q.length, 1 << 14, (lo, hi) -> { for (int i = lo; i < hi; i++) q[i] *= bf; });
        return q;
    }
}
