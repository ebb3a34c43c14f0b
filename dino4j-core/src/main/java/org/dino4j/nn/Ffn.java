package org.dino4j.nn;

/** The feed-forward half of a block: {@link Mlp} or {@link SwiGLUFFN}. */
public sealed interface Ffn permits Mlp, SwiGLUFFN {
    /** residual[rows, D] += gamma ⊙ ffn(y). */
    void forwardResidual(float[] y, int rows, float[] gamma, float[] residual, Workspace ws);
}
