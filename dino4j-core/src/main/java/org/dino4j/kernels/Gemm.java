package org.dino4j.kernels;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;
import org.dino4j.io.TensorEntry;

/**
 * Packed, cache-blocked SGEMM (the BLIS/GotoBLAS scheme) on the Vector API.
 *
 * <p>Per call, B is packed once into k-major micro-panels of NR columns per K block (in parallel, by the first
 * tasks) and shared by all the other tasks: (row block x column block) tiles of C, evenly sized, pulled from
 * {@link Parallel}.
 * Each task packs its A block (up to MC_MAX x KC_MAX) into MR-row micro-panels in per-thread scratch and runs an
 * MR x NR register-blocked micro-kernel (MR broadcasts of A times NR/L vectors of B, FMA) over it: the B
 * micro-panel stays in L1 while the A block streams from L2. Bias, LayerScale gamma and the residual add happen in
 * the micro-kernel's epilogue; a K split accumulates each block's gamma-scaled sums into C.
 * Fewer than six rows (m = 1..5, or fewer than the forced 4-row panel) take a dot-product/axpy path instead, as
 * packing all of B would cost more than the product. The micro-kernels themselves live in {@link MicroKernels}, shared with attention.
 *
 * <p>The layers reach it through {@link Kernels} (its Vector API implementation); the positional methods here are
 * that implementation's own surface, for its tests and micro-benchmarks. Inside, one {@code Product} record carries a
 * call's operands through the drivers.
 */
public final class Gemm {
    private static final VectorSpecies<Float> S = VectorWidth.FLOAT;
    private static final VectorSpecies<Float> S8 = FloatVector.SPECIES_256; // 6 floats in one move (used where L >= 8)
    private static final int L = S.length();
    /** Width of the narrow kernels' B micro-panel (2 vectors): the column panels of {@link #linearPanels}. */
    static final int W2 = MicroKernels.W2;

    /**
     * Micro-kernel shape: 14 rows x 2 vectors where vectors are 512-bit (AVX-512: 32 registers, see
     * {@link MicroKernels#kernel14x2}; 512-bit SVE too), 6 x 3 on NEON's 32 registers, else 6 x 2 (AVX2's 16; see
     * {@link MicroKernels#kernel6x2} for how it avoids spilling). -Ddino4j.gemm.kernel=4x2|6x2|6x3|14x2 forces one
     * (4 x 2: the earlier AVX2 kernel, kept for comparison; 6 x 3: the AVX-512 kernel before 2026-12-07).
     */
    static final boolean WIDE = kernel().equals("6x3");
    /** Rows of the narrow (2-vector) kernel: 14 (AVX-512), 6, or 4 when forced to 4x2. */
    static final int NARROW_MR = switch (kernel()) {
        case "4x2" -> 4;
        case "14x2" -> 14;
        default -> 6;
    };
    /**
     * Largest K block. The B micro-panel (KC x NR floats: 24 KiB for 384 x 16 on AVX2) should stay in L1 next to
     * the streaming A micro-panel; 384 also keeps ViT's K = 384 and 768 in whole, equal blocks. (AVX-512's 14 x 2:
     * 48 KiB for 384 x 32, all of a 48 KiB L1; K blocks of 192 were nevertheless slower, 1.043 of a ViT-S forward.)
     */
    static final int KC_MAX = Integer.getInteger("dino4j.gemm.kc", 384);
    /** Most rows per task: the packed A block (MC x KC, 144 KiB) stays in L2. */
    static final int MC_MAX = Integer.getInteger("dino4j.gemm.mc", 96);
    /** Widest column block when K is split, bounding the C tile (MC x NC floats) re-read after every K block. */
    static final int NC_SPLIT = 512;
    /** Below this many flops a call runs on the calling thread: waking the pool would cost more. */
    static final double PARALLEL_FLOPS = 2e6;
    /** Most floats of a tall B (matmulTransA) packed at a time: 2 MiB, a few K blocks, well inside L3. */
    static final int K_OUTER_FLOATS = Integer.getInteger("dino4j.gemm.kouter", 1 << 19);

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private Gemm() {}

    private static String kernel() {
        String p = System.getProperty("dino4j.gemm.kernel");
        if (p != null && !p.isBlank()) {
            if (p.trim().matches("4x2|6x2|6x3|14x2")) return p.trim();
            throw new IllegalArgumentException("dino4j.gemm.kernel must be 4x2, 6x2, 6x3 or 14x2, got " + p);
        }
        if (L >= 16) return "14x2";
        return System.getProperty("os.arch", "").equals("aarch64") ? "6x3" : "6x2";
    }

    /**
     * c[i, j] = (accumulate ? c[i, j] : 0) + g[j] * (sum_k a[i, k] * w[j, k] + bias[j])  for i < m, j < n
     * a: row-major activations, element (i,k) at a[aOff + i*lda + k]
     * w: PyTorch nn.Linear weight layout, row-major N x K little-endian float32 in a MemorySegment
     *    (usually a slice of a memory-mapped file: it is only read, into per-call packed scratch)
     * bias: length >= n or null (0); gamma g: length >= n or null (1)   (gamma is DINOv2's LayerScale)
     * c: element (i,j) at c[cOff + i*ldc + j]
     */
    public static void linear(float[] a, int aOff, int lda, MemorySegment w, float[] bias, float[] gamma,
                              float[] c, int cOff, int ldc, int m, int n, int k, boolean accumulate) {
        linear(WIDE, a, aOff, lda, w, bias, gamma, c, cOff, ldc, m, n, k, accumulate);
    }

    /**
     * c = (accumulate ? c : 0) + a . b with a row-major M x K (a[aOff + i*lda + k]) and b row-major K x N
     * (b[bOff + k*ldb + j]), c[cOff + i*ldc + j].
     */
    public static void matmul(float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                              float[] c, int cOff, int ldc, int m, int n, int k, boolean accumulate) {
        matmul(WIDE, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, m, n, k, accumulate);
    }

    /**
     * B = w^T already in the micro-kernel's panel layout: a weight used by many calls (a model's Linear) is packed
     * once instead of per call, which at one image (257 rows) is ~10-15% of a GEMM's time.
     */
    public static final class PackedWeight implements Packed {
        final float[] bp;
        final int n, k;
        final boolean wide;

        private PackedWeight(float[] bp, int n, int k, boolean wide) {
            this.bp = bp;
            this.n = n;
            this.k = k;
            this.wide = wide;
        }

        /** Heap bytes this copy of the weight takes. */
        @Override
        public long bytes() {
            return 4L * bp.length;
        }
    }

