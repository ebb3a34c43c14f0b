package org.dino4j.eval.dense;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntFunction;

/**
 * The paper's linear semantic-segmentation head on frozen patch tokens (official {@code BNHead},
 * {@code dinov2/eval/segmentation/models/decode_heads/linear_head.py}): BatchNorm over the (concatenated) patch
 * channels, then mmseg's {@code cls_seg}, a 1x1 conv to the classes (init N(0, 0.01), bias 0; no dropout, as the
 * released heads print). Logits live on the patch grid and are resized bilinearly (align_corners=False) to the label
 * size for both the loss and the prediction. Loss: mmseg's {@code CrossEntropyLoss} with ignore index 255 and
 * {@code avg_non_ignore=False} (the released heads' setting): the per-pixel losses of the non-ignored pixels summed
 * and divided by all pixels of the batch. SyncBatchNorm becomes plain BatchNorm over the whole batch, which is what
 * SyncBN computes. Metric: mmseg's mIoU (intersections and unions summed over the whole evaluation set, per class;
 * classes with an empty union are left out of the mean) and aAcc.
 *
 * <p>Not here: the training-time augmentation of the official configs (random rescale 1-3x, 512/640 crops with
 * cat_max_ratio 0.75, flips, photometric distortion) and sliding-window / multi-scale inference; a
 * {@link Sample} is one already-cropped image's features and labels.
 */
public final class SegmentationHead {
    public static final int IGNORE_INDEX = 255;

    /** One image: its features and its H x W labels (row-major; {@link #IGNORE_INDEX} = not labelled). */
    public record Sample(FeatureMap features, int[] labels, int height, int width) {
        public Sample {
            if (labels.length != height * width)
                throw new IllegalArgumentException("labels have " + labels.length + " values, expected " + height + "x" + width);
        }
    }

    /** Per class: IoU and accuracy (NaN where undefined), and the dataset-level mIoU, mAcc, aAcc. */
    public record Metrics(double mIoU, double mAcc, double aAcc, double[] iou, double[] acc) {}

    private final BnLinear core;
    private final int numClasses;
    private final boolean avgNonIgnore;

    private SegmentationHead(BnLinear core, int numClasses, boolean avgNonIgnore) {
        this.core = core;
        this.numClasses = numClasses;
        this.avgNonIgnore = avgNonIgnore;
    }

    /** An untrained head on {@code channels}-wide inputs (n layers x D), initialised as mmseg does. */
    public static SegmentationHead create(int channels, int numClasses, long seed) {
        if (numClasses < 1 || numClasses >= IGNORE_INDEX)
            throw new IllegalArgumentException("number of classes must be in [1, 255), got " + numClasses);
        return new SegmentationHead(BnLinear.normalInit(channels, numClasses, true, 0.01, seed), numClasses, false);
    }

    /** Trains a fresh head on data (random batches of cfg.batchSize, cfg.iterations steps). */
    public static SegmentationHead train(List<Sample> data, int numClasses, TrainConfig cfg) {
        return train(data.size(), data::get, numClasses, cfg);
    }

    /**
     * The same on {@code n} samples produced on demand (e.g. by running the backbone on a decoded, cropped image),
     * so a dataset needs not fit in memory as features.
     */
    public static SegmentationHead train(int n, IntFunction<Sample> data, int numClasses, TrainConfig cfg) {
        if (n < 1) throw new IllegalArgumentException("no training samples");
        SegmentationHead head = create(data.apply(0).features().channels(), numClasses, cfg.seed());
        Batches batches = new Batches(n, cfg.seed());
        for (int it = 0; it < cfg.iterations(); it++) {
            List<Sample> batch = new ArrayList<>(cfg.batchSize());
            for (int j = 0; j < cfg.batchSize(); j++) batch.add(data.apply(batches.next()));
            head.lossAndGrad(batch, BnLinear.Mode.TRAIN);
            head.core.step(cfg, cfg.lrAt(it));
        }
        return head;
    }

    public int numClasses() {
        return numClasses;
    }

    /** Channels the head reads per pixel. */
    public int channels() {
        return core.in;
    }

    BnLinear core() {
        return core;
    }

    /** Batch loss; sets the parameter gradients. mode TRAIN updates the BN running statistics. */
    double lossAndGrad(List<Sample> batch, BnLinear.Mode mode) {
        int c = core.in, k = numClasses, rows = 0;
        long pixels = 0, valid = 0;
        for (Sample s : batch) {
            check(s);
            rows += s.features().pixels();
            pixels += s.labels().length;
            for (int l : s.labels()) if (l != IGNORE_INDEX) valid++;
        }
        float[] x = new float[rows * c], logits = new float[rows * k];
        int r0 = 0;
        for (Sample s : batch) {
            FeatureMap f = s.features();
            for (int p = 0; p < f.pixels(); p++) f.row(p, x, (r0 + p) * c);
            r0 += f.pixels();
        }
        BnLinear.Cache cache = core.forward(x, rows, mode, logits);
        double denom = avgNonIgnore ? Math.max(valid, 1) : pixels, loss = 0;
        float[] dLogits = new float[rows * k];
        r0 = 0;
        for (Sample s : batch) {
            FeatureMap f = s.features();
            Bilinear up = new Bilinear(f.h(), f.w(), s.height(), s.width());
            float[] big = new float[s.labels().length * k];
            up.forward(logits, r0 * k, k, big, 0);
            for (int p = 0; p < s.labels().length; p++) {
                int y = s.labels()[p], o = p * k;
                if (y == IGNORE_INDEX) {
                    java.util.Arrays.fill(big, o, o + k, 0f);
                    continue;
                }
                float max = big[o];
                for (int j = 1; j < k; j++) max = Math.max(max, big[o + j]);
                double sum = 0;
                for (int j = 0; j < k; j++) sum += Math.exp(big[o + j] - max);
                loss += Math.log(sum) + max - big[o + y];
                for (int j = 0; j < k; j++) big[o + j] = (float) (Math.exp(big[o + j] - max) / sum / denom);
                big[o + y] -= (float) (1 / denom);
            }
            up.backward(big, 0, k, dLogits, r0 * k);
            r0 += f.pixels();
        }
        core.backward(cache, dLogits);
        return loss / denom;
    }

