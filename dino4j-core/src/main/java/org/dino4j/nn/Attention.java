package org.dino4j.nn;

import org.dino4j.kernels.Ops;

/** Multi-head self-attention (official {@code Attention}/{@code MemEffAttention} at inference): qkv → fused attention → proj. */
public record Attention(Linear qkv, Linear proj, int numHeads) {
    /** x_res += gamma ⊙ proj(attn(y)) for {@code batch} sequences of {@code tokens} rows of y. */
    public void forwardResidual(float[] y, int batch, int tokens, float[] gamma, float[] residual) {
        int rows = batch * tokens, d = proj.in();
        float[] qkvOut = new float[rows * 3 * d];
        qkv.forward(y, rows, qkvOut);
        float[] ctx = new float[rows * d];
        Ops.attention(qkvOut, ctx, batch, tokens, d, numHeads);
        proj.forwardResidual(ctx, rows, gamma, residual);
    }
}
