package org.dino4j.kernels;

/**
 * Plain scalar twins of {@link Ops}: the same maths written as the obvious loops, the control the fast kernels
 * are tested against.
 */
public final class ScalarOps {
    private ScalarOps() {}

    public static void layerNorm(float[] x, int xOff, float[] out, int oOff, int rows, int d, float[] w, float[] b, float eps) {
        for (int r = 0; r < rows; r++) {
            int xo = xOff + r * d, oo = oOff + r * d;
            double mean = 0;
            for (int i = 0; i < d; i++) mean += x[xo + i];
            mean /= d;
            double var = 0;
            for (int i = 0; i < d; i++) var += (x[xo + i] - mean) * (x[xo + i] - mean);
            var /= d;
            double rstd = 1 / Math.sqrt(var + eps);
            for (int i = 0; i < d; i++) out[oo + i] = (float) ((x[xo + i] - mean) * rstd * w[i] + b[i]);
        }
    }

    /** erf by Abramowitz & Stegun 7.1.26 (as PyTorch's vectorised CPU erf). */
    public static float erf(float x) {
        float ax = Math.abs(x);
        float t = 1f / (Ops.ERF_P * ax + 1f);
        float r = (((Ops.A5 * t + Ops.A4) * t + Ops.A3) * t + Ops.A2) * t + Ops.A1;
        float y = 1f - r * t * (float) Math.exp(-x * x);
        return x < 0 ? -y : y;
    }

    public static void gelu(float[] a, int off, int n) {
        for (int i = off; i < off + n; i++) a[i] = a[i] * 0.5f * (1f + erf(a[i] * Ops.SQRT1_2));
    }

    public static void siluGate(float[] in, float[] out, int rows, int h) {
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < h; j++) {
                float x1 = in[r * 2 * h + j];
                out[r * h + j] = (float) (x1 / (1 + Math.exp(-x1))) * in[r * 2 * h + h + j];
            }
    }

    /** softmax(q kᵀ / √hd) v per image and head, from the packed (B·T, 3D) qkv buffer, in double. */
    public static void attention(float[] qkv, float[] out, int batch, int tokens, int dim, int heads) {
        int hd = dim / heads, ld = 3 * dim;
        double scale = 1 / Math.sqrt(hd);
        double[] s = new double[tokens];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < tokens; i++) {
                    int q = (b * tokens + i) * ld + h * hd;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < tokens; j++) {
                        int k = (b * tokens + j) * ld + dim + h * hd;
                        double acc = 0;
                        for (int d = 0; d < hd; d++) acc += (double) qkv[q + d] * qkv[k + d];
                        s[j] = acc * scale;
                        max = Math.max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < tokens; j++) sum += s[j] = Math.exp(s[j] - max);
                    for (int d = 0; d < hd; d++) {
                        double acc = 0;
                        for (int j = 0; j < tokens; j++) acc += s[j] * qkv[(b * tokens + j) * ld + 2 * dim + h * hd + d];
                        out[(b * tokens + i) * dim + h * hd + d] = (float) (acc / sum);
                    }
                }
    }
}
