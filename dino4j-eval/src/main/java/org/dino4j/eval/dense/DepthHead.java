package org.dino4j.eval.dense;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * The paper's linear depth heads ("lin. 1" / "lin. 4") on frozen tokens, as the hub's {@code BNHead}
 * ({@code dinov2/hub/depthers.py}, {@code dinov2/eval/depth/models/decode_heads/linear_head.py} and
 * {@code decode_head.py}): per layer {@code cat(patch, cls)} (see {@link FeatureMap}), bilinear x{@code upsample}
 * (4), a 1x1 conv to {@code nBins} (256) logits, then depth as a classification-regression ({@code classify=True},
 * {@code bins_strategy="UD"}, {@code norm_strategy="linear"}): {@code p = (relu(logit) + 0.1) / sum}, depth =
 * sum p x linspace(minDepth, maxDepth, nBins). The prediction is resized bilinearly to the ground truth for the loss,
 * the official {@code SigLoss} (valid_mask: gt > 0, and gt <= its max_depth when set; {@code g = log(pred + 1e-3) -
 * log(gt + 1e-3)} over the valid pixels of the whole batch; {@code sqrt(var(g) + 0.15 mean(g)^2)}, unbiased variance
 * as torch.var; loss_weight 10, {@code DepthBaseDecodeHead}'s default).
 *
 * <p>The conv runs on the patch grid before the upsampling: bilinear weights sum to 1, so conv-then-resize equals the
 * official resize-then-conv and costs 1/16 of it. The official depth BNHead has its BatchNorm commented out, so
 * {@link Options#batchNorm} is off by default (when on, BN normalises the patch-grid inputs). The hub builder
 * hard-codes max_depth = 80 whatever the dataset ({@code _make_dinov2_linear_depth_head}); {@link Options#nyu()} uses
 * NYU's 10 m, {@link Options#kitti()} 80 m. Metrics follow the depth toolbox the paper's protocol comes from
 * ({@code depth/core/evaluation/metrics.py}, {@code depth/datasets/nyu.py}): per image on gt in (minDepth, maxDepth),
 * optionally inside NYU's Eigen crop, then averaged over images (nanmean).
 */
public final class DepthHead {
    /** Head shape and depth range. {@code sigLossMaxDepth} is SigLoss's own max_depth (NaN: none, the default). */
    public record Options(int nBins, double minDepth, double maxDepth, int upsample, boolean batchNorm, double lossWeight,
                          double sigLossMaxDepth) {
        public Options {
            if (nBins < 2) throw new IllegalArgumentException("need at least 2 bins, got " + nBins);
            if (!(minDepth >= 0 && maxDepth > minDepth)) throw new IllegalArgumentException("need 0 <= minDepth < maxDepth, got " + minDepth + ", " + maxDepth);
            if (upsample < 1) throw new IllegalArgumentException("upsample must be >= 1, got " + upsample);
        }

        public static Options nyu() {
            return new Options(256, 0.001, 10, 4, false, 10, Double.NaN);
        }

        public static Options kitti() {
            return new Options(256, 0.001, 80, 4, false, 10, Double.NaN);
        }

        public Options withBatchNorm(boolean bn) {
            return new Options(nBins, minDepth, maxDepth, upsample, bn, lossWeight, sigLossMaxDepth);
        }
    }

    /** One image: its features and its H x W ground-truth depth in metres (0 or less = no measurement). */
    public record Sample(FeatureMap features, float[] depth, int height, int width) {
        public Sample {
            if (depth.length != height * width)
                throw new IllegalArgumentException("depth has " + depth.length + " values, expected " + height + "x" + width);
        }
    }

    /** The toolbox's metrics, averaged over images; {@code images} counts those with valid pixels. */
    public record Metrics(double a1, double a2, double a3, double absRel, double rmse, double log10, double rmseLog,
                          double silog, double sqRel, int images) {}

    static final float EPS = 1e-3f; // SigLoss: "avoid grad explode"

    private final BnLinear core;
    private final Options opt;
    private final float[] bins;

    private DepthHead(BnLinear core, Options opt) {
        this.core = core;
        this.opt = opt;
        bins = new float[opt.nBins()];
        for (int i = 0; i < bins.length; i++) // torch.linspace
            bins[i] = (float) (opt.minDepth() + (opt.maxDepth() - opt.minDepth()) * i / (bins.length - 1));
    }

    /** An untrained head on {@code channels}-wide inputs, PyTorch's default Conv2d init (the head has no init_cfg). */
    public static DepthHead create(int channels, Options opt, long seed) {
        return new DepthHead(BnLinear.defaultInit(channels, opt.nBins(), opt.batchNorm(), seed), opt);
    }

    public static DepthHead train(List<Sample> data, Options opt, TrainConfig cfg) {
        return train(data.size(), data::get, opt, cfg);
    }

    /** Trains on {@code n} samples produced on demand. */
    public static DepthHead train(int n, IntFunction<Sample> data, Options opt, TrainConfig cfg) {
        if (n < 1) throw new IllegalArgumentException("no training samples");
        DepthHead head = create(data.apply(0).features().channels(), opt, cfg.seed());
        SegmentationHead.Batches batches = new SegmentationHead.Batches(n, cfg.seed());
        for (int it = 0; it < cfg.iterations(); it++) {
            List<Sample> batch = new ArrayList<>(cfg.batchSize());
            for (int j = 0; j < cfg.batchSize(); j++) batch.add(data.apply(batches.next()));
            if (Double.isNaN(head.lossAndGrad(batch, BnLinear.Mode.TRAIN))) continue; // < 2 valid pixels: no loss
            head.core.step(cfg, cfg.lrAt(it));
        }
        return head;
    }

    public Options options() {
        return opt;
    }

    BnLinear core() {
        return core;
    }

    /** Per-pixel state of the bin head on the upsampled grid, kept for the backward pass. */
    private record Head(float[] logits, float[] sum, float[] depth, int h, int w) {}

    /** Logits on the patch grid -> upsampled logits -> depth on the (u*h, u*w) grid. */
    private Head depthMap(FeatureMap f, float[] small, int off) {
        int k = opt.nBins(), h = f.h() * opt.upsample(), w = f.w() * opt.upsample(), n = h * w;
        float[] big = new float[n * k], sum = new float[n], depth = new float[n];
        new Bilinear(f.h(), f.w(), h, w).forward(small, off, k, big, 0);
        for (int p = 0; p < n; p++) {
            double s = 0, d = 0;
            for (int j = 0; j < k; j++) {
                float r = Math.max(big[p * k + j], 0f) + 0.1f;
                s += r;
                d += r * bins[j];
            }
            sum[p] = (float) s;
            depth[p] = (float) (d / s);
        }
        return new Head(big, sum, depth, h, w);
    }

    /** Batch SigLoss; sets the parameter gradients; NaN (and no gradients) when fewer than 2 pixels are valid. */
    double lossAndGrad(List<Sample> batch, BnLinear.Mode mode) {
        int c = core.in, k = opt.nBins(), rows = 0;
        for (Sample s : batch) {
            if (s.features().channels() != c)
                throw new IllegalArgumentException("features have " + s.features().channels() + " channels, the head reads " + c);
            rows += s.features().pixels();
        }
        float[] x = new float[rows * c], small = new float[rows * k];
        int r0 = 0;
        for (Sample s : batch) {
            for (int p = 0; p < s.features().pixels(); p++) s.features().row(p, x, (r0 + p) * c);
            r0 += s.features().pixels();
        }
        BnLinear.Cache cache = core.forward(x, rows, mode, small);
        // forward to gt resolution, collect g over the valid pixels of the whole batch
        List<Head> heads = new ArrayList<>();
        List<float[]> preds = new ArrayList<>();
        double sg = 0;
        long n = 0;
        r0 = 0;
        for (Sample s : batch) {
            Head hd = depthMap(s.features(), small, r0 * k);
            float[] pred = new Bilinear(hd.h(), hd.w(), s.height(), s.width()).forward(hd.depth(), 1);
            heads.add(hd);
            preds.add(pred);
            for (int p = 0; p < pred.length; p++)
                if (valid(s.depth()[p])) {
                    sg += g(pred[p], s.depth()[p]);
                    n++;
                }
            r0 += s.features().pixels();
        }
        if (n < 2) return Double.NaN;
        double mean = sg / n, ss = 0;
        for (int i = 0; i < batch.size(); i++) {
            float[] gt = batch.get(i).depth(), pred = preds.get(i);
            for (int p = 0; p < pred.length; p++)
                if (valid(gt[p])) {
                    double d = g(pred[p], gt[p]) - mean;
                    ss += d * d;
                }
        }
        double q = ss / (n - 1) + 0.15 * mean * mean, loss = opt.lossWeight() * Math.sqrt(q);
        // backward: dL/dg_i = w / (2 sqrt q) * (2 (g_i - mean) / (n - 1) + 0.3 mean / n); dg/dpred = 1 / (pred + eps)
        double scale = opt.lossWeight() / (2 * Math.sqrt(q));
        float[] dSmall = new float[rows * k];
        r0 = 0;
        for (int i = 0; i < batch.size(); i++) {
            Sample s = batch.get(i);
            Head hd = heads.get(i);
            float[] gt = s.depth(), pred = preds.get(i), dPred = new float[pred.length];
            for (int p = 0; p < pred.length; p++)
                if (valid(gt[p]))
                    dPred[p] = (float) (scale * (2 * (g(pred[p], gt[p]) - mean) / (n - 1) + 0.3 * mean / n) / (pred[p] + EPS));
            float[] dDepth = new float[hd.depth().length];
            new Bilinear(hd.h(), hd.w(), s.height(), s.width()).backward(dPred, 0, 1, dDepth, 0);
            float[] dBig = new float[hd.logits().length];
            for (int p = 0; p < dDepth.length; p++) {
                if (dDepth[p] == 0) continue;
                float a = dDepth[p] / hd.sum()[p], d = hd.depth()[p];
                for (int j = 0; j < k; j++) // d depth / d r_j = (bin_j - depth) / sum; relu passes where the logit > 0
                    if (hd.logits()[p * k + j] > 0) dBig[p * k + j] = a * (bins[j] - d);
            }
            new Bilinear(s.features().h(), s.features().w(), hd.h(), hd.w()).backward(dBig, 0, k, dSmall, r0 * k);
            r0 += s.features().pixels();
        }
        core.backward(cache, dSmall);
        return loss;
    }

    private boolean valid(float gt) {
        return gt > 0 && (Double.isNaN(opt.sigLossMaxDepth()) || gt <= opt.sigLossMaxDepth());
    }

    private static double g(float pred, float gt) {
        return Math.log(pred + EPS) - Math.log(gt + EPS);
    }

    /** Depth in metres resized to height x width, clamped to [minDepth, maxDepth] as {@code encode_decode}. */
    public float[] predict(FeatureMap f, int height, int width) {
        if (f.channels() != core.in)
            throw new IllegalArgumentException("features have " + f.channels() + " channels, the head reads " + core.in);
        int rows = f.pixels();
        float[] x = new float[rows * core.in], small = new float[rows * opt.nBins()];
        for (int p = 0; p < rows; p++) f.row(p, x, p * core.in);
        core.forward(x, rows, BnLinear.Mode.EVAL, small);
        Head hd = depthMap(f, small, 0);
        float[] out = new Bilinear(hd.h(), hd.w(), height, width).forward(hd.depth(), 1);
        for (int i = 0; i < out.length; i++) out[i] = (float) Math.min(Math.max(out[i], opt.minDepth()), opt.maxDepth());
        return out;
    }

    /** Metrics over data; eigenCrop restricts to NYU's [45:471, 41:601] (480 x 640 ground truth only). */
    public Metrics evaluate(List<Sample> data, boolean eigenCrop) {
        List<float[]> preds = new ArrayList<>(), gts = new ArrayList<>();
        List<int[]> sizes = new ArrayList<>();
        for (Sample s : data) {
            preds.add(predict(s.features(), s.height(), s.width()));
            gts.add(s.depth());
            sizes.add(new int[] {s.height(), s.width()});
        }
        return metrics(preds, gts, sizes, opt.minDepth(), opt.maxDepth(), eigenCrop);
    }

    /** The toolbox's per-image metrics (gt in (minDepth, maxDepth)), nanmean over images. */
    public static Metrics metrics(List<float[]> preds, List<float[]> gts, List<int[]> sizes, double minDepth,
                                  double maxDepth, boolean eigenCrop) {
        double[] sum = new double[9];
        int images = 0;
        for (int i = 0; i < preds.size(); i++) {
            float[] pred = preds.get(i), gt = gts.get(i);
            int h = sizes.get(i)[0], w = sizes.get(i)[1];
            if (pred.length != gt.length || gt.length != h * w)
                throw new IllegalArgumentException("image " + i + ": prediction " + pred.length + ", ground truth " + gt.length + " values, size " + h + "x" + w);
            if (eigenCrop && (h != 480 || w != 640))
                throw new IllegalArgumentException("image " + i + ": the Eigen crop is defined on 480x640 NYU depth maps, got " + h + "x" + w);
            double a1 = 0, a2 = 0, a3 = 0, absRel = 0, sqRel = 0, se = 0, sle = 0, l10 = 0, e = 0, e2 = 0;
            long n = 0;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    if (eigenCrop && (y < 45 || y >= 471 || x < 41 || x >= 601)) continue;
                    double t = gt[y * w + x], p = pred[y * w + x];
                    if (!(t > minDepth && t < maxDepth)) continue;
                    double th = Math.max(t / p, p / t), d = t - p, le = Math.log(p) - Math.log(t);
                    if (th < 1.25) a1++;
                    if (th < 1.25 * 1.25) a2++;
                    if (th < 1.25 * 1.25 * 1.25) a3++;
                    absRel += Math.abs(d) / t;
                    sqRel += d * d / t;
                    se += d * d;
                    sle += le * le;
                    l10 += Math.abs(Math.log10(t) - Math.log10(p));
                    e += le;
                    e2 += le * le;
                    n++;
                }
            if (n == 0) continue; // NaN row, dropped by nanmean
            double silog = Math.sqrt(Math.max(e2 / n - (e / n) * (e / n), 0)) * 100;
            double[] m = {a1 / n, a2 / n, a3 / n, absRel / n, Math.sqrt(se / n), l10 / n, Math.sqrt(sle / n), silog, sqRel / n};
            for (int j = 0; j < 9; j++) sum[j] += m[j];
            images++;
        }
        if (images == 0) return new Metrics(Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, 0);
        for (int j = 0; j < 9; j++) sum[j] /= images;
        return new Metrics(sum[0], sum[1], sum[2], sum[3], sum[4], sum[5], sum[6], sum[7], sum[8], images);
    }
}
