package org.dino4j.nn;

import java.lang.foreign.MemorySegment;

import org.dino4j.kernels.Epilogue;
import org.dino4j.kernels.KernelOperations;
import org.dino4j.kernels.Kernels;
import org.dino4j.kernels.Mat;
import org.dino4j.kernels.Parallel;
import org.dino4j.kernels.Weight;
import org.dino4j.kernels.Winograd;

/**
 * nn.Conv2d with a square kernel, a stride and symmetric zero padding, on channels-last images (one image (H, W, C)
 * row-major), as packed GEMMs with the weight permuted and packed once:
 * <ul>
 * <li>1x1, stride 1, no padding: x already is the GEMM's A (a ReLU'd input through a prologue, not a copy);</li>
 * <li>other stride-1 convs, without im2col: a band of input rows is copied zero-padded (and ReLU'd) once, by the
 * im2col kernel with a 1x1 window. In the padded band (width Wp) kernel row ky's window at position q = row·Wp + col
 * is the contiguous run band[(q + ky·Wp)·in, + kernel·in), so a GEMM straight on the band (A's rows in floats apart,
 * overlapping) against the weight's (out, kx, in) slice for ky gives ky's share of every output. Each input value
 * is read kernel times from the band where im2col would write and read it kernel² times. Then either
 * <ul>
 * <li>(out > {@value #STACK_MAX_OUT}) one GEMM per ky accumulates into a Wp-wide output whose valid columns are
 * copied out; the bands are the tasks of one parallel loop, each thread running its bands' GEMMs inline in its own
 * cache; or</li>
 * <li>(fewer outputs, which fill the micro-kernel's columns poorly: 32 fill 2 of 3 AVX-512 vectors) one GEMM against
 * the slices stacked, (ky, out) x (kx, in), gives every band position's partial sums for every ky, and output (row,
 * col) sums ky's partial at position (row + ky)·Wp + col ({@link KernelOperations#sumTaps}). Tall bands then keep
 * the partials of the rows above and below few: 3x3 128 -> 32 at 592x592 ran 1.45x faster than per ky, 256 -> 256
 * at 148x148 7 % slower;</li>
 * </ul></li>
 * <li>strided convs: im2col rows of output pixels plus one GEMM.</li>
 * <li>3x3 stride-1 convs with channels enough ({@link #winogradPays}: the DPT head's but its 128 -> 32), by
 * Winograd's F(2x2, 3x3) ({@link Winograd}): 16 GEMMs (tiles, in) x (in, out), one per transformed position, against
 * weights transformed and packed once, do the work of 36 per 2x2 outputs. Bands of tiles are the tasks of one parallel
 * loop, each thread transforming its band's input tiles across channels ({@link KernelOperations#winogradInput}:
 * ReLU'd on the way in), running the 16 GEMMs inline and transforming back into the output with the bias
 * ({@link KernelOperations#winogradOutput}); tiles hanging over the image's edge read zeros and write only their
 * pixels inside, so odd sizes are exact. {@code -Ddino4j.conv.winograd=auto|always|never} ({@link #WINOGRAD}).</li>
 * </ul>
 * Either way the output goes through in chunks whose buffers stay near {@link #CHUNK_FLOATS}, {@link #BAND_FLOATS} or
 * {@link #WINOGRAD_FLOATS} (im2col of a 3x3 256-channel conv at 608x608 whole would take 3.4 GB).
 */
