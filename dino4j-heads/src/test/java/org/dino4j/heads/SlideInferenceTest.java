package org.dino4j.heads;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.dino4j.heads.SlideInference.Aug;
import org.dino4j.heads.SlideInference.Encoder;
import org.dino4j.heads.SlideInference.GridLogits;
import org.dino4j.heads.SlideInference.Window;
import org.dino4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The strip-by-strip inference against a plain reading of mmseg 0.x's {@code EncoderDecoder} (whole_inference,
 * slide_inference, inference, aug_test) written here with whole arrays in double, on a hand-made encoder: each crop is
 * centre-padded to a multiple of 14 and every 14×14 cell's logits are a fixed linear map of its mean colour plus a term
 * that depends on the cell's place, so that crops disagree where they overlap.
 */
class SlideInferenceTest {
    static final int K = 5, P = 14;
    static final double[][] M = new double[K][3];

    static {
        SplittableRandom r = new SplittableRandom(7);
        for (double[] row : M) for (int c = 0; c < 3; c++) row[c] = r.nextDouble(-2, 2);
    }

    /** The hand-made encoder: padded crop → (gh, gw, K) logits. */
    static final Encoder ENC = crop -> {
        Tensor p = Grids.centerPad(crop, P);
        int h = p.size(2), w = p.size(3), gh = h / P, gw = w / P;
        float[] out = new float[gh * gw * K];
        for (int gy = 0; gy < gh; gy++)
            for (int gx = 0; gx < gw; gx++) {
                double[] mean = new double[3];
                for (int c = 0; c < 3; c++) {
                    for (int y = 0; y < P; y++)
                        for (int x = 0; x < P; x++) mean[c] += p.data()[(c * h + gy * P + y) * w + gx * P + x];
                    mean[c] /= P * P;
                }
                for (int k = 0; k < K; k++) {
                    double v = 0.3 * k * (gy - gx) / (gh + gw);
                    for (int c = 0; c < 3; c++) v += M[k][c] * mean[c];
                    out[(gy * gw + gx) * K + k] = (float) v;
                }
            }
        return new GridLogits(gh, gw, out);
    };

