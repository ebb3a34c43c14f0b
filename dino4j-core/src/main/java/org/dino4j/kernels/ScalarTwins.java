package org.dino4j.kernels;

import java.lang.foreign.MemorySegment;

/**
 * The plain scalar twins ({@link ScalarKernels}, {@link ScalarOps}) behind {@link Kernels}, for {@code
 * -Ddino4j.kernels=scalar}: no Vector API, no packing, sums in double. Products are split by rows over the pool (each
 * element's sum is the same wherever its row lands); add {@code -Ddino4j.threads=1} to rule the pool out as well.
 */
final class ScalarTwins implements KernelOperations {
    /** Nothing to pack: the twins read the weight where it is. */
    private static final Packed NOTHING = () -> 0L;

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public String describe() {
        return "scalar kernels (-D" + PROPERTY + "=scalar)";
    }

    @Override
    public Packed pack(MemorySegment w, int n, int k) {
        return NOTHING;
    }

    @Override
    public void linear(Mat a, Weight w, Epilogue e, Mat c, int m, int n, int k) {
        Mat fa = a.materialize(0, m, k);
        if (!Parallel.poolMayRead(w.data())) ScalarKernels.linear(fa, w.data(), e, c, m, n, k);
        else Parallel.forRange(m, 8, (lo, hi) -> ScalarKernels.linear(fa.skip(lo), w.data(), e, c.skip(lo), hi - lo, n, k));
    }

    @Override
    public void matmul(Mat a, Mat b, Mat c, int m, int n, int k, boolean accumulate) {
        Mat fb = b.materialize(0, k, n);
        Parallel.forRange(m, 8, (lo, hi) -> ScalarKernels.matmul(a.skip(lo), false, fb, c.skip(lo), hi - lo, n, k, accumulate, null));
    }

    @Override
    public void matmulTransA(Mat a, Mat b, Mat c, int m, int n, int k, boolean accumulate, float[] sums) {
        ScalarKernels.matmul(a, true, b, c, m, n, k, accumulate, sums);
    }

    @Override
    public void selfAttention(float[] x, Weight qkvWeight, float[] qkvBias, float[] qkv, float[] ctx, int batch,
                              int tokens, int dim, int heads) {
        linear(Mat.of(x, dim), qkvWeight, Epilogue.bias(qkvBias), Mat.of(qkv, 3 * dim), batch * tokens, 3 * dim, dim);
        ScalarOps.attention(qkv, ctx, batch, tokens, dim, heads);
    }

    @Override
    public void attention(float[] qkv, float[] out, int batch, int tokens, int dim, int heads) {
        ScalarOps.attention(qkv, out, batch, tokens, dim, heads);
    }

    @Override
    public void attentionBackward(float[] qkv, float[] dOut, float[] g, int batch, int tokens, int dim, int heads) {
        ScalarOps.attentionBackward(qkv, dOut, g, batch, tokens, dim, heads);
    }

    @Override
    public void layerNorm(float[] x, float[] out, int rows, int d, float[] w, float[] b, float eps) {
        ScalarOps.layerNorm(x, 0, out, 0, rows, d, w, b, eps);
    }

    @Override
    public void layerNormStats(float[] x, float[] out, int rows, int c, float[] w, float[] b, float eps, float[] mean,
                               float[] rstd) {
        ScalarOps.layerNormStats(x, out, rows, c, w, b, eps, mean, rstd);
    }

    @Override
    public void layerNormBackward(float[] x, float[] dy, float[] w, float[] mean, float[] rstd, int rows, int c,
                                  float[] dx, float[] dw, float[] db) {
        ScalarOps.layerNormBackward(x, dy, w, mean, rstd, rows, c, dx, dw, db);
    }

    @Override
    public Prologue layerNormPrologue(float[] mean, float[] rstd, float[] w, float[] b) {
        return (row, c0, src, s, dst, d, n) -> {
            for (int j = 0; j < n; j++) dst[d + j] = ScalarOps.layerNormAt(src[s + j], mean[row], rstd[row], w[c0 + j], b[c0 + j]);
        };
    }