public final class Conv2d {
    /**
     * Scratch floats per chunk: 16 MiB of im2col columns, 1728 rows at K = 2304 (3x3, 256 channels), enough row blocks
     * for the GEMM to balance over 16 threads (half that ran a 3x3 256 -> 256 conv ~5 % slower on one thread); or of
     * band and partial sums on the stacked stride-1 path.
     */
    static final int CHUNK_FLOATS = Integer.getInteger("dino4j.conv.chunkFloats", 1 << 22);
    /** Band plus wide-output floats per band of the per-ky stride-1 path: 1 MiB, which a thread finds in its own L2. */
    static final int BAND_FLOATS = Integer.getInteger("dino4j.conv.bandFloats", 1 << 18);
    /** Most output channels for which the stride-1 path stacks the kernel rows' weights into one GEMM. */
    static final int STACK_MAX_OUT = 64;
    /**
     * The system property choosing the Winograd path for 3x3 stride-1 convs: auto (the default: where it pays,
     * {@link #winogradPays}), always (the heads' conformance tests run again so, as their tiny fixtures have 6 to 48
     * channels), never. Read by each constructor.
     */
    static final String WINOGRAD = "dino4j.conv.winograd";
    /**
     * Transformed input plus GEMM output floats per band of the Winograd path (16·(in + out) per tile): 8 MiB, 256
     * tiles at 256 -> 256 channels, enough rows for each of the 16 GEMMs to reuse its packed weight well (2 to 16 MiB
     * ran within 10 % of each other, 256 -> 256 at 152x224 on one thread; 2 MiB the slowest).
     */
    static final int WINOGRAD_FLOATS = Integer.getInteger("dino4j.conv.winogradFloats", 1 << 21);

    private final int out, in, kernel, stride, padding, k;
    private final boolean winograd;
    private final float[] bias;
    /**
     * (out, ky·kx·in) for the im2col and 1x1 paths, (ky·out, kx·in) when stacked, one (out, kx·in) slice per ky (per-ky
     * stride-1 path), or one (out, in) slice of the transformed weight per position (Winograd).
     */
    private final Weight[] weights;

    /** nn.Conv2d: weight as PyTorch stores it (out, in, k, k) row-major; bias may be null; square kernel, symmetric zero padding. */
    public Conv2d(float[] weight, float[] bias, int out, int in, int kernel, int stride, int padding) {
        this(weight, bias, out, in, kernel, stride, padding, null);
    }

    /**
     * {@link #Conv2d(float[], float[], int, int, int, int, int)}; useWinograd: whether a 3x3 stride-1 conv takes that
     * path, null: as {@link #WINOGRAD} says.
     */
    Conv2d(float[] weight, float[] bias, int out, int in, int kernel, int stride, int padding, Boolean useWinograd) {
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
        String mode = System.getProperty(WINOGRAD, "auto").trim();
        if (!mode.matches("auto|always|never"))
            throw new IllegalArgumentException(WINOGRAD + " must be auto, always or never, got " + mode);
        this.winograd = kernel == 3 && stride == 1 && (useWinograd != null ? useWinograd
                : mode.equals("always") || mode.equals("auto") && winogradPays(in, out));
        KernelOperations kn = Kernels.get();
        if (winograd) {
            MemorySegment u = MemorySegment.ofArray(Winograd.weights(weight, out, in));
            long slice = (long) out * in * Float.BYTES;
            weights = new Weight[Winograd.POSITIONS];
            for (int xi = 0; xi < weights.length; xi++) {
                MemorySegment s = u.asSlice(xi * slice, slice);
                weights[xi] = new Weight(s, kn.pack(s, out, in));
            }
            return;
        }
        // stride 1: rows (ky, o) of (kx, in), whose ky blocks are the slices; else rows o of (ky, kx, in)
        int kk = kernel * kernel, sk = kernel * in;
        float[] w = new float[weight.length];
        for (int o = 0; o < out; o++)
            for (int i = 0; i < in; i++)
                for (int t = 0; t < kk; t++)
                    w[banded() ? (t / kernel * out + o) * sk + t % kernel * in + i : o * k + t * in + i] = weight[(o * in + i) * kk + t];
        MemorySegment seg = MemorySegment.ofArray(w);
        if (!banded()) weights = new Weight[] {new Weight(seg, kn.pack(seg, out, k))};
        else if (stacked()) weights = new Weight[] {new Weight(seg, kn.pack(seg, kernel * out, sk))};
        else {
            weights = new Weight[kernel];
            for (int ky = 0; ky < kernel; ky++) {
                MemorySegment slice = seg.asSlice((long) ky * out * sk * Float.BYTES, (long) out * sk * Float.BYTES);
                weights[ky] = new Weight(slice, kn.pack(slice, out, sk));
            }
        }
    }

