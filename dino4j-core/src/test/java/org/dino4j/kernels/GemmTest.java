package org.dino4j.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.dino4j.io.TensorEntry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class GemmTest {
    /** {m, n, k}: degenerate, ragged, exact micro-tiles of both kernels (6 x 16, 6 x 24 on AVX2), K splits, ViT. */
    private static final int[][] SHAPES = {
        {1, 1, 1}, {1, 37, 50}, {13, 1, 29}, {2, 3, 1}, {7, 13, 17}, {4, 16, 256}, {6, 64, 512}, {12, 48, 512},
        {5, 17, 513}, {3, 700, 1000}, {97, 65, 513}, {33, 40, 1100}, {100, 130, 1536}, {257, 384, 588},
    };

    private static float[] rand(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
        return x;
    }

    private static MemorySegment heapSegment(float[] w) {
        return MemorySegment.ofArray(w);
    }

    /** w as little-endian bytes at byte offset 2 of a byte[]: unaligned for every vector and float access. */
    private static MemorySegment unalignedSegment(float[] w) {
        ByteBuffer bb = ByteBuffer.allocate(w.length * 4 + 5).order(ByteOrder.LITTLE_ENDIAN);
        bb.position(2);
        for (float v : w) bb.putFloat(v);
        return MemorySegment.ofArray(bb.array()).asSlice(2, (long) w.length * 4);
    }

    /**
     * The longest chain of float roundings behind one element of a k-term product: the packed kernels' fma chain
     * down a K block (at most KC_MAX long) and one addition per further block; the few-row paths' chain (a dot
     * product in L lanes with a two-rounding tail, or an axpy down all of k), bounded by k + L either way; then bias,
     * LayerScale and the add into C, and the double twin's cast.
     */
    static int chain(int m, int k) {
        int blocks = Math.max(1, (k + Gemm.KC_MAX - 1) / Gemm.KC_MAX);
        int sums = m < 6 ? FloatBounds.anyOrder(k, Ops.L) : Math.min(k, Gemm.KC_MAX) + blocks;
        return sums + 4;
    }

    /**
     * |got - want| per element within γ(chain) x (sum_k |a||w| |g| + |g b| + |c0|), the rounding bound of the
     * kernels' order of operations over the magnitude of the terms ({@link FloatBounds}), so near-cancelling sums
     * are not held to an impossible relative bound.
     */
    private static void assertClose(float[] want, float[] got, float[] mag, int m, int k, String what) {
        double[] tol = new double[mag.length];
        for (int i = 0; i < mag.length; i++) tol[i] = FloatBounds.gamma(chain(m, k)) * mag[i];
        FloatBounds.assertWithin(want, got, tol, what);
    }

    /** Runs one linear case on both kernels and the public entry, against the scalar twin. */
    private static void checkLinear(SplittableRandom r, int m, int n, int k, MemorySegment w, float[] wf,
                                    boolean withBias, boolean withGamma, boolean acc, int pad) {
        int aOff = pad * 3, lda = k + pad, cOff = pad * 7, ldc = n + 2 * pad;
        float[] a = rand(r, aOff + m * lda + 1);
        float[] bias = withBias ? rand(r, n + pad) : null;
        float[] gamma = withGamma ? rand(r, n + pad) : null;
        float[] c0 = rand(r, cOff + m * ldc + 3);
        float[] want = c0.clone();
        ScalarKernels.linear(a, aOff, lda, w, bias, gamma, want, cOff, ldc, m, n, k, acc);
        float[] mag = new float[c0.length];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += Math.abs(a[aOff + i * lda + p] * wf[j * k + p]);
                if (bias != null) s += Math.abs(bias[j]);
                if (gamma != null) s *= Math.abs(gamma[j]);
                int ci = cOff + i * ldc + j;
                mag[ci] = (float) (s + (acc ? Math.abs(c0[ci]) : 0));
            }
        String what = m + "x" + n + "x" + k + " bias=" + withBias + " gamma=" + withGamma + " acc=" + acc;
        for (int variant = 0; variant < 5; variant++) { // public, narrow (6x2; 14x2 at 512 bits), wide (6x3), then both with a pre-packed weight
            float[] got = c0.clone();
            if (variant == 0) Gemm.linear(a, aOff, lda, w, bias, gamma, got, cOff, ldc, m, n, k, acc);
            else if (variant < 3) Gemm.linear(variant == 2, a, aOff, lda, w, bias, gamma, got, cOff, ldc, m, n, k, acc);
            else Gemm.linear(variant == 4, a, aOff, lda, w, Gemm.pack(variant == 4, w, n, k), bias, gamma, got, cOff, ldc, m, n, k, acc);
            assertClose(want, got, mag, m, k, what + " variant " + variant);
            // nothing outside the m x n window (padding between rows, before and after) may change
            for (int i = 0; i < c0.length; i++) {
                int rel = i - cOff;
                boolean inside = rel >= 0 && rel / ldc < m && rel % ldc < n;
                if (!inside) assertEquals(c0[i], got[i], what + " wrote outside C at " + i);
            }
        }
    }

    @Test
    void linearMatchesScalarOnAwkwardShapes() {
        SplittableRandom r = new SplittableRandom(1);
        int caseNo = 0;
        for (int[] s : SHAPES) {
            int m = s[0], n = s[1], k = s[2];
            float[] wf = rand(r, n * k);
            MemorySegment w = (caseNo++ % 2 == 0) ? heapSegment(wf) : unalignedSegment(wf);
            for (int flags = 0; flags < 8; flags++)
                checkLinear(r, m, n, k, w, wf, (flags & 1) != 0, (flags & 2) != 0, (flags & 4) != 0, flags % 3);
        }
    }

    /**
     * Every row count a 14-row panel can end with (m = 14..42: last panels of 0..13 rows over one or two full ones,
     * the ones of at most 12 rows run as 6-row panels), with and without bias, gamma and accumulation, K in two blocks.
     */
    @Test
    void linearOnEveryLastPanelHeight() {
        SplittableRandom r = new SplittableRandom(4);
        int n = 3 * Gemm.W2 + 5, k = Gemm.KC_MAX + 7;
        float[] wf = rand(r, n * k);
        MemorySegment w = unalignedSegment(wf);
        for (int m = 14; m <= 42; m++) checkLinear(r, m, n, k, w, wf, m % 2 == 0, m % 3 == 0, m % 4 < 2, m % 3);
    }

    @Test
    void linearOnVitShapes() {
        SplittableRandom r = new SplittableRandom(2);
        int[][] vit = {{257, 1152, 384}, {257, 384, 1536}, {70, 768, 3072}};
        for (int[] s : vit) {
            float[] wf = rand(r, s[1] * s[2]);
            checkLinear(r, s[0], s[1], s[2], unalignedSegment(wf), wf, true, true, true, 1);
        }
    }

    @Test
    void linearPanelsIsLinearStoredAsColumnPanels() {
        SplittableRandom r = new SplittableRandom(9);
        int w2 = Gemm.W2;
        // rows: one micro-panel, ragged, several row blocks; columns: one panel, several; K: short, split in blocks
        for (int[] s : new int[][] {{6, w2, 1}, {7, 2 * w2, 17}, {13, 3 * w2, 64}, {200, 4 * w2, 513}, {257, 6 * w2, 384}}) {
            int m = s[0], n = s[1], k = s[2];
            float[] wf = rand(r, n * k), a = rand(r, m * k), bias = rand(r, n);
            MemorySegment w = unalignedSegment(wf);
            float[] want = new float[m * n];
            ScalarKernels.linear(a, 0, k, w, bias, null, want, 0, n, m, n, k, false);
            for (Gemm.PackedWeight pw : new Gemm.PackedWeight[] {null, Gemm.packNarrow(w, n, k)}) {
                float[] got = new float[m * n + 5];
                java.util.Arrays.fill(got, 7f);
                Gemm.linearPanels(a, k, w, pw, bias, got, m, n, k);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) {
                        float g = got[j / w2 * m * w2 + i * w2 + j % w2], e = want[i * n + j];
                        double mag = Math.abs(bias[j]);
                        for (int p = 0; p < k; p++) mag += Math.abs(a[i * k + p] * wf[j * k + p]);
                        assertEquals(e, g, 1.01 * FloatBounds.gamma(chain(m, k)) * mag, m + "x" + n + "x" + k + " at " + i + "," + j);
                    }
                for (int i = m * n; i < got.length; i++) assertEquals(7f, got[i], "wrote past C");
            }
        }
        float[] a = new float[5 * 8];
        MemorySegment w = MemorySegment.ofArray(new float[w2 * 8]);
        assertThrows(IllegalArgumentException.class, () -> Gemm.linearPanels(a, 8, w, null, null, new float[5 * w2], 5, w2, 8));
        assertThrows(IllegalArgumentException.class, () -> Gemm.linearPanels(a, 8, w, null, null, new float[6 * w2], 6, w2 - 1, 8));
    }

    @Test
    void linearReadsMemoryMappedFile(@TempDir Path dir) throws IOException {
        SplittableRandom r = new SplittableRandom(3);
        int m = 29, n = 71, k = 530;
        float[] wf = rand(r, n * k);
        Path f = dir.resolve("w.bin");
        // a 6-byte header first, so the tensor starts unaligned inside the mapping, like a safetensors payload
        ByteBuffer bb = ByteBuffer.allocate(6 + wf.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        bb.position(6);
        for (float v : wf) bb.putFloat(v);
        Files.write(f, bb.array());
        try (Arena arena = Arena.ofConfined();
             FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            MemorySegment mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            MemorySegment w = mapped.asSlice(6, (long) wf.length * 4);
            assertEquals(wf[5], w.getAtIndex(TensorEntry.F32, 5));
            checkLinear(r, m, n, k, w, wf, true, false, false, 2);
            checkLinear(r, m, n, k, w, wf, false, true, true, 0);
        }
    }

    @Test
    void linearWithEmptySumAppliesOnlyTheEpilogue() {
        float[] bias = {1, 2, 3}, gamma = {2, 0.5f, -1};
        float[] c = {10, 10, 10, 20, 20, 20};
        Gemm.linear(new float[0], 0, 0, MemorySegment.ofArray(new float[0]), bias, gamma, c, 0, 3, 2, 3, 0, true);
        assertArrayEquals(new float[] {12, 11, 7, 22, 21, 17}, c);
        Gemm.linear(new float[0], 0, 0, MemorySegment.ofArray(new float[0]), null, null, c, 0, 3, 2, 3, 0, false);
        assertArrayEquals(new float[6], c);
    }

    @Test
    void linearExactValues() {
        // a = [[1, 2], [3, 4]], w = [[1, 0], [0, 1], [1, 1]] -> a w^T = [[1, 2, 3], [3, 4, 7]]
        float[] a = {1, 2, 3, 4};
        MemorySegment w = MemorySegment.ofArray(new float[] {1, 0, 0, 1, 1, 1});
        float[] c = new float[6];
        Gemm.linear(a, 0, 2, w, new float[] {1, 1, 1}, new float[] {1, 2, 3}, c, 0, 3, 2, 3, 2, false);
        assertArrayEquals(new float[] {2, 6, 12, 4, 10, 24}, c);
        Gemm.linear(a, 0, 2, w, null, null, c, 0, 3, 2, 3, 2, true);
        assertArrayEquals(new float[] {3, 8, 15, 7, 14, 31}, c);
    }

    @Test
    void rejectsBadArguments() {
        MemorySegment w = MemorySegment.ofArray(new float[6]);
        float[] c = new float[6];
        assertThrows(IllegalArgumentException.class,
                () -> Gemm.linear(new float[4], 0, 2, w, null, null, c, 0, 3, 2, 4, 2, false)); // w too small
        assertThrows(IllegalArgumentException.class,
                () -> Gemm.linear(new float[4], 0, 2, w, new float[2], null, c, 0, 3, 2, 3, 2, false)); // bias
        assertThrows(IllegalArgumentException.class,
                () -> Gemm.matmul(new float[4], 0, 2, new float[6], 0, 3, c, 0, 3, -1, 3, 2, false));
    }

    @Test
    void matmulMatchesScalar() {
        SplittableRandom r = new SplittableRandom(4);
        int caseNo = 0;
        for (int[] s : SHAPES) {
            int m = s[0], n = s[1], k = s[2];
            int pad = caseNo++ % 3;
            int aOff = 2 * pad, lda = k + pad, bOff = 5 * pad, ldb = n + 3 * pad, cOff = pad, ldc = n + pad;
            float[] a = rand(r, aOff + m * lda);
            float[] b = rand(r, bOff + k * ldb);
            for (boolean acc : new boolean[] {false, true}) {
                float[] c0 = rand(r, cOff + m * ldc);
                float[] want = c0.clone();
                ScalarKernels.matmul(a, aOff, lda, b, bOff, ldb, want, cOff, ldc, m, n, k, acc);
                float[] mag = new float[c0.length];
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) {
                        double t = 0;
                        for (int p = 0; p < k; p++) t += Math.abs(a[aOff + i * lda + p] * b[bOff + p * ldb + j]);
                        int ci = cOff + i * ldc + j;
                        mag[ci] = (float) (t + (acc ? Math.abs(c0[ci]) : 0));
                    }
                // A stored transposed (K x M, leading dimension m + pad) for matmulTransA
                int ldat = m + pad;
                float[] at = new float[aOff + k * ldat];
                for (int i = 0; i < m; i++) for (int p = 0; p < k; p++) at[aOff + p * ldat + i] = a[aOff + i * lda + p];
                for (int variant = 0; variant < 6; variant++) { // public, narrow (6x2; 14x2 at 512 bits), wide (6x3); then the same with A transposed
                    float[] got = c0.clone();
                    if (variant == 0) Gemm.matmul(a, aOff, lda, b, bOff, ldb, got, cOff, ldc, m, n, k, acc);
                    else if (variant < 3) Gemm.matmul(variant == 2, a, aOff, lda, b, bOff, ldb, got, cOff, ldc, m, n, k, acc);
                    else if (variant == 3) Gemm.matmulTransA(at, aOff, ldat, b, bOff, ldb, got, cOff, ldc, m, n, k, acc);
                    else Gemm.matmulTransA(variant == 5, at, aOff, ldat, b, bOff, ldb, got, cOff, ldc, m, n, k, acc);
                    assertClose(want, got, mag, m, k, "matmul " + m + "x" + n + "x" + k + " acc=" + acc + " v" + variant);
                    for (int i = 0; i < c0.length; i++) {
                        int rel = i - cOff;
                        if (!(rel >= 0 && rel / ldc < m && rel % ldc < n)) assertEquals(c0[i], got[i]);
                    }
                }
            }
        }
    }

    /**
     * dW-shaped products (A stored K x M, K the batch's rows): a K tall enough that B is packed and used a few K
     * blocks at a time (one parallel call per group of blocks), against the scalar twin; and the column sums taken
     * on the way, bit-identical to Ops.addColumnSums (the bias gradient they replace), on both kernels.
     */
    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void tallTransposedProductsAndColumnSums(int poolThreads) {
        int before = Parallel.threads();
        Parallel.setThreads(poolThreads);
        try {
            SplittableRandom r = new SplittableRandom(11);
            // {m, n, k}: the outer-K path (k x npad over 2 MiB), a partial 6-row panel, several column blocks, m < 6,
            // n = 0 (sums only), k = 0, k not a multiple of 64
            int[][] shapes = {{20, 1000, 3000}, {47, 700, 2100}, {13, 1600, 900}, {3, 40, 500}, {9, 0, 130}, {8, 5, 0}, {64, 33, 1}};
            for (int[] s : shapes) {
                int m = s[0], n = s[1], k = s[2];
                float[] at = rand(r, k * m), b = rand(r, k * n);
                for (boolean wide : new boolean[] {false, true}) {
                    float[] c0 = rand(r, m * n), want = c0.clone(), got = c0.clone();
                    float[] a = new float[m * k]; // untransposed, for the scalar twin
                    for (int p = 0; p < k; p++) for (int i = 0; i < m; i++) a[i * k + p] = at[p * m + i];
                    ScalarKernels.matmul(a, 0, k, b, 0, n, want, 0, n, m, n, k, true);
                    float[] mag = new float[m * n];
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < n; j++) {
                            double t = Math.abs(c0[i * n + j]);
                            for (int p = 0; p < k; p++) t += Math.abs(a[i * k + p] * b[p * n + j]);
                            mag[i * n + j] = (float) t;
                        }
                    float[] sums = rand(r, m), wantSums = sums.clone();
                    Ops.addColumnSums(at, k, m, wantSums);
                    Gemm.matmulTransA(wide, at, 0, m, b, 0, n, got, 0, n, m, n, k, true, sums);
                    String what = "dW " + m + "x" + n + "x" + k + (wide ? " 6x3" : " 6x2");
                    assertClose(want, got, mag, m, k, what);
                    assertArrayEquals(wantSums, sums, what + ": column sums");
                    float[] plain = c0.clone(); // and without the sums: the same product
                    Gemm.matmulTransA(wide, at, 0, m, b, 0, n, plain, 0, n, m, n, k, true);
                    assertArrayEquals(got, plain, what);
                }
            }
            assertThrows(IllegalArgumentException.class, () -> Gemm.matmulTransA(new float[12], 0, 4, new float[6], 0, 2,
                    new float[6], 0, 2, 3, 2, 3, false, new float[3])); // lda != m
        } finally {
            Parallel.setThreads(before);
        }
    }

    /**
     * A prologue applied while packing (GELU; LayerNorm, whose values depend on the row and column) gives the floats
     * of the same product on an array holding f's output: the forward's A (linear) and dW's B (matmulTransA, both
     * kernels, K split into outer groups for the tall shape), with m < 6, partial panels and K blocks.
     */
    @Test
    void prologuesGiveTheProductOfTheirOutput() {
        SplittableRandom r = new SplittableRandom(12);
        int[][] shapes = {{4, 20, 30}, {13, 40, 77}, {97, 65, 513}, {260, 48, 1536}, {20, 700, 3000}};
        for (int[] s : shapes) {
            int m = s[0], n = s[1], k = s[2];
            float[] mean = rand(r, Math.max(m, k)), rstd = rand(r, Math.max(m, k)), lw = rand(r, Math.max(n, k)), lb = rand(r, Math.max(n, k));
            for (int f = 0; f < 2; f++) {
                Prologue pro = f == 0 ? Ops.GELU : Ops.layerNorm(mean, rstd, lw, lb);
                String what = (f == 0 ? "GELU " : "LayerNorm ") + m + "x" + n + "x" + k;
                // forward: c = f(a) wᵀ + bias, a m x k
                float[] a = rand(r, m * k), w = rand(r, n * k), bias = rand(r, n), fa = new float[m * k];
                for (int i = 0; i < m; i++) pro.apply(i, 0, a, i * k, fa, i * k, k);
                float[] want = new float[m * n], got = new float[m * n];
                Gemm.linear(fa, 0, k, MemorySegment.ofArray(w), bias, null, want, 0, n, m, n, k, false);
                Gemm.linear(a, k, pro, MemorySegment.ofArray(w), bias, got, m, n, k);
                assertArrayEquals(want, got, what + " linear");
                // dW: c += aᵀ f(b), a stored k x m, b k x n
                float[] at = rand(r, k * m), b = rand(r, k * n), fb = new float[k * n];
                for (int p = 0; p < k; p++) pro.apply(p, 0, b, p * n, fb, p * n, n);
                for (boolean wide : new boolean[] {false, true}) {
                    float[] c0 = rand(r, m * n), wantT = c0.clone(), gotT = c0.clone(), s1 = new float[m], s2 = new float[m];
                    Gemm.matmulTransA(wide, at, 0, m, fb, 0, n, null, wantT, 0, n, m, n, k, true, s1);
                    Gemm.matmulTransA(wide, at, 0, m, b, 0, n, pro, gotT, 0, n, m, n, k, true, s2);
                    assertArrayEquals(wantT, gotT, what + " matmulTransA" + (wide ? " 6x3" : " 6x2"));
                    assertArrayEquals(s1, s2, what + " column sums");
                }
            }
        }
    }

    /** Several user threads at once (sharing the compute pool) must give bit-identical results to serial calls. */
    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void concurrentCallsMatchSerial(int poolThreads) throws Exception {
        int before = Parallel.threads();
        Parallel.setThreads(poolThreads);
        try {
            SplittableRandom r = new SplittableRandom(5);
            int[][] shapes = {{257, 384, 384}, {61, 200, 1100}, {5, 33, 70}, {130, 96, 600}};
            int calls = 12;
            float[][] as = new float[calls][], cs = new float[calls][], bs = new float[calls][];
            MemorySegment[] ws = new MemorySegment[calls];
            for (int t = 0; t < calls; t++) {
                int[] s = shapes[t % shapes.length];
                as[t] = rand(r, s[0] * s[2]);
                ws[t] = unalignedSegment(rand(r, s[1] * s[2]));
                bs[t] = rand(r, s[1]);
                cs[t] = new float[s[0] * s[1]];
                Gemm.linear(as[t], 0, s[2], ws[t], bs[t], bs[t], cs[t], 0, s[1], s[0], s[1], s[2], false);
            }
            ExecutorService ex = Executors.newFixedThreadPool(4);
            try {
                List<Future<?>> fs = new ArrayList<>();
                for (int u = 0; u < 4; u++) {
                    int user = u;
                    fs.add(ex.submit(() -> {
                        for (int rep = 0; rep < 3; rep++)
                            for (int t = user; t < calls; t += 2) { // overlapping subsets: same weights, many threads
                                int[] s = shapes[t % shapes.length];
                                float[] c = new float[s[0] * s[1]];
                                Gemm.linear(as[t], 0, s[2], ws[t], bs[t], bs[t], c, 0, s[1], s[0], s[1], s[2], false);
                                assertArrayEquals(cs[t], c, "call " + t + " on user thread " + user);
                            }
                        return null;
                    }));
                }
                for (Future<?> f : fs) f.get();
            } finally {
                ex.shutdown();
            }
        } finally {
            Parallel.setThreads(before);
        }
    }

    /** Calls made from inside the compute pool run inline and must still be right (nested parallelism). */
    @Test
    void nestedCallsFromThePool() {
        SplittableRandom r = new SplittableRandom(6);
        int m = 40, n = 50, k = 60, heads = 6;
        float[][] a = new float[heads][], want = new float[heads][], got = new float[heads][];
        float[] wf = rand(r, n * k);
        MemorySegment w = heapSegment(wf);
        for (int h = 0; h < heads; h++) {
            a[h] = rand(r, m * k);
            want[h] = new float[m * n];
            got[h] = new float[m * n];
            Gemm.linear(a[h], 0, k, w, null, null, want[h], 0, n, m, n, k, false);
        }
        Parallel.forEach(heads, h -> Gemm.linear(a[h], 0, k, w, null, null, got[h], 0, n, m, n, k, false));
        for (int h = 0; h < heads; h++) assertArrayEquals(want[h], got[h]);
        assertTrue(Parallel.threads() >= 1);
    }
}
