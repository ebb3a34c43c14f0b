package org.dino4j.data;

import static org.dino4j.data.PilResize.PRECISION_BITS;
import static org.dino4j.data.PilResize.clip8;

import java.util.concurrent.atomic.AtomicInteger;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import org.dino4j.data.PilResize.Coeffs;
import org.dino4j.kernels.KernelOperations;
import org.dino4j.kernels.VectorWidth;

/**
 * {@link PilResize}'s two passes on the Vector API, byte for byte the scalar ones: the same products and integer sums
 * in another order, which integer addition does not notice. A class of its own so that a JVM without
 * {@code --add-modules jdk.incubator.vector} never loads it and still resizes (scalar).
 */
final class PilResizeVector {
    /**
     * The int species of the kernels' width ({@link VectorWidth}, which {@code -Ddino4j.vector.bits} forces); null
     * (scalar) below 256 bits (4 lanes: one pixel and a spare) or under {@code -Ddino4j.kernels=scalar}. A constant:
     * the JIT compiles the Vector API to SIMD only for species it can see as one.
     */
    static final VectorSpecies<Integer> IS = species();
    private static final VectorSpecies<Byte> BS = IS == null ? null : VectorSpecies.of(byte.class, VectorShape.forBitSize(8 * IS.length()));

    /** Set once the passes are compiled (see {@link #hot}); calls take the scalar twin until then. */
    private static volatile boolean hot;
    /** Resizes before the vector passes' warm-up starts: ~80 photos repay it, and a long run's first 32 cost ~0.4 s more. */
    static final int WARM_AFTER = 32;
    private static final AtomicInteger CALLS = new AtomicInteger();

    private PilResizeVector() {}

    /**
     * Whether the vector passes are compiled by now. Until C2 has compiled them the Vector API runs as objects
     * (interpreted or C1 code): 2560 x 1600 to 256 px took 1.2-1.4 s cold against 0.15-0.2 s for the cold scalar
     * twin, and a pipeline's first batch waited for it; and compiling them costs C2 ~1 s of CPU, more than the scalar
     * twin spends on a dozen photos (an embed of 12 photos was ~1 s slower with them from the start, 2026-12-07). So
     * calls take the scalar twin (the same bytes) until {@link #WARM_AFTER} resizes have shown a run long enough to
     * repay the compile; then a daemon thread runs each pass a few times on small pictures (enough loop iterations
     * for C2 to compile them), then once every 100 ms, until the vector passes beat the scalar ones twice in a row
     * (then they serve every call) or 5 s passed (then the scalar twin goes on serving).
     */
    static boolean hot() {
        if (hot) return true;
        if (CALLS.incrementAndGet() == WARM_AFTER) {
            try {
                Thread t = new Thread(PilResizeVector::warmUp, "dino4j-resize-warmup");
                t.setDaemon(true);
                t.setContextClassLoader(null);
                t.start();
            } catch (OutOfMemoryError | SecurityException e) {
                // no thread for the warm-up: the scalar twin (the same bytes) serves every call
            }
        }
        return false;
    }

