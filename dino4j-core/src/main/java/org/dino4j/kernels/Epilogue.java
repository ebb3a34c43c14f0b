package org.dino4j.kernels;

/**
 * What a linear does with its product P = f(A)·Wᵀ: C = (accumulate ? C : 0) + gamma ⊙ (P + bias), a missing bias
 * adding 0, a missing gamma (DINOv2's LayerScale) scaling by 1.
 */
public record Epilogue(float[] bias, float[] gamma, boolean accumulate) {
    /** C = P. */
    public static final Epilogue STORE = new Epilogue(null, null, false);
    /** C += P. */
    public static final Epilogue ACCUMULATE = new Epilogue(null, null, true);

    /** C = P + bias (bias may be null). */
    public static Epilogue bias(float[] bias) {
        return bias == null ? STORE : new Epilogue(bias, null, false);
    }

    /** C += gamma ⊙ (P + bias): a block's residual add with its LayerScale. */
    public static Epilogue residual(float[] bias, float[] gamma) {
        return new Epilogue(bias, gamma, true);
    }
}
