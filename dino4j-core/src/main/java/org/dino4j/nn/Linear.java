package org.dino4j.nn;

import java.lang.foreign.MemorySegment;

import org.dino4j.kernels.Gemm;

/**
 * nn.Linear: y = x Wᵀ + b. The weight (out × in, row-major little-endian float32) stays where it was loaded,
 * usually a memory-mapped checkpoint; the GEMM packs panels of it per call.
 */
public record Linear(MemorySegment weight, float[] bias, int in, int out) {
    public Linear {
        if (weight.byteSize() != (long) in * out * 4)
            throw new IllegalArgumentException("Linear weight holds " + weight.byteSize() / 4 + " floats, expected " + out + "x" + in);
        if (bias != null && bias.length != out) throw new IllegalArgumentException("Linear bias length " + bias.length + " != " + out);
    }

    /** y[rows, out] = x[rows, in] Wᵀ + b. */
    public void forward(float[] x, int rows, float[] y) {
        Gemm.linear(x, 0, in, weight, bias, null, y, 0, out, rows, out, in, false);
    }

    /** x_res[rows, out] += gamma ⊙ (x Wᵀ + b): the residual add and LayerScale fused into the GEMM epilogue. */
    public void forwardResidual(float[] x, int rows, float[] gamma, float[] residual) {
        Gemm.linear(x, 0, in, weight, bias, gamma, residual, 0, out, rows, out, in, true);
    }
}
