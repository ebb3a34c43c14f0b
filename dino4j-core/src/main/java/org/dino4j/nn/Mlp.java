package org.dino4j.nn;

import org.dino4j.kernels.Ops;

/** Official {@code Mlp}: fc1 → exact GELU → fc2. */
public record Mlp(Linear fc1, Linear fc2) implements Ffn {
    @Override
    public void forwardResidual(float[] y, int rows, float[] gamma, float[] residual, Workspace ws) {
        fc1.forward(y, rows, ws.hidden);
        Ops.geluParallel(ws.hidden, 0, rows * fc1.out());
        fc2.forwardResidual(ws.hidden, rows, gamma, residual);
    }
}
