package org.dino4j.kernels;

/**
 * The one entry point of the numeric kernels that the model layers, the autograd tape and the heads call, without
 * knowing the machine's micro-kernel shape or layouts. Two implementations, chosen once per JVM by
 * {@code -Ddino4j.kernels=vector|scalar} ({@link #PROPERTY}, default vector): the Vector API kernels ({@link Gemm},
 * {@link Ops}) and their plain scalar twins ({@link ScalarKernels}, {@link ScalarOps}: the obvious loops, sums in
 * double), so that a wrong result on an unusual CPU can be bisected in the field by rerunning with the twins (as
 * llama3.java and Jlama let one do).
 */
public final class Kernels {
    /** The system property that selects the kernels: {@code vector} (default) or {@code scalar}. */
    public static final String PROPERTY = KernelOperations.PROPERTY;

    private Kernels() {}

    /** The kernels this JVM runs, chosen from {@link #PROPERTY} on first use. */
    public static KernelOperations get() {
        return Selected.KERNELS;
    }

    /** The kernels a property value names: vector (or unset), scalar. */
    public static KernelOperations named(String name) {
        if (name == null || name.isBlank() || name.trim().equals("vector")) {
            VectorApi.require(); // a clear error naming the flag, for heads, k-NN or k-means used without a model too
            return new VectorKernels();
        }
        if (name.trim().equals("scalar")) return new ScalarTwins();
        throw new IllegalArgumentException(PROPERTY + " must be vector or scalar, got " + name);
    }

    /** The JVM's choice, made when first asked (a holder class: reading the property once, lazily). */
    private static final class Selected {
        static final KernelOperations KERNELS = named(System.getProperty(PROPERTY));
    }
}
