package org.dino4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The {@link Kernels} entry point: the property selects the implementation, and the Vector API one (whatever
 * micro-kernel and layouts this machine gets) agrees with the scalar twins through the parameter objects the layers
 * pass: prologues, epilogues, packed weights, transposed A with column sums, fused self-attention.
 */
class KernelsTest {
    final KernelOperations vector = Kernels.named("vector"), scalar = Kernels.named("scalar");
    final SplittableRandom rnd = new SplittableRandom(19);

    float[] random(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextGaussian();
        return a;
    }

    static void assertClose(float[] want, float[] got, double tol, String what) {
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++)
            assertTrue(Math.abs(want[i] - got[i]) <= tol * (1 + Math.abs(want[i])), what + " [" + i + "] " + want[i] + " vs " + got[i]);
    }

    @Test
    void thePropertySelectsTheKernels() {
        String p = System.getProperty(Kernels.PROPERTY);
        assertEquals(p == null || p.isBlank() ? "vector" : p.trim(), Kernels.get().name());
        assertEquals("scalar", scalar.name());
        assertTrue(scalar.describe().contains("scalar"), scalar.describe());
        assertTrue(vector.describe().contains("-bit vectors"), vector.describe());
        assertThrows(IllegalArgumentException.class, () -> Kernels.named("avx"));
    }

    @Test
    void linearWithLayerNormPrologueLayerScaleAndResidual() {
        int m = 31, n = 52, k = 70;
        float[] x = random(m * k), w = random(n * k), bias = random(n), gamma = random(n), lw = random(k), lb = random(k);
        float[] init = random(m * n);
        float[][] out = new float[2][];
        KernelOperations[] both = {vector, scalar};
        for (int v = 0; v < 2; v++) {
            KernelOperations kn = both[v];
            float[] mean = new float[m], rstd = new float[m], c = init.clone();
            kn.layerNormStats(x, null, m, k, lw, lb, 1e-6f, mean, rstd);
            Prologue ln = kn.layerNormPrologue(mean, rstd, lw, lb);
            MemorySegment ws = MemorySegment.ofArray(w);
            kn.linear(Mat.of(x, k).through(ln), new Weight(ws, kn.pack(ws, n, k)), Epilogue.residual(bias, gamma),
                    Mat.of(c, n), m, n, k);
            out[v] = c;
        }
        assertClose(out[1], out[0], 1e-4, "linear");
    }

    @Test
    void matmulAndTransposedWithGeluPrologueAndColumnSums() {
        int m = 20, n = 33, k = 45;
        float[] a = random(m * k), b = random(k * n), at = random(k * m);
        float[][] c = new float[2][], ct = new float[2][], sums = new float[2][];
        KernelOperations[] both = {vector, scalar};
        for (int v = 0; v < 2; v++) {
            KernelOperations kn = both[v];
            c[v] = new float[m * n];
            kn.matmul(Mat.of(a, k), Mat.of(b, n), Mat.of(c[v], n), m, n, k, false);
            ct[v] = new float[m * n];
            sums[v] = new float[m];
            kn.matmulTransA(Mat.of(at, m), Mat.of(b, n).through(kn.geluPrologue()), Mat.of(ct[v], n), m, n, k, true, sums[v]);
        }
        assertClose(c[1], c[0], 1e-4, "matmul");
        assertClose(ct[1], ct[0], 1e-4, "matmulTransA");
        assertClose(sums[1], sums[0], 1e-4, "column sums");
    }

    @Test
    void selfAttentionWhateverLayoutTheMachineUses() {
        int batch = 2, tokens = 13, dim = 64, heads = 2, rows = batch * tokens; // head dim 32: column panels on AVX2
        float[] x = random(rows * dim), w = random(3 * dim * dim), bias = random(3 * dim);
        for (int i = 0; i < w.length; i++) w[i] *= 0.1f;
        float[][] ctx = new float[2][];
        KernelOperations[] both = {vector, scalar};
        for (int v = 0; v < 2; v++) {
            KernelOperations kn = both[v];
            MemorySegment ws = MemorySegment.ofArray(w);
            ctx[v] = new float[rows * dim];
            kn.selfAttention(x, new Weight(ws, kn.pack(ws, 3 * dim, dim)), bias, new float[rows * 3 * dim], ctx[v], batch,
                    tokens, dim, heads);
        }
        assertClose(ctx[1], ctx[0], 1e-4, "attention");
    }
}
