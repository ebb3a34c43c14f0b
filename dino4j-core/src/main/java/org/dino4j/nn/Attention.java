package org.dino4j.nn;

import org.dino4j.kernels.Gemm;
import org.dino4j.kernels.Ops;

/** Multi-head self-attention (official {@code Attention}/{@code MemEffAttention} at inference): qkv → fused attention → proj. */
public record Attention(Linear qkv, Linear proj, int numHeads) {
    /** residual += gamma ⊙ proj(attn(y)) for {@code batch} sequences of {@code tokens} rows of y. */
    public void forwardResidual(float[] y, int batch, int tokens, float[] gamma, float[] residual, Workspace ws) {
        int rows = batch * tokens, dim = proj.in();
        // qkv as column panels, so that attention reads each head in order, where this machine's GEMM kernel writes
        // them at no cost (AVX2's 6 x 2) and the head dimension is a whole number of panels
        if (Gemm.narrowKernel() && Ops.attentionPanelsFit(rows, dim, numHeads)) {
            qkv.forwardPanels(y, rows, ws.qkv);
            Ops.attentionPanels(ws.qkv, ws.ctx, batch, tokens, dim, numHeads);
        } else {
            qkv.forward(y, rows, ws.qkv);
            Ops.attention(ws.qkv, ws.ctx, batch, tokens, dim, numHeads);
        }
        proj.forwardResidual(ws.ctx, rows, gamma, residual);
    }
}
