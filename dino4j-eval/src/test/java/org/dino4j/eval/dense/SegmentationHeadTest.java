package org.dino4j.eval.dense;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

import org.dino4j.data.Preprocess;
import org.dino4j.data.RgbImage;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;
import org.dino4j.model.ModelConfig;
import org.dino4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

class SegmentationHeadTest {
    static final int S = 32, P = 4, G = S / P;

    /** A synthetic scene: a noisy grey background and a red disc, a blue square, a green triangle at random places. */
    record Scene(RgbImage image, int[] labels, float[] depth) {}

    static final int[][] COLOURS = {{128, 128, 128}, {200, 30, 30}, {30, 30, 200}, {30, 180, 30}};
    /** Depth of each class; the background (0) is a ramp instead. */
    static final float[] DEPTHS = {Float.NaN, 0.8f, 4.0f, 2.5f};

    static Scene scene(SplittableRandom r) {
        int[] cls = new int[S * S];
        int sq = 8 + r.nextInt(5), sx = r.nextInt(S - sq), sy = r.nextInt(S - sq);
        double rad = 4 + 3 * r.nextDouble(), cx = rad + r.nextDouble() * (S - 2 * rad), cy = rad + r.nextDouble() * (S - 2 * rad);
        int tb = 10 + r.nextInt(5), tx = r.nextInt(S - tb), ty = r.nextInt(S - tb);
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                int c = 0;
                if (x >= sx && x < sx + sq && y >= sy && y < sy + sq) c = 2;
                if ((x + 0.5 - cx) * (x + 0.5 - cx) + (y + 0.5 - cy) * (y + 0.5 - cy) <= rad * rad) c = 1;
                if (y >= ty && y < ty + tb && Math.abs(x - (tx + tb / 2.0)) <= (y - ty) / 2.0) c = 3; // apex on top
                cls[y * S + x] = c;
            }
        byte[] rgb = new byte[S * S * 3];
        int[] labels = new int[S * S];
        float[] depth = new float[S * S];
        for (int p = 0; p < S * S; p++) {
            for (int k = 0; k < 3; k++) rgb[3 * p + k] = (byte) Math.clamp(COLOURS[cls[p]][k] + r.nextInt(21) - 10, 0, 255);
            labels[p] = r.nextDouble() < 0.03 ? SegmentationHead.IGNORE_INDEX : cls[p];
            int y = p / S;
            depth[p] = r.nextDouble() < 0.05 ? 0f : cls[p] == 0 ? 1f + 2f * y / (S - 1) : DEPTHS[cls[p]];
        }
        return new Scene(new RgbImage(S, S, rgb), labels, depth);
    }

    static List<Scene> scenes(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Scene> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(scene(r));
        return out;
    }

    /** Raw-pixel patch features: each 4x4 patch's mean colour (/255) and its centre (x, y) in [0, 1]. */
    static FeatureMap pixelFeatures(RgbImage im) {
        int d = 5;
        float[] f = new float[G * G * d];
        for (int gy = 0; gy < G; gy++)
            for (int gx = 0; gx < G; gx++) {
                int o = (gy * G + gx) * d;
                for (int y = gy * P; y < gy * P + P; y++)
                    for (int x = gx * P; x < gx * P + P; x++)
                        for (int k = 0; k < 3; k++) f[o + k] += im.get(x, y, k) / 255f / (P * P);
                f[o + 3] = (gx + 0.5f) / G;
                f[o + 4] = (gy + 0.5f) / G;
            }
        return new FeatureMap(G, G, 1, d, f, null);
    }

    static Tensor pixels(List<Scene> sc) {
        Preprocess norm = new Preprocess(0, 0, 0);
        float[] px = new float[sc.size() * 3 * S * S];
        for (int i = 0; i < sc.size(); i++) System.arraycopy(norm.chw(sc.get(i).image()), 0, px, i * 3 * S * S, 3 * S * S);
        return new Tensor(px, sc.size(), 3, S, S);
    }

    static ModelConfig tinyVit() {
        return ModelConfig.fromJson("{\"img_size\":32,\"patch_size\":4,\"embed_dim\":32,\"depth\":4,\"num_heads\":2,\"init_values\":1.0}");
    }

    static List<SegmentationHead.Sample> samples(List<Scene> sc, List<FeatureMap> f) {
        List<SegmentationHead.Sample> out = new ArrayList<>();
        for (int i = 0; i < sc.size(); i++) out.add(new SegmentationHead.Sample(f.get(i), sc.get(i).labels(), S, S));
        return out;
    }

    static TrainConfig quick(int iters, double lr) {
        return new TrainConfig(TrainConfig.Optimizer.ADAMW, lr, 1e-4, 0.9, 0.999, 0, TrainConfig.Schedule.POLY, iters / 10,
                1e-6, iters, 8, 0, 3);
    }

    /** mIoU of predicting the most frequent class everywhere, and of uniformly random predictions. */
    static double[] chance(List<SegmentationHead.Sample> test, int k) {
        long[] count = new long[k];
        for (var s : test) for (int l : s.labels()) if (l != SegmentationHead.IGNORE_INDEX) count[l]++;
        int major = 0;
        for (int c = 1; c < k; c++) if (count[c] > count[major]) major = c;
        SegmentationHead.IoU maj = new SegmentationHead.IoU(k), uni = new SegmentationHead.IoU(k);
        SplittableRandom r = new SplittableRandom(9);
        for (var s : test) {
            int[] a = new int[s.labels().length], b = new int[a.length];
            java.util.Arrays.fill(a, major);
            for (int i = 0; i < b.length; i++) b[i] = r.nextInt(k);
            maj.add(a, s.labels());
            uni.add(b, s.labels());
        }
        return new double[] {maj.metrics().mIoU(), uni.metrics().mIoU()};
    }

    @Test
    void bilinearIsTorchsAlignCornersFalse() {
        // F.interpolate(torch.tensor([[[[1., 2.], [3., 4.]]]]), size=(4, 4), mode="bilinear", align_corners=False)
        float[] up = new Bilinear(2, 2, 4, 4).forward(new float[] {1, 2, 3, 4}, 1);
        assertArrayEquals(new float[] {1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4}, up, 1e-6f);
        // 4 -> 2 reads the midpoints of pairs (sources 0.5 and 2.5); two channels, channels-last
        float[] down = new Bilinear(1, 4, 1, 2).forward(new float[] {0, 1, 2, 3, 10, 11, 12, 13}, 2);
        assertArrayEquals(new float[] {1, 2, 11, 12}, down, 1e-6f);
        // the adjoint: <A x, y> = <x, A^T y> for an odd ratio, several channels
        SplittableRandom r = new SplittableRandom(1);
        Bilinear b = new Bilinear(5, 7, 13, 4);
        float[] x = new float[5 * 7 * 3], y = new float[13 * 4 * 3], aty = new float[x.length];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        for (int i = 0; i < y.length; i++) y[i] = (float) r.nextGaussian();
        float[] ax = b.forward(x, 3);
        b.backward(y, 0, 3, aty, 0);
        double l = 0, rr = 0;
        for (int i = 0; i < y.length; i++) l += ax[i] * y[i];
        for (int i = 0; i < x.length; i++) rr += x[i] * aty[i];
        assertEquals(l, rr, 1e-4 * Math.max(1, Math.abs(l)));
    }

    @Test
    void iouIsMmsegs() {
        var acc = new SegmentationHead.IoU(4);
        // class 0: inter 2, pred 3, label 3 -> 2/4; class 1: inter 1, pred 2, label 1 -> 1/2; class 2: pred 0 label 1 -> 0;
        // class 3: never predicted nor present -> NaN, left out of the mean; the 255 pixel is skipped whatever its prediction
        acc.add(new int[] {0, 0, 0, 1, 1, 3}, new int[] {0, 0, 2, 1, 0, 255});
        var m = acc.metrics();
        assertEquals(0.5, m.iou()[0], 1e-12);
        assertEquals(0.5, m.iou()[1], 1e-12);
        assertEquals(0.0, m.iou()[2], 1e-12);
        assertTrue(Double.isNaN(m.iou()[3]));
        assertEquals(1.0 / 3, m.mIoU(), 1e-12);
        assertEquals(3.0 / 5, m.aAcc(), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> acc.add(new int[] {0}, new int[] {7}));
    }

    /** Central differences of the batch loss against the analytic gradients of W, b, gamma and beta. */
    @Test
    void gradientsMatchFiniteDifferences() {
        SplittableRandom r = new SplittableRandom(5);
        int c = 6, k = 4;
        List<SegmentationHead.Sample> batch = new ArrayList<>();
        for (int[] hw : new int[][] {{3, 4, 7, 9}, {2, 5, 5, 11}}) {
            float[] f = new float[hw[0] * hw[1] * c];
            for (int i = 0; i < f.length; i++) f[i] = (float) (r.nextGaussian() * 2 + 1);
            int[] lab = new int[hw[2] * hw[3]];
            for (int i = 0; i < lab.length; i++) lab[i] = r.nextDouble() < 0.2 ? 255 : r.nextInt(k);
            batch.add(new SegmentationHead.Sample(new FeatureMap(hw[0], hw[1], 1, c, f, null), lab, hw[2], hw[3]));
        }
        SegmentationHead head = SegmentationHead.create(c, k, 1);
        BnLinear core = head.core();
        for (BnLinear.Param p : core.params())
            for (int i = 0; i < p.v.length; i++) p.v[i] += (float) (r.nextGaussian() * 0.5);
        head.lossAndGrad(batch, BnLinear.Mode.TRAIN_FROZEN_STATS);
        checkGradients(core, () -> head.lossAndGrad(batch, BnLinear.Mode.TRAIN_FROZEN_STATS), 1e-2, r);
    }

    /** Perturbs every parameter coordinate (there are few) and compares (L(+h) - L(-h)) / 2h with the gradient. */
    static void checkGradients(BnLinear core, java.util.function.DoubleSupplier loss, double h, SplittableRandom r) {
        List<float[]> grads = new ArrayList<>();
        for (BnLinear.Param p : core.params()) grads.add(p.g.clone());
        double worst = 0;
        for (int pi = 0; pi < core.params().size(); pi++) {
            BnLinear.Param p = core.params().get(pi);
            for (int i = 0; i < p.v.length; i++) {
                float v = p.v[i];
                p.v[i] = (float) (v + h);
                double up = loss.getAsDouble();
                p.v[i] = (float) (v - h);
                double dn = loss.getAsDouble();
                p.v[i] = v;
                double fd = (up - dn) / (2 * h), an = grads.get(pi)[i];
                double err = Math.abs(fd - an) / (1e-3 + Math.abs(an) + Math.abs(fd));
                worst = Math.max(worst, err);
                assertTrue(err < 2e-2, "param " + pi + "[" + i + "]: finite difference " + fd + " vs analytic " + an);
            }
        }
        System.out.printf(Locale.ROOT, "gradient check: worst relative error %.2e%n", worst);
    }

    @Test
    void learnsColouredShapesFromPixelPatchFeatures() {
        List<Scene> train = scenes(64, 1), test = scenes(24, 2);
        List<SegmentationHead.Sample> tr = samples(train, train.stream().map(s -> pixelFeatures(s.image())).toList());
        List<SegmentationHead.Sample> te = samples(test, test.stream().map(s -> pixelFeatures(s.image())).toList());
        SegmentationHead head = SegmentationHead.train(tr, 4, quick(300, 2e-2));
        var m = head.evaluate(te);
        double[] chance = chance(te, 4);
        System.out.printf(Locale.ROOT, "segmentation, pixel-patch features: mIoU %.3f (per class %s), aAcc %.3f; chance: majority %.3f, uniform %.3f%n",
                m.mIoU(), java.util.Arrays.toString(m.iou()), m.aAcc(), chance[0], chance[1]);
        assertTrue(m.mIoU() > 0.7, "mIoU " + m.mIoU());
        assertTrue(m.mIoU() > 3 * chance[0] && m.mIoU() > 3 * chance[1]);
    }

    @Test
    void learnsFromRandomVitPatchTokens() {
        List<Scene> train = scenes(64, 3), test = scenes(24, 4);
        try (DinoVisionTransformer model = Dinov2.random(tinyVit(), 11)) {
            Tensor trPx = pixels(train), tePx = pixels(test);
            // the "linear" setting reads the final-normed last layer, i.e. forward_features' x_norm_patchtokens
            Tensor last = model.forwardFeatures(trPx).xNormPatchtokens();
            List<FeatureMap> tr1 = FeatureMap.segmentation(model, trPx, 1);
            for (int i = 0; i < train.size(); i++)
                assertArrayEquals(java.util.Arrays.copyOfRange(last.data(), i * G * G * 32, (i + 1) * G * G * 32), tr1.get(i).patch(), 1e-5f);
            double[] chance = chance(samples(test, FeatureMap.segmentation(model, tePx, 1)), 4);
            for (int n : new int[] {1, 4}) {
                var tr = samples(train, FeatureMap.segmentation(model, trPx, n));
                var te = samples(test, FeatureMap.segmentation(model, tePx, n));
                assertEquals(32 * n, tr.get(0).features().channels());
                SegmentationHead head = SegmentationHead.train(tr, 4, quick(300, 2e-2));
                var m = head.evaluate(te);
                System.out.printf(Locale.ROOT, "segmentation, random tiny ViT, last %d layer(s): mIoU %.3f, aAcc %.3f; chance: majority %.3f, uniform %.3f%n",
                        n, m.mIoU(), m.aAcc(), chance[0], chance[1]);
                assertTrue(m.mIoU() > 2 * chance[0] && m.mIoU() > 2 * chance[1], "mIoU " + m.mIoU());
            }
        }
    }

    @Test
    void rejectsBadInput() {
        SegmentationHead head = SegmentationHead.create(5, 3, 0);
        FeatureMap f = new FeatureMap(2, 2, 1, 5, new float[20], null);
        var e = assertThrows(IllegalArgumentException.class,
                () -> head.lossAndGrad(List.of(new SegmentationHead.Sample(f, new int[] {0, 1, 2, 3}, 2, 2)), BnLinear.Mode.TRAIN));
        assertTrue(e.getMessage().contains("label 3"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> head.predict(new FeatureMap(2, 2, 1, 4, new float[16], null), 2, 2));
        assertThrows(IllegalArgumentException.class, () -> new SegmentationHead.Sample(f, new int[3], 2, 2));
    }

    @Test
    void scheduleIsMmcvsPolyWithLinearWarmup() {
        TrainConfig c = TrainConfig.segmentation();
        assertEquals(1e-3 * 1e-6, c.lrAt(0), 1e-15);
        assertEquals(1e-3 * (1 - 750.0 / 40000) * (1 - 0.5 * (1 - 1e-6)), c.lrAt(750), 1e-12);
        assertEquals(1e-3 * (1 - 20000.0 / 40000), c.lrAt(20000), 1e-12);
        TrainConfig d = TrainConfig.depth();
        assertEquals(1e-4 / 25, d.lrAt(0), 1e-12);
        assertEquals(1e-4, d.lrAt((int) (0.3 * 38400) - 1), 1e-12);
        assertEquals(1e-4 / 25 / 100, d.lrAt(38399), 1e-12);
    }
}