    /** Packs w (n x k, as {@link #linear} takes it) for the machine's micro-kernel. */
    public static PackedWeight pack(MemorySegment w, int n, int k) {
        return pack(WIDE, w, n, k);
    }

    static PackedWeight pack(boolean wide, MemorySegment w, int n, int k) {
        checkWeight(w, null, wide, 1, n, k);
        int nr = (wide ? 3 : 2) * L, nb = (k + KC_MAX - 1) / KC_MAX, kc = (k + nb - 1) / nb, np = (n + nr - 1) / nr;
        float[] bp = new float[Math.multiplyExact(k, np * nr)];
        packBFromNK(w, n, k, kc, nr, np * nr, 0, np, bp);
        return new PackedWeight(bp, n, k, wide);
    }

    /**
     * c = f(a) wᵀ + bias (a: m x k rows, lda apart; c: m x n, row-major, overwritten) with f applied while A is packed
     * ({@link Prologue}): bit-identical to {@link #linear} on an array holding f(a).
     */
    public static void linear(float[] a, int lda, Prologue f, MemorySegment w, float[] bias, float[] c, int m, int n, int k) {
        Objects.requireNonNull(f, "prologue");
        linear(WIDE, new Mat(a, 0, lda, f), w, null, Epilogue.bias(bias), Mat.of(c, n), m, n, k);
    }

    /** {@link #linear} with B from {@code packed} (made by {@link #pack} from the same w) when not null. */
    public static void linear(float[] a, int aOff, int lda, MemorySegment w, PackedWeight packed, float[] bias, float[] gamma,
                              float[] c, int cOff, int ldc, int m, int n, int k, boolean accumulate) {
        linear(WIDE, a, aOff, lda, w, packed, bias, gamma, c, cOff, ldc, m, n, k, accumulate);
    }

    /**
     * {@link #linear} (no gamma, no accumulation) with C stored as column panels W2 wide: element (i, j) at
     * (j / W2)·m·W2 + i·W2 + j % W2, each panel's rows contiguous. Attention reads its query, key and value heads
     * from such panels in order, instead of one 4.5 KiB-strided row per token. Runs the narrow (2-vector) kernel,
     * 6 x 2 or 14 x 2, whose width W2 is: needs m >= 6, n a multiple of W2, and {@code packed} null or made for that
     * kernel ({@link #packNarrow}).
     */
    public static void linearPanels(float[] a, int lda, MemorySegment w, PackedWeight packed, float[] bias, float[] c,
                                    int m, int n, int k) {
        if (m < 6 || n % W2 != 0 || k < 1)
            throw new IllegalArgumentException("linearPanels needs m >= 6, n a multiple of " + W2 + ", k >= 1; got "
                    + m + "x" + n + "x" + k);
        checkWeight(w, packed, false, m, n, k);
        if (c.length < (long) m * n) throw new IllegalArgumentException("c holds " + c.length + " floats, need " + m + " x " + n);
        gemm(new Product(false, false, new Mat(a, 0, lda), BOperand.weight(w, packed), Epilogue.bias(bias),
                Mat.of(c, n), true, null, m, n, k));
    }

    /** Whether this machine's GEMM runs a narrow (2-vector) kernel (AVX2's 6 x 2, AVX-512's 14 x 2), the one {@link #linearPanels} runs on any machine. */
    static boolean narrowKernel() {
        return !WIDE;
    }

    /** Packs w (n x k) for the narrow kernel, as {@link #linearPanels} takes it on any machine. */
    public static PackedWeight packNarrow(MemorySegment w, int n, int k) {
        return pack(false, w, n, k);
    }

    static void linear(boolean wide, float[] a, int aOff, int lda, MemorySegment w, PackedWeight packed, float[] bias,
                       float[] gamma, float[] c, int cOff, int ldc, int m, int n, int k, boolean accumulate) {
        linear(wide, new Mat(a, aOff, lda), w, packed, new Epilogue(bias, gamma, accumulate), new Mat(c, cOff, ldc), m, n, k);
    }

    /** c = e(f(a) · wᵀ), f being a's prologue (if any), with the micro-kernel chosen by the caller. */
    static void linear(boolean wide, Mat a, MemorySegment w, PackedWeight packed, Epilogue e, Mat c, int m, int n, int k) {
        checkWeight(w, packed, wide, m, n, k);
        gemm(new Product(wide, false, a, BOperand.weight(w, packed), e, c, false, null, m, n, k));
    }

    /**
     * w (n x k floats) is there and, for a product with rows (m > 0) and a sum (n·k > 0), large enough; and
     * {@code packed}, if any, was made from such a w for the kernel the call runs (wide: 6 x 3; narrow: 2 vectors).
     */
    private static void checkWeight(MemorySegment w, PackedWeight packed, boolean wide, int m, int n, int k) {
        Objects.requireNonNull(w, "w");
        if (packed != null && (packed.n != n || packed.k != k || packed.wide != wide))
            throw new IllegalArgumentException("packed weight is " + packed.n + " x " + packed.k + " for the "
                    + (packed.wide ? "wide" : "narrow") + " kernel, call needs " + n + " x " + k + " for the "
                    + (wide ? "wide" : "narrow") + " kernel");
        if (m > 0 && n > 0 && k > 0 && w.byteSize() < (long) n * k * Float.BYTES)
            throw new IllegalArgumentException("w has " + w.byteSize() + " bytes, need " + n + " x " + k + " floats");
    }

    /**
     * c = (accumulate ? c : 0) + aᵀ · b with a stored K x M row-major (element (i, k) at a[aOff + k*lda + i]), b K x N:
     * a backward pass's dW = dYᵀ X without a transposed copy of dY.
     */
    public static void matmulTransA(float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                                    float[] c, int cOff, int ldc, int m, int n, int k, boolean accumulate) {
        matmulTransA(WIDE, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, m, n, k, accumulate);
    }

    static void matmulTransA(boolean wide, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                             float[] c, int cOff, int ldc, int m, int n, int k, boolean accumulate) {
        matmulTransA(wide, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, m, n, k, accumulate, null);
    }

    /**
     * {@link #matmulTransA} that also adds A's column sums over its k stored rows into {@code sums} (m floats): with
     * A = dY, the bias gradient beside dW = dYᵀX, from the rows the product packs anyway instead of another pass over
     * dY. Summed exactly as {@link Ops#addColumnSums(float[], int, int, float[])} sums (float over blocks of 64 rows,
     * the blocks added in double), so the same floats; needs lda == m, as that method's rows are m wide.
     */
    public static void matmulTransA(float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                                    float[] c, int cOff, int ldc, int m, int n, int k, boolean accumulate, float[] sums) {
        matmulTransA(WIDE, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, m, n, k, accumulate, sums);
    }

