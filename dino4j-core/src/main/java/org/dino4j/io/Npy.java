package org.dino4j.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * numpy's .npy format, version 1.0, written atomically ({@link AtomicFile}): the magic {@code \x93NUMPY}, version
 * 1.0, a little-endian uint16 header length, the header dict padded with spaces and a newline so the data starts
 * on a 64-byte boundary (what numpy writes), then the values in C order.
 */
public final class Npy {
    private Npy() {}

    /** Little-endian float32 ({@code '<f4'}) of the given shape. */
    public static void write(Path file, long[] shape, float[] values) throws IOException {
        write(file, shape, values, null);
    }

    /** Little-endian int64 ({@code '<i8'}) of the given shape. */
    public static void write(Path file, long[] shape, long[] values) throws IOException {
        write(file, shape, null, values);
    }

    private static void write(Path file, long[] shape, float[] f32, long[] i64) throws IOException {
        int n = f32 != null ? f32.length : i64.length;
        if (TensorEntry.numel(shape) != n)
            throw new IllegalArgumentException(file + ": shape " + Arrays.toString(shape) + " does not hold " + n + " values");
        String header = header(f32 != null ? "<f4" : "<i8", shape);
        AtomicFile.write(file, os -> {
            ByteBuffer pre = ByteBuffer.allocate(10).order(ByteOrder.LITTLE_ENDIAN);
            pre.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0)
                    .putShort((short) header.length());
            os.write(pre.array());
            os.write(header.getBytes(StandardCharsets.US_ASCII));
            ByteBuffer b = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
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

    /** The header dict, padded so that 10 + its length is a multiple of 64, ending in a newline. */
    static String header(String descr, long[] shape) {
        String dims = shape.length == 1 ? shape[0] + "," : String.join(", ", Arrays.stream(shape).mapToObj(Long::toString).toList());
        String dict = String.format(Locale.ROOT, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, dims);
        int total = 10 + dict.length() + 1;
        return dict + " ".repeat((64 - total % 64) % 64) + "\n";
    }
}
