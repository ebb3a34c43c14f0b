package org.dino4j.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The image-grid kernels ({@link GridOps}) against their scalar twins through {@link KernelOperations}, on awkward
 * shapes: channel counts below, at and past a vector with tails (1, 3, 17, 33), 1x1 and 1xN grids, up- and
 * down-sampling, both align_corners. im2col and ReLU only copy, so they must agree bit for bit; resize and the
 * convolution's tap sums within their float bounds.
 */
class GridOpsTest {
    final KernelOperations vector = Kernels.named("vector"), scalar = Kernels.named("scalar");
    final SplittableRandom rnd = new SplittableRandom(20);

    float[] random(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextGaussian();
        return a;
    }

    @Test
    void im2colAgreesBitForBit() {
        for (int c : new int[] {1, 3, 17, 33})
            for (int[] hw : new int[][] {{1, 1}, {1, 7}, {6, 1}, {5, 9}})
                for (int k : new int[] {1, 3, 4})
                    for (int stride : new int[] {1, 2})
                        for (int pad : new int[] {0, 1, 2})
                            for (boolean relu : new boolean[] {false, true}) {
                                int h = hw[0], w = hw[1];
                                if (h + 2 * pad < k || w + 2 * pad < k) continue;
                                int oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1, m = oh * ow;
                                float[] x = random(h * w * c);
                                x[0] = Float.NaN;
                                int p0 = m / 3, p1 = m; // a chunk that starts mid-image
                                float[][] cols = new float[2][];
                                KernelOperations[] both = {vector, scalar};
                                for (int v = 0; v < 2; v++) {
                                    cols[v] = random((p1 - p0) * k * k * c); // stale values must all be overwritten
                                    both[v].im2col(x, h, w, c, k, stride, pad, relu, p0, p1, cols[v]);
                                }
                                assertArrayEquals(cols[1], cols[0], "im2col " + h + "x" + w + "x" + c + " k" + k + " s" + stride
                                        + " p" + pad + (relu ? " relu" : ""));
                            }
    }

    @Test
    void reluPrologueAgreesBitForBit() {
        float[] x = random(45);
        x[3] = Float.NaN;
        x[4] = -0f;
        float[][] out = new float[2][x.length + 4];
        vector.reluPrologue().apply(0, 0, x, 1, out[0], 2, x.length - 1);
        scalar.reluPrologue().apply(0, 0, x, 1, out[1], 2, x.length - 1);
        assertArrayEquals(out[1], out[0]);
        assertEquals(Float.NaN, out[0][4]); // x[3]: torch.relu keeps NaN
        assertEquals(-0f, out[0][5]); // and -0
    }

    /**
     * The twin sums in double with exact products of the same float weights (λ, 1 − λ); the vector kernel rounds each
     * of the 4 weight products and then the product and 3 FMAs: at most 6 roundings on Σ w|x| ≤ max|x|
     * (plus the twin's final rounding, 1 more).
     */
    @Test
    void resizeBilinearAgreesWithTheTwin() {
        int cases = 0;
        for (int c : new int[] {1, 3, 17, 33})
            for (int[] in : new int[][] {{1, 1}, {1, 9}, {7, 1}, {6, 11}})
                for (int[] out : new int[][] {{1, 1}, {1, 13}, {5, 1}, {13, 25}, {3, 4}, {6, 11}})
                    for (boolean align : new boolean[] {false, true}) {
                        float[] x = random(in[0] * in[1] * c);
                        float max = 0;
                        for (float v : x) max = Math.max(max, Math.abs(v));
                        float[][] y = new float[2][];
                        KernelOperations[] both = {vector, scalar};
                        for (int v = 0; v < 2; v++) {
                            y[v] = new float[3 + out[0] * out[1] * c];
                            Arrays.fill(y[v], 7f);
                            float[] padded = new float[5 + x.length];
                            System.arraycopy(x, 0, padded, 5, x.length);
                            both[v].resizeBilinear(padded, 5, in[0], in[1], c, y[v], 3, out[0], out[1], align);
                        }
                        double[] tol = new double[y[0].length];
                        Arrays.fill(tol, FloatBounds.gamma(7) * max);
                        FloatBounds.assertWithin(y[1], y[0], tol, "resize " + in[0] + "x" + in[1] + "x" + c + " -> " + out[0]
                                + "x" + out[1] + (align ? " align" : ""));
                        assertEquals(7f, y[0][0], "the offset must be honoured");
                        cases++;
                    }
        assertEquals(4 * 4 * 6 * 2, cases);
    }