    static void matmulTransA(boolean wide, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                             float[] c, int cOff, int ldc, int m, int n, int k, boolean accumulate, float[] sums) {
        matmulTransA(wide, a, aOff, lda, b, bOff, ldb, null, c, cOff, ldc, m, n, k, accumulate, sums);
    }

    /**
     * {@link #matmulTransA} with the column sums and B = f(b), f applied as B is packed ({@link Prologue}; b's stored
     * row p is row p of the prologue): bit-identical to the product with an array holding f(b).
     */
    public static void matmulTransA(float[] a, int aOff, int lda, float[] b, int bOff, int ldb, Prologue f,
                                    float[] c, int cOff, int ldc, int m, int n, int k, boolean accumulate, float[] sums) {
        matmulTransA(WIDE, a, aOff, lda, b, bOff, ldb, f, c, cOff, ldc, m, n, k, accumulate, sums);
    }

    static void matmulTransA(boolean wide, float[] a, int aOff, int lda, float[] b, int bOff, int ldb, Prologue f,
                             float[] c, int cOff, int ldc, int m, int n, int k, boolean accumulate, float[] sums) {
        Objects.requireNonNull(b, "b");
        matmulTransA(wide, new Mat(a, aOff, lda), new Mat(b, bOff, ldb, f), new Mat(c, cOff, ldc), m, n, k, accumulate, sums);
    }

    /** c = (accumulate ? c : 0) + aᵀ · f(b) (+ a's column sums into sums), with the micro-kernel chosen by the caller. */
    static void matmulTransA(boolean wide, Mat a, Mat b, Mat c, int m, int n, int k, boolean accumulate, float[] sums) {
        Objects.requireNonNull(b.data(), "b");
        Epilogue e = accumulate ? Epilogue.ACCUMULATE : Epilogue.STORE;
        if (sums == null) {
            gemm(new Product(wide, true, a, BOperand.heap(b), e, c, false, null, m, n, k));
            return;
        }
        if (sums.length < m || a.ld() != m) throw new IllegalArgumentException("column sums of " + m + " columns (lda " + a.ld() + ") into " + sums.length);
        ColumnSums cs = new ColumnSums(m, k);
        gemm(new Product(wide, true, a, BOperand.heap(b), e, c, false, cs, m, n, k));
        if (m > 0 && n == 0) cs.add(a.data(), a.off(), a.ld(), 0, k, 0, m); // no tiles ran
        for (int i = 0; i < m; i++) sums[i] += (float) cs.acc[i];
    }

    /**
     * A's column sums as {@link Ops#addColumnSums} makes them, gathered by the tiles of column block 0 (each owns its
     * rows of A), K block after K block: a float per column over each run of 64 stored rows, the runs added in double.
     */
    private static final class ColumnSums {
        final float[] blk;
        final double[] acc;
        final int total;
        int base; // the stored row where the current (outer) call's A starts

        ColumnSums(int m, int total) {
            blk = new float[m];
            acc = new double[m];
            this.total = total;
        }

        /** Adds stored rows [k0, k0 + kn) (of this call's A), columns [i0, i1). */
        void add(float[] a, int aOff, int lda, int k0, int kn, int i0, int i1) {
            int w = i1 - i0, vw = w / L * L;
            for (int kk = k0; kk < k0 + kn; kk++) {
                int q = aOff + kk * lda + i0, j = 0;
                for (; j < vw; j += L) FloatVector.fromArray(S, a, q + j).add(FloatVector.fromArray(S, blk, i0 + j)).intoArray(blk, i0 + j);
                for (; j < w; j++) blk[i0 + j] += a[q + j];
                int row = base + kk;
                if ((row + 1) % 64 == 0 || row == total - 1)
                    for (int i = i0; i < i1; i++) {
                        acc[i] += blk[i];
                        blk[i] = 0f;
                    }
            }
        }
    }

    /** {@link #linear} with the micro-kernel chosen by the caller (tests run both kernels on any machine). */
    static void linear(boolean wide, float[] a, int aOff, int lda, MemorySegment w, float[] bias, float[] gamma,
                       float[] c, int cOff, int ldc, int m, int n, int k, boolean accumulate) {
        linear(wide, a, aOff, lda, w, null, bias, gamma, c, cOff, ldc, m, n, k, accumulate);
    }

    /** {@link #matmul} with the micro-kernel chosen by the caller. */
    static void matmul(boolean wide, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                       float[] c, int cOff, int ldc, int m, int n, int k, boolean accumulate) {
        matmul(wide, new Mat(a, aOff, lda), new Mat(b, bOff, ldb), new Mat(c, cOff, ldc), m, n, k, accumulate);
    }

    /** c = (accumulate ? c : 0) + a · f(b), f being b's prologue (if any), with the micro-kernel chosen by the caller. */
    static void matmul(boolean wide, Mat a, Mat b, Mat c, int m, int n, int k, boolean accumulate) {
        Objects.requireNonNull(b.data(), "b");
        gemm(new Product(wide, false, a, BOperand.heap(b), accumulate ? Epilogue.ACCUMULATE : Epilogue.STORE, c, false,
                null, m, n, k));
    }

    /**
     * The B operand: B = wᵀ from a segment w (n x k), or its packed copy when {@code packed} is not null; else the
     * heap matrix b (k x n, through its prologue, whose stored row p is prologue row row0 + p).
     */
    private record BOperand(MemorySegment w, PackedWeight packed, Mat b, int row0) {
        static BOperand weight(MemorySegment w, PackedWeight packed) {
            return new BOperand(w, packed, null, 0);
        }

        static BOperand heap(Mat b) {
            return new BOperand(null, null, b, 0);
        }

        /** B's rows from {@code k0} on (heap B only). */
        BOperand skip(int k0) {
            return new BOperand(null, null, b.skip(k0), row0 + k0);
        }
    }

    /**
     * One product, as the drivers below pass it: C (m x n) = e(A · B) over a sum of k, A stored transposed when ta
     * (stored row p holds column p; A's prologue applies only untransposed), C stored as column panels of the kernel's
     * width when panelC (see {@link #linearPanels}; C's offset and leading dimension are then unused), and A's column
     * sums gathered into {@code sums} when not null (transposed A only). {@code wide}: the 6 x 3 micro-kernel, else
     * the narrow one.
     */
    private record Product(boolean wide, boolean ta, Mat a, BOperand b, Epilogue e, Mat c, boolean panelC,
                           ColumnSums sums, int m, int n, int k) {
        int mr() {
            return wide ? 6 : NARROW_MR;
        }

        int nr() {
            return (wide ? 3 : 2) * L;
        }

        /** The product over stored rows [k0, k0 + kn) of A and B (transposed A, heap B), added to C after the first. */
        Product kSlice(int k0, int kn) {
            Epilogue e1 = k0 > 0 || e.accumulate() ? Epilogue.ACCUMULATE : Epilogue.STORE;
            return new Product(wide, ta, a.skip(k0), b.skip(k0), e1, c, false, sums, m, n, kn);
        }
    }

