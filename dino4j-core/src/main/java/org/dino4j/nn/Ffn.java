package org.dino4j.nn;

/** The feed-forward half of a block: Mlp or SwiGLUFFN (the official ffn_layer "mlp" or "swiglu"). */
public interface Ffn {
    /** residual[rows, D] += gamma ⊙ ffn(y). */
    void forwardResidual(float[] y, int rows, float[] gamma, float[] residual, Workspace ws);
}
