package org.dino4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The width the kernel tests run at is the one the build asked for (so a forced run cannot silently fall back). */
class VectorWidthTest {
    @Test
    void forcedWidthIsInForce() {
        String forced = System.getProperty(VectorWidth.PROPERTY);
        System.out.println("kernel tests: " + VectorWidth.bits() + "-bit vectors, " + VectorWidth.lanes()
                + " float lanes (CPU's preferred: " + VectorWidth.nativeBits() + " bits; "
                + VectorWidth.PROPERTY + "=" + forced + ")");
        int want = forced == null ? VectorWidth.nativeBits() : Integer.parseInt(forced);
        assertEquals(want, VectorWidth.bits());
        assertEquals(want / 32, Ops.L);
        assertEquals(2 * want / 32, Gemm.W2);
    }

    @Test
    void badWidthIsRefused() {
        var e = assertThrows(IllegalArgumentException.class, () -> VectorWidth.species("384"));
        assertEquals("dino4j.vector.bits must be 128, 256, 512 or preferred, got 384", e.getMessage());
        assertEquals(128, VectorWidth.species("128").vectorBitSize());
    }
}
