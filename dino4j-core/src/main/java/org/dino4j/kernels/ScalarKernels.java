package org.dino4j.kernels;

import java.lang.foreign.MemorySegment;
import org.dino4j.io.TensorEntry;

/**
 * Plain scalar twins of the fast kernels: the obvious loops, the reference the tests compare against. Sums are
 * accumulated in double, so the twin is the more accurate side of every comparison.
 */
public final class ScalarKernels {
    private ScalarKernels() {}

    /** Scalar twin of {@link Gemm#linear}: c = (acc ? c : 0) + gamma * (a . w^T + bias), w row-major n x k LE f32. */
    public static void linear(float[] a, int aOff, int lda, MemorySegment w, float[] bias, float[] gamma,
                              float[] c, int cOff, int ldc, int m, int n, int k, boolean accumulate) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++)
                    s += (double) a[aOff + i * lda + p] * w.getAtIndex(TensorEntry.F32, (long) j * k + p);
                if (bias != null) s += bias[j];
                if (gamma != null) s *= gamma[j];
                int ci = cOff + i * ldc + j;
                c[ci] = accumulate ? (float) (c[ci] + s) : (float) s;
            }
    }

    /** Scalar twin of {@link Gemm#matmul}: c = (acc ? c : 0) + a . b, b row-major k x n. */
    public static void matmul(float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                              float[] c, int cOff, int ldc, int m, int n, int k, boolean accumulate) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += (double) a[aOff + i * lda + p] * b[bOff + p * ldb + j];
                int ci = cOff + i * ldc + j;
                c[ci] = accumulate ? (float) (c[ci] + s) : (float) s;
            }
    }

    /** Scalar twin of {@link KernelOperations#linear}: c = e(f(a) . w^T), f being a's prologue (applied first, whole). */
    public static void linear(Mat a, MemorySegment w, Epilogue e, Mat c, int m, int n, int k) {
        Mat fa = a.materialize(0, m, k);
        linear(fa.data(), fa.off(), fa.ld(), w, e.bias(), e.gamma(), c.data(), c.off(), c.ld(), m, n, k, e.accumulate());
    }

    /**
     * Scalar twin of {@link KernelOperations#matmul} (transA false) and {@link KernelOperations#matmulTransA} (a stored k x m): c =
     * (acc ? c : 0) + op(a) . f(b), and with {@code sums} not null a's column sums over its k stored rows added in.
     */
    public static void matmul(Mat a, boolean transA, Mat b, Mat c, int m, int n, int k, boolean accumulate, float[] sums) {
        Mat fb = b.materialize(0, k, n);
        float[] at = a.data();
        int aOff = a.off(), lda = a.ld();
        if (transA) {
            at = new float[m * k];
            for (int p = 0; p < k; p++) for (int i = 0; i < m; i++) at[i * k + p] = a.data()[a.off() + p * a.ld() + i];
            aOff = 0;
            lda = k;
            if (sums != null)
                for (int i = 0; i < m; i++) {
                    double s = 0;
                    for (int p = 0; p < k; p++) s += at[i * k + p];
                    sums[i] += (float) s;
                }
        }
        matmul(at, aOff, lda, fb.data(), fb.off(), fb.ld(), c.data(), c.off(), c.ld(), m, n, k, accumulate);
    }
}
