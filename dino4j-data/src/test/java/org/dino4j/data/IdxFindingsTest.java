package org.dino4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** IDX headers found by fuzzing (dino4j-fuzz IdxFuzzTest): sizes taken on trust. */
class IdxFindingsTest {
    @TempDir
    Path dir;

    private Path idx(String name, int n, int rows, int cols, int pixelBytes) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(16 + pixelBytes).putInt(0x803).putInt(n).putInt(rows).putInt(cols);
        return Files.write(dir.resolve(name), b.array());
    }

    private static String refusal(Path p) {
        return assertThrows(IllegalArgumentException.class, () -> Datasets.open(p)).getMessage();
    }

    @Test
    void idxRowsTimesColsOverflowingAnIntIsRefused() throws IOException {
        // 65536 x 65536 wrapped to 0, 50000 x 50000 to a negative array size; 469762048 x 61952 wrapped to a small positive
        for (int[] rc : new int[][] {{65536, 65536}, {50000, 50000}, {469762048, 61952}}) {
            String m = refusal(idx("a-images-idx3-ubyte", 1, rc[0], rc[1], 12));
            assertTrue(m.contains("a-images-idx3-ubyte") && m.contains(rc[0] + " x " + rc[1]) && m.contains("over the limit"), m);
        }
    }

    @Test
    void idxImageCountBeyondTheFileIsRefusedBeforeAllocating() throws IOException {
        String m = refusal(idx("b-images-idx3-ubyte", 4_000_000, 28, 28, 784));
        assertTrue(m.contains("truncated IDX file") && m.contains("4000000 images of 28 x 28") && m.contains("the file has 800"), m);
    }

    @Test
    void gzippedIdxWithAHugeImageCountIsRefusedBeforeReadingNotOutOfMemory() throws IOException {
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(raw)) {
            gz.write(ByteBuffer.allocate(16 + 2 * 4).putInt(0x803).putInt(Integer.MAX_VALUE).putInt(2).putInt(2).array());
        }
        Path p = Files.write(dir.resolve("c-images-idx3-ubyte.gz"), raw.toByteArray());
        String m = refusal(p);
        assertTrue(m.contains("c-images-idx3-ubyte.gz") && m.contains("2147483647 IDX images, over the limit of 4194304"), m);
    }

    @Test
    void wellFormedIdxStillOpens() throws IOException {
        Path p = idx("d-images-idx3-ubyte", 3, 2, 2, 12);
        assertEquals(3, Datasets.open(p).size());
    }
}
