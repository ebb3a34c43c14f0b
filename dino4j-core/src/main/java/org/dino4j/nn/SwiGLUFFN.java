package org.dino4j.nn;

import org.dino4j.kernels.Ops;

/** Official {@code SwiGLUFFNFused}: x1, x2 = w12(x).chunk(2); w3(silu(x1) · x2). */
public record SwiGLUFFN(Linear w12, Linear w3) implements Ffn {
    @Override
    public void forwardResidual(float[] y, int rows, float[] gamma, float[] residual) {
        int h = w3.in();
        float[] x12 = new float[rows * 2 * h];
        w12.forward(y, rows, x12);
        float[] hidden = new float[rows * h];
        Ops.siluGate(x12, hidden, rows, h);
        w3.forwardResidual(hidden, rows, gamma, residual);
    }
}
