package org.dino4j.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.dino4j.kernels.Winograd;
import org.junit.jupiter.api.Test;

/**
 * {@link Conv2d} and {@link ConvTranspose2d} against the definition: a direct convolution loop in double written
 * here, on odd sizes, both kernel sizes, strides and paddings the heads use, with and without bias and ReLU'd input.
 * Tolerance: the GEMM's float sum of K products and the bias, in an order not fixed here: no chain of roundings is
 * longer than K + L + 2 (L ≤ 16 lanes), so |error| ≤ γ(K + 18)·(Σ|x·w| + |b|) (Higham §3.1), the abs sum computed
 * by the same loop. The Winograd path ({@link #winogradMatchesTheDefinition}) has its own bound, derived there.
 */
class ConvTest {
    static final double U = 0x1p-24;
    final SplittableRandom rnd = new SplittableRandom(20);

    float[] random(int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextGaussian() * scale);
        return a;
    }

    static double gamma(int n) {
        return n * U / (1 - n * U);
    }

    /**
     * nn.Conv2d by its definition in double on channels-last x (h, w, in), weight (out, in, k, k): {values, Σ|x·w| + |b|}
     * per output element.
     */
    static double[][] conv(float[] x, int h, int w, int in, float[] wt, float[] b, int out, int k, int stride, int pad,
                           boolean relu) {
        int oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
        double[] y = new double[oh * ow * out], abs = new double[y.length];
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
                for (int o = 0; o < out; o++) {
                    double s = b == null ? 0 : b[o], a = Math.abs(s);
                    for (int i = 0; i < in; i++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                double v = x[(iy * w + ix) * in + i];
                                if (relu) v = Math.max(v, 0);
                                double p = v * wt[((o * in + i) * k + ky) * k + kx];
                                s += p;
                                a += Math.abs(p);
                            }
                    y[(oy * ow + ox) * out + o] = s;
                    abs[(oy * ow + ox) * out + o] = a;
                }
        return new double[][] {y, abs};
    }

    /** nn.ConvTranspose2d with kernel = stride = k, padding 0, by its definition: {values, Σ|x·w| + |b|}. */
    static double[][] convTranspose(float[] x, int h, int w, int in, float[] wt, float[] b, int out, int k) {
        double[] y = new double[h * k * w * k * out], abs = new double[y.length];
        for (int oy = 0; oy < h * k; oy++)
            for (int ox = 0; ox < w * k; ox++)
                for (int o = 0; o < out; o++) {
                    double s = b == null ? 0 : b[o], a = Math.abs(s);
                    int py = oy / k, px = ox / k, ky = oy % k, kx = ox % k;
                    for (int i = 0; i < in; i++) {
                        double p = (double) x[(py * w + px) * in + i] * wt[((i * out + o) * k + ky) * k + kx];
                        s += p;
                        a += Math.abs(p);
                    }
                    y[(oy * w * k + ox) * out + o] = s;
                    abs[(oy * w * k + ox) * out + o] = a;
                }
        return new double[][] {y, abs};
    }

    /** |want − got| ≤ 1.01·(γ(chain)·abs + extra·|want|) element by element; returns the largest |diff|. */
    static double assertWithin(double[][] want, float[] got, int chain, double extra, String what) {
        assertEquals(want[0].length, got.length, what + ": length");
        double max = 0;
        for (int i = 0; i < got.length; i++) {
            double d = Math.abs(want[0][i] - got[i]), tol = gamma(chain) * want[1][i] + extra * Math.abs(want[0][i]);
            if (!(d <= 1.01 * tol))
                throw new AssertionError(what + ": element " + i + " want " + want[0][i] + " got " + got[i] + ", |diff| " + d
                        + " > bound " + tol);
            max = Math.max(max, d);
        }
        return max;
    }

    @Test
    void conv2dMatchesTheDefinition() {
        int cases = 0;
        for (int k : new int[] {1, 3})
            for (int stride : new int[] {1, 2})
                for (int pad : new int[] {0, 1})
                    for (int in : new int[] {1, 5, 17})
                        for (int[] hw : new int[][] {{7, 9}, {1, 5}, {4, 1}, {11, 6}}) {
                            int h = hw[0], w = hw[1], out = in == 5 ? 17 : in == 17 ? 70 : 4; // 70: not stacked
                            if (h + 2 * pad < k || w + 2 * pad < k) continue;
                            boolean bias = cases % 2 == 0, relu = cases % 3 == 0;
                            check(h, w, in, out, k, stride, pad, bias, relu);
                            cases++;
                        }
        assertTrue(cases > 80, "cases " + cases);
    }

    @Test
    void conv2dInChunks() {
        // the stride-1 paths in bands of 3 (stacked) and 2 (per kernel row) output rows, the strided one in im2col
        // chunks of 96 output pixels
        assertEquals(3, Conv2d.bandRows(17, 19 * (5 + 3 * 4), 3 * 19 * 17, 1));
        assertEquals(2, Conv2d.bandRows(17, 19 * (5 + 70), 3 * 19 * 75, 8)); // 8 bands at least
        assertEquals(96, Conv2d.chunkRows(400, 45, 100 * 45));
        check(17, 17, 5, 4, 3, 1, 1, true, true, 3 * 19 * 17);
        check(17, 15, 5, 4, 3, 1, 0, false, false, 3 * 15 * 17);
        check(17, 17, 5, 70, 3, 1, 1, true, true, 3 * 19 * 75);
        check(16, 15, 5, 70, 3, 1, 0, false, false, 3 * 15 * 75);
        check(40, 40, 5, 4, 3, 2, 1, true, true, 100 * 45);
        check(40, 39, 5, 4, 3, 2, 0, false, false, 100 * 45);
    }

    void check(int h, int w, int in, int out, int k, int stride, int pad, boolean bias, boolean relu) {
        check(h, w, in, out, k, stride, pad, bias, relu, Conv2d.CHUNK_FLOATS);
    }

    void check(int h, int w, int in, int out, int k, int stride, int pad, boolean bias, boolean relu, int chunkFloats) {
        float[] x = random(h * w * in, 1), wt = random(out * in * k * k, 1 / Math.sqrt(in * k * k)),
                b = bias ? random(out, 1) : null, x0 = x.clone();
        Conv2d conv = new Conv2d(wt, b, out, in, k, stride, pad, false); // the direct paths, whatever -Ddino4j.conv.winograd says
        assertEquals(out, conv.out());
        assertEquals(in, conv.in());
        float[] y = chunkFloats == Conv2d.CHUNK_FLOATS ? conv.forward(x, h, w, relu) : conv.forward(x, h, w, relu, chunkFloats);
        assertTrue(java.util.Arrays.equals(x0, x), "forward must leave x alone");
        String what = "conv k" + k + " s" + stride + " p" + pad + " " + h + "x" + w + "x" + in + "->" + out + (bias ? " bias" : "")
                + (relu ? " relu" : "");
        assertEquals(conv.outSize(h) * conv.outSize(w) * out, y.length, what);
        assertWithin(conv(x, h, w, in, wt, b, out, k, stride, pad, relu), y, k * k * in + 18, 0, what);
    }

    /**
     * The Winograd F(2x2, 3x3) path (forced) against the definition: channels 32 to 70 (with vector tails), images smaller than a
     * tile, 1-wide and odd (tiles over every edge), paddings 0 to 2, bias and ReLU'd input, in one band and in many
     * small ones that start mid-row. Bound, to first order in u: V = Bᵀ d B is a sum of 4 ±d in 2 roundings (the twin:
     * 1), U = G g Gᵀ rounded once from double, each position's GEMM sums in products in a chain of at most in + 16
     * (any order, L ≤ 16 lanes), and Aᵀ M A + b adds 9 products' sums and the bias in 5 roundings: |error| ≤
     * γ(in + 24)·(|b| + |Aᵀ|(Σ_c (|Bᵀ||d||B|) ⊙ (|G||g||Gᵀ|))|A|), that abs sum computed here in double with the
     * transforms' absolute values (up to ~15 times the definition's Σ|x·w| on random inputs; the errors measured stay as
     * small as the direct paths', under 1 % of either bound at 64 to 256 channels).
     */
    @Test
    void winogradMatchesTheDefinition() {
        int cases = 0;
        for (int[] io : new int[][] {{32, 32}, {33, 40}, {47, 70}, {70, 33}})
            for (int pad = 0; pad <= 2; pad++)
                for (int[] hw : new int[][] {{1, 1}, {1, 6}, {5, 1}, {2, 2}, {7, 9}, {6, 11}}) {
                    int h = hw[0], w = hw[1];
                    if (h + 2 * pad < 3 || w + 2 * pad < 3) continue;
                    boolean bias = cases % 2 == 0, relu = cases % 3 != 1;
                    checkWinograd(h, w, io[0], io[1], pad, bias, relu, Conv2d.WINOGRAD_FLOATS);
                    cases++;
                }
        assertEquals(4 * (2 + 6 + 6), cases);
        // bands of at most 2, 3 and 5 tiles (fewer with many threads): starting and ending mid-row
        for (int per : new int[] {2, 3, 5}) checkWinograd(9, 13, 33, 40, 1, true, true, per * 16 * (33 + 40));
        // chosen where it pays: the DPT head's 256 -> 256, 256 -> 128 and neck convs, not its 128 -> 32
        for (int[] io : new int[][] {{256, 256}, {256, 128}, {48, 256}, {64, 64}, {128, 32}, {32, 32}, {17, 70}})
            assertEquals(io[0] * io[1] >= 32 * (io[0] + io[1]),
                    new Conv2d(new float[io[0] * io[1] * 9], null, io[1], io[0], 3, 1, 1).winograd(), io[0] + " -> " + io[1]);
        assertTrue(new Conv2d(new float[64 * 64 * 9], null, 64, 64, 3, 1, 0).winograd(), "padding 0 too");
        assertTrue(!new Conv2d(new float[64 * 64 * 9], null, 64, 64, 3, 2, 1).winograd(), "stride 2: not Winograd");
        assertTrue(!new Conv2d(new float[64 * 64], null, 64, 64, 1, 1, 0, true).winograd(), "1x1: not Winograd");
    }

    void checkWinograd(int h, int w, int in, int out, int pad, boolean bias, boolean relu, int chunkFloats) {
        float[] x = random(h * w * in, 1), wt = random(out * in * 9, 1 / Math.sqrt(in * 9)), b = bias ? random(out, 1) : null;
        Conv2d conv = new Conv2d(wt, b, out, in, 3, 1, pad, true);
        String what = "winograd p" + pad + " " + h + "x" + w + "x" + in + "->" + out + (bias ? " bias" : "") + (relu ? " relu" : "")
                + " chunk " + chunkFloats;
        assertTrue(conv.winograd(), what);
        float[] y = conv.forward(x, h, w, relu, chunkFloats);
        double[][] want = conv(x, h, w, in, wt, b, out, 3, 1, pad, relu);
        want[1] = winogradAbs(x, h, w, in, wt, b, out, pad, relu);
        assertWithin(want, y, in + 24, 0, what);
    }

    /** |b| + |Aᵀ|(Σ_c (|Bᵀ||d||B|) ⊙ (|G||g||Gᵀ|))|A| per output element, in double. */
    static double[] winogradAbs(float[] x, int h, int w, int in, float[] wt, float[] b, int out, int pad, boolean relu) {
        int oh = h + 2 * pad - 2, ow = w + 2 * pad - 2;
        double[] abs = new double[oh * ow * out], vAbs = new double[16 * in], uAbs = new double[16];
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                int y0 = oy / 2 * 2 - pad, x0 = ox / 2 * 2 - pad, i = oy % 2, j = ox % 2; // the tile and the pixel in it
                for (int c = 0; c < in; c++)
                    for (int a = 0; a < 4; a++)
                        for (int e = 0; e < 4; e++) {
                            double s = 0;
                            for (int r = 0; r < 4; r++)
                                for (int q = 0; q < 4; q++) {
                                    int iy = y0 + r, ix = x0 + q;
                                    double d = iy < 0 || iy >= h || ix < 0 || ix >= w ? 0 : x[(iy * w + ix) * in + c];
                                    s += Math.abs(Winograd.BT[a][r] * Winograd.BT[e][q] * (relu ? Math.max(d, 0) : d));
                                }
                            vAbs[(a * 4 + e) * in + c] = s;
                        }
                for (int o = 0; o < out; o++) {
                    double t = b == null ? 0 : Math.abs(b[o]);
                    for (int c = 0; c < in; c++) {
                        for (int a = 0; a < 4; a++)
                            for (int e = 0; e < 4; e++) {
                                double u = 0;
                                for (int r = 0; r < 3; r++)
                                    for (int q = 0; q < 3; q++)
                                        u += Math.abs(Winograd.G[a][r] * Winograd.G[e][q] * wt[((o * in + c) * 3 + r) * 3 + q]);
                                uAbs[a * 4 + e] = u;
                            }
                        for (int xi = 0; xi < 16; xi++)
                            t += Math.abs(Winograd.AT[i][xi / 4] * Winograd.AT[j][xi % 4]) * vAbs[xi * in + c] * uAbs[xi];
                    }
                    abs[(oy * ow + ox) * out + o] = t;
                }
            }
        return abs;
    }

    @Test
    void convTranspose2dMatchesTheDefinition() {
        for (int k : new int[] {1, 2, 4})
            for (int in : new int[] {1, 5, 17})
                for (int[] hw : new int[][] {{3, 5}, {1, 1}, {6, 2}})
                    for (boolean bias : new boolean[] {false, true}) {
                        int h = hw[0], w = hw[1], out = in == 17 ? 3 : 17;
                        float[] x = random(h * w * in, 1), wt = random(in * out * k * k, 1 / Math.sqrt(in)),
                                b = bias ? random(out, 1) : null;
                        float[] y = new ConvTranspose2d(wt, b, in, out, k).forward(x, h, w);
                        assertWithin(convTranspose(x, h, w, in, wt, b, out, k), y, in + 18, 0,
                                "convT k" + k + " " + h + "x" + w + "x" + in + "->" + out + (bias ? " bias" : ""));
                    }
    }

    @Test
    void badShapesAreOneLineErrors() {
        var e = assertThrows(IllegalArgumentException.class, () -> new Conv2d(new float[10], null, 2, 3, 3, 1, 1));
        assertTrue(e.getMessage().contains("2x3x3x3"), e.getMessage());
        Conv2d c = new Conv2d(new float[2 * 3 * 9], null, 2, 3, 3, 1, 0);
        e = assertThrows(IllegalArgumentException.class, () -> c.forward(new float[5], 2, 2, false));
        assertTrue(e.getMessage().contains("2x2x3"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> c.forward(new float[2 * 2 * 3], 2, 2, false));
        assertTrue(e.getMessage().contains("smaller"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new ConvTranspose2d(new float[8], new float[3], 2, 1, 2));
        assertTrue(e.getMessage().contains("bias"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Resize.bilinear(new float[4], 2, 2, 2, 3, 3, false));
        assertTrue(e.getMessage().contains("2x2x2"), e.getMessage());
    }
}