    /** Bias then each tap added in float: a chain of taps roundings on |bias| + Σ|p| (the twin's one more). */
    @Test
    void sumTapsAgreesWithTheTwin() {
        for (int n : new int[] {1, 3, 17, 33})
            for (int taps : new int[] {1, 2, 3})
                for (boolean withBias : new boolean[] {false, true}) {
                    int pixels = 5, pixelStride = taps * n + 2, tapStride = 7 * pixelStride + n, off = 3;
                    float[] p = random(off + (pixels - 1) * pixelStride + (taps - 1) * tapStride + n), bias = withBias ? random(n) : null;
                    float[][] y = new float[2][];
                    KernelOperations[] both = {vector, scalar};
                    for (int v = 0; v < 2; v++) {
                        y[v] = new float[1 + pixels * n];
                        both[v].sumTaps(p, off, pixelStride, tapStride, taps, bias, y[v], 1, pixels, n);
                    }
                    double[] tol = new double[y[0].length];
                    for (int x = 0; x < pixels; x++)
                        for (int j = 0; j < n; j++) {
                            double abs = bias == null ? 0 : Math.abs(bias[j]);
                            for (int t = 0; t < taps; t++) abs += Math.abs(p[off + x * pixelStride + t * tapStride + j]);
                            tol[1 + x * n + j] = FloatBounds.gamma(taps + 1) * abs;
                        }
                    FloatBounds.assertWithin(y[1], y[0], tol, "sumTaps n" + n + " taps" + taps + (withBias ? " bias" : ""));
                }
    }

    /**
     * Winograd's input transform on tiles [t0, t1) starting mid-row, over images smaller than a tile, 1-wide, odd, with
     * 0, 1 and 2 padding (tiles hanging over every edge): each V is a sum of 4 ±d, the vector kernel's 2 roundings and
     * the twin's 1 within γ(3) Σ|d| of each other. The rest of v is left alone.
     */
    @Test
    void winogradInputAgreesWithTheTwin() {
        int cases = 0;
        for (int c : new int[] {1, 3, 17, 33})
            for (int[] hw : new int[][] {{1, 1}, {1, 7}, {6, 1}, {5, 9}, {8, 8}})
                for (int pad = 0; pad <= 2; pad++)
                    for (boolean relu : new boolean[] {false, true}) {
                        int h = hw[0], w = hw[1], oh = h + 2 * pad - 2, ow = w + 2 * pad - 2;
                        if (oh < 1 || ow < 1) continue;
                        int tilesW = (ow + 1) / 2, tiles = (oh + 1) / 2 * tilesW, t0 = tiles / 3, t1 = tiles, xs = (t1 - t0) * c + 5;
                        float[] x = random(h * w * c);
                        float[][] v = new float[2][];
                        KernelOperations[] both = {vector, scalar};
                        for (int k = 0; k < 2; k++) {
                            v[k] = new float[16 * xs];
                            Arrays.fill(v[k], 7f);
                            both[k].winogradInput(x, h, w, c, pad, relu, tilesW, t0, t1, v[k], xs);
                        }
                        double[] tol = new double[v[0].length];
                        for (int t = t0; t < t1; t++)
                            for (int ch = 0; ch < c; ch++)
                                for (int a = 0; a < 4; a++)
                                    for (int b = 0; b < 4; b++) {
                                        double abs = 0;
                                        for (int i = 0; i < 4; i++)
                                            for (int j = 0; j < 4; j++) {
                                                int iy = t / tilesW * 2 - pad + i, ix = t % tilesW * 2 - pad + j;
                                                float e = iy < 0 || iy >= h || ix < 0 || ix >= w ? 0f : x[(iy * w + ix) * c + ch];
                                                abs += Math.abs(Winograd.BT[a][i] * Winograd.BT[b][j] * (relu ? Math.max(e, 0) : e));
                                            }
                                        tol[(a * 4 + b) * xs + (t - t0) * c + ch] = FloatBounds.gamma(3) * abs;
                                    }
                        FloatBounds.assertWithin(v[1], v[0], tol, "winogradInput " + h + "x" + w + "x" + c + " p" + pad
                                + (relu ? " relu" : ""));
                        cases++;
                    }
        assertEquals(4 * 2 * (5 * 3 - 3), cases); // 1x1, 1x7 and 6x1 unpadded have no outputs
    }

