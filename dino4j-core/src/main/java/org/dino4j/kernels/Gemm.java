package org.dino4j.kernels;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;
import org.dino4j.io.TensorEntry;

/**
 * Packed, cache-blocked SGEMM (the BLIS/GotoBLAS scheme) on the Vector API.
 *
 * <p>Per call: B is packed once into K-block x NR-column micro-panels (in parallel) and shared by all tasks; the
 * tasks are (row block x column block) tiles of C pulled from {@link Parallel}; each task packs its MC x KC block
 * of A into MR-row micro-panels in per-thread scratch and runs an MR x NR register-blocked micro-kernel (MR rows
 * of A broadcast, NR/L vector accumulators per row, FMA) with the B micro-panel in L1 and the A block in L2.
 * Partial sums of a K split go to a per-thread C tile buffer; bias, LayerScale gamma and accumulate are applied
 * once, in the epilogue of the last K block.
 */
public final class Gemm {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    /**
     * Micro-kernel shape: 6 rows x 3 vectors where there are 32 vector registers (AVX-512, NEON/SVE), else 4 x 2
     * (AVX2's 16; see {@link #kernel4x2} for why not 6 x 2). -Ddino4j.gemm.kernel=4x2|6x3 forces one.
     */
    static final boolean WIDE = wide();
    /** Largest K block: the B micro-panel (KC x NR) stays in L1/L2, the A block (MC x KC) in L2. */
    static int KC_MAX = Integer.getInteger("dino4j.gemm.kc", 512);
    /** Rows of A per row block (rounded down to whole micro-panels). */
    static int MC_MAX = Integer.getInteger("dino4j.gemm.mc", 96);
    /** Widest column block when K is split, bounding the per-thread partial-sum tile (MC x NC floats). */
    static final int NC_SPLIT = 384;

    /** A thread that owns no segment: a segment it may access is readable by the pool's threads too. */
    private static final Thread ANY_THREAD = Thread.ofVirtual().unstarted(() -> {});
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private Gemm() {}

    private static boolean wide() {
        String p = System.getProperty("dino4j.gemm.kernel");
        if (p != null && !p.isBlank()) {
            if (p.trim().equals("6x3")) return true;
            if (p.trim().equals("4x2")) return false;
            throw new IllegalArgumentException("dino4j.gemm.kernel must be 4x2 or 6x3, got " + p);
        }
        return L >= 16 || System.getProperty("os.arch", "").equals("aarch64");
    }

    /**
     * c[i, j] = (accumulate ? c[i, j] : 0) + g[j] * (sum_k a[i, k] * w[j, k] + bias[j])  for i < m, j < n
     * a: row-major activations, element (i,k) at a[aOff + i*lda + k]
     * w: PyTorch nn.Linear weight layout, row-major N x K little-endian float32 in a MemorySegment
     *    (usually a slice of a memory-mapped file: it is only read, panel by panel, into per-call packed buffers)
     * bias: length >= n or null (0); gamma g: length >= n or null (1)   (gamma is DINOv2's LayerScale)
     * c: element (i,j) at c[cOff + i*ldc + j]
     */
    public static void linear(float[] a, int aOff, int lda, MemorySegment w, float[] bias, float[] gamma,
                              float[] c, int cOff, int ldc, int m, int n, int k, boolean accumulate) {
        Objects.requireNonNull(w, "w");
        if (m > 0 && n > 0 && k > 0 && w.byteSize() < (long) n * k * Float.BYTES)
            throw new IllegalArgumentException("w has " + w.byteSize() + " bytes, need " + n + " x " + k + " floats");
        gemm(WIDE, a, aOff, lda, w, null, 0, 0, bias, gamma, c, cOff, ldc, m, n, k, accumulate);
    }

    /**
     * c = (accumulate ? c : 0) + a . b with a row-major M x K (a[aOff + i*lda + k]) and b row-major K x N
     * (b[bOff + k*ldb + j]), c[cOff + i*ldc + j].
     */
    public static void matmul(float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                              float[] c, int cOff, int ldc, int m, int n, int k, boolean accumulate) {
        Objects.requireNonNull(b, "b");
        gemm(WIDE, a, aOff, lda, null, b, bOff, ldb, null, null, c, cOff, ldc, m, n, k, accumulate);
    }