    private static void gemm(Product p) {
        int m = p.m, n = p.n, k = p.k;
        if (m < 0 || n < 0 || k < 0) throw new IllegalArgumentException("negative shape " + m + "x" + n + "x" + k);
        Objects.requireNonNull(p.a.data(), "a");
        Objects.requireNonNull(p.c.data(), "c");
        if (m == 0 || n == 0) return;
        float[] bias = p.e.bias(), gamma = p.e.gamma();
        if (bias != null && bias.length < n) throw new IllegalArgumentException("bias shorter than n=" + n);
        if (gamma != null && gamma.length < n) throw new IllegalArgumentException("gamma shorter than n=" + n);
        if (k == 0) { // empty sum: only the epilogue
            float[] c = p.c.data();
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    int ci = p.c.off() + i * p.c.ld() + j;
                    float v = (bias == null ? 0f : bias[j]) * (gamma == null ? 1f : gamma[j]);
                    c[ci] = p.e.accumulate() ? c[ci] + v : v;
                }
            return;
        }
        final int nr = p.nr();
        MemorySegment w = p.b.w();
        // A confined arena's segment may only be read by its owner thread: then everything runs on the caller. So does
        // a product called from a running loop's task (a convolution's band): then it is not split for the pool (its
        // A packed once per column block more for nothing).
        final int threads = (2.0 * m * n * k < PARALLEL_FLOPS || (w != null && !Parallel.poolMayRead(w)) || Parallel.busy())
                ? 1 : Parallel.threads();
        // Fewer rows than a 6-row panel (or the forced 4-row one): the dot-product path. From 6 rows on, even under 14,
        // the tile path (its short last panel on the 6-row kernel): every row's sums in the same order whatever the
        // batch, so a row's floats do not depend on how many rows came with it (the Spark and local curation engines
        // batch the same images differently and must agree). Column panels always take the tile path.
        if (m < Math.min(p.mr(), 6) && !p.panelC) {
            smallM(p, threads);
            return;
        }

        // Equal K blocks (1536 -> 4 x 384, 588 -> 2 x 294) so no block is a short, inefficient remainder.
        final int nb = (k + KC_MAX - 1) / KC_MAX;
        final int kc = (k + nb - 1) / nb;
        final int npad = (n + nr - 1) / nr * nr;

