package org.dino4j.kernels;

import java.lang.foreign.MemorySegment;

/**
 * The B operand of a linear layer: a PyTorch nn.Linear weight (n x k, row-major little-endian float32, usually a
 * slice of a memory-mapped checkpoint: only read) and, when not null, the copy {@link KernelOperations#pack} made of it.
 */
public record Weight(MemorySegment data, Packed packed) {
    public static Weight of(MemorySegment w) {
        return new Weight(w, null);
    }

    /** A weight on the heap (a head being trained, a batch of features). */
    public static Weight of(float[] w) {
        return new Weight(MemorySegment.ofArray(w), null);
    }
}
