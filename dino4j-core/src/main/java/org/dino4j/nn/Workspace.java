package org.dino4j.nn;

/**
 * Scratch buffers for one forward call, sized for its batch and reused by every block: a ViT-S batch of 8 would
 * otherwise allocate (and zero) ~30 MB per block. A model keeps a few between calls (they serve any call with no
 * more rows).
 */
public final class Workspace {
    final float[] normed, qkv, ctx, hidden, gate;
    private final int rows;

    /** @param rows batch·tokens; @param dim embed dim; @param ffnHidden FFN hidden width; @param swiglu whether w12 is 2·hidden wide */
    public Workspace(int rows, int dim, int ffnHidden, boolean swiglu) {
        this.rows = rows;
        normed = new float[rows * dim];
        qkv = new float[rows * 3 * dim];
        ctx = new float[rows * dim];
        hidden = new float[rows * ffnHidden * (swiglu ? 2 : 1)];
        gate = swiglu ? new float[rows * ffnHidden] : new float[0];
    }

    /** Rows (batch·tokens) this workspace can serve. */
    public int rows() {
        return rows;
    }
}
