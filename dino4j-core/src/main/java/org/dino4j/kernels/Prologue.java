package org.dino4j.kernels;

/**
 * An elementwise function of a stored operand, applied as the GEMM packs it (GELU before the MLP's second Linear,
 * LayerNorm before the first): the product reads f(A) or f(B) without f's output ever being written out as a whole
 * array, which the backward would otherwise keep or make again for dW. Implementations must give each element the
 * same float wherever a run starts or ends, so that packing in blocks gives the values one pass over the array would.
 */
@FunctionalInterface
public interface Prologue {
    /** dst[d + j] = f(src[s + j]) for j < n, the values of stored row {@code row}, columns c0 + j. */
    void apply(int row, int c0, float[] src, int s, float[] dst, int d, int n);
}