    static Tensor image(int h, int w, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[3 * h * w];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) v[(c * h + y) * w + x] = (float) (Math.sin(0.21 * x + c) + Math.cos(0.17 * y * (c + 1)) + 0.3 * r.nextDouble());
        return new Tensor(v, 1, 3, h, w);
    }

    // ------------------------------------------------------------ the reference: mmseg 0.x, whole arrays, double
    /** F.interpolate(bilinear, align_corners=False) of (K, h, w) to (K, oh, ow). */
    static double[][][] resize(double[][][] x, int oh, int ow) {
        int h = x[0].length, w = x[0][0].length;
        double[][][] out = new double[x.length][oh][ow];
        for (int y = 0; y < oh; y++) {
            double sy = Math.max((y + 0.5) * h / oh - 0.5, 0);
            int y0 = Math.min((int) sy, h - 1), y1 = Math.min(y0 + 1, h - 1);
            double ly = sy - y0;
            for (int xx = 0; xx < ow; xx++) {
                double sx = Math.max((xx + 0.5) * w / ow - 0.5, 0);
                int x0 = Math.min((int) sx, w - 1), x1 = Math.min(x0 + 1, w - 1);
                double lx = sx - x0;
                for (int k = 0; k < x.length; k++)
                    out[k][y][xx] = (1 - ly) * ((1 - lx) * x[k][y0][x0] + lx * x[k][y0][x1]) + ly * ((1 - lx) * x[k][y1][x0] + lx * x[k][y1][x1]);
            }
        }
        return out;
    }

    static Tensor crop(Tensor img, int y1, int x1, int y2, int x2) {
        int h = img.size(2), w = img.size(3), ch = y2 - y1, cw = x2 - x1;
        float[] out = new float[3 * ch * cw];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < ch; y++)
                for (int x = 0; x < cw; x++) out[(c * ch + y) * cw + x] = img.data()[(c * h + y1 + y) * w + x1 + x];
        return new Tensor(out, 1, 3, ch, cw);
    }

    /** encode_decode: the encoder's grid resized to the crop. */
    static double[][][] encodeDecode(Tensor crop) {
        GridLogits g = ENC.encode(crop);
        double[][][] grid = new double[K][g.gh()][g.gw()];
        for (int y = 0; y < g.gh(); y++)
            for (int x = 0; x < g.gw(); x++)
                for (int k = 0; k < K; k++) grid[k][y][x] = g.logits()[(y * g.gw() + x) * K + k];
        return resize(grid, crop.size(2), crop.size(3));
    }

    static double[][][] slideInference(Tensor img, Window win) {
        int h = img.size(2), w = img.size(3);
        if (win.whole()) return encodeDecode(img);
        int hGrids = Math.max(h - win.cropH() + win.strideH() - 1, 0) / win.strideH() + 1;
        int wGrids = Math.max(w - win.cropW() + win.strideW() - 1, 0) / win.strideW() + 1;
        double[][][] preds = new double[K][h][w];
        int[][] count = new int[h][w];
        for (int hi = 0; hi < hGrids; hi++)
            for (int wi = 0; wi < wGrids; wi++) {
                int y1 = hi * win.strideH(), x1 = wi * win.strideW();
                int y2 = Math.min(y1 + win.cropH(), h), x2 = Math.min(x1 + win.cropW(), w);
                y1 = Math.max(y2 - win.cropH(), 0);
                x1 = Math.max(x2 - win.cropW(), 0);
                double[][][] seg = encodeDecode(crop(img, y1, x1, y2, x2));
                for (int k = 0; k < K; k++)
                    for (int y = y1; y < y2; y++)
                        for (int x = x1; x < x2; x++) preds[k][y][x] += seg[k][y - y1][x - x1];
                for (int y = y1; y < y2; y++) for (int x = x1; x < x2; x++) count[y][x]++;
            }
        for (int k = 0; k < K; k++) for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) preds[k][y][x] /= count[y][x];
        return preds;
    }

    /** aug_test: mean over the augmentations of flip-back(softmax(resize(slide or whole, ori))). */
    static double[][][] augTest(int oh, int ow, List<Aug> augs, Window win) {
        double[][][] acc = new double[K][oh][ow];
        for (Aug a : augs) {
            double[][][] s = resize(slideInference(a.pixels(), win), oh, ow);
            for (int y = 0; y < oh; y++)
                for (int x = 0; x < ow; x++) {
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int k = 0; k < K; k++) max = Math.max(max, s[k][y][x]);
                    for (int k = 0; k < K; k++) sum += Math.exp(s[k][y][x] - max);
                    int tx = a.flip() ? ow - 1 - x : x;
                    for (int k = 0; k < K; k++) acc[k][y][tx] += Math.exp(s[k][y][x] - max) / sum / augs.size();
                }
        }
        return acc;
    }

    static void check(int oh, int ow, List<Aug> augs, Window win) {
        double[][][] want = augTest(oh, ow, augs, win);
        float[] got = new float[oh * ow * K];
        SlideInference.run(oh, ow, K, augs, win, ENC, (y0, y1, p) -> System.arraycopy(p, 0, got, y0 * ow * K, (y1 - y0) * ow * K));
        double worst = 0;
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++)
                for (int k = 0; k < K; k++) worst = Math.max(worst, Math.abs(got[(y * ow + x) * K + k] - want[k][y][x]));
        assertEquals(0, worst, 2e-6, "worst probability error");
    }

    static List<Aug> augs(Tensor... images) {
        List<Aug> out = new ArrayList<>();
        for (Tensor t : images) {
            out.add(new Aug(t, false));
            out.add(new Aug(Segmenter.flip(t), true));
        }
        return out;
    }

    @Test
    void wholeImageOneScaleMatchesMmseg() {
        check(40, 57, List.of(new Aug(image(40, 57, 1), false)), Window.WHOLE);
    }

    @Test
    void slidingWindowsOverlapAndClipAtTheBorders() {
        // 40 x 57 with 28 x 28 windows every 20: 2 x 3 windows, the last ones pulled back inside the image
        check(40, 57, List.of(new Aug(image(40, 57, 2), false)), new Window(28, 28, 20, 20));
        // an image lower than the window: one row of windows of the image's own height
        check(20, 61, List.of(new Aug(image(20, 61, 3), false)), new Window(28, 28, 20, 20));
    }

    @Test
    void multiScaleAndFlipAverageTheProbabilities() {
        // as MultiScaleFlipAug feeds it: each scale and its mirror image, all brought back to the original 40 x 57
        check(40, 57, augs(image(40, 57, 4), image(53, 75, 5), image(30, 43, 6)), new Window(28, 28, 20, 20));
        check(40, 57, augs(image(40, 57, 4), image(53, 75, 5)), Window.WHOLE);
    }

    @Test
    void manyStripsGiveTheSameAnswerAsOne() {
        // 8 MB strips: a 600-wide, 5-class map needs 700 rows per strip; 2,000 rows exercise three strips and their seams
        check(2000, 600, List.of(new Aug(image(60, 40, 8), false)), Window.WHOLE);
    }

    @Test
    void onePassWithoutSoftmaxHasTheSameArgmax() {
        List<Aug> one = List.of(new Aug(image(40, 57, 9), false));
        Window win = new Window(28, 28, 20, 20);
        float[] prob = new float[40 * 57 * K], logit = new float[40 * 57 * K];
        SlideInference.run(40, 57, K, one, win, ENC, true, (y0, y1, p) -> System.arraycopy(p, 0, prob, y0 * 57 * K, (y1 - y0) * 57 * K));
        SlideInference.run(40, 57, K, one, win, ENC, false, (y0, y1, p) -> System.arraycopy(p, 0, logit, y0 * 57 * K, (y1 - y0) * 57 * K));
        int differ = 0;
        for (int q = 0; q < 40 * 57; q++) {
            int a = 0, b = 0;
            for (int k = 1; k < K; k++) {
                if (prob[q * K + k] > prob[q * K + a]) a = k;
                if (logit[q * K + k] > logit[q * K + b]) b = k;
            }
            if (a != b) differ++;
        }
        assertEquals(0, differ);
        assertEquals(false, java.util.Arrays.equals(prob, logit)); // the fast path really skipped the softmax
    }

    @Test
    void imrescaleSizesAsMmcv() {
        Segmenter.TestConfig ms = new Segmenter.TestConfig(99999999, 640, new double[] {1.0}, true, 640, 320);
        assertArrayEquals(new int[] {853, 640}, ms.size(500, 375, 1.0));
        assertArrayEquals(new int[] {1125, 844}, ms.size(500, 375, 1.32)); // scale (int(99999999·1.32), int(640·1.32)) = (.., 844)
        Segmenter.TestConfig ade = new Segmenter.TestConfig(2048, 512, new double[] {1.0}, false, 0, 0);
        assertArrayEquals(new int[] {683, 512}, ade.size(500, 375, 1.0));
        assertArrayEquals(new int[] {2048, 410}, ade.size(5000, 1000, 1.0)); // the long side binds
    }
}
