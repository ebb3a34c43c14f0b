package org.dino4j.nn;

import java.lang.foreign.MemorySegment;

import org.dino4j.kernels.Epilogue;
import org.dino4j.kernels.KernelOperations;
import org.dino4j.kernels.Kernels;
import org.dino4j.kernels.Mat;
import org.dino4j.kernels.Parallel;
import org.dino4j.kernels.Weight;

/**
 * nn.Conv2d with a square kernel, a stride and symmetric zero padding, on channels-last images (one image (H, W, C)
 * row-major), as packed GEMMs with the weight permuted once to (out, ky, kx, in) and packed once:
 * <ul>
 * <li>1x1, stride 1, no padding: x already is the GEMM's A (a ReLU'd input through a prologue, not a copy);</li>
 * <li>other stride-1 convs: a band of input rows is copied zero-padded (and ReLU'd) once, by the im2col kernel with a
 * 1x1 window. In that padded band, padded width Wp, the window row ky of output position q = row·Wp + col is the
 * contiguous run band[(q + ky·Wp)·in, + kernel·in): so each ky is one GEMM straight on the band (A's rows in
 * floats apart, overlapping) against the weight's ky slice, accumulated into a Wp-wide output from which the valid
 * columns are copied. That reads each input value kernel times from cache where im2col wrote and read it
 * kernel² times: 2x faster at 128 -> 32 channels, where the columns' traffic outweighs the arithmetic;</li>
 * <li>strided convs: im2col rows of output pixels plus one GEMM.</li>
 * </ul>
 * Either way the output goes through in chunks whose buffers stay near {@link #CHUNK_FLOATS} (im2col of a 3x3
 * 256-channel conv at 608x608 whole would take 3.4 GB).
 */
public final class Conv2d {
    /**
     * Scratch floats per chunk: 16 MiB of im2col columns, 1728 rows at K = 2304 (3x3, 256 channels), enough row blocks
     * for the GEMM to balance over 16 threads (half that ran a 3x3 256 -> 256 conv ~5 % slower on one thread); or of
     * band and wide output on the stride-1 path.
     */
    static final int CHUNK_FLOATS = Integer.getInteger("dino4j.conv.chunkFloats", 1 << 22);
    /**
     * Band plus wide-output floats per band of the stride-1 path: 1 MiB, that a thread's passes over its band find in
     * its own L2.
     */
    static final int BAND_FLOATS = Integer.getInteger("dino4j.conv.bandFloats", 1 << 18);

