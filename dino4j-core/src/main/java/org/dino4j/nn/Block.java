package org.dino4j.nn;

/**
 * Official pre-norm {@code Block} at inference: x = x + ls1(attn(norm1(x))); x = x + ls2(mlp(norm2(x))).
 * LayerScale gammas are null when the model has none ({@code init_values=None}).
 */
public record Block(LayerNorm norm1, Attention attn, float[] ls1, LayerNorm norm2, Ffn mlp, float[] ls2) {
    /** Updates x (batch·tokens rows of D) in place. */
    public void forward(float[] x, int batch, int tokens, Workspace ws) {
        int rows = batch * tokens;
        norm1.forward(x, rows, ws.normed);
        attn.forwardResidual(ws.normed, batch, tokens, ls1, x, ws);
        norm2.forward(x, rows, ws.normed);
        mlp.forwardResidual(ws.normed, rows, ls2, x, ws);
    }
}
