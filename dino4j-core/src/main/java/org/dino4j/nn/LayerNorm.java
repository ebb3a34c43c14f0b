package org.dino4j.nn;

import org.dino4j.kernels.Kernels;

/** nn.LayerNorm over the last dimension (the official models use eps = 1e-6). */
public record LayerNorm(float[] weight, float[] bias, float eps) {
    public int dim() {
        return weight.length;
    }

    public void forward(float[] x, int rows, float[] out) {
        Kernels.get().layerNorm(x, out, rows, weight.length, weight, bias, eps);
    }
}