    /** {@link #linear} with the micro-kernel chosen by the caller (tests run both kernels on any machine). */
    static void linear(boolean wide, float[] a, int aOff, int lda, MemorySegment w, float[] bias, float[] gamma,
                       float[] c, int cOff, int ldc, int m, int n, int k, boolean accumulate) {
        gemm(wide, a, aOff, lda, w, null, 0, 0, bias, gamma, c, cOff, ldc, m, n, k, accumulate);
    }

    /** {@link #matmul} with the micro-kernel chosen by the caller. */
    static void matmul(boolean wide, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                       float[] c, int cOff, int ldc, int m, int n, int k, boolean accumulate) {
        gemm(wide, a, aOff, lda, null, b, bOff, ldb, null, null, c, cOff, ldc, m, n, k, accumulate);
    }

    private static void gemm(boolean wide, float[] a, int aOff, int lda, MemorySegment w, float[] b, int bOff, int ldb,
                             float[] bias, float[] gamma, float[] c, int cOff, int ldc,
                             int m, int n, int k, boolean acc) {
        if (m < 0 || n < 0 || k < 0) throw new IllegalArgumentException("negative shape " + m + "x" + n + "x" + k);
        Objects.requireNonNull(a, "a");
        Objects.requireNonNull(c, "c");
        if (m == 0 || n == 0) return;
        if (bias != null && bias.length < n) throw new IllegalArgumentException("bias shorter than n=" + n);
        if (gamma != null && gamma.length < n) throw new IllegalArgumentException("gamma shorter than n=" + n);
        if (k == 0) { // empty sum: only the epilogue
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    int ci = cOff + i * ldc + j;
                    float v = (bias == null ? 0f : bias[j]) * (gamma == null ? 1f : gamma[j]);
                    c[ci] = acc ? c[ci] + v : v;
                }
            return;
        }

        // Even K blocks (384 stays whole, 1536 -> 3 x 512) so no block is a short, inefficient remainder.
        final int nb = (k + KC_MAX - 1) / KC_MAX;
        final int kc = (k + nb - 1) / nb;
        final int mr = wide ? 6 : 4, nr = (wide ? 3 : 2) * L;
        final int np = (n + nr - 1) / nr;
        final int npad = np * nr;
        final int mp = (m + mr - 1) / mr;

        // Pack all of B once (k x npad floats: block p at p*kc*npad, panel j inside at j*kcb*nr), in parallel.
        final float[] bp = SCRATCH.get().b(k * npad);
        // A segment of a confined arena may only be read by its owner thread: then the caller packs alone.
        int packTasks = w != null && !w.isAccessibleBy(ANY_THREAD) ? 1 : Math.min(np, Parallel.threads() * 2);
        Parallel.forEach(packTasks, t -> {
            int p0 = (int) ((long) np * t / packTasks), p1 = (int) ((long) np * (t + 1) / packTasks);
            if (w != null) packBFromNK(w, n, k, kc, nr, npad, p0, p1, bp);
            else packBFromKN(b, bOff, ldb, n, k, kc, nr, npad, p0, p1, bp);
        });

