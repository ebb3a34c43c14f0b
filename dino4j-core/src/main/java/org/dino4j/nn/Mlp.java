package org.dino4j.nn;

import org.dino4j.kernels.Ops;

/** Official {@code Mlp}: fc1 → exact GELU → fc2. */
public record Mlp(Linear fc1, Linear fc2) implements Ffn {
    @Override
    public void forwardResidual(float[] y, int rows, float[] gamma, float[] residual) {
        float[] h = new float[rows * fc1.out()];
        fc1.forward(y, rows, h);
        Ops.geluParallel(h, 0, h.length);
        fc2.forwardResidual(h, rows, gamma, residual);
    }
}
