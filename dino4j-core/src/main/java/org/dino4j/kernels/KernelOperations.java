package org.dino4j.kernels;

import java.lang.foreign.MemorySegment;

/**
 * What the model layers, the autograd tape and the heads ask of the numeric kernels, without knowing the machine's
 * micro-kernel shape or layouts; {@link Kernels#get()} gives the implementation this JVM runs.
 *
 * <p>Products: A is m x k, B k x n (a linear's B is Wᵀ), C m x n; {@link Mat} says where each one's rows are.
 */
public interface KernelOperations {
    /** The system property that selects the kernels ({@link Kernels#get()}): {@code vector} (default) or {@code scalar}. */
    String PROPERTY = "dino4j.kernels";

    /** "vector" or "scalar". */
    String name();

    /** For a report's summary line: the vector width in force, or that the scalar twins ran. */
    String describe();

    /** Copies w (n x k, as {@link #linear} takes it) into the layout these kernels read, for a weight used by many calls. */
    Packed pack(MemorySegment w, int n, int k);

    /** c = epilogue(f(a) · wᵀ): m x n from a (m x k, through its prologue if any) and w (n x k). */
    void linear(Mat a, Weight w, Epilogue e, Mat c, int m, int n, int k);

    /** c = (accumulate ? c : 0) + a · b, a m x k, b k x n. */
    void matmul(Mat a, Mat b, Mat c, int m, int n, int k, boolean accumulate);

    /**
     * c = (accumulate ? c : 0) + aᵀ · f(b), a stored k x m, b k x n (through its prologue if any): a backward's
     * dW = dYᵀX. With {@code sums} not null, also adds a's column sums (the bias gradient) into it (needs a.ld == m).
     */
    void matmulTransA(Mat a, Mat b, Mat c, int m, int n, int k, boolean accumulate, float[] sums);

    /**
     * Self-attention's first half at inference: qkv = x · Wqkvᵀ + bias into the scratch {@code qkv} (batch·tokens x
     * 3·dim, in whatever layout the kernels like), then ctx = softmax(q kᵀ / √hd) v, (batch·tokens, dim), heads
     * concatenated.
     */
    void selfAttention(float[] x, Weight qkvWeight, float[] qkvBias, float[] qkv, float[] ctx, int batch, int tokens,
                       int dim, int heads);

    /** ctx = softmax(q kᵀ / √hd) v from the qkv Linear's (batch·tokens, 3·dim) output. */
    void attention(float[] qkv, float[] out, int batch, int tokens, int dim, int heads);

    /** g += dQ, dK, dV (into qkv's layout) of {@link #attention} for the output gradient dOut. */
    void attentionBackward(float[] qkv, float[] dOut, float[] g, int batch, int tokens, int dim, int heads);

    /** out = LayerNorm(x) over rows of d. */
    void layerNorm(float[] x, float[] out, int rows, int d, float[] w, float[] b, float eps);

    /** {@link #layerNorm} that also keeps each row's mean and 1/std (out may be null: the stats alone). */
    void layerNormStats(float[] x, float[] out, int rows, int c, float[] w, float[] b, float eps, float[] mean, float[] rstd);

    /** dx, dw, db += LayerNorm's gradients for dy (any may be null). */
    void layerNormBackward(float[] x, float[] dy, float[] w, float[] mean, float[] rstd, int rows, int c, float[] dx,
                           float[] dw, float[] db);

    /** LayerNorm from {@link #layerNormStats}' mean and 1/std, as a GEMM operand's prologue. */
    Prologue layerNormPrologue(float[] mean, float[] rstd, float[] w, float[] b);

    /** Exact (erf) GELU in place over a[off, off + n). */
    void gelu(float[] a, int off, int n);

    /** GELU as a GEMM operand's prologue. */
    Prologue geluPrologue();

    /** g = (accumulate ? g : 0) + dy ⊙ GELU'(x) over n elements (g may be dy). */
    void geluBackward(float[] x, float[] dy, float[] g, int n, boolean accumulate);

    /** out[r·h + j] = silu(in[r·2h + j]) · in[r·2h + h + j]: SwiGLU's gate. */
    void siluGate(float[] in, float[] out, int rows, int h);