    /**
     * Winograd's output transform: bias + 9 M terms in 5 roundings (the twin 1), within γ(6) (|b| + Σ|M|) of each other;
     * pixels past the edge (odd sizes) and of tiles outside [t0, t1) left alone.
     */
    @Test
    void winogradOutputAgreesWithTheTwin() {
        for (int n : new int[] {1, 3, 17, 33})
            for (int[] hw : new int[][] {{1, 1}, {1, 7}, {6, 1}, {5, 9}, {8, 8}})
                for (boolean withBias : new boolean[] {false, true}) {
                    int oh = hw[0], ow = hw[1], tilesW = (ow + 1) / 2, tiles = (oh + 1) / 2 * tilesW;
                    int t0 = tiles / 3, t1 = Math.max(t0 + 1, tiles - 1), xs = (t1 - t0) * n + 3;
                    float[] m = random(16 * xs), bias = withBias ? random(n) : null;
                    float[][] y = new float[2][];
                    KernelOperations[] both = {vector, scalar};
                    for (int k = 0; k < 2; k++) {
                        y[k] = new float[oh * ow * n];
                        Arrays.fill(y[k], 7f);
                        both[k].winogradOutput(m, xs, tilesW, t0, t1, bias, y[k], oh, ow, n);
                    }
                    double[] tol = new double[y[0].length];
                    for (int t = t0; t < t1; t++)
                        for (int o = 0; o < n; o++)
                            for (int i = 0; i < 2; i++)
                                for (int j = 0; j < 2; j++) {
                                    int oy = t / tilesW * 2 + i, ox = t % tilesW * 2 + j;
                                    if (oy >= oh || ox >= ow) continue;
                                    double abs = bias == null ? 0 : Math.abs(bias[o]);
                                    for (int a = 0; a < 4; a++)
                                        for (int b = 0; b < 4; b++)
                                            abs += Math.abs(Winograd.AT[i][a] * Winograd.AT[j][b] * m[(a * 4 + b) * xs + (t - t0) * n + o]);
                                    tol[(oy * ow + ox) * n + o] = FloatBounds.gamma(6) * abs;
                                }
                    FloatBounds.assertWithin(y[1], y[0], tol, "winogradOutput " + oh + "x" + ow + "x" + n + (withBias ? " bias" : ""));
                    if (t0 > 0) assertEquals(7f, y[0][0], "a tile outside [t0, t1) must be left alone");
                }
    }

    /** The taps of a few hand-worked cases (ATen's recipe): 2 -> 4 without and with align_corners, 4 -> 2, 3 -> 1. */
    @Test
    void bilinearTapsByHand() {
        float[] x = {0, 10}; // 1x2x1: the output is 10·(x-position)
        float[] y = new float[4];
        vector.resizeBilinear(x, 0, 1, 2, 1, y, 0, 1, 4, false); // src = (d + 0.5)/2 − 0.5 = −0.25→0, 0.25, 0.75, 1.25→clamped tap
        assertArrayEquals(new float[] {0, 2.5f, 7.5f, 10}, y);
        vector.resizeBilinear(x, 0, 1, 2, 1, y, 0, 1, 4, true); // src = d/3
        assertArrayEquals(new float[] {0, 10f / 3, 20f / 3, 10}, y, 1e-6f);
        float[] z = {0, 10, 20, 30}, t = new float[2];
        vector.resizeBilinear(z, 0, 1, 4, 1, t, 0, 1, 2, false); // src = 0.5, 2.5
        assertArrayEquals(new float[] {5, 25}, t);
        vector.resizeBilinear(z, 0, 1, 4, 1, t, 0, 1, 2, true); // src = 0, 3
        assertArrayEquals(new float[] {0, 30}, t);
        float[] one = new float[1];
        vector.resizeBilinear(z, 0, 1, 3, 1, one, 0, 1, 1, true); // align_corners with one output: the first pixel
        assertArrayEquals(new float[] {0}, one);
        vector.resizeBilinear(z, 0, 1, 3, 1, one, 0, 1, 1, false); // src = 1.5·0.5 − 0.5... = 1: the middle one
        assertArrayEquals(new float[] {10}, one);
    }
}
