package org.dino4j.nn;

/**
 * Official pre-norm {@code Block} at inference: x = x + ls1(attn(norm1(x))); x = x + ls2(mlp(norm2(x))).
 * LayerScale gammas are null when the model has none ({@code init_values=None}).
 */
public record Block(LayerNorm norm1, Attention attn, float[] ls1, LayerNorm norm2, Ffn mlp, float[] ls2) {
    /** Updates x (batch·tokens rows of D) in place. */
    public void forward(float[] x, int batch, int tokens) {
        int rows = batch * tokens;
        float[] y = new float[x.length];
        norm1.forward(x, rows, y);
        attn.forwardResidual(y, batch, tokens, ls1, x);
        norm2.forward(x, rows, y);
        mlp.forwardResidual(y, rows, ls2, x);
    }
}