    private static void warmUp() {
        RgbImage wide = probe(256, 64), tall = probe(64, 256);
        int wins = 0;
        try {
            long end = System.nanoTime() + 5_000_000_000L;
            for (int i = 0; wins < 2 && System.nanoTime() < end; i++) {
                if (i >= 4) Thread.sleep(100);
                long t0 = System.nanoTime();
                bicubic(wide, 51, 64); // the horizontal pass alone, 21 taps: 5 steps of 16 lanes, 3 of 8
                bicubic(tall, 64, 51); // the vertical one alone
                long t1 = System.nanoTime();
                PilResize.bicubicScalar(wide, 51, 64);
                PilResize.bicubicScalar(tall, 64, 51);
                wins = t1 - t0 < System.nanoTime() - t1 ? wins + 1 : 0;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // only once the vector passes have won: on a loaded machine C2 can take longer than 5 s, and a width the CPU
        // lacks (-Ddino4j.vector.bits=512 on AVX2) never wins; then the scalar twin keeps serving
        hot = wins >= 2;
    }

    private static RgbImage probe(int w, int h) {
        byte[] px = new byte[3 * w * h];
        for (int i = 0; i < px.length; i++) px[i] = (byte) (i * 37 % 251);
        return new RgbImage(w, h, px);
    }

    private static VectorSpecies<Integer> species() {
        if ("scalar".equals(System.getProperty(KernelOperations.PROPERTY))) return null;
        return VectorWidth.bits() < 256 ? null : VectorSpecies.of(int.class, VectorShape.forBitSize(VectorWidth.bits()));
    }

    /** {@link PilResize#bicubic} on the Vector API; {@link #IS} must not be null. */
    static RgbImage bicubic(RgbImage in, int w, int h) {
        if (w < 1 || h < 1) throw new IllegalArgumentException("resize to " + w + "x" + h);
        byte[] src = in.rgb();
        int sw = in.width(), sh = in.height();
        if (w != sw) {
            src = horizontal(src, sw, sh, w, PilResize.coeffs(sw, w));
            sw = w;
        }
        if (h != sh) src = vertical(src, 3 * w, h, PilResize.coeffs(sh, h));
        return src == in.rgb() ? in : new RgbImage(w, h, src);
    }

    /**
     * Each output pixel's window of 3n bytes (the three channels interleaved) in steps of p = lanes / 3 pixels: the
     * bytes times the weights spread over the lanes (weight i on lanes 3i..3i+2, zero on the spare lanes and past
     * the window), summed per lane, then the lanes of one channel added. A window whose last load would pass the end
     * of the image (the last pixels of the last row) is summed by the scalar loop.
     */
    private static byte[] horizontal(byte[] src, int sw, int sh, int w, Coeffs c) {
        int lanes = IS.length(), p = lanes / 3, used = 3 * p, steps = (c.ksize() + p - 1) / p, stride = steps * lanes;
        int[] bounds = c.bounds(), kk = c.kk(), kv = new int[w * stride];
        for (int x = 0; x < w; x++)
            for (int i = 0; i < bounds[2 * x + 1]; i++)
                for (int ch = 0; ch < 3; ch++) kv[x * stride + i / p * lanes + 3 * (i % p) + ch] = kk[x * c.ksize() + i];
        byte[] out = new byte[3 * w * sh];
        int[] sum = new int[lanes];
        for (int y = 0; y < sh; y++)
            for (int x = 0; x < w; x++) {
                int n = bounds[2 * x + 1], m = (n + p - 1) / p, si = 3 * (y * sw + bounds[2 * x]), o = 3 * (y * w + x);
                if (si + (m - 1) * used + lanes > src.length) {
                    PilResize.scalarPixel(src, si, kk, x * c.ksize(), n, out, o);
                    continue;
                }
                IntVector acc = IntVector.zero(IS);
                for (int j = 0, kj = x * stride; j < m; j++, si += used, kj += lanes)
                    acc = acc.add(widen(src, si).mul(IntVector.fromArray(IS, kv, kj)));
                acc.intoArray(sum, 0);
                int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                for (int l = 0; l < used; l += 3) {
                    s0 += sum[l];
                    s1 += sum[l + 1];
                    s2 += sum[l + 2];
                }
                out[o] = clip8(s0);
                out[o + 1] = clip8(s1);
                out[o + 2] = clip8(s2);
            }
        return out;
    }

    /** The first lanes of the bytes at off, zero-extended to ints. */
    private static IntVector widen(byte[] a, int off) {
        return (IntVector) ByteVector.fromArray(BS, a, off).convertShape(VectorOperators.ZERO_EXTEND_B2I, IS, 0);
    }

    /**
     * Each output row from its n input rows, lanes bytes of the row at a time; the last chunk of a row overlaps the one
     * before it (the same bytes written twice) so no tail is left, unless the row is shorter than a chunk (scalar).
     */
    private static byte[] vertical(byte[] src, int row, int h, Coeffs c) {
        int lanes = IS.length();
        byte[] out = new byte[row * h];
        if (row < lanes) {
            PilResize.verticalScalar(src, row, h, c, out);
            return out;
        }
        int[] bounds = c.bounds(), kk = c.kk();
        for (int y = 0; y < h; y++) {
            int lo = bounds[2 * y], n = bounds[2 * y + 1], ko = y * c.ksize();
            for (int x = 0; ; x += lanes) {
                if (x + lanes > row) x = row - lanes;
                IntVector acc = IntVector.broadcast(IS, 1 << (PRECISION_BITS - 1));
                for (int i = 0; i < n; i++) acc = acc.add(widen(src, (lo + i) * row + x).mul(kk[ko + i]));
                acc.lanewise(VectorOperators.ASHR, PRECISION_BITS).max(0).min(255)
                        .convertShape(VectorOperators.I2B, BS, 0).reinterpretAsBytes().intoArray(out, y * row + x);
                if (x + lanes >= row) break;
            }
        }
        return out;
    }
}