    private final int out, in, kernel, stride, padding, k;
    private final float[] bias;
    /** The whole (out, ky·kx·in) weight (im2col and 1x1 paths), or one (out, kx·in) slice per ky (stride-1 path). */
    private final Weight[] weights;

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
        int slices = banded() ? kernel : 1, sk = k / slices; // slice ky holds (out, kx, in)
        weights = new Weight[slices];
        for (int s = 0; s < slices; s++) {
            float[] w = new float[out * sk]; // (out, in, ky, kx) -> (out, ky, kx, in)
            for (int o = 0; o < out; o++)
                for (int i = 0; i < in; i++)
                    for (int t = s * sk / in; t < (s + 1) * sk / in; t++)
                        w[o * sk + (t - s * sk / in) * in + i] = weight[(o * in + i) * kernel * kernel + t];
            MemorySegment seg = MemorySegment.ofArray(w);
            weights[s] = new Weight(seg, Kernels.get().pack(seg, out, sk));
        }
    }

    /** The stride-1 path (a 1x1 stride-1 conv without padding being a plain GEMM instead). */
    private boolean banded() {
        return stride == 1 && !(kernel == 1 && padding == 0);
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
        return forward(x, h, w, reluInput, banded() ? BAND_FLOATS : CHUNK_FLOATS);
    }

    /** {@link #forward} with chunks of about {@code chunkFloats} floats of scratch (tests take many small chunks). */
    float[] forward(float[] x, int h, int w, boolean reluInput, int chunkFloats) {
        if (h < 1 || w < 1 || x.length != (long) h * w * in)
            throw new IllegalArgumentException("Conv2d input holds " + x.length + " floats, expected " + h + "x" + w + "x" + in);
        if (h + 2 * padding < kernel || w + 2 * padding < kernel)
            throw new IllegalArgumentException("Conv2d input " + h + "x" + w + " is smaller than its " + kernel + "x" + kernel
                    + " kernel (padding " + padding + ")");
        int oh = outSize(h), ow = outSize(w), m = Math.multiplyExact(oh, ow);
        float[] y = new float[Math.multiplyExact(m, out)];
        KernelOperations kn = Kernels.get();
        Epilogue e = Epilogue.bias(bias);
        if (banded()) banded(kn, x, h, w, reluInput, y, oh, ow, chunkFloats);
        else if (kernel == 1 && stride == 1) { // padding 0 too: x is already the im2col matrix
            Mat a = Mat.of(x, in);
            kn.linear(reluInput ? a.through(kn.reluPrologue()) : a, weights[0], e, Mat.of(y, out), m, out, in);
        } else {
            int chunk = chunkRows(m, k, chunkFloats);
            float[] cols = new float[Math.multiplyExact(chunk, k)];
            for (int p0 = 0; p0 < m; p0 += chunk) {
                int p1 = Math.min(m, p0 + chunk);
                kn.im2col(x, h, w, in, kernel, stride, padding, reluInput, p0, p1, cols);
                kn.linear(Mat.of(cols, k), weights[0], e, new Mat(y, p0 * out, out), p1 - p0, out, k);
            }
        }
        return y;
    }

    /**
     * The stride-1 path (class comment), one band of output rows per task of one parallel loop: each thread pads its
     * band and runs the band's GEMMs itself (inline, as the pool runs loops nested in a task) while band and output
     * stay in its own cache, with one fork/join per convolution rather than several per band.
     */
    private void banded(KernelOperations kn, float[] x, int h, int w, boolean relu, float[] y, int oh, int ow, int chunkFloats) {
        int wp = w + 2 * padding, rows = bandRows(oh, wp, in, out, chunkFloats, Parallel.threads()), sk = kernel * in;
        int bandFloats = Math.multiplyExact((rows + kernel - 1) * wp, in), wideFloats = Math.multiplyExact(rows * wp, out);
        Parallel.forEach((oh + rows - 1) / rows, b -> {
            Scratch s = SCRATCH.get();
            float[] band = s.band(bandFloats), wide = s.wide(wideFloats);
            int oy0 = b * rows, r = Math.min(rows, oh - oy0), m = (r - 1) * wp + ow; // the last row's wrap is not needed
            // padded rows oy0 .. oy0 + r + kernel - 2: the padded image's pixels, which im2col with a 1x1 window lists
            kn.im2col(x, h, w, in, 1, 1, padding, relu, oy0 * wp, (oy0 + r + kernel - 1) * wp, band);
            for (int ky = 0; ky < kernel; ky++)
                kn.linear(new Mat(band, ky * wp * in, in), weights[ky], ky == 0 ? Epilogue.bias(bias) : Epilogue.ACCUMULATE,
                        Mat.of(wide, out), m, out, sk);
            for (int j = 0; j < r; j++) System.arraycopy(wide, j * wp * out, y, (oy0 + j) * ow * out, ow * out);
        });
    }

    /** Each compute thread's band and wide output, kept between calls (a band's worth of floats, grown as needed). */
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private static final class Scratch {
        float[] band = new float[0], wide = new float[0];

        float[] band(int n) {
            return band.length >= n ? band : (band = new float[n]);
        }

        float[] wide(int n) {
            return wide.length >= n ? wide : (wide = new float[n]);
        }
    }

    /**
     * Output rows per band: band and wide output near chunkFloats together, but 4 bands per thread or more (an even
     * end); all rows if fewer; equal bands.
     */
    static int bandRows(int oh, int wp, int in, int out, int chunkFloats, int threads) {
        int rows = Math.min(Math.max(1, chunkFloats / (wp * (in + out))), Math.max(1, oh / (4 * threads)));
        if (rows >= oh) return oh;
        int bands = (oh + rows - 1) / rows; // equal bands: no short last one
        return (oh + bands - 1) / bands;
    }

    /** Output pixels per im2col chunk: about chunkFloats / k, a multiple of 96 (whole micro-panels and row blocks), all if fewer. */
    static int chunkRows(int m, int k, int chunkFloats) {
        int rows = Math.max(96, chunkFloats / k / 96 * 96);
        if (rows >= m) return m;
        int chunks = (m + rows - 1) / rows; // equal chunks: no short last one
        return ((m + chunks - 1) / chunks + 95) / 96 * 96;
    }
}