        // Tiles: row blocks of <= MC_MAX rows, split further by columns until there are a few tasks
        // per thread (dynamic scheduling then evens out the ragged last blocks).
        final int mcp = Math.max(1, MC_MAX / mr);
        final int rowBlocks = (mp + mcp - 1) / mcp;
        final int rbp = (mp + rowBlocks - 1) / rowBlocks; // micro-panels per row block
        int target = Parallel.threads() <= 1 ? 1 : Parallel.threads() * 4;
        int colBlocks = Math.min(np, Math.max(1, (target + rowBlocks - 1) / rowBlocks));
        if (nb > 1) colBlocks = Math.max(colBlocks, (npad + NC_SPLIT - 1) / NC_SPLIT);
        final int cbp = (np + colBlocks - 1) / colBlocks; // micro-panels per column block
        final int cbs = (np + cbp - 1) / cbp;
        final int tasks = rowBlocks * cbs;
        Parallel.forEach(tasks, t -> {
            int rb = t / cbs, cb = t % cbs;
            int rp0 = rb * rbp, rp1 = Math.min(mp, rp0 + rbp);
            int cp0 = cb * cbp, cp1 = Math.min(np, cp0 + cbp);
            if (rp0 < rp1 && cp0 < cp1)
                tile(wide, mr, nr, a, aOff, lda, bp, npad, bias, gamma, c, cOff, ldc, m, n, k, kc, nb, acc, rp0, rp1, cp0, cp1);
        });
    }

    /** One C tile: micro-panels [rp0, rp1) x [cp0, cp1), over all K blocks. */
    private static void tile(boolean wide, int mr, int nr, float[] a, int aOff, int lda, float[] bp, int npad,
                             float[] bias, float[] gamma, float[] c, int cOff, int ldc, int m, int n, int k, int kc,
                             int nb, boolean acc, int rp0, int rp1, int cp0, int cp1) {
        Scratch s = SCRATCH.get();
        float[] ap = s.a((rp1 - rp0) * mr * kc);
        int ldt = (cp1 - cp0) * nr;
        float[] part = nb > 1 ? s.c((rp1 - rp0) * mr * ldt) : null;
        float[] tmp = s.tmp(mr * nr);
        for (int pb = 0; pb < nb; pb++) {
            int k0 = pb * kc, kcb = Math.min(kc, k - k0);
            if (!UNPACKED || wide) packA(a, aOff, lda, m, mr, rp0, rp1, k0, kcb, ap);
            boolean last = pb == nb - 1;
            for (int jp = cp0; jp < cp1; jp++) {
                int bo = k0 * npad + jp * kcb * nr;
                int j0 = jp * nr, cols = Math.min(nr, n - j0);
                for (int ip = rp0; ip < rp1; ip++) {
                    int ao = (ip - rp0) * kcb * mr;
                    int i0 = ip * mr, rows = Math.min(mr, m - i0);
                    float[] out;
                    int oo, ldo;
                    if (nb == 1) { // sums go straight from registers to C through a tiny L1-hot tile
                        out = tmp; oo = 0; ldo = nr;
                    } else {
                        out = part; oo = (ip - rp0) * mr * ldt + (jp - cp0) * nr; ldo = ldt;
                    }
                    if (wide) kernel6x3(ap, ao, bp, bo, kcb, out, oo, ldo, pb > 0);
                    else if (UNPACKED) {
                        int r0 = aOff + i0 * lda + k0;
                        int r1 = aOff + Math.min(i0 + 1, m - 1) * lda + k0;
                        int r2 = aOff + Math.min(i0 + 2, m - 1) * lda + k0;
                        int r3 = aOff + Math.min(i0 + 3, m - 1) * lda + k0;
                        kernel4x2u(a, r0, r1, r2, r3, bp, bo, kcb, out, oo, ldo, pb > 0);
                    } else kernel4x2(ap, ao, bp, bo, kcb, out, oo, ldo, pb > 0);
                    if (last) epilogue(out, oo, ldo, rows, cols, bias, gamma, j0, c, cOff + i0 * ldc + j0, ldc, acc);
                }
            }
        }
    }

    /**
     * out[4 x 2L] = (load ? out : 0) + A micro-panel (kc x 4, k-major) x B micro-panel (kc x 2L, k-major).
     * C2 schedules all of an iteration's broadcasts before the FMAs, so the live set is rows*vectors accumulators
     * + rows broadcasts + vectors B loads: 8 + 4 + 2 = 14 of AVX2's 16 registers. (6 x 2 needs 20 and spills an
     * accumulator to the stack every iteration, which halves the speed.)
     */
    private static void kernel4x2(float[] ap, int ao, float[] bp, int bo, int kc,
                                  float[] out, int oo, int ldo, boolean load) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
                c30 = c00, c31 = c00;
        for (int p = 0; p < kc; p++) {
            int bi = bo + p * (2 * L), ai = ao + p * 4;
            FloatVector b0 = FloatVector.fromArray(S, bp, bi);
            FloatVector b1 = FloatVector.fromArray(S, bp, bi + L);
            FloatVector x = FloatVector.broadcast(S, ap[ai]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(S, ap[ai + 1]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(S, ap[ai + 2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(S, ap[ai + 3]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
        }
        store(out, oo, c00, c01, load);
        store(out, oo + ldo, c10, c11, load);
        store(out, oo + 2 * ldo, c20, c21, load);
        store(out, oo + 3 * ldo, c30, c31, load);
    }

    static boolean UNPACKED = Boolean.getBoolean("dino4j.gemm.unpacked");
    private static void kernel4x2u(float[] a, int r0, int r1, int r2, int r3, float[] bp, int bo, int kc,
                                  float[] out, int oo, int ldo, boolean load) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
                c30 = c00, c31 = c00;
        for (int p = 0; p < kc; p++) {
            int bi = bo + p * (2 * L);
            FloatVector b0 = FloatVector.fromArray(S, bp, bi);
            FloatVector b1 = FloatVector.fromArray(S, bp, bi + L);
            FloatVector x = FloatVector.broadcast(S, a[r0 + p]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(S, a[r1 + p]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(S, a[r2 + p]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(S, a[r3 + p]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
        }
        store(out, oo, c00, c01, load);
        store(out, oo + ldo, c10, c11, load);
        store(out, oo + 2 * ldo, c20, c21, load);
        store(out, oo + 3 * ldo, c30, c31, load);
    }

    private static void store(float[] out, int o, FloatVector v0, FloatVector v1, boolean load) {
        if (load) {
            v0 = v0.add(FloatVector.fromArray(S, out, o));
            v1 = v1.add(FloatVector.fromArray(S, out, o + L));
        }
        v0.intoArray(out, o);
        v1.intoArray(out, o + L);
    }

    private static void store(float[] out, int o, FloatVector v0, FloatVector v1, FloatVector v2, boolean load) {
        if (load) {
            v0 = v0.add(FloatVector.fromArray(S, out, o));
            v1 = v1.add(FloatVector.fromArray(S, out, o + L));
            v2 = v2.add(FloatVector.fromArray(S, out, o + 2 * L));
        }
        v0.intoArray(out, o);
        v1.intoArray(out, o + L);
        v2.intoArray(out, o + 2 * L);
    }

    /**
     * As {@link #kernel4x2} with 6 rows x 3 vectors, for 32-register ISAs (AVX-512, NEON/SVE): 18 accumulators +
     * 6 broadcasts + 3 B = 27 registers.
     */
    private static void kernel6x3(float[] ap, int ao, float[] bp, int bo, int kc,
                                  float[] out, int oo, int ldo, boolean load) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00,
                c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00,
                c40 = c00, c41 = c00, c42 = c00, c50 = c00, c51 = c00, c52 = c00;
        for (int p = 0; p < kc; p++) {
            int bi = bo + p * (3 * L), ai = ao + p * 6;
            FloatVector b0 = FloatVector.fromArray(S, bp, bi);
            FloatVector b1 = FloatVector.fromArray(S, bp, bi + L);
            FloatVector b2 = FloatVector.fromArray(S, bp, bi + 2 * L);
            FloatVector x = FloatVector.broadcast(S, ap[ai]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); c02 = x.fma(b2, c02);
            x = FloatVector.broadcast(S, ap[ai + 1]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); c12 = x.fma(b2, c12);
            x = FloatVector.broadcast(S, ap[ai + 2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); c22 = x.fma(b2, c22);
            x = FloatVector.broadcast(S, ap[ai + 3]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); c32 = x.fma(b2, c32);
            x = FloatVector.broadcast(S, ap[ai + 4]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41); c42 = x.fma(b2, c42);
            x = FloatVector.broadcast(S, ap[ai + 5]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51); c52 = x.fma(b2, c52);
        }
        store(out, oo, c00, c01, c02, load);
        store(out, oo + ldo, c10, c11, c12, load);
        store(out, oo + 2 * ldo, c20, c21, c22, load);
        store(out, oo + 3 * ldo, c30, c31, c32, load);
        store(out, oo + 4 * ldo, c40, c41, c42, load);
        store(out, oo + 5 * ldo, c50, c51, c52, load);
    }

    /** c[mr x nr] = (acc ? c : 0) + gamma * (sum + bias), from the finished sums in src (leading dim lds). */
    private static void epilogue(float[] src, int so, int lds, int mr, int nr, float[] bias, float[] gamma, int j0,
                                 float[] c, int co, int ldc, boolean acc) {
        for (int r = 0; r < mr; r++) {
            int s = so + r * lds, d = co + r * ldc;
            for (int j = 0; j < nr; j += L) {
                if (j + L <= nr) {
                    FloatVector v = FloatVector.fromArray(S, src, s + j);
                    if (bias != null) v = v.add(FloatVector.fromArray(S, bias, j0 + j));
                    if (gamma != null) v = v.mul(FloatVector.fromArray(S, gamma, j0 + j));
                    if (acc) v = v.add(FloatVector.fromArray(S, c, d + j));
                    v.intoArray(c, d + j);
                } else {
                    VectorMask<Float> mk = S.indexInRange(j, nr);
                    FloatVector v = FloatVector.fromArray(S, src, s + j);
                    if (bias != null) v = v.add(FloatVector.fromArray(S, bias, j0 + j, mk));
                    if (gamma != null) v = v.mul(FloatVector.fromArray(S, gamma, j0 + j, mk));
                    if (acc) v = v.add(FloatVector.fromArray(S, c, d + j, mk));
                    v.intoArray(c, d + j, mk);
                }
            }
        }
    }

    /** Packs rows [rp0*mr, rp1*mr) x columns [k0, k0+kcb) of A into k-major mr-row micro-panels, zero-padded. */
    private static void packA(float[] a, int aOff, int lda, int m, int mr, int rp0, int rp1, int k0, int kcb,
                              float[] ap) {
        for (int ip = rp0; ip < rp1; ip++) {
            int base = (ip - rp0) * kcb * mr;
            for (int ii = 0; ii < mr; ii++) {
                int i = ip * mr + ii;
                int d = base + ii;
                if (i < m) {
                    int src = aOff + i * lda + k0;
                    for (int kk = 0; kk < kcb; kk++, d += mr) ap[d] = a[src + kk];
                } else {
                    for (int kk = 0; kk < kcb; kk++, d += mr) ap[d] = 0f;
                }
            }
        }
    }

    /**
     * Packs column panels [p0, p1) of B = W^T from W (n x k, row-major, little-endian): each W row is bulk-copied
     * to the heap (any segment kind or alignment), then scattered into the k-major panels of every K block.
     */
    private static void packBFromNK(MemorySegment w, int n, int k, int kc, int nr, int npad, int p0, int p1,
                                    float[] bp) {
        float[] row = SCRATCH.get().row(k);
        for (int jp = p0; jp < p1; jp++) {
            for (int jj = 0; jj < nr; jj++) {
                int j = jp * nr + jj;
                boolean real = j < n;
                if (real) MemorySegment.copy(w, TensorEntry.F32, (long) j * k * Float.BYTES, row, 0, k);
                for (int k0 = 0; k0 < k; k0 += kc) {
                    int kcb = Math.min(kc, k - k0);
                    int d = k0 * npad + jp * kcb * nr + jj;
                    if (real) for (int kk = 0; kk < kcb; kk++, d += nr) bp[d] = row[k0 + kk];
                    else for (int kk = 0; kk < kcb; kk++, d += nr) bp[d] = 0f;
                }
            }
        }
    }

    /** Packs column panels [p0, p1) of B (k x n, row-major on the heap): contiguous row pieces, zero-padded. */
    private static void packBFromKN(float[] b, int bOff, int ldb, int n, int k, int kc, int nr, int npad, int p0,
                                    int p1, float[] bp) {
        for (int jp = p0; jp < p1; jp++) {
            int j0 = jp * nr, cols = Math.min(nr, n - j0);
            for (int k0 = 0; k0 < k; k0 += kc) {
                int kcb = Math.min(kc, k - k0);
                int d = k0 * npad + jp * kcb * nr;
                for (int kk = 0; kk < kcb; kk++, d += nr) {
                    int src = bOff + (k0 + kk) * ldb + j0;
                    System.arraycopy(b, src, bp, d, cols);
                    if (cols < nr) Arrays.fill(bp, d + cols, d + nr, 0f);
                }
            }
        }
    }

    /** Per-thread buffers that only grow: packed A block, packed B (owned by the calling thread), C tiles. */
    private static final class Scratch {
        private float[] a = new float[0], b = new float[0], c = new float[0], row = new float[0], tmp = new float[0];

        float[] a(int n) { return a.length >= n ? a : (a = new float[n]); }
        float[] b(int n) { return b.length >= n ? b : (b = new float[n]); }
        float[] c(int n) { return c.length >= n ? c : (c = new float[n]); }
        float[] row(int n) { return row.length >= n ? row : (row = new float[n]); }
        float[] tmp(int n) { return tmp.length >= n ? tmp : (tmp = new float[n]); }
    }
}
