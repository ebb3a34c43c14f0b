package org.dino4j.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.BiFunction;
import java.util.function.IntFunction;

import org.dino4j.data.Dataset;
import org.dino4j.data.Preprocess;
import org.dino4j.data.Sample;
import org.dino4j.embed.FeatureExtractor;
import org.dino4j.embed.Head;
import org.dino4j.eval.dense.DenseDatasets;
import org.dino4j.eval.dense.DepthHead;
import org.dino4j.eval.dense.FeatureMap;
import org.dino4j.eval.dense.SegmentationHead;
import org.dino4j.eval.dense.TrainConfig;
import org.dino4j.model.DinoVisionTransformer;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code dino4j eval segmentation} and {@code dino4j eval depth}: the paper's linear dense heads
 * ({@link SegmentationHead}, {@link DepthHead}) trained on a split's frozen features and scored on another.
 *
 * <p>Geometry: each image is resized (PIL bicubic) so that its shorter side is {@code --resolution}, each side then
 * rounded to a multiple of the patch size (a slight aspect change, no padding, so the patch grid covers the whole
 * image). Training targets are resized to that input size with nearest neighbour (labels and depth stay values, 255
 * and 0 stay "no target"); validation is scored against the targets at their own size (the head's output is resized
 * bilinearly to it, as mmseg's whole-image inference). The training split's features are computed once and kept in
 * memory (no augmentation); the validation split is streamed image by image. Both go through the feature pipeline
 * ({@link FeatureExtractor} with {@link Preprocess#shorterSideRounded} and the {@link FeatureMap} heads), which
 * decodes the next images while the model runs.
 */
final class DenseEvalCommands {
    private DenseEvalCommands() {}

    /** The options both commands share; defaults that differ (resolution, schedule) come from the subclass. */
    abstract static class Base {
        @Option(names = "--root", required = true, paramLabel = "DIR", description = "The dataset's folder (see --dataset).")
        Path root;

        @Option(names = "--train-split", paramLabel = "SPLIT", description = "Training split (default: the dataset's).")
        String trainSplit;

        @Option(names = "--val-split", paramLabel = "SPLIT", description = "Split scored (default: the dataset's validation/test split).")
        String valSplit;

        @Option(names = "--layers", defaultValue = "1", paramLabel = "1|4",
                description = "Backbone blocks the head reads: 1 (the paper's \"linear\"/\"lin. 1\") or 4 (\"+ms\"/\"lin. 4\"); default ${DEFAULT-VALUE}.")
        int layers;

        @Option(names = "--resolution", paramLabel = "PX", description = "Shorter side of the model input, rounded to the patch size per side.")
        Integer resolution;

        @Option(names = "--iterations", paramLabel = "N", description = "Training steps of the head (default: the official schedule's).")
        Integer iterations;

        @Option(names = "--lr", description = "Peak learning rate (default: the official config's).")
        Double lr;

        @Option(names = "--batch-size", paramLabel = "N", description = "Images per training step (default: the official config's).")
        Integer batch;

        @Option(names = "--max-images", paramLabel = "N", description = "Use N images of each split, evenly spaced over it (quick runs).")
        Integer maxImages;

        @Option(names = "--seed", defaultValue = "0", description = "Head initialisation and batch order (default: ${DEFAULT-VALUE}).")
        long seed;

        @Mixin
        ThreadsOption threads;

        @Mixin
        JsonOutputOption output;

        @Mixin
        ModelOptions model;

        @Mixin
        HeadOptions released;

        /** A released head (or a random one of its shape) is scored as it is: nothing is trained. */
        boolean releasedHead() {
            return released.file != null || released.randomSeed != null;
        }

        void checkCommon() {
            threads.apply();
            if (!Files.isDirectory(root)) throw new IllegalArgumentException(root + ": no such folder (--root)");
            if (layers != 1 && layers != 4) throw new IllegalArgumentException("--layers must be 1 or 4, got " + layers);
            if (resolution != null && resolution < 1) throw new IllegalArgumentException("--resolution must be >= 1, got " + resolution);
            if (iterations != null && iterations < 1) throw new IllegalArgumentException("--iterations must be >= 1, got " + iterations);
            if (batch != null && batch < 1) throw new IllegalArgumentException("--batch-size must be >= 1, got " + batch);
            if (lr != null && !(lr > 0)) throw new IllegalArgumentException("--lr must be > 0, got " + lr);
            if (maxImages != null && maxImages < 1) throw new IllegalArgumentException("--max-images must be >= 1, got " + maxImages);
        }

        /** maxImages items spread evenly over the split (all of them without --max-images). */
        List<DenseDatasets.Item> subset(List<DenseDatasets.Item> items) {
            if (maxImages == null || maxImages >= items.size()) return items;
            List<DenseDatasets.Item> out = new ArrayList<>(maxImages);
            for (int i = 0; i < maxImages; i++) out.add(items.get((int) ((long) i * items.size() / maxImages)));
            return out;
        }

        /**
         * The feature pipeline of both commands: shorter side to res, each side rounded to the patch size, one image
         * per forward (the images' sizes differ), the given heads ({@link FeatureMap#patches}, {@link FeatureMap#classTokens}).
         */
        static FeatureExtractor extractor(DinoVisionTransformer m, int res, Head... heads) {
            return new FeatureExtractor(m, FeatureExtractor.Options.of(heads)
                    .withPreprocess(Preprocess.shorterSideRounded(res, m.config().patchSize())).withBatchSize(1));
        }

        /** An item's features with the decoded image's size. */
        interface Features {
            void accept(DenseDatasets.Item item, FeatureMap features, int width, int height);
        }

        /** The features of the items' images, in order, to use; the first failure is thrown. */
        static void features(FeatureExtractor fx, List<DenseDatasets.Item> items, Features use) {
            List<Sample> samples = new ArrayList<>(items.size());
            for (DenseDatasets.Item it : items) samples.add(new Sample(it.image().toString(), -1, "", new Sample.FileSource(it.image())));
            int d = fx.model().config().embedDim(), p = fx.model().config().patchSize();
            fx.run(Dataset.of(samples, List.of()), r -> {
                if (!r.ok()) throw r.error();
                int[] hw = fx.options().preprocess().outputSize(r.width(), r.height());
                float[][] rows = r.rows();
                use.accept(items.get(r.index()), FeatureMap.of(hw[0] / p, hw[1] / p, d, rows[0], rows.length > 1 ? rows[1] : null),
                        r.width(), r.height());
            });
        }

        static void sameSize(DenseDatasets.Item it, int targetW, int targetH, int width, int height) {
            if (width != targetW || height != targetH)
                throw new IllegalArgumentException(it.target() + ": " + targetW + "x" + targetH + " target for the "
                        + width + "x" + height + " image " + it.image() + " (they must be the same size)");
        }

        /** Fails early when the training features would not fit the heap (estimated from the first image's). */
        static void checkMemory(long bytesPerImage, int images) {
            long need = bytesPerImage * images, max = Runtime.getRuntime().maxMemory();
            if (need > 0.7 * max)
                throw new IllegalArgumentException(String.format(Locale.ROOT, "the training features of %d images need about %.1f GiB, "
                        + "the heap holds %.1f GiB: lower --max-images or --resolution, or raise it (JAVA_OPTS=-Xmx...)",
                        images, need / 1073741824.0, max / 1073741824.0));
        }

        /** Trains a head on the samples with a progress bar, then lets the samples go. */
        static <S, H> H trainHead(List<S> train, TrainConfig cfg, BiFunction<Integer, IntFunction<S>, H> fit) {
            ProgressBar tb = new ProgressBar("train head", "it");
            H head = fit.apply(train.size(), counting(train::get, cfg.batchSize(), cfg.iterations(), tb));
            tb.update(cfg.iterations(), cfg.iterations(), 0);
            tb.finish();
            train.clear();
            return head;
        }

        /**
         * Wraps a sample source so that the head's training loop reports progress: train(n, data, ...) asks for
         * sample 0 once (its width), then batchSize samples at the start of each step.
         */
        static <T> IntFunction<T> counting(IntFunction<T> data, int batchSize, int iterations, ProgressBar bar) {
            long[] calls = {0};
            return i -> {
                long c = ++calls[0];
                if (c >= 2 && (c - 2) % batchSize == 0) bar.update((c - 2) / batchSize, iterations, 0);
                return data.apply(i);
            };
        }

        Map<String, Object> settings(String protocol, String dataset, String tr, String va, int nTrain, int nVal, int res,
                                     TrainConfig cfg, DinoVisionTransformer m) {
            Map<String, Object> j = new LinkedHashMap<>();
            j.put("protocol", protocol);
            j.put("dataset", dataset);
            j.put("root", root.toString());
            j.put("train_split", tr);
            j.put("val_split", va);
            j.put("train_images", nTrain);
            j.put("val_images", nVal);
            j.put("layers", layers);
            j.put("resolution", res);
            j.put("patch_size", m.config().patchSize());
            j.put("embed_dim", m.config().embedDim());
            j.put("iterations", cfg.iterations());
            j.put("batch_size", cfg.batchSize());
            j.put("lr", cfg.lr());
            j.put("schedule", cfg.schedule().name().toLowerCase(Locale.ROOT));
            j.put("seed", seed);
            j.put("random_weights", model.randomSeed != null);
            return j;
        }

        static Object finite(double v) {
            return Double.isNaN(v) ? null : v;
        }
    }

    @Command(name = "segmentation", mixinStandardHelpOptions = true,
            description = {"Linear semantic segmentation as the paper (official BNHead: BatchNorm + 1x1 conv on the frozen "
                    + "patch tokens of the last 1 or 4 blocks, final norm applied; logits resized bilinearly; cross-entropy "
                    + "with 255 ignored; AdamW, poly schedule with warm-up). Reports mmseg's mIoU, mAcc and pixel accuracy "
                    + "(aAcc) on the validation split, per-class IoU in the JSON.",
                    "Datasets (--root): ade20k = ADEChallengeData2016 (images/ and annotations/, splits training and "
                            + "validation, 150 classes, label 0 ignored); voc = VOC2012 (ImageSets/Segmentation/<split>.txt, "
                            + "JPEGImages, SegmentationClass palette PNGs, splits train and val, 21 classes).",
                    "Not the official run: no training augmentation (random rescale, crops, flips), whole-image inference "
                            + "instead of sliding windows, features computed once."})
    static final class SegmentationCommand extends Base implements Callable<Integer> {
        @Option(names = "--dataset", required = true, paramLabel = "ade20k|voc",
                description = "The folder layout and classes: ade20k (150 classes) or voc (21 classes).")
        String dataset;

        @Override
        public Integer call() throws Exception {
            long t0 = System.nanoTime();
            checkCommon();
            boolean ade = switch (dataset) {
                case "ade20k" -> true;
                case "voc" -> false;
                default -> throw new IllegalArgumentException("--dataset must be ade20k or voc, got '" + dataset + "'");
            };
            String trS = trainSplit != null ? trainSplit : ade ? "training" : "train", vaS = valSplit != null ? valSplit : ade ? "validation" : "val";
            List<DenseDatasets.Item> trItems = releasedHead() ? List.of() // a released head trains nothing: no training split needed
                    : subset(ade ? DenseDatasets.ade20k(root, trS) : DenseDatasets.voc2012(root, trS));
            List<DenseDatasets.Item> vaItems = subset(ade ? DenseDatasets.ade20k(root, vaS) : DenseDatasets.voc2012(root, vaS));
            int k = ade ? DenseDatasets.ADE20K_CLASSES : DenseDatasets.VOC_CLASSES;
            TrainConfig base = TrainConfig.segmentation();
            TrainConfig cfg = base.withSteps(iterations != null ? iterations : base.iterations(), batch != null ? batch : base.batchSize())
                    .withLr(lr != null ? lr : base.lr()).withSeed(seed);
            int res = resolution != null ? resolution : 512;

            SegmentationHead.Metrics met;
            Map<String, Object> j;
            if (releasedHead()) {
                try (DinoVisionTransformer m = model.load()) {
                    met = scoreReleased(m, ade, k, vaItems);
                    j = settings("segmentation (released head, official inference)", dataset, "-", vaS, 0, vaItems.size(), res, cfg, m);
                }
                return report(t0, ade, k, 0, vaItems, vaS, res, cfg, met, j, "released " + (layers == 4 ? "ms" : "linear") + " head");
            }
            try (DinoVisionTransformer m = model.load(); FeatureExtractor fx = extractor(m, res, FeatureMap.patches(m.lastBlocks(layers), true))) {
                int patch = m.config().patchSize();
                List<SegmentationHead.Sample> train = new ArrayList<>(trItems.size());
                ProgressBar fb = new ProgressBar("train features", "img");
                features(fx, trItems, (it, f, iw, ih) -> {
                    DenseDatasets.Labels l = labels(it, ade, k);
                    sameSize(it, l.width(), l.height(), iw, ih);
                    int h = f.h() * patch, w = f.w() * patch;
                    train.add(new SegmentationHead.Sample(f, nearest(l.labels(), l.width(), l.height(), w, h), h, w));
                    if (train.size() == 1) checkMemory(4L * (f.patch().length + (long) h * w), trItems.size());
                    fb.update(train.size(), trItems.size(), 0);
                });
                fb.finish();

                SegmentationHead head = trainHead(train, cfg, (n, data) -> SegmentationHead.train(n, data, k, cfg));

                SegmentationHead.IoU acc = new SegmentationHead.IoU(k);
                ProgressBar vb = new ProgressBar("val", "img");
                int[] done = {0};
                features(fx, vaItems, (it, f, iw, ih) -> {
                    DenseDatasets.Labels l = labels(it, ade, k);
                    sameSize(it, l.width(), l.height(), iw, ih);
                    acc.add(head.predict(f, l.height(), l.width()), l.labels());
                    vb.update(++done[0], vaItems.size(), 0);
                });
                vb.finish();
                met = acc.metrics();
                j = settings("segmentation", dataset, trS, vaS, trItems.size(), vaItems.size(), res, cfg, m);
            }
            return report(t0, ade, k, trItems.size(), vaItems, vaS, res, cfg, met, j,
                    String.format(Locale.ROOT, "linear head trained on the last %d block(s), input %d px, %d iterations x %d, lr %s",
                            layers, res, cfg.iterations(), cfg.batchSize(), cfg.lr()));
        }

        /**
         * The released head as the official notebook runs it (Segmenter: mmseg's test pipeline of Meta's config, the
         * prediction at each image's own size), scored like mmseg.
         */
        private SegmentationHead.Metrics scoreReleased(DinoVisionTransformer m, boolean ade, int k, List<DenseDatasets.Item> vaItems) {
            org.dino4j.heads.Segmenter.Dataset ds = ade ? org.dino4j.heads.Segmenter.Dataset.ADE20K : org.dino4j.heads.Segmenter.Dataset.VOC2012;
            String hub = model.hubName();
            org.dino4j.heads.Segmenter seg;
            try (org.dino4j.heads.HeadWeights w = released.open("segmentation head",
                    s -> org.dino4j.heads.RandomHeads.segmentation(m.embedDim(), layers, k, s),
                    hub == null ? null : hub + "_" + ds.name().toLowerCase(Locale.ROOT) + (layers == 4 ? "_ms" : "_linear"))) {
                seg = org.dino4j.heads.Segmenter.of(m, w, k, ds.name(), null);
            }
            if (seg.layers() != layers)
                throw new IllegalArgumentException("--layers " + layers + ", but " + released.describe() + " reads " + seg.layers() + " block(s)");
            var test = layers == 4 ? org.dino4j.heads.Segmenter.TestConfig.ms(5) : org.dino4j.heads.Segmenter.TestConfig.linear(ds);
            SegmentationHead.IoU acc = new SegmentationHead.IoU(k);
            org.dino4j.data.ImageDecoder dec = new org.dino4j.data.ImageDecoder(org.dino4j.data.ImageDecoder.DEFAULT_MAX_PIXELS);
            ProgressBar vb = new ProgressBar("val", "img");
            for (int i = 0; i < vaItems.size(); i++) {
                DenseDatasets.Item it = vaItems.get(i);
                org.dino4j.data.RgbImage im = dec.decode(it.image());
                DenseDatasets.Labels l = labels(it, ade, k);
                sameSize(it, l.width(), l.height(), im.width(), im.height());
                acc.add(seg.segment(im, test).labels(), l.labels());
                vb.update(i + 1, vaItems.size(), 0);
            }
            vb.finish();
            return acc.metrics();
        }

        private int report(long t0, boolean ade, int k, int nTrain, List<DenseDatasets.Item> vaItems, String vaS, int res,
                           TrainConfig cfg, SegmentationHead.Metrics met, Map<String, Object> j, String what) throws java.io.IOException {
            double secs = (System.nanoTime() - t0) / 1e9;
            List<String> names = ade ? null : DenseDatasets.VOC_CLASS_NAMES;
            System.out.printf(Locale.ROOT, "segmentation on %s: %d train, %d val images; %s (%.1f s)%n", dataset, nTrain,
                    vaItems.size(), what, secs);
            System.out.printf(Locale.ROOT, "  mIoU  %6.2f%n  mAcc  %6.2f%n  aAcc  %6.2f%n", 100 * met.mIoU(), 100 * met.mAcc(), 100 * met.aAcc());
            List<Object> classes = new ArrayList<>();
            int shown = 0;
            for (int c = 0; c < k; c++) {
                String name = names != null ? names.get(c) : Integer.toString(c);
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("class", c);
                row.put("name", name);
                row.put("iou", finite(100 * met.iou()[c]));
                row.put("acc", finite(100 * met.acc()[c]));
                classes.add(row);
                if (k <= 40 && !Double.isNaN(met.iou()[c])) {
                    if (shown++ == 0) System.out.println("  class               IoU     Acc");
                    System.out.printf(Locale.ROOT, "  %-16s %6.2f  %6s%n", name, 100 * met.iou()[c],
                            Double.isNaN(met.acc()[c]) ? "-" : String.format(Locale.ROOT, "%6.2f", 100 * met.acc()[c]));
                }
            }
            if (k > 40) System.out.println("  (per-class IoU in the --output JSON)");
            j.put("mIoU", finite(100 * met.mIoU()));
            j.put("mAcc", finite(100 * met.mAcc()));
            j.put("aAcc", finite(100 * met.aAcc()));
            j.put("classes", classes);
            j.put("seconds", secs);
            output.write(j);
            return 0;
        }

        private static DenseDatasets.Labels labels(DenseDatasets.Item it, boolean ade, int k) {
            DenseDatasets.Labels l = ade ? DenseDatasets.ade20kLabels(it.target()) : DenseDatasets.vocLabels(it.target());
            int[] v = l.labels();
            for (int i = 0; i < v.length; i++)
                if (v[i] != SegmentationHead.IGNORE_INDEX && v[i] >= k)
                    throw new IllegalArgumentException(it.target() + ": label " + v[i] + " at (" + i % l.width() + ", " + i / l.width()
                            + ") is not a class (0.." + (k - 1) + ", 255 = ignore)");
            return l;
        }
    }

    @Command(name = "depth", mixinStandardHelpOptions = true,
            description = {"Linear monocular depth as the paper (\"lin. 1\" / \"lin. 4\": the hub's BNHead on cat(patch, CLS) "
                    + "of the last block or of 4 spread blocks, no final norm; 256 uniform bins, x4 bilinear upsampling; "
                    + "SigLoss; AdamW, one-cycle schedule, gradient clipping at 35). Reports the depth toolbox's metrics "
                    + "per image, averaged: RMSE (m), abs rel, delta1/2/3, log10, RMSE log, SILog, sq rel.",
                    "Dataset (--root): nyu = NYU-Depth v2 as BinsFormer's toolbox: split files of lines 'rgb_path depth_path "
                            + "[focal]' relative to the root (default nyu_train.txt and nyu_test.txt; any such pair list "
                            + "works), 16-bit PNG depth in millimetres (--depth-scale), 0 = no measurement. The Eigen crop "
                            + "(on by default) needs 480x640 depth maps.",
                    "Not the official run: no training augmentation, features computed once."})
    static final class DepthCommand extends Base implements Callable<Integer> {
        @Option(names = "--dataset", defaultValue = "nyu", paramLabel = "nyu", description = "Default: ${DEFAULT-VALUE}.")
        String dataset;

        @Option(names = "--max-depth", defaultValue = "10", paramLabel = "M",
                description = "Top of the bins and of the evaluated range, metres (default: ${DEFAULT-VALUE}, NYU's).")
        double maxDepth;

        @Option(names = "--depth-scale", defaultValue = "1000",
                description = "Depth PNG value per metre (default: ${DEFAULT-VALUE}, millimetres).")
        double depthScale;

        @Option(names = "--head", paramLabel = "linear|linear4|dpt",
                description = "With --head-file: which released head it is (default: linear or linear4 from --layers).")
        String headKind;

        @Option(names = "--eigen-crop", negatable = true, defaultValue = "true", fallbackValue = "true",
                description = "Score inside NYU's Eigen crop [45:471, 41:601] (default: on; --no-eigen-crop for other sizes).")
        boolean eigenCrop;

        @Override
        public Integer call() throws Exception {
            long t0 = System.nanoTime();
            checkCommon();
            if (!dataset.equals("nyu")) throw new IllegalArgumentException("--dataset must be nyu, got '" + dataset + "'");
            if (!(depthScale > 0)) throw new IllegalArgumentException("--depth-scale must be > 0, got " + depthScale);
            DepthHead.Options nyu = DepthHead.Options.nyu();
            DepthHead.Options o = new DepthHead.Options(nyu.nBins(), nyu.minDepth(), maxDepth, nyu.upsample(), nyu.batchNorm(), nyu.lossWeight(),
                    nyu.sigLossMaxDepth());
            String trS = trainSplit != null ? trainSplit : "nyu_train.txt", vaS = valSplit != null ? valSplit : "nyu_test.txt";
            List<DenseDatasets.Item> trItems = releasedHead() ? List.of() : subset(DenseDatasets.nyu(root, trS)); // released: nothing to train
            List<DenseDatasets.Item> vaItems = subset(DenseDatasets.nyu(root, vaS));
            TrainConfig base = TrainConfig.depth();
            TrainConfig cfg = base.withSteps(iterations != null ? iterations : base.iterations(), batch != null ? batch : base.batchSize())
                    .withLr(lr != null ? lr : base.lr()).withSeed(seed);
            int res = resolution != null ? resolution : 480;
            if (eigenCrop) { // fail before the model and the training, not at the first validation image
                DenseDatasets.Depth d = DenseDatasets.readDepth(vaItems.get(0).target(), depthScale);
                eigenCheck(vaItems.get(0), d);
            }

            double[] sum = new double[9];
            int[] scored = {0};
            Map<String, Object> j;
            int[] blocks;
            if (releasedHead()) {
                try (DinoVisionTransformer m = model.load()) {
                    String hub = model.hubName(), kind = headKind == null ? (layers == 4 ? "linear4" : "linear") : headKind;
                    org.dino4j.heads.Depther d;
                    try (org.dino4j.heads.HeadWeights w = released.open("depth head", s -> kind.equals("dpt")
                            ? org.dino4j.heads.RandomHeads.dpt(m.embedDim(), 256, s) : org.dino4j.heads.RandomHeads.linearDepth(m.embedDim(), layers, s),
                            hub == null ? null : hub + "_nyu_" + kind)) {
                        d = org.dino4j.heads.Depther.of(m, w, maxDepth > 10 ? org.dino4j.heads.Depther.Dataset.KITTI : org.dino4j.heads.Depther.Dataset.NYU);
                    }
                    org.dino4j.data.ImageDecoder dec = new org.dino4j.data.ImageDecoder(org.dino4j.data.ImageDecoder.DEFAULT_MAX_PIXELS);
                    Preprocess pre = new Preprocess(resolution != null ? resolution : 0, 0, 0);
                    ProgressBar vb = new ProgressBar("val", "img");
                    for (int i = 0; i < vaItems.size(); i++) {
                        DenseDatasets.Item it = vaItems.get(i);
                        DenseDatasets.Depth gt = DenseDatasets.readDepth(it.target(), depthScale);
                        if (eigenCrop) eigenCheck(it, gt);
                        org.dino4j.data.RgbImage im = dec.decode(it.image());
                        sameSize(it, gt.width(), gt.height(), im.width(), im.height());
                        org.dino4j.tensor.Tensor p = d.depth(pre.apply(im));
                        float[] pred = p.size(2) == gt.height() && p.size(3) == gt.width() ? p.data()
                                : org.dino4j.nn.Resize.bilinear(p.data(), p.size(2), p.size(3), 1, gt.height(), gt.width(), false);
                        score(pred, gt, o, sum, scored);
                        vb.update(i + 1, vaItems.size(), 0);
                    }
                    vb.finish();
                    j = settings("depth (released head, official whole inference)", dataset, "-", vaS, 0, vaItems.size(), resolution != null ? resolution : 0, cfg, m);
                    blocks = d.blocks();
                    j.put("head", d.kind());
                }
                return report(t0, 0, vaItems, vaS, resolution != null ? resolution : 0, cfg, sum, scored, j, blocks,
                        "released " + headKindName(blocks) + " head");
            }
            try (DinoVisionTransformer m = model.load()) {
                int patch = m.config().patchSize();
                blocks = FeatureMap.depthBlocks(m.depth(), layers);
                try (FeatureExtractor fx = extractor(m, res, FeatureMap.patches(blocks, false), FeatureMap.classTokens(blocks, false))) {
                    List<DepthHead.Sample> train = new ArrayList<>(trItems.size());
                    ProgressBar fb = new ProgressBar("train features", "img");
                    features(fx, trItems, (it, f, iw, ih) -> {
                        DenseDatasets.Depth d = DenseDatasets.readDepth(it.target(), depthScale);
                        sameSize(it, d.width(), d.height(), iw, ih);
                        int h = f.h() * patch, w = f.w() * patch;
                        train.add(new DepthHead.Sample(f, nearest(d.metres(), d.width(), d.height(), w, h), h, w));
                        if (train.size() == 1) checkMemory(4L * (f.patch().length + f.cls().length + (long) h * w), trItems.size());
                        fb.update(train.size(), trItems.size(), 0);
                    });
                    fb.finish();

                    DepthHead head = trainHead(train, cfg, (n, data) -> DepthHead.train(n, data, o, cfg));

                    ProgressBar vb = new ProgressBar("val", "img");
                    int[] done = {0};
                    features(fx, vaItems, (it, f, iw, ih) -> {
                        DenseDatasets.Depth d = DenseDatasets.readDepth(it.target(), depthScale);
                        if (eigenCrop) eigenCheck(it, d);
                        sameSize(it, d.width(), d.height(), iw, ih);
                        score(head.predict(f, d.height(), d.width()), d, o, sum, scored);
                        vb.update(++done[0], vaItems.size(), 0);
                    });
                    vb.finish();
                    j = settings("depth", dataset, trS, vaS, trItems.size(), vaItems.size(), res, cfg, m);
                }
            }
            return report(t0, trItems.size(), vaItems, vaS, res, cfg, sum, scored, j, blocks, String.format(Locale.ROOT,
                    "linear head trained on %d block(s) + CLS %s, input %d px, %d iterations x %d, lr %s", layers,
                    java.util.Arrays.toString(blocks), res, cfg.iterations(), cfg.batchSize(), cfg.lr()));
        }

        private String headKindName(int[] blocks) {
            return headKind != null ? headKind : blocks.length == 4 ? "linear4" : "linear";
        }

        /** One image's metrics added to the sums (the toolbox's nanmean: images without valid pixels are left out). */
        private void score(float[] pred, DenseDatasets.Depth d, DepthHead.Options o, double[] sum, int[] scored) {
            DepthHead.Metrics one = DepthHead.metrics(List.of(pred), List.of(d.metres()), List.of(new int[] {d.height(), d.width()}),
                    o.minDepth(), o.maxDepth(), eigenCrop);
            if (one.images() == 1) {
                double[] v = {one.a1(), one.a2(), one.a3(), one.absRel(), one.rmse(), one.log10(), one.rmseLog(), one.silog(), one.sqRel()};
                for (int q = 0; q < 9; q++) sum[q] += v[q];
                scored[0]++;
            }
        }

        private int report(long t0, int nTrain, List<DenseDatasets.Item> vaItems, String vaS, int res, TrainConfig cfg, double[] sum,
                           int[] scored, Map<String, Object> j, int[] blocks, String what) throws java.io.IOException {
            DepthHead.Options o = DepthHead.Options.nyu();
            if (scored[0] == 0) throw new IllegalArgumentException(root.resolve(vaS) + ": no validation depth map has a pixel in (" + o.minDepth() + ", " + maxDepth + ") m");
            for (int q = 0; q < 9; q++) sum[q] /= scored[0];
            double secs = (System.nanoTime() - t0) / 1e9;
            System.out.printf(Locale.ROOT, "depth on %s: %d train, %d val images (%d scored); %s%s (%.1f s)%n", dataset, nTrain,
                    vaItems.size(), scored[0], what, eigenCrop ? ", Eigen crop" : "", secs);
            System.out.printf(Locale.ROOT, "  RMSE      %.4f m%n  abs rel   %.4f%n  d1        %.4f  (max(pred/gt, gt/pred) < 1.25)%n"
                    + "  d2        %.4f%n  d3        %.4f%n  log10     %.4f%n  RMSE log  %.4f%n  SILog     %.4f%n  sq rel    %.4f%n",
                    sum[4], sum[3], sum[0], sum[1], sum[2], sum[5], sum[6], sum[7], sum[8]);
            j.put("blocks", blocks);
            j.put("max_depth", maxDepth);
            j.put("depth_scale", depthScale);
            j.put("eigen_crop", eigenCrop);
            j.put("scored_images", scored[0]);
            j.put("rmse", sum[4]);
            j.put("abs_rel", sum[3]);
            j.put("a1", sum[0]);
            j.put("a2", sum[1]);
            j.put("a3", sum[2]);
            j.put("log10", sum[5]);
            j.put("rmse_log", sum[6]);
            j.put("silog", sum[7]);
            j.put("sq_rel", sum[8]);
            j.put("seconds", secs);
            output.write(j);
            return 0;
        }
    }

    static void eigenCheck(DenseDatasets.Item it, DenseDatasets.Depth d) {
        if (d.width() != 640 || d.height() != 480)
            throw new IllegalArgumentException(it.target() + ": the Eigen crop is defined on 640x480 NYU depth maps, got "
                    + d.width() + "x" + d.height() + " (pass --no-eigen-crop)");
    }

    /** Nearest-neighbour resize of a (sh, sw) map to (h, w): source index floor(dst * in / out), as cv2 INTER_NEAREST. */
    static int[] nearest(int[] src, int sw, int sh, int w, int h) {
        if (sw == w && sh == h) return src;
        int[] out = new int[w * h];
        for (int y = 0; y < h; y++) {
            int sy = Math.min((int) ((long) y * sh / h), sh - 1);
            for (int x = 0; x < w; x++) out[y * w + x] = src[sy * sw + Math.min((int) ((long) x * sw / w), sw - 1)];
        }
        return out;
    }

    static float[] nearest(float[] src, int sw, int sh, int w, int h) {
        if (sw == w && sh == h) return src;
        float[] out = new float[w * h];
        for (int y = 0; y < h; y++) {
            int sy = Math.min((int) ((long) y * sh / h), sh - 1);
            for (int x = 0; x < w; x++) out[y * w + x] = src[sy * sw + Math.min((int) ((long) x * sw / w), sw - 1)];
        }
        return out;
    }
}