        // A tall heap B (dW = dYᵀX: K is the batch's rows, B a copy of X as big as X) is packed and used a few K
        // blocks at a time, each run its own parallel call: the packed blocks are still in L2/L3 when the tiles read
        // them, where one up-front copy of all of B went to memory and came back. The same blocks, the same sums in
        // the same order (each block's product added into C), so the same floats.
        final int outerBlocks = Math.max(1, K_OUTER_FLOATS / (kc * npad));
        if (p.ta && w == null && nb > outerBlocks) {
            for (int pb = 0; pb < nb; pb += outerBlocks) {
                int k0 = pb * kc, kn = Math.min(k, k0 + outerBlocks * kc) - k0;
                if (p.sums != null) p.sums.base = k0;
                blocks(p.kSlice(k0, kn), kc, threads);
            }
            return;
        }
        blocks(p, kc, threads);
    }

    /**
     * m < MR rows (a CLS token, batch-1 heads): prologues applied and a transposed A copied up front (a handful of
     * rows), then the dot-product/axpy path below.
     */
    private static void smallM(Product p, int threads) {
        int m = p.m, n = p.n, k = p.k;
        Mat a = p.a, b = p.b.b();
        if (p.sums != null) p.sums.add(a.data(), a.off(), a.ld(), 0, k, 0, m);
        a = a.materialize(0, m, k);
        if (b != null) b = b.materialize(p.b.row0(), k, n);
        if (p.ta) { // a handful of rows: transpose them, then the plain path
            float[] at = new float[m * k];
            for (int q = 0; q < k; q++) for (int i = 0; i < m; i++) at[i * k + q] = a.data()[a.off() + q * a.ld() + i];
            a = Mat.of(at, k);
        }
        smallM(a.data(), a.off(), a.ld(), p.b.w(), b == null ? null : b.data(), b == null ? 0 : b.off(),
                b == null ? 0 : b.ld(), p.e.bias(), p.e.gamma(), p.c.data(), p.c.off(), p.c.ld(), m, n, k,
                p.e.accumulate(), threads);
    }

    /** The product over K in blocks of kc (the last may be shorter): B packed by the first tasks, then the tiles. */
    private static void blocks(Product p, int kc, int threads) {
        final int m = p.m, n = p.n, k = p.k, mr = p.mr(), nr = p.nr();
        final int nb = (k + kc - 1) / kc, np = (n + nr - 1) / nr, npad = np * nr, mp = (m + mr - 1) / mr;

        // Tiles: row blocks of <= MC_MAX rows, then column blocks until the tasks (evenly sized) also divide
        // evenly between the threads, so that no thread idles at the end.
        final int mcp = Math.max(1, MC_MAX / mr);
        final int rowBlocks = (mp + mcp - 1) / mcp;
        int cb = nb > 1 ? Math.min(np, (npad + NC_SPLIT - 1) / NC_SPLIT) : 1;
        if (threads > 1)
            while (cb < np && (rowBlocks * cb < 2 * threads
                    || (rowBlocks * cb % threads != 0 && rowBlocks * cb < 8 * threads))) cb++;
        final int colBlocks = cb;

        // B is packed once (k x npad floats: K block p at p*kc*npad, micro-panel j inside it at j*kcb*nr) by the
        // first tasks of the same parallel loop as the tiles, saving a fork/join round trip. Tasks are handed out
        // in index order, so every packing task has started before any tile task spins on the count below.
        // (a pre-packed weight skips that: no packing tasks, nothing to wait for)
        final PackedWeight pre = p.b.packed();
        final float[] bp = pre != null ? pre.bp : SCRATCH.get().b(Math.multiplyExact(k, npad));
        final int packTasks = pre != null ? 0 : Math.min(np, threads == 1 ? 1 : threads * 4);
        final AtomicInteger packed = new AtomicInteger();
        run(packTasks + rowBlocks * colBlocks, threads, t -> {
            if (t < packTasks) {
                try {
                    int p0 = (int) ((long) np * t / packTasks), p1 = (int) ((long) np * (t + 1) / packTasks);
                    Mat b = p.b.b();
                    if (b == null) packBFromNK(p.b.w(), n, k, kc, nr, npad, p0, p1, bp);
                    else packBFromKN(b.data(), b.off(), b.ld(), n, k, kc, nr, npad, p0, p1, bp, b.f(), p.b.row0());
                } catch (Throwable e) {
                    packed.set(-packTasks - 1); // no tile may wait for (or use) a B that will never be complete
                    throw e;
                } finally {
                    packed.incrementAndGet();
                }
                return;
            }
            int pc;
            for (int spins = 0; (pc = packed.get()) >= 0 && pc < packTasks; spins++) {
                if (spins < 1 << 12) Thread.onSpinWait();
                else Thread.yield(); // the packer may be descheduled (more busy threads than cores)
            }
            if (pc < 0) return;
            int rb = (t - packTasks) / colBlocks, cl = (t - packTasks) % colBlocks;
            int rp0 = (int) ((long) mp * rb / rowBlocks), rp1 = (int) ((long) mp * (rb + 1) / rowBlocks);
            int cp0 = (int) ((long) np * cl / colBlocks), cp1 = (int) ((long) np * (cl + 1) / colBlocks);
            if (rp0 < rp1 && cp0 < cp1) tile(p, bp, npad, kc, nb, rp0, rp1, cp0, cp1);
        });
    }

    /** Runs tasks 0..tasks-1 in order on this thread when threads == 1, else on the pool. */
    private static void run(int tasks, int threads, IntConsumer body) {
        if (threads == 1) for (int t = 0; t < tasks; t++) body.accept(t);
        else Parallel.forEach(tasks, body);
    }

    /**
     * One C tile: micro-panels [rp0, rp1) x [cp0, cp1), over all K blocks of the packed B (bp, npad wide). A K split
     * accumulates straight into C: out = (acc ? out : 0) + g * (s_1 + bias) after the first block, out += g * s_k
     * after each later one (gamma distributes over the sum), so no partial-sum buffer or separate epilogue pass is
     * needed. The tiles of column block 0 gather A's column sums (if asked).
     * (Reading one float per cache line of the next B micro-panel ahead of each micro-kernel call, as a software
     * prefetch, sped up an isolated GEMM loop but cost 3-5 % of the samples in a ViT forward, waiting on the misses
     * it was meant to hide: ViT-S/14 ran 1.6-4.6 % faster without it, ViT-B/14 within noise.)
     */
    private static void tile(Product p, float[] bp, int npad, int kc, int nb, int rp0, int rp1, int cp0, int cp1) {
        final boolean wide = p.wide, ta = p.ta, acc = p.e.accumulate(), panelC = p.panelC;
        final int mr = p.mr(), nr = p.nr(), m = p.m, n = p.n, k = p.k;
        final float[] a = p.a.data(), c = p.c.data(), bias = p.e.bias(), gamma = p.e.gamma();
        final int aOff = p.a.off(), lda = p.a.ld(), cOff = p.c.off(), ldc = p.c.ld();
        final Prologue aPro = ta ? null : p.a.f();
        final ColumnSums sums = cp0 == 0 ? p.sums : null;
        Scratch s = SCRATCH.get();
        float[] ap = s.a((rp1 - rp0) * panelFloats(mr, kc));
        float[] tmp = s.tmp(mr * nr);
        float[] z = MicroKernels.zeros(Math.max(n, nr)), ones = MicroKernels.ones(Math.max(n, nr));
        float[] gs = gamma != null ? gamma : ones;
        for (int pb = 0; pb < nb; pb++) {
            int k0 = pb * kc, kcb = Math.min(kc, k - k0);
            if (ta) packAT(a, aOff, lda, m, mr, rp0, rp1, k0, kcb, ap);
            else if (aPro != null) packA(aPro, a, aOff, lda, m, mr, rp0, rp1, k0, kcb, ap);
            else packA(a, aOff, lda, m, mr, rp0, rp1, k0, kcb, ap);
            if (sums != null) sums.add(a, aOff, lda, k0, kcb, rp0 * mr, Math.min(m, rp1 * mr)); // rows just read: in cache
            boolean load = acc || pb > 0;
            float[] bs = pb == 0 && bias != null ? bias : z;
            // A last 14-row panel with at most 12 rows (a batch-1 ViT's 257 = 18 x 14 + 5) runs on the 6-row kernel, a
            // 6-row panel at a time, instead of wasting most of a 14-row one: its rows repacked 6 wide here, once
            int edgeRows = mr == 14 ? Math.min(mr, m - (rp1 - 1) * mr) : mr;
            float[] a6 = mr == 14 && edgeRows <= 12 ? s.edge(12 * kcb) : null;
            if (a6 != null) repack6(ap, (rp1 - 1 - rp0) * panelFloats(mr, kcb), kcb, edgeRows, a6);
            for (int jp = cp0; jp < cp1; jp++) {
                int bo = k0 * npad + jp * kcb * nr;
                int j0 = jp * nr, cols = Math.min(nr, n - j0);
                for (int ip = rp0; ip < rp1; ip++) {
                    int ao = (ip - rp0) * panelFloats(mr, kcb);
                    int i0 = ip * mr, rows = Math.min(mr, m - i0);
                    int co = panelC ? jp * m * nr + i0 * nr : cOff + i0 * ldc + j0, ldo = panelC ? nr : ldc;
                    if (rows == mr && cols == nr) { // the common case: registers -> C
                        if (mr != 14) MicroKernels.micro(wide, mr, ap, ao, bp, bo, kcb, c, co, ldo, load, bs, gs, j0);
                        else if (!load && bs == z && gs == ones) MicroKernels.kernel14x2(ap, ao, bp, bo, kcb, c, co, ldo);
                        else { // 14 x 2 stores raw sums (see there): into the L1-hot tile, then the epilogue
                            MicroKernels.kernel14x2(ap, ao, bp, bo, kcb, tmp, 0, nr);
                            epilogue14x2(tmp, bs, gs, j0, c, co, ldo, load);
                        }
                        continue;
                    }
                    // edge tiles via a tiny L1-hot tile, then the epilogue
                    float[] o1 = MicroKernels.ones(nr);
                    if (a6 != null && ip == rp1 - 1) {
                        for (int r0 = 0; r0 < rows; r0 += 6) {
                            MicroKernels.kernel6x2(a6, r0 * kcb, bp, bo, kcb, tmp, 0, nr, false, z, o1, 0);
                            epilogue(tmp, 0, nr, Math.min(6, rows - r0), cols, bs, gs, j0, c, co + r0 * ldo, ldo, load);
                        }
                        continue;
                    }
                    MicroKernels.micro(wide, mr, ap, ao, bp, bo, kcb, tmp, 0, nr, false, z, o1, 0);
                    epilogue(tmp, 0, nr, rows, cols, bs, gs, j0, c, co, ldo, load);
                }
            }
        }
    }


    /**
     * {@link #epilogue} of a whole 14 x 2L tile from src (2L apart), its bias and gamma vectors loaded once: the
     * general one, reloading them per row in loops of run-time bounds, took ~6 % of a ViT-S forward's samples.
     */
    private static void epilogue14x2(float[] src, float[] bs, float[] gs, int j0, float[] c, int co, int ldc, boolean acc) {
        FloatVector b0 = FloatVector.fromArray(S, bs, j0), b1 = FloatVector.fromArray(S, bs, j0 + L);
        FloatVector g0 = FloatVector.fromArray(S, gs, j0), g1 = FloatVector.fromArray(S, gs, j0 + L);
        if (acc) {
            for (int r = 0, s = 0, d = co; r < 14; r++, s += 2 * L, d += ldc) {
                FloatVector.fromArray(S, src, s).add(b0).mul(g0).add(FloatVector.fromArray(S, c, d)).intoArray(c, d);
                FloatVector.fromArray(S, src, s + L).add(b1).mul(g1).add(FloatVector.fromArray(S, c, d + L)).intoArray(c, d + L);
            }
        } else {
            for (int r = 0, s = 0, d = co; r < 14; r++, s += 2 * L, d += ldc) {
                FloatVector.fromArray(S, src, s).add(b0).mul(g0).intoArray(c, d);
                FloatVector.fromArray(S, src, s + L).add(b1).mul(g1).intoArray(c, d + L);
            }
        }
    }

    /** Floats one packed A micro-panel of mr rows and kcb columns takes (14 rows: whole W2 blocks, MicroKernels.at14). */
    private static int panelFloats(int mr, int kcb) {
        return mr == 14 ? (kcb + W2 - 1) / W2 * W2 * 14 : kcb * mr;
    }

    /** The first {@code rows} (<= 12) rows of a packed 14-row panel as two 6-row panels (kcb x 6 each, zero-padded). */
    private static void repack6(float[] ap, int ao, int kcb, int rows, float[] a6) {
        for (int r0 = 0; r0 < rows; r0 += 6)
            for (int kk = 0; kk < kcb; kk++)
                for (int r = 0; r < 6; r++) a6[r0 * kcb + kk * 6 + r] = r0 + r < rows ? ap[ao + MicroKernels.at14(r0 + r, kk)] : 0f;
    }

    /**
     * c[mr x nr] = (acc ? c : 0) + gamma * (sum + bias), from the finished sums in src (leading dim lds). Missing
     * bias/gamma read shared constant arrays (0 and 1) instead of branching, and every branch ends in its own
     * store: C2 boxes vectors that flow out of a branch.
     */
    private static void epilogue(float[] src, int so, int lds, int mr, int nr, float[] bias, float[] gamma, int j0,
                                 float[] c, int co, int ldc, boolean acc) {
        float[] bs = bias != null ? bias : MicroKernels.zeros(j0 + nr), gs = gamma != null ? gamma : MicroKernels.ones(j0 + nr);
        int full = nr - nr % L;
        for (int r = 0; r < mr; r++) {
            int s = so + r * lds, d = co + r * ldc;
            for (int j = 0; j < full; j += L) {
                FloatVector v = FloatVector.fromArray(S, src, s + j).add(FloatVector.fromArray(S, bs, j0 + j))
                        .mul(FloatVector.fromArray(S, gs, j0 + j));
                if (acc) v.add(FloatVector.fromArray(S, c, d + j)).intoArray(c, d + j);
                else v.intoArray(c, d + j);
            }
            for (int j = full; j < nr; j++) {
                float v = (src[s + j] + bs[j0 + j]) * gs[j0 + j];
                c[d + j] = acc ? c[d + j] + v : v;
            }
        }
    }

    /** As {@link #packA} from A stored transposed (element (i, k) at a[aOff + k*lda + i]): mr contiguous reads per k. */
    private static void packAT(float[] a, int aOff, int lda, int m, int mr, int rp0, int rp1, int k0, int kcb, float[] ap) {
        int first = mr == 6 ? Math.max(rp0, Math.min(rp1, m / 6)) : rp0; // panels [rp0, first) have six rows
        if (first > rp0) packAT6(a, aOff, lda, rp0, first, k0, kcb, ap);
        for (int ip = first; ip < rp1; ip++) {
            int base = (ip - rp0) * panelFloats(mr, kcb), i0 = ip * mr, rows = Math.min(mr, m - i0);
            for (int kk = 0; kk < kcb; kk++) {
                int src = aOff + (k0 + kk) * lda + i0;
                if (mr == 14) // blocked layout (MicroKernels.at14): the 14 rows of one k go W2 apart
                    for (int ii = 0; ii < 14; ii++) ap[base + MicroKernels.at14(ii, kk)] = ii < rows ? a[src + ii] : 0f;
                else {
                    int dst = base + kk * mr;
                    for (int ii = 0; ii < mr; ii++) ap[dst + ii] = ii < rows ? a[src + ii] : 0f;
                }
            }
        }
    }

    /**
     * {@link #packAT} for whole 6-row panels [rp0, rp1): A's stored rows (k) are walked in order, each one's run of
     * 6·(rp1 − rp0) floats read once and dealt out six floats per panel, by an 8-lane load and store whose last two
     * lanes the next k's store overwrites (each panel's last k is written by hand, so nothing spills into the next
     * panel). Walking panel by panel instead re-read every stored row once per panel, from L3. (Six floats by hand
     * where vectors are narrower than 8; an arraycopy call per six floats spent more in the call than in the copy.)
     */
    private static void packAT6(float[] a, int aOff, int lda, int rp0, int rp1, int k0, int kcb, float[] ap) {
        int panels = rp1 - rp0, pstride = kcb * 6;
        for (int kk = 0; kk < kcb; kk++) {
            int src = aOff + (k0 + kk) * lda + rp0 * 6, dst = kk * 6;
            if (L >= 8 && kk < kcb - 1 && src + 6 * panels + 2 <= a.length) {
                for (int p = 0; p < panels; p++, src += 6, dst += pstride)
                    FloatVector.fromArray(S8, a, src).intoArray(ap, dst);
            } else {
                for (int p = 0; p < panels; p++, src += 6, dst += pstride) {
                    ap[dst] = a[src];
                    ap[dst + 1] = a[src + 1];
                    ap[dst + 2] = a[src + 2];
                    ap[dst + 3] = a[src + 3];
                    ap[dst + 4] = a[src + 4];
                    ap[dst + 5] = a[src + 5];
                }
            }
        }
    }

    /** Packs rows [rp0*mr, rp1*mr) x columns [k0, k0+kcb) of A into k-major mr-row micro-panels, zero-padded. */
    private static void packA(float[] a, int aOff, int lda, int m, int mr, int rp0, int rp1, int k0, int kcb,
                              float[] ap) {
        for (int ip = rp0; ip < rp1; ip++) {
            int base = (ip - rp0) * panelFloats(mr, kcb);
            if (mr == 6 && ip * mr + 6 <= m) { // six whole rows: contiguous stores
                MicroKernels.interleave6(a, aOff + ip * mr * lda + k0, lda, kcb, ap, base);
                continue;
            }
            if (mr == 14) { // blocked layout (MicroKernels.at14): whole row pieces, missing rows zero
                MicroKernels.block14(a, aOff + ip * mr * lda + k0, lda, kcb, Math.min(14, m - ip * mr), ap, base);
                continue;
            }
            for (int ii = 0; ii < mr; ii++) {
                int i = ip * mr + ii;
                if (i >= m) {
                    for (int kk = 0; kk < kcb; kk++) ap[base + ii + kk * mr] = 0f;
                } else if (mr == 4) {
                    scatter(a, aOff + i * lda + k0, kcb, ap, base + ii, 4);
                } else {
                    scatter(a, aOff + i * lda + k0, kcb, ap, base + ii, 6);
                }
            }
        }
    }

    /**
     * {@link #packA} of f(A): each micro-panel's rows (their kcb columns) go through f into a small scratch (L1), then
     * are interleaved from there.
     */
    private static void packA(Prologue f, float[] a, int aOff, int lda, int m, int mr, int rp0, int rp1, int k0, int kcb,
                              float[] ap) {
        float[] rows = SCRATCH.get().pro(mr * kcb);
        for (int ip = rp0; ip < rp1; ip++) {
            int base = (ip - rp0) * panelFloats(mr, kcb), i0 = ip * mr, rn = Math.min(mr, m - i0);
            for (int ii = 0; ii < rn; ii++) f.apply(i0 + ii, k0, a, aOff + (i0 + ii) * lda + k0, rows, ii * kcb, kcb);
            if (mr == 6 && rn == 6) {
                MicroKernels.interleave6(rows, 0, kcb, kcb, ap, base);
                continue;
            }
            if (mr == 14) { // blocked layout (MicroKernels.at14)
                MicroKernels.block14(rows, 0, kcb, kcb, rn, ap, base);
                continue;
            }
            for (int ii = 0; ii < mr; ii++) {
                if (ii >= rn) for (int kk = 0; kk < kcb; kk++) ap[base + ii + kk * mr] = 0f;
                else scatter(rows, ii * kcb, kcb, ap, base + ii, mr);
            }
        }
    }


    /**
     * dst[d + kk*stride] = src[s + kk] for kk < len. Called with literal strides so that, inlined, the stride is a
     * constant and C2 can hoist the range checks out of the loop (a variable stride costs about 2x).
     */
    private static void scatter(float[] src, int s, int len, float[] dst, int d, int stride) {
        for (int kk = 0; kk < len; kk++) dst[d + kk * stride] = src[s + kk];
    }

    /**
     * Packs column panels [p0, p1) of B = w^T from w (n x k, row-major, little-endian), transposing: the panel's
     * nr rows of w are bulk-copied to the heap (any segment kind or alignment), then scattered k-major.
     */
    private static void packBFromNK(MemorySegment w, int n, int k, int kc, int nr, int npad, int p0, int p1,
                                    float[] bp) {
        float[] rows = SCRATCH.get().row(nr * k);
        for (int jp = p0; jp < p1; jp++) {
            int j0 = jp * nr, cols = Math.min(nr, n - j0);
            MemorySegment.copy(w, TensorEntry.F32, (long) j0 * k * Float.BYTES, rows, 0, cols * k);
            if (cols < nr) Arrays.fill(rows, cols * k, nr * k, 0f);
            for (int k0 = 0; k0 < k; k0 += kc) {
                int kcb = Math.min(kc, k - k0);
                int d = k0 * npad + jp * kcb * nr;
                for (int jj = 0; jj < nr; jj++) {
                    if (nr == 2 * L) scatter(rows, jj * k + k0, kcb, bp, d + jj, 2 * L);
                    else scatter(rows, jj * k + k0, kcb, bp, d + jj, 3 * L);
                }
            }
        }
    }

    /** Packs column panels [p0, p1) of B (k x n, row-major on the heap): contiguous row pieces, zero-padded. */
    private static void packBFromKN(float[] b, int bOff, int ldb, int n, int k, int kc, int nr, int npad, int p0,
                                    int p1, float[] bp, Prologue f, int row0) {
        // row by row, each row's run of panels [p0, p1) read once: walking panel by panel re-read every row once per
        // panel, and a tall B (dW = dYᵀX: K is the batch's rows) no longer fits in cache between two panels
        int whole = Math.min(p1, n / nr); // panels [p0, whole) have nr columns
        int c0 = p0 * nr, run = Math.min(n, p1 * nr) - c0; // this task's columns; through f, a scratch copy of them
        float[] fr = f == null ? null : SCRATCH.get().pro(run);
        for (int k0 = 0; k0 < k; k0 += kc) {
            int kcb = Math.min(kc, k - k0);
            for (int kk = 0; kk < kcb; kk++) {
                int row = bOff + (k0 + kk) * ldb, d0 = k0 * npad + kk * nr;
                float[] src = b;
                if (f != null && run > 0) {
                    f.apply(row0 + k0 + kk, c0, b, row + c0, fr, 0, run);
                    src = fr;
                    row = -c0; // column j of this row at fr[j - c0]
                }
                for (int jp = p0; jp < whole; jp++) { // whole vectors, not an arraycopy call per 16 or 48 floats
                    int so = row + jp * nr, d = d0 + jp * kcb * nr;
                    for (int v = 0; v < nr; v += L) FloatVector.fromArray(S, src, so + v).intoArray(bp, d + v);
                }
                for (int jp = Math.max(p0, whole); jp < p1; jp++) {
                    int j0 = jp * nr, cols = Math.min(nr, n - j0), d = d0 + jp * kcb * nr;
                    for (int jj = 0; jj < nr; jj++) bp[d + jj] = jj < cols ? src[row + j0 + jj] : 0f;
                }
            }
        }
    }

    /**
     * m < MR rows (a CLS token, batch-1 heads): B is read once, straight from its source, in column ranges per
     * task. linear: register-blocked dot products of a row of A with 4 rows of w; matmul: axpy of A's scalars
     * times rows of B into 4-vector column strips.
     */
    private static void smallM(float[] a, int aOff, int lda, MemorySegment w, float[] b, int bOff, int ldb,
                               float[] bias, float[] gamma, float[] c, int cOff, int ldc, int m, int n, int k,
                               boolean acc, int threads) {
        int chunk = w != null ? 4 : 4 * L; // columns per unit of work
        int units = (n + chunk - 1) / chunk;
        int tasks = Math.min(units, threads == 1 ? 1 : threads * 4);
        run(tasks, threads, t -> {
            int j0 = (int) ((long) units * t / tasks) * chunk;
            int j1 = Math.min(n, (int) ((long) units * (t + 1) / tasks) * chunk);
            if (w != null) dotRows(a, aOff, lda, w, bias, gamma, c, cOff, ldc, m, k, acc, j0, j1);
            else axpyRows(a, aOff, lda, b, bOff, ldb, c, cOff, ldc, m, k, acc, j0, j1);
        });
    }

    private static void dotRows(float[] a, int aOff, int lda, MemorySegment w, float[] bias, float[] gamma,
                                float[] c, int cOff, int ldc, int m, int k, boolean acc, int j0, int j1) {
        int kv = k - k % L;
        long rowBytes = (long) k * Float.BYTES;
        for (int j = j0; j < j1; j += 4) {
            int nj = Math.min(4, j1 - j);
            long w0 = j * rowBytes, w1 = (j + Math.min(1, nj - 1)) * rowBytes;
            long w2 = (j + Math.min(2, nj - 1)) * rowBytes, w3 = (j + Math.min(3, nj - 1)) * rowBytes;
            for (int i = 0; i < m; i++) {
                int ai = aOff + i * lda;
                FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
                for (int p = 0; p < kv; p += L) {
                    FloatVector x = FloatVector.fromArray(S, a, ai + p);
                    long o = (long) p * Float.BYTES;
                    s0 = x.fma(FloatVector.fromMemorySegment(S, w, w0 + o, ByteOrder.LITTLE_ENDIAN), s0);
                    s1 = x.fma(FloatVector.fromMemorySegment(S, w, w1 + o, ByteOrder.LITTLE_ENDIAN), s1);
                    s2 = x.fma(FloatVector.fromMemorySegment(S, w, w2 + o, ByteOrder.LITTLE_ENDIAN), s2);
                    s3 = x.fma(FloatVector.fromMemorySegment(S, w, w3 + o, ByteOrder.LITTLE_ENDIAN), s3);
                }
                float[] sums = {Ops.sumInOrder(s0.toArray()), Ops.sumInOrder(s1.toArray()), // in lane order: the same
                        Ops.sumInOrder(s2.toArray()), Ops.sumInOrder(s3.toArray())};        // bits in every JIT tier
                for (int q = 0; q < nj; q++) {
                    float sum = sums[q];
                    long wq = (long) (j + q) * k;
                    for (int p = kv; p < k; p++) sum += a[ai + p] * w.getAtIndex(TensorEntry.F32, wq + p);
                    if (bias != null) sum += bias[j + q];
                    if (gamma != null) sum *= gamma[j + q];
                    int ci = cOff + i * ldc + j + q;
                    c[ci] = acc ? c[ci] + sum : sum;
                }
            }
        }
    }

    private static void axpyRows(float[] a, int aOff, int lda, float[] b, int bOff, int ldb, float[] c, int cOff,
                                 int ldc, int m, int k, boolean acc, int j0, int j1) {
        for (int i = 0; i < m; i++) {
            int ai = aOff + i * lda, ci = cOff + i * ldc;
            for (int j = j0; j < j1; j += 4 * L) {
                if (j + 4 * L <= j1) {
                    FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
                    for (int p = 0, bi = bOff + j; p < k; p++, bi += ldb) {
                        FloatVector x = FloatVector.broadcast(S, a[ai + p]);
                        s0 = x.fma(FloatVector.fromArray(S, b, bi), s0);
                        s1 = x.fma(FloatVector.fromArray(S, b, bi + L), s1);
                        s2 = x.fma(FloatVector.fromArray(S, b, bi + 2 * L), s2);
                        s3 = x.fma(FloatVector.fromArray(S, b, bi + 3 * L), s3);
                    }
                    if (acc) {
                        s0 = s0.add(FloatVector.fromArray(S, c, ci + j));
                        s1 = s1.add(FloatVector.fromArray(S, c, ci + j + L));
                        s2 = s2.add(FloatVector.fromArray(S, c, ci + j + 2 * L));
                        s3 = s3.add(FloatVector.fromArray(S, c, ci + j + 3 * L));
                    }
                    s0.intoArray(c, ci + j);
                    s1.intoArray(c, ci + j + L);
                    s2.intoArray(c, ci + j + 2 * L);
                    s3.intoArray(c, ci + j + 3 * L);
                } else {
                    for (int jv = j; jv < j1; jv += L) {
                        VectorMask<Float> mk = S.indexInRange(jv, j1);
                        FloatVector s0 = FloatVector.zero(S);
                        for (int p = 0, bi = bOff + jv; p < k; p++, bi += ldb)
                            s0 = FloatVector.broadcast(S, a[ai + p]).fma(FloatVector.fromArray(S, b, bi, mk), s0);
                        if (acc) s0 = s0.add(FloatVector.fromArray(S, c, ci + jv, mk));
                        s0.intoArray(c, ci + jv, mk);
                    }
                }
            }
        }
    }

    /** Per-thread buffers that only grow: packed A block, packed B (owned by the calling thread), an edge tile. */
    private static final class Scratch {
        private float[] a = new float[0], b = new float[0], row = new float[0], tmp = new float[0], pro = new float[0],
                edge = new float[0];

        float[] a(int n) { return a.length >= n ? a : (a = new float[n]); }
        float[] b(int n) { return b.length >= n ? b : (b = new float[n]); }
        float[] row(int n) { return row.length >= n ? row : (row = new float[n]); }
        float[] tmp(int n) { return tmp.length >= n ? tmp : (tmp = new float[n]); }
        float[] pro(int n) { return pro.length >= n ? pro : (pro = new float[n]); }
        float[] edge(int n) { return edge.length >= n ? edge : (edge = new float[n]); }
    }
}
