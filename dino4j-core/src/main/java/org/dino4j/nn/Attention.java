package org.dino4j.nn;

import org.dino4j.kernels.Kernels;

/** Multi-head self-attention (official {@code Attention}/{@code MemEffAttention} at inference): qkv → fused attention → proj. */
public record Attention(Linear qkv, Linear proj, int numHeads) {
    /** residual += gamma ⊙ proj(attn(y)) for {@code batch} sequences of {@code tokens} rows of y. */
    public void forwardResidual(float[] y, int batch, int tokens, float[] gamma, float[] residual, Workspace ws) {
        int rows = batch * tokens;
        Kernels.get().selfAttention(y, qkv.weight(rows), qkv.bias(), ws.qkv, ws.ctx, batch, tokens, proj.in(), numHeads);
        proj.forwardResidual(ws.ctx, rows, gamma, residual);
    }
}
