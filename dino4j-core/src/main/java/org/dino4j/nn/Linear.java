package org.dino4j.nn;

import java.lang.foreign.MemorySegment;

import org.dino4j.kernels.Gemm;

/**
 * nn.Linear: y = x Wᵀ + b. The weight (out × in, row-major little-endian float32) stays where it was loaded,
 * usually a memory-mapped checkpoint. With {@code prepack}, a copy in the GEMM's panel layout is made on first use
 * (one more copy of the weight on the heap, and no per-call packing); otherwise the GEMM packs panels per call.
 */
public record Linear(MemorySegment weight, float[] bias, int in, int out, Prepacked prepacked) {
    public Linear {
        if (weight.byteSize() != (long) in * out * 4)
            throw new IllegalArgumentException("Linear weight holds " + weight.byteSize() / 4 + " floats, expected " + out + "x" + in);
        if (bias != null && bias.length != out) throw new IllegalArgumentException("Linear bias length " + bias.length + " != " + out);
    }

    public Linear(MemorySegment weight, float[] bias, int in, int out) {
        this(weight, bias, in, out, null);
    }

    /** A weight's packed copy, made once by whichever call needs it first. */
    public static final class Prepacked {
        private volatile Gemm.PackedWeight packed;

        Gemm.PackedWeight get(MemorySegment w, int n, int k) {
            Gemm.PackedWeight p = packed;
            if (p == null) {
                synchronized (this) {
                    if ((p = packed) == null) packed = p = Gemm.pack(w, n, k);
                }
            }
            return p;
        }

        /** The weight changed in place: the next call packs it again. */
        public synchronized void clear() {
            packed = null;
        }
    }

    private Gemm.PackedWeight packed(int rows) {
        return prepacked == null || rows < 8 ? null : prepacked.get(weight, out, in); // few rows: B is read directly
    }

    /** y[rows, out] = x[rows, in] Wᵀ + b. */
    public void forward(float[] x, int rows, float[] y) {
        Gemm.linear(x, 0, in, weight, packed(rows), bias, null, y, 0, out, rows, out, in, false);
    }

    /**
     * y = x Wᵀ + b stored as column panels ({@link Gemm#linearPanels}); the packed copy is used where the machine's
     * kernel is the one linearPanels runs (AVX2), else B is packed per call.
     */
    public void forwardPanels(float[] x, int rows, float[] y) {
        Gemm.linearPanels(x, in, weight, Gemm.narrowKernel() ? packed(rows) : null, bias, y, rows, out, in);
    }

    /** x_res[rows, out] += gamma ⊙ (x Wᵀ + b): the residual add and LayerScale fused into the GEMM epilogue. */
    public void forwardResidual(float[] x, int rows, float[] gamma, float[] residual) {
        Gemm.linear(x, 0, in, weight, packed(rows), bias, gamma, residual, 0, out, rows, out, in, true);
    }
}
