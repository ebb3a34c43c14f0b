package org.dino4j.io;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * One tensor of a checkpoint: its dtype, shape and raw little-endian bytes, usually a slice of a memory-mapped
 * file (no copy on the heap). The bytes are C-contiguous.
 */
public record TensorEntry(String name, DType dtype, long[] shape, MemorySegment data) {
    public static final ValueLayout.OfFloat F32 =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public TensorEntry {
        long n = numel(shape);
        if (data.byteSize() != n * dtype.size)
            throw new IllegalArgumentException(name + ": " + data.byteSize() + " bytes for shape "
                    + Arrays.toString(shape) + " of " + dtype);
    }

    /** The element count; a negative size or one past {@code Long.MAX_VALUE} is an ArithmeticException, never a wrap. */
    public static long numel(long[] shape) {
        long n = 1;
        for (long s : shape) {
            if (s < 0) throw new ArithmeticException("negative size in shape " + Arrays.toString(shape));
            n = Math.multiplyExact(n, s);
        }
        return n;
    }

    public long numel() {
        return numel(shape);
    }

    public int[] intShape() {
        int[] s = new int[shape.length];
        for (int i = 0; i < s.length; i++) s[i] = Math.toIntExact(shape[i]);
        return s;
    }

    /**
     * This tensor as little-endian float32 bytes: the mapped data itself when it already is F32, otherwise a
     * converted heap copy (F16/BF16/F64 checkpoints).
     */
    public MemorySegment f32() {
        if (dtype == DType.F32) return data;
        float[] a = toFloatArray();
        return MemorySegment.ofArray(a);
    }

    /** A heap copy as float (converting from any numeric dtype). */
    public float[] toFloatArray() {
        int n = Math.toIntExact(numel());
        float[] out = new float[n];
        switch (dtype) {
            case F32 -> MemorySegment.copy(data, F32, 0, out, 0, n);
            case F64 -> { for (int i = 0; i < n; i++) out[i] = (float) data.getAtIndex(F64, i); }
            case F16 -> { for (int i = 0; i < n; i++) out[i] = Float.float16ToFloat(data.getAtIndex(I16, i)); }
            case BF16 -> {
                for (int i = 0; i < n; i++) out[i] = Float.intBitsToFloat((data.getAtIndex(I16, i) & 0xffff) << 16);
            }
            case I64 -> { for (int i = 0; i < n; i++) out[i] = data.getAtIndex(I64, i); }
            case I32 -> { for (int i = 0; i < n; i++) out[i] = data.getAtIndex(I32, i); }
            case I16 -> { for (int i = 0; i < n; i++) out[i] = data.getAtIndex(I16, i); }
            case I8 -> { for (int i = 0; i < n; i++) out[i] = data.get(ValueLayout.JAVA_BYTE, i); }
            case U8, BOOL -> { for (int i = 0; i < n; i++) out[i] = data.get(ValueLayout.JAVA_BYTE, i) & 0xff; }
        }
        return out;
    }

    /** A float32 heap tensor entry (for tensors made in memory). */
    public static TensorEntry of(String name, long[] shape, float[] values) {
        return new TensorEntry(name, DType.F32, shape.clone(), MemorySegment.ofArray(values.clone()));
    }

    public static TensorEntry ofBytes(String name, DType dtype, long[] shape, byte[] values) {
        return new TensorEntry(name, dtype, shape.clone(), MemorySegment.ofArray(values.clone()));
    }

    public TensorEntry withName(String newName) {
        return new TensorEntry(newName, dtype, shape, data);
    }

    public TensorEntry reshaped(long... newShape) {
        return new TensorEntry(name, dtype, newShape, data);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
