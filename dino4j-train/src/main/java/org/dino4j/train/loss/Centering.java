package org.dino4j.train.loss;

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
     * constraint counts (rows for DINO, the number of masked patches for iBOT). No max-subtraction, as the official
     * code (float32 throughout there; double here, then rounded).
     */
    public static float[] sinkhornKnopp(float[] t, int rows, int k, float temp, int iterations, double b) {
        double[] q = new double[rows * k]; // q[i * k + j] = Q^T: sample i, prototype j
        double[] partial = new double[rows];
        org.dino4j.kernels.Parallel.forRange(rows, 1, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                double s = 0;
                for (int j = 0; j < k; j++) s += q[i * k + j] = Math.exp(t[i * k + j] / temp);
                partial[i] = s;
            }
        });
        double total = 0;
        for (double s : partial) total += s;
        for (int it = 0; it < iterations; it++) {
            double[] colSum = new double[k]; // prototypes: rows of Q (the first pass also divides by the total)
            for (int i = 0; i < rows; i++) for (int j = 0; j < k; j++) colSum[j] += q[i * k + j];
            double tot = it == 0 ? total : 1;
            org.dino4j.kernels.Parallel.forRange(rows, 1, (lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    double s = 0;
                    for (int j = 0; j < k; j++) s += q[i * k + j] = q[i * k + j] / tot / (colSum[j] / tot * k);
                    for (int j = 0; j < k; j++) q[i * k + j] /= s * b;
                }
            });
        }
        float[] out = new float[q.length];
        for (int i = 0; i < q.length; i++) out[i] = (float) (q[i] * b);
        return out;
    }
}
