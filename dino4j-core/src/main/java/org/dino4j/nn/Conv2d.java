package org.dino4j.nn;

import java.lang.foreign.MemorySegment;

import org.dino4j.kernels.Epilogue;
import org.dino4j.kernels.KernelOperations;
import org.dino4j.kernels.Kernels;
import org.dino4j.kernels.Mat;
import org.dino4j.kernels.Weight;

/**
 * nn.Conv2d with a square kernel, a stride and symmetric zero padding, on channels-last images (one image (H, W, C)
 * row-major). Runs as im2col plus the packed GEMM: the weight is permuted once to (out, ky, kx, in), so that each
 * im2col row is contiguous channel runs, and packed once. The output pixels go through in chunks whose column
 * buffer stays near {@link #CHUNK_FLOATS} (a 3x3 256-channel conv at 608x608 would need 3.4 GB of im2col at once);
 * a 1x1 stride-1 conv is a plain GEMM on x.
 */
public final class Conv2d {
    /**
     * Column-buffer floats per chunk: 16 MiB, 1728 rows at K = 2304 (3x3, 256 channels), enough row blocks for the
     * GEMM to balance over 16 threads; half that ran a 148x148 3x3 256 -> 256 conv ~5 % slower on one thread.
     */
    static final int CHUNK_FLOATS = Integer.getInteger("dino4j.conv.chunkFloats", 1 << 22);

    private final int out, in, kernel, stride, padding, k;
    private final float[] bias;
    private final Weight weight;

    /** nn.Conv2d: weight as PyTorch stores it (out, in, k, k) row-major; bias may be null; square kernel, symmetric zero padding. */
    public Conv2d(float[] weight, float[] bias, int out, int in, int kernel, int stride, int padding) {
        if (out < 1 || in < 1 || kernel < 1 || stride < 1 || padding < 0)
            throw new IllegalArgumentException("Conv2d needs positive out, in, kernel, stride and padding >= 0, got out=" + out
                    + " in=" + in + " kernel=" + kernel + " stride=" + stride + " padding=" + padding);
        this.k = Math.multiplyExact(kernel * kernel, in);
        if (weight.length != (long) out * k)
            throw new IllegalArgumentException("Conv2d weight holds " + weight.length + " floats, expected " + out + "x" + in
                    + "x" + kernel + "x" + kernel);
        if (bias != null && bias.length != out)
            throw new IllegalArgumentException("Conv2d bias length " + bias.length + " != " + out);
        this.out = out;
        this.in = in;
        this.kernel = kernel;
        this.stride = stride;
        this.padding = padding;
        this.bias = bias;
        float[] w = new float[weight.length]; // (out, in, ky, kx) -> (out, ky, kx, in): im2col's column order
        for (int o = 0; o < out; o++)
            for (int i = 0; i < in; i++)
                for (int t = 0; t < kernel * kernel; t++) w[o * k + t * in + i] = weight[(o * in + i) * kernel * kernel + t];
        MemorySegment seg = MemorySegment.ofArray(w);
        this.weight = new Weight(seg, Kernels.get().pack(seg, out, k));
    }

    public int out() {
        return out;
    }

    public int in() {
        return in;
    }

    /** (size + 2*padding - kernel) / stride + 1. */
    public int outSize(int size) {
        return (size + 2 * padding - kernel) / stride + 1;
    }

    /** x (h, w, in) -> (outSize(h), outSize(w), out). reluInput: ReLU applied to the input first (pre-activation residual units) without modifying x. */
    public float[] forward(float[] x, int h, int w, boolean reluInput) {
        if (h < 1 || w < 1 || x.length != (long) h * w * in)
            throw new IllegalArgumentException("Conv2d input holds " + x.length + " floats, expected " + h + "x" + w + "x" + in);
        int oh = outSize(h), ow = outSize(w);
        if (h + 2 * padding < kernel || w + 2 * padding < kernel)
            throw new IllegalArgumentException("Conv2d input " + h + "x" + w + " is smaller than its " + kernel + "x" + kernel
                    + " kernel (padding " + padding + ")");
        int m = Math.multiplyExact(oh, ow);
        float[] y = new float[Math.multiplyExact(m, out)];
        KernelOperations kn = Kernels.get();
        Epilogue e = Epilogue.bias(bias);
        if (kernel == 1 && stride == 1 && padding == 0) { // x is already the im2col matrix
            Mat a = Mat.of(x, in);
            kn.linear(reluInput ? a.through(kn.reluPrologue()) : a, weight, e, Mat.of(y, out), m, out, in);
            return y;
        }
        int chunk = chunkRows(m, k);
        float[] cols = new float[Math.multiplyExact(chunk, k)];
        for (int p0 = 0; p0 < m; p0 += chunk) {
            int p1 = Math.min(m, p0 + chunk);
            kn.im2col(x, h, w, in, kernel, stride, padding, reluInput, p0, p1, cols);
            kn.linear(Mat.of(cols, k), weight, e, new Mat(y, p0 * out, out), p1 - p0, out, k);
        }
        return y;
    }

    /** Output pixels per chunk: about CHUNK_FLOATS / k, a multiple of 96 (whole micro-panels and row blocks), all if fewer. */
    static int chunkRows(int m, int k) {
        int rows = Math.max(96, CHUNK_FLOATS / k / 96 * 96);
        if (rows >= m) return m;
        int chunks = (m + rows - 1) / rows; // equal chunks: no short last one
        return ((m + chunks - 1) / chunks + 95) / 96 * 96;
    }
}
