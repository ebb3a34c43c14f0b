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

    /** erf by the rational approximation of {@link Ops#gelu} (TensorFlow/XLA's and Eigen's float erf). */
    public static float erf(float x) {
        float z = Math.min(Math.max(x, -Ops.ERF_CLAMP), Ops.ERF_CLAMP), z2 = z * z;
        float num = ((((((Ops.EA13 * z2 + Ops.EA11) * z2 + Ops.EA9) * z2 + Ops.EA7) * z2 + Ops.EA5) * z2 + Ops.EA3) * z2
                + Ops.EA1) * z;
        float den = (((Ops.EB8 * z2 + Ops.EB6) * z2 + Ops.EB4) * z2 + Ops.EB2) * z2 + Ops.EB0;
        return num / den;
    }

    public static void gelu(float[] a, int off, int n) {
        for (int i = off; i < off + n; i++) a[i] = a[i] * 0.5f * (1f + erf(a[i] * Ops.SQRT1_2));
    }

    /** g[i] += dy[i] · (Φ(x) + x·φ(x)), in double. */
    public static void geluBackward(float[] x, float[] dy, float[] g, int n) {
        geluBackward(x, dy, g, n, true);
    }

    /** g[i] = (accumulate ? g[i] : 0) + dy[i] · (Φ(x) + x·φ(x)), in double (g may be dy). */
    public static void geluBackward(float[] x, float[] dy, float[] g, int n, boolean accumulate) {
        for (int i = 0; i < n; i++) {
            double z = x[i];
            double cdf = 0.5 * (1 + erf((float) (z * Ops.SQRT1_2))), pdf = Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
            float v = (float) (dy[i] * (cdf + z * pdf));
            g[i] = accumulate ? g[i] + v : v;
        }
    }

    /** {@link Ops#softCrossEntropyRow} in double, two exponentials per element. */
    public static float softCrossEntropyRow(float[] s, int so, int k, float invTemp, float[] t, int to, float[] p, int po) {
        double max = Double.NEGATIVE_INFINITY, sum = 0, ce = 0;
        for (int j = 0; j < k; j++) max = Math.max(max, (double) s[so + j] * invTemp);
        for (int j = 0; j < k; j++) sum += Math.exp((double) s[so + j] * invTemp - max);
        double lse = max + Math.log(sum);
        for (int j = 0; j < k; j++) {
            double ls = (double) s[so + j] * invTemp - lse;
            p[po + j] = (float) Math.exp(ls);
            ce -= t[to + j] * ls;
        }
        return (float) ce;
    }

    public static float max(float[] x, int o, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) if (x[o + j] > m) m = x[o + j];
        return m;
    }

    public static void expDiv(float[] x, int xo, float[] out, int oo, int n, float div, float shift) {
        for (int i = 0; i < n; i++) out[oo + i] = (float) Math.exp((double) (x[xo + i] / div) - shift);
    }

    public static void addColumnSums(float[] x, int rows, int n, float[] g) {
        addColumnSums(x, null, null, 1, rows, n, g);
    }

    public static void addColumnSums(float[] x, float[] y, float[] scale, int rowsPerGroup, int rows, int n, float[] g) {
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int i = 0; i < rows; i++)
                s += (double) x[i * n + j] * (y == null ? 1 : y[i * n + j]) * (scale == null ? 1 : scale[i / rowsPerGroup]);
            g[j] += (float) s;
        }
    }

    public static void sinkhornRow(float[] q, int o, int k, float[] colSum, float kf, float bf, float[] next) {
        for (int j = 0; j < k; j++) q[o + j] = q[o + j] / colSum[j] / kf;
        float sf = (float) sum(q, o, k);
        for (int j = 0; j < k; j++) {
            q[o + j] = q[o + j] / sf / bf;
            if (next != null) next[j] += q[o + j];
            else q[o + j] *= bf;
        }
    }

    public static void layerNormStats(float[] x, float[] out, int rows, int c, float[] w, float[] b, float eps,
                                      float[] mean, float[] rstd) {
        for (int i = 0; i < rows; i++) {
            double m = 0, v = 0;
            for (int j = 0; j < c; j++) m += x[i * c + j];
            m /= c;
            for (int j = 0; j < c; j++) v += (x[i * c + j] - m) * (x[i * c + j] - m);
            double rs = 1 / Math.sqrt(v / c + eps);
            mean[i] = (float) m;
            rstd[i] = (float) rs;
            // from the stored (float) mean and 1/std, as the LayerNorm prologue normalises: a fused LN + linear then
            // gives the floats of its parts on the twins too
            if (out != null) for (int j = 0; j < c; j++) out[i * c + j] = layerNormAt(x[i * c + j], mean[i], rstd[i], w[j], b[j]);
        }
    }

    /** (x − mean) · rstd · w + b in double, from the stored mean and 1/std. */
    static float layerNormAt(float x, float mean, float rstd, float w, float b) {
        return (float) ((x - (double) mean) * rstd * w + b);
    }

    public static void layerNormBackward(float[] x, float[] dy, float[] w, float[] mean, float[] rstd, int rows, int c,
                                         float[] dx, float[] dw, float[] db) {
        double[] sw = new double[c], sb = new double[c];
        for (int i = 0; i < rows; i++) {
            double m1 = 0, m2 = 0;
            for (int j = 0; j < c; j++) {
                double xh = (x[i * c + j] - (double) mean[i]) * rstd[i], dxh = (double) dy[i * c + j] * w[j];
                m1 += dxh;
                m2 += dxh * xh;
                sw[j] += dy[i * c + j] * xh;
                sb[j] += dy[i * c + j];
            }
            m1 /= c;
            m2 /= c;
            if (dx != null)
                for (int j = 0; j < c; j++) {
                    double xh = (x[i * c + j] - (double) mean[i]) * rstd[i], dxh = (double) dy[i * c + j] * w[j];
                    dx[i * c + j] += (float) (rstd[i] * (dxh - m1 - xh * m2));
                }
        }
        for (int j = 0; j < c; j++) {
            if (dw != null) dw[j] += (float) sw[j];
            if (db != null) db[j] += (float) sb[j];
        }
    }

    public static double sum(float[] x, int o, int n) {
        double s = 0;
        for (int j = 0; j < n; j++) s += x[o + j];
        return s;
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

    /** {@link Ops#attentionBackward} in double: g += dQ, dK, dV of softmax(q kᵀ / √hd) v for the output gradient dOut. */
    public static void attentionBackward(float[] qkv, float[] dOut, float[] g, int batch, int tokens, int dim, int heads) {
        int hd = dim / heads, ld = 3 * dim, t = tokens;
        double scale = 1 / Math.sqrt(hd);
        double[][] p = new double[t][t], dp = new double[t][t];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++) {
                int q0 = b * t * ld + h * hd, k0 = q0 + dim, v0 = q0 + 2 * dim, o0 = b * t * dim + h * hd;
                for (int i = 0; i < t; i++) {
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int j = 0; j < t; j++) {
                        double s = 0, d = 0;
                        for (int e = 0; e < hd; e++) {
                            s += (double) qkv[q0 + i * ld + e] * qkv[k0 + j * ld + e];
                            d += (double) dOut[o0 + i * dim + e] * qkv[v0 + j * ld + e];
                        }
                        p[i][j] = s * scale;
                        dp[i][j] = d;
                        max = Math.max(max, p[i][j]);
                    }
                    for (int j = 0; j < t; j++) sum += p[i][j] = Math.exp(p[i][j] - max);
                    double dot = 0;
                    for (int j = 0; j < t; j++) {
                        p[i][j] /= sum;
                        dot += dp[i][j] * p[i][j];
                    }
                    for (int j = 0; j < t; j++) dp[i][j] = p[i][j] * (dp[i][j] - dot) * scale; // dS
                }
                for (int i = 0; i < t; i++)
                    for (int e = 0; e < hd; e++) {
                        double dq = 0, dk = 0, dv = 0;
                        for (int j = 0; j < t; j++) {
                            dq += dp[i][j] * qkv[k0 + j * ld + e];
                            dk += dp[j][i] * qkv[q0 + j * ld + e];
                            dv += p[j][i] * dOut[o0 + j * dim + e];
                        }
                        g[q0 + i * ld + e] += (float) dq;
                        g[k0 + i * ld + e] += (float) dk;
                        g[v0 + i * ld + e] += (float) dv;
                    }
            }
    }

    /** Scalar twin of {@link GridOps#im2col}: element by element, the padding tested per tap. */
    public static void im2col(float[] x, int h, int w, int c, int kernel, int stride, int padding, boolean relu, int p0,
                              int p1, float[] cols) {
        int outW = (w + 2 * padding - kernel) / stride + 1, o = 0;
        for (int p = p0; p < p1; p++)
            for (int ky = 0; ky < kernel; ky++)
                for (int kx = 0; kx < kernel; kx++)
                    for (int ch = 0; ch < c; ch++, o++) {
                        int iy = p / outW * stride - padding + ky, ix = p % outW * stride - padding + kx;
                        float v = iy < 0 || iy >= h || ix < 0 || ix >= w ? 0f : x[(iy * w + ix) * c + ch];
                        cols[o] = relu && v < 0f ? 0f : v; // NaN and -0 kept, as torch.relu
                    }
    }

    /**
     * Scalar twin of {@link GridOps#resizeBilinear}: each output's taps and weights worked out on the spot in float as
     * ATen does (so the same taps), the weighted sum in double.
     */
    public static void resizeBilinear(float[] in, int inOff, int inH, int inW, int c, float[] out, int outOff, int outH,
                                      int outW, boolean alignCorners) {
        for (int oy = 0; oy < outH; oy++)
            for (int ox = 0; ox < outW; ox++) {
                int[] ty = bilinearTaps(inH, outH, oy, alignCorners), tx = bilinearTaps(inW, outW, ox, alignCorners);
                float ly = Float.intBitsToFloat(ty[2]), lx = Float.intBitsToFloat(tx[2]);
                double[] wy = {1f - ly, ly}, wx = {1f - lx, lx};
                for (int ch = 0; ch < c; ch++) {
                    double s = 0;
                    for (int a = 0; a < 2; a++)
                        for (int b = 0; b < 2; b++) s += wy[a] * wx[b] * in[inOff + (ty[a] * inW + tx[b]) * c + ch];
                    out[outOff + (oy * outW + ox) * c + ch] = (float) s;
                }
            }
    }

    /** {i0, i1, bits of lambda1} of output index d along an axis in → out (ATen's float recipe). */
    static int[] bilinearTaps(int in, int out, int d, boolean alignCorners) {
        if (in == out) return new int[] {d, d, 0};
        float scale = alignCorners ? (out > 1 ? (float) (in - 1) / (out - 1) : 0f) : (float) in / out;
        float src = Math.max(alignCorners ? scale * d : scale * (d + 0.5f) - 0.5f, 0f);
        int i0 = Math.min((int) Math.floor(src), in - 1);
        return new int[] {i0, Math.min(i0 + 1, in - 1), Float.floatToIntBits(Math.min(Math.max(src - i0, 0f), 1f))};
    }

    /** Scalar twin of {@link GridOps#sumTaps}, in double. */
    public static void sumTaps(float[] p, int pOff, int pixelStride, int tapStride, int taps, float[] bias, float[] y,
                               int yOff, int pixels, int n) {
        for (int x = 0; x < pixels; x++)
            for (int j = 0; j < n; j++) {
                double v = bias == null ? 0 : bias[j];
                for (int t = 0; t < taps; t++) v += p[pOff + x * pixelStride + t * tapStride + j];
                y[yOff + x * n + j] = (float) v;
            }
    }

    /** Scalar twin of {@link GridOps#winogradInput}: V = Bᵀ d B by the matrices of {@link Winograd}, in double. */
    public static void winogradInput(float[] x, int h, int w, int c, int padding, boolean relu, int tilesW, int t0, int t1,
                                     float[] v, int xiStride) {
        int n = Winograd.TILE;
        double[] d = new double[n * n];
        for (int t = t0; t < t1; t++)
            for (int ch = 0; ch < c; ch++) {
                for (int i = 0; i < n; i++)
                    for (int j = 0; j < n; j++) {
                        int iy = t / tilesW * Winograd.OUT - padding + i, ix = t % tilesW * Winograd.OUT - padding + j;
                        float e = iy < 0 || iy >= h || ix < 0 || ix >= w ? 0f : x[(iy * w + ix) * c + ch];
                        d[i * n + j] = relu && e < 0f ? 0f : e;
                    }
                for (int a = 0; a < n; a++)
                    for (int b = 0; b < n; b++) {
                        double s = 0;
                        for (int i = 0; i < n; i++)
                            for (int j = 0; j < n; j++) s += Winograd.BT[a][i] * d[i * n + j] * Winograd.BT[b][j];
                        v[(a * n + b) * xiStride + (t - t0) * c + ch] = (float) s;
                    }
            }
    }

    /** Scalar twin of {@link GridOps#winogradOutput}: bias + Aᵀ M A by the matrices of {@link Winograd}, in double. */
    public static void winogradOutput(float[] m, int xiStride, int tilesW, int t0, int t1, float[] bias, float[] y, int oh,
                                      int ow, int n) {
        int tn = Winograd.TILE, on = Winograd.OUT;
        for (int t = t0; t < t1; t++)
            for (int o = 0; o < n; o++)
                for (int i = 0; i < on; i++)
                    for (int j = 0; j < on; j++) {
                        int oy = t / tilesW * on + i, ox = t % tilesW * on + j;
                        if (oy >= oh || ox >= ow) continue;
                        double s = bias == null ? 0 : bias[o];
                        for (int a = 0; a < tn; a++)
                            for (int b = 0; b < tn; b++)
                                s += Winograd.AT[i][a] * m[(a * tn + b) * xiStride + (t - t0) * n + o] * Winograd.AT[j][b];
                        y[(oy * ow + ox) * n + o] = (float) s;
                    }
    }
}
