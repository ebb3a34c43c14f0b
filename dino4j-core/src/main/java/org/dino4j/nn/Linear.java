package org.dino4j.nn;

import java.lang.foreign.MemorySegment;

import org.dino4j.kernels.Epilogue;
import org.dino4j.kernels.Kernels;
import org.dino4j.kernels.Packed;
import org.dino4j.kernels.Mat;
import org.dino4j.kernels.Weight;

/**
 * nn.Linear: y = x Wᵀ + b. The weight (out × in, row-major little-endian float32) stays where it was loaded,
 * usually a memory-mapped checkpoint. With {@code prepack}, a copy in the kernels' layout is made on first use
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
        private volatile Packed packed;

        Packed get(MemorySegment w, int n, int k) {
            Packed p = packed;
            if (p == null) {
                synchronized (this) {
                    if ((p = packed) == null) packed = p = Kernels.get().pack(w, n, k);
                }
            }
            return p;
        }

        /** The weight changed in place: the next call packs it again. */
        public synchronized void clear() {
            packed = null;
        }
    }

    /** The weight as a product for {@code rows} rows reads it: packed, except for few rows (B is then read directly). */
    Weight weight(int rows) {
        return new Weight(weight, prepacked == null || rows < 8 ? null : prepacked.get(weight, out, in));
    }

    /** y[rows, out] = x[rows, in] Wᵀ + b. */
    public void forward(float[] x, int rows, float[] y) {
        Kernels.get().linear(Mat.of(x, in), weight(rows), Epilogue.bias(bias), Mat.of(y, out), rows, out, in);
    }

    /** x_res[rows, out] += gamma ⊙ (x Wᵀ + b): the residual add and LayerScale fused into the GEMM epilogue. */
    public void forwardResidual(float[] x, int rows, float[] gamma, float[] residual) {
        Kernels.get().linear(Mat.of(x, in), weight(rows), Epilogue.residual(bias, gamma), Mat.of(residual, out), rows, out, in);
    }
}