    /** The stride-1 path (a 1x1 stride-1 conv without padding being a plain GEMM instead). */
    private boolean banded() {
        return stride == 1 && !(kernel == 1 && padding == 0);
    }

    /**
     * Whether Winograd beats the direct paths for a 3x3 stride-1 conv with these channels: its transforms move 16·(in +
     * out) floats per tile for 32·in·out GEMM flops, a share that goes as 1/in + 1/out, so where the channels'
     * harmonic mean is 64 or more. Single-thread CPU time on 152x224 (2026-12, Xeon AVX-512): 64 -> 64 1.04x faster,
     * 128 -> 64 1.24x, 48 -> 256 1.24x, 96 -> 256 1.7x, 256 -> 256 1.8x; below it 32 -> 32 0.94x, 32 -> 64 0.99x,
     * 128 -> 32 (the stacked path's) 0.85-1.07x.
     */
    static boolean winogradPays(int in, int out) {
        return (long) in * out >= 32L * (in + out);
    }

    /** Whether this conv runs by Winograd's F(2x2, 3x3). */
    public boolean winograd() {
        return winograd;
    }

    /** The stride-1 path with the kernel rows stacked into one GEMM (few outputs). */
    private boolean stacked() {
        return out <= STACK_MAX_OUT;
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
        return forward(x, h, w, reluInput, winograd ? WINOGRAD_FLOATS : banded() && !stacked() ? BAND_FLOATS : CHUNK_FLOATS);
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
        if (winograd) winograd(kn, x, h, w, reluInput, y, oh, ow, chunkFloats);
        else if (banded() && stacked()) stacked(kn, x, h, w, reluInput, y, oh, ow, chunkFloats);
        else if (banded()) perKernelRow(kn, x, h, w, reluInput, y, oh, ow, chunkFloats);
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
     * Padded rows oy0 .. oy0 + rows + kernel − 2 of the (ReLU'd) input into band: the padded image's pixels, which
     * im2col with a 1x1 window lists.
     */
    private void pad(KernelOperations kn, float[] x, int h, int w, boolean relu, int oy0, int rows, float[] band) {
        int wp = w + 2 * padding;
        kn.im2col(x, h, w, in, 1, 1, padding, relu, oy0 * wp, (oy0 + rows + kernel - 1) * wp, band);
    }

    /**
     * The per-ky stride-1 path (class comment): one band of output rows per task of one parallel loop, each thread
     * padding its band and running the band's GEMMs itself (inline, as the pool runs loops nested in a task) while
     * band and output stay in its cache, with one fork/join per convolution rather than several per band.
     */
    private void perKernelRow(KernelOperations kn, float[] x, int h, int w, boolean relu, float[] y, int oh, int ow,
                              int chunkFloats) {
        int wp = w + 2 * padding, sk = kernel * in;
        int rows = bandRows(oh, wp * (in + out), chunkFloats, 4 * Parallel.threads()); // 4+ per thread: an even end
        int bandFloats = Math.multiplyExact((rows + kernel - 1) * wp, in), wideFloats = Math.multiplyExact(rows * wp, out);
        Parallel.forEach((oh + rows - 1) / rows, b -> {
            Scratch s = SCRATCH.get();
            float[] band = s.band(bandFloats), wide = s.partial(wideFloats);
            int oy0 = b * rows, r = Math.min(rows, oh - oy0), m = (r - 1) * wp + ow; // the last row's wrap is not needed
            pad(kn, x, h, w, relu, oy0, r, band);
            for (int ky = 0; ky < kernel; ky++)
                kn.linear(new Mat(band, ky * wp * in, in), weights[ky], ky == 0 ? Epilogue.bias(bias) : Epilogue.ACCUMULATE,
                        Mat.of(wide, out), m, out, sk);
            for (int j = 0; j < r; j++) System.arraycopy(wide, j * wp * out, y, (oy0 + j) * ow * out, ow * out);
        });
    }

    /** The stacked stride-1 path (class comment): tall bands one after another, each step parallel inside. */
    private void stacked(KernelOperations kn, float[] x, int h, int w, boolean relu, float[] y, int oh, int ow,
                         int chunkFloats) {
        int wp = w + 2 * padding, n = kernel * out, sk = kernel * in, rows = bandRows(oh, wp * (in + n), chunkFloats, 1);
        Scratch s = SCRATCH.get();
        float[] band = s.band(Math.multiplyExact((rows + kernel - 1) * wp, in));
        float[] partial = s.partial(Math.multiplyExact((rows + kernel - 1) * wp, n));
        for (int oy0 = 0; oy0 < oh; oy0 += rows) {
            int r = Math.min(rows, oh - oy0), m = (r + kernel - 2) * wp + ow, y0 = oy0; // the last row's wrap: not needed
            pad(kn, x, h, w, relu, oy0, r, band);
            kn.linear(Mat.of(band, in), weights[0], Epilogue.STORE, Mat.of(partial, n), m, n, sk);
            Parallel.forRange(r, 1, (lo, hi) -> {
                for (int j = lo; j < hi; j++)
                    kn.sumTaps(partial, j * wp * n, n, wp * n + out, kernel, bias, y, (y0 + j) * ow * out, ow, out);
            });
        }
    }

    /**
     * The Winograd path (class comment): bands of tiles, 2x2 output pixels each, in row-major order over the image, as
     * the tasks of one parallel loop; each thread's transformed tiles (16, tiles, in) and products (16, tiles, out)
     * stay near its cache.
     */
    private void winograd(KernelOperations kn, float[] x, int h, int w, boolean relu, float[] y, int oh, int ow,
                          int chunkFloats) {
        int n = Winograd.POSITIONS, tilesW = (ow + 1) / 2, tiles = Math.multiplyExact((oh + 1) / 2, tilesW);
        // the 16 planes a tile's transforms read or write one cache line apart in the L1 sets, not 4 KiB multiples
        int per = bandRows(tiles, n * (in + out), chunkFloats, 4 * Parallel.threads()), vs = per * in + 16, ms = per * out + 16;
        Parallel.forEach((tiles + per - 1) / per, b -> {
            Scratch s = SCRATCH.get();
            float[] v = s.band(n * vs), m = s.partial(n * ms);
            int t0 = b * per, t1 = Math.min(tiles, t0 + per);
            kn.winogradInput(x, h, w, in, padding, relu, tilesW, t0, t1, v, vs);
            for (int xi = 0; xi < n; xi++)
                kn.linear(new Mat(v, xi * vs, in), weights[xi], Epilogue.STORE, new Mat(m, xi * ms, out), t1 - t0, out, in);
            kn.winogradOutput(m, ms, tilesW, t0, t1, bias, y, oh, ow, out);
        });
    }

    /** Each thread's band and partial (or wide) output, kept between calls, grown as needed. */
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private static final class Scratch {
        float[] band = new float[0], partial = new float[0];

        float[] band(int n) {
            return band.length >= n ? band : (band = new float[n]);
        }

        float[] partial(int n) {
            return partial.length >= n ? partial : (partial = new float[n]);
        }
    }

    /**
     * Output rows per band: about chunkFloats / rowFloats, but at least minBands bands where there are rows enough;
     * all rows if fewer; equal bands.
     */
    static int bandRows(int oh, int rowFloats, int chunkFloats, int minBands) {
        int rows = Math.min(Math.max(1, chunkFloats / rowFloats), Math.max(1, oh / minBands));
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