    /** g[j] += Σ_i x[i·n + j]. */
    void addColumnSums(float[] x, int rows, int n, float[] g);

    /** g[j] += Σ_i x[i·n + j] · y[i·n + j] · scale[i / rowsPerGroup] (y, scale may be null: 1). */
    void addColumnSums(float[] x, float[] y, float[] scale, int rowsPerGroup, int rows, int n, float[] g);

    /** Soft cross entropy −Σ t · log_softmax(s · invTemp) of one row; p gets the softmax. */
    float softCrossEntropyRow(float[] s, int so, int k, float invTemp, float[] t, int to, float[] p, int po);

    float max(float[] x, int o, int n);

    double sum(float[] x, int o, int n);

    /** out[oo + i] = exp(x[xo + i] / div − shift). */
    void expDiv(float[] x, int xo, float[] out, int oo, int n, float div, float shift);

    /** One Sinkhorn-Knopp row step (see {@link Ops#sinkhornRow}). */
    void sinkhornRow(float[] q, int o, int k, float[] colSum, float kf, float bf, float[] next);

    /**
     * Rows [p0, p1) of the im2col matrix of the channels-last image x (h, w, c) for a square kernel with stride and
     * symmetric zero padding: row p is output pixel (p / outW, p % outW) and holds kernel·kernel·c floats in (ky, kx, c)
     * order (zeros outside the image; relu(x) when {@code relu}); row p is written at cols[(p − p0)·kernel²·c].
     */
    void im2col(float[] x, int h, int w, int c, int kernel, int stride, int padding, boolean relu, int p0, int p1,
                float[] cols);

    /** ReLU as a GEMM operand's prologue. */
    Prologue reluPrologue();

    /**
     * F.interpolate(mode="bilinear", align_corners=alignCorners, size=(outH, outW)) as PyTorch's CPU kernel computes
     * it, from the channels-last image in (inH, inW, c) at inOff to out (outH, outW, c) at outOff (overwritten).
     */
    void resizeBilinear(float[] in, int inOff, int inH, int inW, int c, float[] out, int outOff, int outH, int outW,
                        boolean alignCorners);

    /**
     * y[yOff + x·n + j] = bias[j] + Σ_{t < taps} p[pOff + x·pixelStride + t·tapStride + j] for x < pixels, j < n (bias
     * may be null: 0), the taps added first to last: a convolution's partial products of its kernel rows summed.
     */
    void sumTaps(float[] p, int pOff, int pixelStride, int tapStride, int taps, float[] bias, float[] y, int yOff,
                 int pixels, int n);

    /**
     * {@link Winograd} F(2x2, 3x3)'s input transform V = Bᵀ d B of tiles [t0, t1) of the channels-last image x (h, w, c)
     * zero-padded by {@code padding} (relu(x) when {@code relu}): tile t, (ty, tx) = (t / tilesW, t % tilesW), is the
     * 4x4 window of padded rows 2·ty .. 2·ty + 3 and columns 2·tx .. 2·tx + 3 (zeros outside the image, so tiles
     * hanging over the edge are fine), and position ξ = 4·row + col of its channel ch lands at
     * v[ξ·xiStride + (t − t0)·c + ch]: each ξ a (tiles, c) GEMM operand. Runs on the calling thread (a band's task).
     */
    void winogradInput(float[] x, int h, int w, int c, int padding, boolean relu, int tilesW, int t0, int t1, float[] v,
                       int xiStride);

    /**
     * {@link Winograd} F(2x2, 3x3)'s output transform: with M[ξ] of tile t, channel o at m[ξ·xiStride + (t − t0)·n + o],
     * output pixel (2·ty + i, 2·tx + j), i, j < 2, of the channels-last y (oh, ow, n) gets bias[o] + (Aᵀ M A)[i][j]
     * (bias may be null: 0), the pixels outside (oh, ow) of tiles hanging over the edge left alone. Runs on the calling
     * thread.
     */
    void winogradOutput(float[] m, int xiStride, int tilesW, int t0, int t1, float[] bias, float[] y, int oh, int ow,
                        int n);
}
