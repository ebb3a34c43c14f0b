package org.dino4j.train.autograd;

import java.util.Arrays;

/**
 * A value in a computation that gradients flow back through: row-major float32 data, a shape, and (for values that
 * need one) a gradient of the same shape, allocated on first use. Parameters are leaves that want gradients;
 * constants (inputs, targets) are leaves that do not; everything else is made by a {@link Tape} op.
 */
public final class Var {
    final float[] value;
    final int[] shape;
    final boolean requiresGrad;
    float[] grad;
    /** What this node's gradient does to its inputs' gradients; null for leaves. */
    Runnable backward;

    Var(float[] value, int[] shape, boolean requiresGrad) {
        if (value.length != numel(shape))
            throw new IllegalArgumentException(value.length + " values for shape " + Arrays.toString(shape));
        this.value = value;
        this.shape = shape.clone();
        this.requiresGrad = requiresGrad;
    }

    /** A trainable leaf (its gradient accumulates across backward passes until {@link #zeroGrad}). */
    public static Var param(float[] value, int... shape) {
        return new Var(value, shape, true);
    }

    /** A leaf that needs no gradient. */
    public static Var constant(float[] value, int... shape) {
        return new Var(value, shape, false);
    }

    public float[] value() {
        return value;
    }

    public int[] shape() {
        return shape.clone();
    }

    public boolean requiresGrad() {
        return requiresGrad;
    }

    /** The gradient (zeros if none reached this value). */
    public float[] grad() {
        return grad != null ? grad : new float[value.length];
    }

    /** Multiplies the gradient (if any) by c: gradient clipping. */
    public void scaleGrad(float c) {
        if (grad != null) for (int i = 0; i < grad.length; i++) grad[i] *= c;
    }

    /** Sets the gradient (e.g. one computed elsewhere, or a fixture's). */
    public void setGrad(float[] g) {
        if (g.length != value.length) throw new IllegalArgumentException(g.length + " gradient values for " + this);
        grad = g.clone();
    }

    public void zeroGrad() {
        grad = null;
    }

    public int numel() {
        return value.length;
    }

    /** Size of the last dimension (the "columns" of the 2-D view every op uses). */
    public int cols() {
        return shape[shape.length - 1];
    }

    /** Product of all but the last dimension. */
    public int rows() {
        return value.length / Math.max(1, cols());
    }

    public float item() {
        if (value.length != 1) throw new IllegalStateException("item() of a " + Arrays.toString(shape) + " value");
        return value[0];
    }

    /** The gradient buffer, created on first use (only for values that require gradients). */
    float[] g() {
        if (grad == null) grad = new float[value.length];
        return grad;
    }

    static int numel(int[] shape) {
        long n = 1;
        for (int s : shape) {
            if (s < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            n *= s;
        }
        if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("too large: " + Arrays.toString(shape));
        return (int) n;
    }

    @Override
    public String toString() {
        return "Var" + Arrays.toString(shape) + (requiresGrad ? " (grad)" : "");
    }
}
