package org.dino4j.kernels;

/**
 * Winograd's minimal filtering algorithm F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural
 * Networks", CVPR 2016): a 2x2 block of a 3x3 stride-1 convolution's outputs from the 4x4 input tile d around it is
 * Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A, per (output, input) channel pair g the 3x3 kernel, summed over input channels. Summed
 * in the transformed domain, each of the 16 positions ξ is one GEMM, (tiles, in) x (in, out): 16 products per 4
 * outputs where the direct convolution takes 36 (2.25x fewer). The points 0, ±1 keep every transform exact but for
 * halves in G: the rounding error stays that of a few more additions
 * ({@link KernelOperations#winogradInput}, {@link KernelOperations#winogradOutput}; the bound is derived in ConvTest).
 * The matrices, for the scalar twins and the tests; the vector kernels spell out their additions.
 */
public final class Winograd {
    /** Input tile side (4), output block side (2), transformed positions (16). */
    public static final int TILE = 4, OUT = 2, POSITIONS = TILE * TILE;
    public static final double[][] BT = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
    public static final double[][] G = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    public static final double[][] AT = {{1, 1, 1, 0}, {0, 1, -1, -1}};

    private Winograd() {}

    /**
     * The transformed weight U = G g Gᵀ, computed in double and rounded once, of a PyTorch 3x3 weight (out, in, 3, 3)
     * row-major: (16, out, in), position ξ = 4·row + col's (out, in) slice being the ξ-th GEMM's weight as
     * {@link KernelOperations#linear} takes it.
     */
    public static float[] weights(float[] weight, int out, int in) {
        if (weight.length != (long) out * in * 9)
            throw new IllegalArgumentException("Winograd weight holds " + weight.length + " floats, expected " + out + "x" + in + "x3x3");
        float[] u = new float[Math.multiplyExact(POSITIONS, Math.multiplyExact(out, in))];
        double[] gg = new double[TILE * 3];
        for (int o = 0; o < out; o++)
            for (int i = 0; i < in; i++) {
                int g0 = (o * in + i) * 9;
                for (int a = 0; a < TILE; a++) // G g: 4 x 3
                    for (int c = 0; c < 3; c++) {
                        double s = 0;
                        for (int r = 0; r < 3; r++) s += G[a][r] * weight[g0 + r * 3 + c];
                        gg[a * 3 + c] = s;
                    }
                for (int a = 0; a < TILE; a++) // (G g) Gᵀ: 4 x 4
                    for (int b = 0; b < TILE; b++) {
                        double s = 0;
                        for (int c = 0; c < 3; c++) s += gg[a * 3 + c] * G[b][c];
                        u[((a * TILE + b) * out + o) * in + i] = (float) s;
                    }
            }
        return u;
    }
}