    @Override
    public void gelu(float[] a, int off, int n) {
        ScalarOps.gelu(a, off, n);
    }

    @Override
    public Prologue geluPrologue() {
        return (row, c0, src, s, dst, d, n) -> {
            System.arraycopy(src, s, dst, d, n);
            ScalarOps.gelu(dst, d, n);
        };
    }

    @Override
    public void geluBackward(float[] x, float[] dy, float[] g, int n, boolean accumulate) {
        ScalarOps.geluBackward(x, dy, g, n, accumulate);
    }

    @Override
    public void siluGate(float[] in, float[] out, int rows, int h) {
        ScalarOps.siluGate(in, out, rows, h);
    }

    @Override
    public void addColumnSums(float[] x, int rows, int n, float[] g) {
        ScalarOps.addColumnSums(x, rows, n, g);
    }

    @Override
    public void addColumnSums(float[] x, float[] y, float[] scale, int rowsPerGroup, int rows, int n, float[] g) {
        ScalarOps.addColumnSums(x, y, scale, rowsPerGroup, rows, n, g);
    }

    @Override
    public float softCrossEntropyRow(float[] s, int so, int k, float invTemp, float[] t, int to, float[] p, int po) {
        return ScalarOps.softCrossEntropyRow(s, so, k, invTemp, t, to, p, po);
    }

    @Override
    public float max(float[] x, int o, int n) {
        return ScalarOps.max(x, o, n);
    }

    @Override
    public double sum(float[] x, int o, int n) {
        return ScalarOps.sum(x, o, n);
    }

    @Override
    public void expDiv(float[] x, int xo, float[] out, int oo, int n, float div, float shift) {
        ScalarOps.expDiv(x, xo, out, oo, n, div, shift);
    }

    @Override
    public void sinkhornRow(float[] q, int o, int k, float[] colSum, float kf, float bf, float[] next) {
        ScalarOps.sinkhornRow(q, o, k, colSum, kf, bf, next);
    }

    @Override
    public void im2col(float[] x, int h, int w, int c, int kernel, int stride, int padding, boolean relu, int p0, int p1,
                       float[] cols) {
        ScalarOps.im2col(x, h, w, c, kernel, stride, padding, relu, p0, p1, cols);
    }

    @Override
    public Prologue reluPrologue() {
        return (row, c0, src, s, dst, d, n) -> {
            for (int j = 0; j < n; j++) dst[d + j] = src[s + j] < 0f ? 0f : src[s + j]; // NaN and -0 kept, as torch.relu
        };
    }

    @Override
    public void resizeBilinear(float[] in, int inOff, int inH, int inW, int c, float[] out, int outOff, int outH,
                               int outW, boolean alignCorners) {
        ScalarOps.resizeBilinear(in, inOff, inH, inW, c, out, outOff, outH, outW, alignCorners);
    }

    @Override
    public void sumTaps(float[] p, int pOff, int pixelStride, int tapStride, int taps, float[] bias, float[] y, int yOff,
                        int pixels, int n) {
        ScalarOps.sumTaps(p, pOff, pixelStride, tapStride, taps, bias, y, yOff, pixels, n);
    }

    @Override
    public void winogradInput(float[] x, int h, int w, int c, int padding, boolean relu, int tilesW, int t0, int t1,
                              float[] v, int xiStride) {
        ScalarOps.winogradInput(x, h, w, c, padding, relu, tilesW, t0, t1, v, xiStride);
    }

    @Override
    public void winogradOutput(float[] m, int xiStride, int tilesW, int t0, int t1, float[] bias, float[] y, int oh,
                               int ow, int n) {
        ScalarOps.winogradOutput(m, xiStride, tilesW, t0, t1, bias, y, oh, ow, n);
    }
}
