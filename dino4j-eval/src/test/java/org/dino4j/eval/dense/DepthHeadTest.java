package org.dino4j.eval.dense;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

import org.dino4j.eval.dense.SegmentationHeadTest.Scene;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;
import org.dino4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DepthHeadTest {
    static final int S = SegmentationHeadTest.S;

    static List<DepthHead.Sample> samples(List<Scene> sc, List<FeatureMap> f) {
        List<DepthHead.Sample> out = new ArrayList<>();
        for (int i = 0; i < sc.size(); i++) out.add(new DepthHead.Sample(f.get(i), sc.get(i).depth(), S, S));
        return out;
    }

    static TrainConfig quick(int iters, double lr) {
        return new TrainConfig(TrainConfig.Optimizer.ADAMW, lr, 1e-4, 0.9, 0.999, 0, TrainConfig.Schedule.POLY, iters / 10,
                1e-6, iters, 8, 35, 3);
    }

    /** Metrics of predicting the training set's mean valid depth everywhere. */
    static DepthHead.Metrics constantBaseline(List<DepthHead.Sample> train, List<DepthHead.Sample> test, DepthHead.Options o) {
        double s = 0;
        long n = 0;
        for (var t : train) for (float d : t.depth()) if (d > 0) { s += d; n++; }
        float mean = (float) (s / n);
        List<float[]> preds = new ArrayList<>(), gts = new ArrayList<>();
        List<int[]> sizes = new ArrayList<>();
        for (var t : test) {
            float[] p = new float[t.depth().length];
            java.util.Arrays.fill(p, mean);
            preds.add(p);
            gts.add(t.depth());
            sizes.add(new int[] {t.height(), t.width()});
        }
        return DepthHead.metrics(preds, gts, sizes, o.minDepth(), o.maxDepth(), false);
    }

    @Test
    void gradientsMatchFiniteDifferences() {
        for (boolean bn : new boolean[] {false, true}) {
            SplittableRandom r = new SplittableRandom(7);
            int c = 3, layers = 2;
            List<DepthHead.Sample> batch = new ArrayList<>();
            for (int[] hw : new int[][] {{3, 2, 9, 7}, {2, 3, 5, 8}}) {
                float[] f = new float[hw[0] * hw[1] * layers * c], cls = new float[layers * c];
                for (int i = 0; i < f.length; i++) f[i] = (float) (r.nextGaussian() + 0.5);
                for (int i = 0; i < cls.length; i++) cls[i] = (float) r.nextGaussian();
                float[] gt = new float[hw[2] * hw[3]];
                for (int i = 0; i < gt.length; i++) gt[i] = r.nextDouble() < 0.15 ? 0f : (float) (0.5 + 6 * r.nextDouble());
                batch.add(new DepthHead.Sample(new FeatureMap(hw[0], hw[1], layers, c, f, cls), gt, hw[2], hw[3]));
            }
            // few bins and a 5 m SigLoss cap (pixels above it are invalid); the relu is kept away from its kink, where
            // finite differences mean nothing: bin 0 is always off (its gradient must be 0), the others always on
            DepthHead head = DepthHead.create(2 * layers * c, new DepthHead.Options(6, 0.001, 10, 2, bn, 10, 5.0), 2);
            float[] b = head.core().b.v;
            for (int j = 0; j < b.length; j++) b[j] = j == 0 ? -40f : 4f + (float) r.nextGaussian();
            head.lossAndGrad(batch, BnLinear.Mode.TRAIN_FROZEN_STATS);
            SegmentationHeadTest.checkGradients(head.core(), () -> head.lossAndGrad(batch, BnLinear.Mode.TRAIN_FROZEN_STATS), 1e-2, r);
            head.lossAndGrad(batch, BnLinear.Mode.TRAIN_FROZEN_STATS);
            for (int i = 0; i < 2 * layers * c; i++) assertEquals(0f, head.core().w.g[i], "bin 0 is off everywhere");
            assertEquals(0f, head.core().b.g[0]);
        }
    }

    @Test
    void sigLossIsTheOfficialFormula() {
        // a head whose logits are all 0 predicts the mean bin everywhere: (0.001 + 10) / 2
        DepthHead head = DepthHead.create(2, DepthHead.Options.nyu(), 0);
        java.util.Arrays.fill(head.core().w.v, 0f);
        java.util.Arrays.fill(head.core().b.v, 0f);
        float[] gt = {1f, 2f, 0f, 4f}; // 0 = invalid
        var s = new DepthHead.Sample(new FeatureMap(1, 1, 1, 2, new float[2], null), gt, 2, 2);
        double loss = head.lossAndGrad(List.of(s), BnLinear.Mode.TRAIN);
        double pred = (0.001 + 10) / 2;
        double[] g = {Math.log(pred + 1e-3) - Math.log(1 + 1e-3), Math.log(pred + 1e-3) - Math.log(2 + 1e-3), Math.log(pred + 1e-3) - Math.log(4 + 1e-3)};
        double m = (g[0] + g[1] + g[2]) / 3, var = 0;
        for (double v : g) var += (v - m) * (v - m);
        var /= 2; // torch.var is unbiased
        assertEquals(10 * Math.sqrt(var + 0.15 * m * m), loss, 1e-4);
        float[] p = head.predict(s.features(), 2, 2);
        for (float v : p) assertEquals(pred, v, 1e-4);
    }

    @Test
    void metricsAreTheToolboxs() {
        float[] gt = {1, 2, 4, 0, 20}, pred = {1.1f, 1.5f, 4, 3, 3}; // 0 and 20 (> max depth 10) are not evaluated
        var m = DepthHead.metrics(List.of(pred, new float[] {1}), List.of(gt, new float[] {0}), List.of(new int[] {1, 5}, new int[] {1, 1}), 1e-3, 10, false);
        assertEquals(1, m.images()); // the image without valid pixels is dropped (nanmean)
        assertEquals(Math.sqrt((0.01 + 0.25 + 0) / 3), m.rmse(), 1e-6);
        assertEquals((0.1 / 1 + 0.5 / 2 + 0) / 3, m.absRel(), 1e-6);
        assertEquals(2.0 / 3, m.a1(), 1e-9); // 1.1 and 4 within 1.25x; 2 vs 1.5 is 1.33x
        assertEquals(1.0, m.a2(), 1e-9);
        assertThrows(IllegalArgumentException.class,
                () -> DepthHead.metrics(List.of(pred), List.of(gt), List.of(new int[] {1, 5}), 1e-3, 10, true));
    }

    /**
     * The best any patch-grid prediction can do here, roughly: each patch's mean ground truth, resized bilinearly (the
     * shapes' edges cut through patches, which no per-patch readout can follow).
     */
    static DepthHead.Metrics patchOracle(List<DepthHead.Sample> test, DepthHead.Options o) {
        int g = SegmentationHeadTest.G, p = SegmentationHeadTest.P;
        List<float[]> preds = new ArrayList<>(), gts = new ArrayList<>();
        List<int[]> sizes = new ArrayList<>();
        for (var t : test) {
            float[] grid = new float[g * g];
            for (int gy = 0; gy < g; gy++)
                for (int gx = 0; gx < g; gx++) {
                    double s = 0;
                    int n = 0;
                    for (int y = gy * p; y < gy * p + p; y++)
                        for (int x = gx * p; x < gx * p + p; x++)
                            if (t.depth()[y * S + x] > 0) { s += t.depth()[y * S + x]; n++; }
                    grid[gy * g + gx] = n == 0 ? 2f : (float) (s / n);
                }
            preds.add(new Bilinear(g, g, S, S).forward(grid, 1));
            gts.add(t.depth());
            sizes.add(new int[] {S, S});
        }
        return DepthHead.metrics(preds, gts, sizes, o.minDepth(), o.maxDepth(), false);
    }

    /** BN off is the official head (its BatchNorm is commented out); 256 UD bins over [0.001, 10], x4 upsampling. */
    @ParameterizedTest(name = "batchNorm = {0}")
    @ValueSource(booleans = {false, true})
    void learnsADepthRampWithShapesFromPixelPatchFeatures(boolean bn) {
        List<Scene> train = SegmentationHeadTest.scenes(64, 5), test = SegmentationHeadTest.scenes(24, 6);
        var tr = samples(train, train.stream().map(s -> SegmentationHeadTest.pixelFeatures(s.image())).toList());
        var te = samples(test, test.stream().map(s -> SegmentationHeadTest.pixelFeatures(s.image())).toList());
        var base = constantBaseline(tr, te, DepthHead.Options.nyu());
        var floor = patchOracle(te, DepthHead.Options.nyu());
        DepthHead head = DepthHead.train(tr, DepthHead.Options.nyu().withBatchNorm(bn), quick(300, 1e-1));
        var m = head.evaluate(te, false);
        System.out.printf(Locale.ROOT, "depth, pixel-patch features, BN %s: RMSE %.3f m, abs rel %.3f, d1 %.3f; constant baseline: RMSE %.3f, abs rel %.3f, d1 %.3f; per-patch ground-truth mean: RMSE %.3f, abs rel %.3f, d1 %.3f%n",
                bn, m.rmse(), m.absRel(), m.a1(), base.rmse(), base.absRel(), base.a1(), floor.rmse(), floor.absRel(), floor.a1());
        assertTrue(m.rmse() < 0.5 * base.rmse(), "RMSE " + m.rmse() + " vs baseline " + base.rmse());
        assertTrue(m.absRel() < 0.35 * base.absRel(), "abs rel " + m.absRel() + " vs baseline " + base.absRel());
        assertTrue(m.a1() > 0.83, "d1 " + m.a1());
    }

    @Test
    void learnsFromRandomVitTokensWithClsConcatenated() {
        List<Scene> train = SegmentationHeadTest.scenes(64, 7), test = SegmentationHeadTest.scenes(24, 8);
        try (DinoVisionTransformer model = Dinov2.random(SegmentationHeadTest.tinyVit(), 13)) {
            Tensor trPx = SegmentationHeadTest.pixels(train), tePx = SegmentationHeadTest.pixels(test);
            int[] blocks = FeatureMap.depthBlocks(model.depth(), 4);
            assertArrayEquals(new int[] {0, 1, 2, 3}, blocks);
            assertArrayEquals(new int[] {4, 11, 17, 23}, FeatureMap.depthBlocks(24, 4));
            List<FeatureMap> trF = FeatureMap.depth(model, trPx, blocks), teF = FeatureMap.depth(model, tePx, blocks);
            assertEquals(2 * 4 * 32, trF.get(0).channels());
            // the per-pixel input interleaves each layer's patch token and CLS token: cat(p_1, cls_1, ..., p_4, cls_4)
            float[] row = new float[trF.get(0).channels()];
            trF.get(0).row(5, row, 0);
            assertEquals(trF.get(0).patch()[5 * 128 + 32 + 3], row[64 + 3]);
            assertEquals(trF.get(0).cls()[32 + 3], row[96 + 3]);
            DepthHead.Options o = DepthHead.Options.nyu();
            var tr = samples(train, trF);
            var te = samples(test, teF);
            DepthHead head = DepthHead.train(tr, o, quick(200, 1e-1));
            var m = head.evaluate(te, false);
            var base = constantBaseline(tr, te, o);
            System.out.printf(Locale.ROOT, "depth, random tiny ViT, 4 layers + CLS: RMSE %.3f m, abs rel %.3f, d1 %.3f; constant baseline: RMSE %.3f, abs rel %.3f, d1 %.3f%n",
                    m.rmse(), m.absRel(), m.a1(), base.rmse(), base.absRel(), base.a1());
            assertTrue(m.rmse() < 0.75 * base.rmse(), "RMSE " + m.rmse() + " vs baseline " + base.rmse());
            assertTrue(m.absRel() < 0.65 * base.absRel(), "abs rel " + m.absRel() + " vs baseline " + base.absRel());
        }
    }
}
