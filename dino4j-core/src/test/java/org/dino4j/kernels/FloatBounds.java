package org.dino4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Tolerances of the kernel tests, derived from the arithmetic instead of read off one machine. A float operation
 * rounds once, to within u = 2^-24 of its result (relative); a sum whose longest chain of additions is n long is off
 * by at most γ(n) Σ|terms|, γ(n) = n·u / (1 − n·u) (Higham, Accuracy and Stability of Numerical Algorithms, §3.1 and
 * §4.2). The chains depend on the summation order the kernel uses and the lane count L in force
 * ({@link VectorWidth}), so the same test holds at 8 and 16 lanes. The scalar twins add in double: their own error is
 * the final rounding to float. Approximations (the kernels' exp and erf) have their own tested bounds.
 */
final class FloatBounds {
    /** Unit roundoff of float. */
    static final double U = 0x1p-24;
    /** Relative error of {@link Ops#exp} against Math.exp, checked over its whole range by OpsTest's exp test. */
    static final double EXP_REL = 4e-7;

    private FloatBounds() {}

    static double gamma(int n) {
        return n * U / (1 - n * U);
    }

    /**
     * Longest chain of float roundings in a sum of n terms taken as {@link Ops#sum} takes it: L lanes over chunks of
     * up to 64 terms (a lane's first term is exact, so chunk/L − 1 additions), the lanes added first to last (L − 1),
     * the chunks and the tail added in double (one more rounding at most, counted once with the final conversion).
     */
    static int chunkedSum(int n, int lanes) {
        int ub = n / lanes * lanes;
        return ub == 0 ? 1 : Math.min(64, ub) / lanes - 1 + lanes - 1 + 1;
    }

    /** As {@link #chunkedSum} with one float accumulator per lane over the whole row and the tail added in float. */
    static int rowSum(int n, int lanes) {
        int ub = n / lanes * lanes;
        return (ub == 0 ? 0 : ub / lanes - 1 + lanes - 1) + (n - ub);
    }

    /** A sum of n terms in an order not fixed here (GEMM micro-kernels, lane sums): no chain is longer than n + L. */
    static int anyOrder(int n, int lanes) {
        return n + lanes;
    }

    /**
     * Asserts |want[i] − got[i]| ≤ 1.01·tol[i] for every i, naming the first element that is not. The bounds are first
     * order in u; the 1 % covers the second-order terms they leave out (under n·u ≤ 1e-3 of the first-order ones for
     * every n here).
     */
    static void assertWithin(float[] want, float[] got, double[] tol, String what) {
        assertEquals(want.length, got.length, what + ": length");
        for (int i = 0; i < want.length; i++)
            if (!(Math.abs((double) want[i] - got[i]) <= 1.01 * tol[i]))
                throw new AssertionError(what + ": element " + i + " want " + want[i] + " got " + got[i] + ", |diff| "
                        + Math.abs((double) want[i] - got[i]) + " > bound " + tol[i] + " (L = " + Ops.L + ")");
    }
}
