package org.dino4j.nn;

import org.dino4j.kernels.Kernels;

/** Official {@code SwiGLUFFNFused}: x1, x2 = w12(x).chunk(2); w3(silu(x1) · x2). */
public record SwiGLUFFN(Linear w12, Linear w3) implements Ffn {
    @Override
    public void forwardResidual(float[] y, int rows, float[] gamma, float[] residual, Workspace ws) {
        w12.forward(y, rows, ws.hidden);
        Kernels.get().siluGate(ws.hidden, ws.gate, rows, w3.in());
        w3.forwardResidual(ws.gate, rows, gamma, residual);
    }
}
