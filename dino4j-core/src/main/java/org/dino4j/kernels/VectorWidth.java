package org.dino4j.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The float species every Vector API kernel runs at: the machine's preferred one (256 bits on AVX2, 512 on AVX-512),
 * or the width {@code -Ddino4j.vector.bits=128|256|512} forces. The kernel tests run at 256 and 512 bits on every
 * machine, so an AVX2 machine meets the lane counts, summation orders and tails an AVX-512 one runs, and the other way
 * round; a width the hardware lacks runs (slowly) in the Vector API's Java fallback, with the same arithmetic.
 */
public final class VectorWidth {
    /** The system property that forces a width in bits. */
    public static final String PROPERTY = "dino4j.vector.bits";
    static final VectorSpecies<Float> FLOAT = species(System.getProperty(PROPERTY));

    private VectorWidth() {}

    static VectorSpecies<Float> species(String bits) {
        if (bits == null || bits.isBlank() || bits.trim().equals("preferred")) return FloatVector.SPECIES_PREFERRED;
        return switch (bits.trim()) {
            case "128" -> FloatVector.SPECIES_128;
            case "256" -> FloatVector.SPECIES_256;
            case "512" -> FloatVector.SPECIES_512;
            default -> throw new IllegalArgumentException(PROPERTY + " must be 128, 256, 512 or preferred, got " + bits);
        };
    }

    /** Bits of the float vectors the kernels use. */
    public static int bits() {
        return FLOAT.vectorBitSize();
    }

    /** Floats per vector in the kernels. */
    public static int lanes() {
        return FLOAT.length();
    }

    /** Bits of the widest vectors this CPU runs natively (the preferred shape). */
    public static int nativeBits() {
        return VectorShape.preferredShape().vectorBitSize();
    }
}
