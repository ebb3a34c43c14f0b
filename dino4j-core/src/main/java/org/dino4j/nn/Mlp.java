package org.dino4j.nn;

/** Official {@code Mlp}: fc1 → exact GELU (fused into fc1's GEMM) → fc2. */
public record Mlp(Linear fc1, Linear fc2) implements Ffn {
    @Override
    public void forwardResidual(float[] y, int rows, float[] gamma, float[] residual, Workspace ws) {
        fc1.forwardGelu(y, rows, ws.hidden);
        fc2.forwardResidual(ws.hidden, rows, gamma, residual);
    }
}
