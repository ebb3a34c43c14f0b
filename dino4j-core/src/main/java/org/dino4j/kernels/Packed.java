package org.dino4j.kernels;

/** A weight's copy in the layout a {@link KernelOperations} reads fastest ({@link KernelOperations#pack}): opaque to the caller. */
public interface Packed {
    /** Heap bytes the copy takes. */
    long bytes();
}
