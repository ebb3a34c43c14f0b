package org.dino4j.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The layout numpy.lib.format documents for version 1.0 (what numpy.save writes for these arrays). */
class NpyTest {
    @TempDir
    Path dir;

    @Test
    void oneDimensionalInt64() throws IOException {
        Path f = dir.resolve("i.npy");
        long[] v = {3, -1, Long.MAX_VALUE, 0, 42};
        Npy.write(f, new long[] {5}, v);
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals((byte) 0x93, b.get());
        byte[] magic = new byte[5];
        b.get(magic);
        assertEquals("NUMPY", new String(magic, StandardCharsets.US_ASCII));
        assertEquals(1, b.get());
        assertEquals(0, b.get());
        int hl = Short.toUnsignedInt(b.getShort());
        byte[] h = new byte[hl];
        b.get(h);
        String header = new String(h, StandardCharsets.US_ASCII);
        // numpy.save(np.arange(5)) writes exactly this 118-byte header (64-byte aligned data)
        assertEquals("{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }" + " ".repeat(60) + "\n", header);
        for (long x : v) assertEquals(x, b.getLong());
        assertEquals(0, b.remaining());
    }

    @Test
    void shapeMustHoldTheValues() {
        var e = assertThrows(IllegalArgumentException.class, () -> Npy.write(dir.resolve("x.npy"), new long[] {2, 3}, new float[5]));
        assertTrue(e.getMessage().endsWith("x.npy: shape [2, 3] does not hold 5 values"), e.getMessage());
        assertTrue(Files.notExists(dir.resolve("x.npy")));
    }
}
