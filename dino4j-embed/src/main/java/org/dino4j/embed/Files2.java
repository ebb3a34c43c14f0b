package org.dino4j.embed;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

import org.dino4j.io.AtomicFile;

/** Text and the .npy format, written atomically ({@link org.dino4j.io.AtomicFile}). */
final class Files2 {
    private Files2() {}

    static void text(Path file, String s) throws IOException {
        AtomicFile.write(file, os -> os.write(s.getBytes(StandardCharsets.UTF_8)));
    }

    /** NPY 1.0: little-endian float32 ('<f4') or int64 ('<i8'), C order. */
    static void npy(Path file, long[] shape, float[] f32, long[] i64) throws IOException {
        String descr = f32 != null ? "<f4" : "<i8";
        String dims = shape.length == 1 ? shape[0] + "," : String.join(", ", Arrays.stream(shape).mapToObj(Long::toString).toList());
        String dict = String.format(Locale.ROOT, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, dims);
        int total = 10 + dict.length() + 1;
        int pad = (64 - total % 64) % 64;
        String header = dict + " ".repeat(pad) + "\n";
        AtomicFile.write(file, os -> {
            ByteBuffer pre = ByteBuffer.allocate(10).order(ByteOrder.LITTLE_ENDIAN);
            pre.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0)
                    .putShort((short) header.length());
            os.write(pre.array());
            os.write(header.getBytes(StandardCharsets.US_ASCII));
            ByteBuffer b = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
            int n = f32 != null ? f32.length : i64.length;
            for (int i = 0; i < n; i++) {
                if (b.remaining() < 8) {
                    os.write(b.array(), 0, b.position());
                    b.clear();
                }
                if (f32 != null) b.putFloat(f32[i]);
                else b.putLong(i64[i]);
            }
            os.write(b.array(), 0, b.position());
        });
    }
}
