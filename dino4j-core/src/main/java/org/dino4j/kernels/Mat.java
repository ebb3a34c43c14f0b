package org.dino4j.kernels;

/**
 * A matrix operand in a heap array: stored row r starts at {@code data[off + r·ld]}. A product reads a transposed
 * operand's stored rows as its columns. With a prologue, the product reads f(stored values) ({@link Prologue}),
 * row r of the prologue being stored row r.
 */
public record Mat(float[] data, int off, int ld, Prologue f) {
    public Mat(float[] data, int off, int ld) {
        this(data, off, ld, null);
    }

    /** Rows {@code ld} apart from the start of {@code data}. */
    public static Mat of(float[] data, int ld) {
        return new Mat(data, 0, ld, null);
    }

    /** The same matrix read through f. */
    public Mat through(Prologue f) {
        return new Mat(data, off, ld, f);
    }

    /** The view starting {@code rows} stored rows further on. */
    Mat skip(int rows) {
        return rows == 0 ? this : new Mat(data, off + rows * ld, ld, f);
    }

    /** f(stored rows [0, rows)) as a new dense rows x cols matrix, or this one when there is no f. */
    Mat materialize(int row0, int rows, int cols) {
        if (f == null) return this;
        float[] out = new float[Math.multiplyExact(rows, cols)];
        for (int r = 0; r < rows; r++) f.apply(row0 + r, 0, data, off + r * ld, out, r * cols, cols);
        return of(out, cols);
    }
}