    private void check(Sample s) {
        if (s.features().channels() != core.in)
            throw new IllegalArgumentException("features have " + s.features().channels() + " channels, the head reads " + core.in);
        for (int i = 0; i < s.labels().length; i++) {
            int l = s.labels()[i];
            if (l != IGNORE_INDEX && (l < 0 || l >= numClasses))
                throw new IllegalArgumentException("label " + l + " at pixel " + i + " is outside [0, " + numClasses + ") and not the ignore index 255");
        }
    }

    /** Class scores resized to height x width: (height*width) x numClasses, BN with its running statistics. */
    public float[] logits(FeatureMap f, int height, int width) {
        if (f.channels() != core.in)
            throw new IllegalArgumentException("features have " + f.channels() + " channels, the head reads " + core.in);
        int rows = f.pixels(), k = numClasses;
        float[] x = new float[rows * core.in], small = new float[rows * k];
        for (int p = 0; p < rows; p++) f.row(p, x, p * core.in);
        core.forward(x, rows, BnLinear.Mode.EVAL, small);
        return new Bilinear(f.h(), f.w(), height, width).forward(small, k);
    }

    /** Per-pixel argmax of {@link #logits} (the first class on ties, as torch.argmax). */
    public int[] predict(FeatureMap f, int height, int width) {
        float[] l = logits(f, height, width);
        int k = numClasses;
        int[] pred = new int[height * width];
        for (int p = 0; p < pred.length; p++) {
            int best = 0;
            for (int j = 1; j < k; j++) if (l[p * k + j] > l[p * k + best]) best = j;
            pred[p] = best;
        }
        return pred;
    }

    public Metrics evaluate(List<Sample> data) {
        IoU acc = new IoU(numClasses);
        for (Sample s : data) acc.add(predict(s.features(), s.height(), s.width()), s.labels());
        return acc.metrics();
    }

    /** mmseg's {@code intersect_and_union}, summed over a dataset. */
    public static final class IoU {
        private final long[] inter, pred, label;

        public IoU(int numClasses) {
            inter = new long[numClasses];
            pred = new long[numClasses];
            label = new long[numClasses];
        }

        /** Adds one image; pixels labelled 255 are skipped, labels outside the classes are an error. */
        public void add(int[] prediction, int[] labels) {
            if (prediction.length != labels.length)
                throw new IllegalArgumentException("prediction has " + prediction.length + " pixels, labels " + labels.length);
            int k = inter.length;
            for (int i = 0; i < labels.length; i++) {
                int y = labels[i], p = prediction[i];
                if (y == IGNORE_INDEX) continue;
                if (y < 0 || y >= k || p < 0 || p >= k)
                    throw new IllegalArgumentException("class " + (y < 0 || y >= k ? y : p) + " at pixel " + i + " is outside [0, " + k + ")");
                label[y]++;
                pred[p]++;
                if (p == y) inter[y]++;
            }
        }

        public Metrics metrics() {
            int k = inter.length;
            double[] iou = new double[k], acc = new double[k];
            double sIoU = 0, sAcc = 0;
            int nIoU = 0, nAcc = 0;
            long ti = 0, tl = 0;
            for (int c = 0; c < k; c++) {
                long union = pred[c] + label[c] - inter[c];
                iou[c] = union == 0 ? Double.NaN : (double) inter[c] / union;
                acc[c] = label[c] == 0 ? Double.NaN : (double) inter[c] / label[c];
                if (union > 0) { sIoU += iou[c]; nIoU++; }
                if (label[c] > 0) { sAcc += acc[c]; nAcc++; }
                ti += inter[c];
                tl += label[c];
            }
            return new Metrics(nIoU == 0 ? Double.NaN : sIoU / nIoU, nAcc == 0 ? Double.NaN : sAcc / nAcc,
                    tl == 0 ? Double.NaN : (double) ti / tl, iou, acc);
        }
    }

    /** An endless stream of shuffled passes over [0, n), as the iteration-based runners draw their batches. */
    static final class Batches {
        private final int[] order;
        private final SplittableRandom rnd;
        private int pos;

        Batches(int n, long seed) {
            order = new int[n];
            for (int i = 0; i < n; i++) order[i] = i;
            rnd = new SplittableRandom(seed ^ 0x5DEECE66DL);
            pos = n;
        }

        int next() {
            if (pos == order.length) {
                for (int i = order.length - 1; i > 0; i--) {
                    int j = rnd.nextInt(i + 1), t = order[i];
                    order[i] = order[j];
                    order[j] = t;
                }
                pos = 0;
            }
            return order[pos++];
        }
    }
}
