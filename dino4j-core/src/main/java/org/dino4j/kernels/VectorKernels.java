package org.dino4j.kernels;

import java.lang.foreign.MemorySegment;

/**
 * The Vector API kernels ({@link Gemm}, {@link Ops}), the default. Which micro-kernel runs and which layouts go
 * between the steps (qkv as column panels where the narrow 6 x 2 or 14 x 2 kernel writes them for free) is decided here, not by the
 * layers.
 */
final class VectorKernels implements KernelOperations {
    @Override
    public String name() {
        return "vector";
    }

    @Override
    public String describe() {
        return VectorWidth.bits() + "-bit vectors (CPU prefers " + VectorWidth.nativeBits() + ")";
    }

    @Override
    public Packed pack(MemorySegment w, int n, int k) {
        return Gemm.pack(w, n, k);
    }

    @Override
    public void linear(Mat a, Weight w, Epilogue e, Mat c, int m, int n, int k) {
        Gemm.linear(Gemm.WIDE, a, w.data(), (Gemm.PackedWeight) w.packed(), e, c, m, n, k);
    }

    @Override
    public void matmul(Mat a, Mat b, Mat c, int m, int n, int k, boolean accumulate) {
        Gemm.matmul(Gemm.WIDE, a, b, c, m, n, k, accumulate);
    }

    @Override
    public void matmulTransA(Mat a, Mat b, Mat c, int m, int n, int k, boolean accumulate, float[] sums) {
        Gemm.matmulTransA(Gemm.WIDE, a, b, c, m, n, k, accumulate, sums);
    }

    @Override
    public void selfAttention(float[] x, Weight qkvWeight, float[] qkvBias, float[] qkv, float[] ctx, int batch,
                              int tokens, int dim, int heads) {
        int rows = batch * tokens;
        // qkv as column panels, so that attention reads each head in order, where this machine's GEMM kernel writes
        // them at no cost (AVX2's 6 x 2, AVX-512's 14 x 2: its packed weight is the panels' one) and the head dimension is a whole
        // number of panels
        if (Gemm.narrowKernel() && Ops.attentionPanelsFit(rows, dim, heads)) {
            Gemm.linearPanels(x, dim, qkvWeight.data(), (Gemm.PackedWeight) qkvWeight.packed(), qkvBias, qkv, rows,
                    3 * dim, dim);
            Ops.attentionPanels(qkv, ctx, batch, tokens, dim, heads);
        } else {
            linear(Mat.of(x, dim), qkvWeight, Epilogue.bias(qkvBias), Mat.of(qkv, 3 * dim), rows, 3 * dim, dim);
            Ops.attention(qkv, ctx, batch, tokens, dim, heads);
        }
    }

    @Override
    public void attention(float[] qkv, float[] out, int batch, int tokens, int dim, int heads) {
        Ops.attention(qkv, out, batch, tokens, dim, heads);
    }

    @Override
    public void attentionBackward(float[] qkv, float[] dOut, float[] g, int batch, int tokens, int dim, int heads) {
        Ops.attentionBackward(qkv, dOut, g, batch, tokens, dim, heads);
    }

    @Override
    public void layerNorm(float[] x, float[] out, int rows, int d, float[] w, float[] b, float eps) {
        Ops.layerNorm(x, 0, out, 0, rows, d, w, b, eps);
    }

    @Override
    public void layerNormStats(float[] x, float[] out, int rows, int c, float[] w, float[] b, float eps, float[] mean,
                               float[] rstd) {
        Ops.layerNormStats(x, out, rows, c, w, b, eps, mean, rstd);
    }

    @Override
    public void layerNormBackward(float[] x, float[] dy, float[] w, float[] mean, float[] rstd, int rows, int c,
                                  float[] dx, float[] dw, float[] db) {
        Ops.layerNormBackward(x, dy, w, mean, rstd, rows, c, dx, dw, db);
    }

    @Override
    public Prologue layerNormPrologue(float[] mean, float[] rstd, float[] w, float[] b) {
        return Ops.layerNorm(mean, rstd, w, b);
    }

    @Override
    public void gelu(float[] a, int off, int n) {
        Ops.geluParallel(a, off, n);
    }

    @Override
    public Prologue geluPrologue() {
        return Ops.GELU;
    }

    @Override
    public void geluBackward(float[] x, float[] dy, float[] g, int n, boolean accumulate) {
        Ops.geluBackward(x, dy, g, n, accumulate);
    }

    @Override
    public void siluGate(float[] in, float[] out, int rows, int h) {
        Ops.siluGate(in, out, rows, h);
    }

    @Override
    public void addColumnSums(float[] x, int rows, int n, float[] g) {
        Ops.addColumnSums(x, rows, n, g);
    }

    @Override
    public void addColumnSums(float[] x, float[] y, float[] scale, int rowsPerGroup, int rows, int n, float[] g) {
        Ops.addColumnSums(x, y, scale, rowsPerGroup, rows, n, g);
    }

    @Override
    public float softCrossEntropyRow(float[] s, int so, int k, float invTemp, float[] t, int to, float[] p, int po) {
        return Ops.softCrossEntropyRow(s, so, k, invTemp, t, to, p, po);
    }

    @Override
    public float max(float[] x, int o, int n) {
        return Ops.max(x, o, n);
    }

    @Override
    public double sum(float[] x, int o, int n) {
        return Ops.sum(x, o, n);
    }

    @Override
    public void expDiv(float[] x, int xo, float[] out, int oo, int n, float div, float shift) {
        Ops.expDiv(x, xo, out, oo, n, div, shift);
    }

    @Override
    public void sinkhornRow(float[] q, int o, int k, float[] colSum, float kf, float bf, float[] next) {
        Ops.sinkhornRow(q, o, k, colSum, kf, bf, next);
    }

    @Override
    public void im2col(float[] x, int h, int w, int c, int kernel, int stride, int padding, boolean relu, int p0, int p1,
                       float[] cols) {
        GridOps.im2col(x, h, w, c, kernel, stride, padding, relu, p0, p1, cols);
    }

    @Override
    public Prologue reluPrologue() {
        return GridOps.RELU;
    }

    @Override
    public void resizeBilinear(float[] in, int inOff, int inH, int inW, int c, float[] out, int outOff, int outH,
                               int outW, boolean alignCorners) {
        GridOps.resizeBilinear(in, inOff, inH, inW, c, out, outOff, outH, outW, alignCorners);
    }

    @Override
    public void sumTaps(float[] p, int pOff, int pixelStride, int tapStride, int taps, float[] bias, float[] y, int yOff,
                        int pixels, int n) {
        GridOps.sumTaps(p, pOff, pixelStride, tapStride, taps, bias, y, yOff, pixels, n);
    }

    @Override
    public void winogradInput(float[] x, int h, int w, int c, int padding, boolean relu, int tilesW, int t0, int t1,
                              float[] v, int xiStride) {
        GridOps.winogradInput(x, h, w, c, padding, relu, tilesW, t0, t1, v, xiStride);
    }

    @Override
    public void winogradOutput(float[] m, int xiStride, int tilesW, int t0, int t1, float[] bias, float[] y, int oh,
                               int ow, int n) {
        GridOps.winogradOutput(m, xiStride, tilesW, t0, t1, bias, y, oh, ow, n);
    }
}
