package org.dino4j.tensor;

import java.util.Arrays;

/**
 * A dense, C-contiguous float32 tensor on the heap (activations, inputs, outputs). Weights are not Tensors: they
 * stay in memory-mapped files (see {@code org.dino4j.io.TensorEntry}).
 */
public final class Tensor {
    private final int[] shape;
    private final float[] data;

    public Tensor(float[] data, int... shape) {
        long n = numel(shape);
        if (n != data.length)
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + n + " values, got " + data.length);
        this.shape = shape.clone();
        this.data = data;
    }

    public static Tensor zeros(int... shape) {
        return new Tensor(new float[Math.toIntExact(numel(shape))], shape);
    }

    public static long numel(int[] shape) {
        long n = 1;
        for (int s : shape) {
            if (s < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            n *= s;
        }
        return n;
    }

    public int[] shape() {
        return shape.clone();
    }

    public int dim() {
        return shape.length;
    }

    public int size(int d) {
        return shape[d < 0 ? shape.length + d : d];
    }

    public int numel() {
        return data.length;
    }

    /** The backing array (row-major). Shared, not copied. */
    public float[] data() {
        return data;
    }

    public Tensor reshape(int... newShape) {
        return new Tensor(data, newShape);
    }

    public float get(int... idx) {
        int off = 0;
        for (int d = 0; d < shape.length; d++) {
            if (idx[d] < 0 || idx[d] >= shape[d]) throw new IndexOutOfBoundsException(Arrays.toString(idx));
            off = off * shape[d] + idx[d];
        }
        return data[off];
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape);
    }
}
