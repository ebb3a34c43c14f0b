package org.dino4j.heads;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.dino4j.data.Preprocess;
import org.dino4j.data.RgbImage;
import org.dino4j.heads.Grids.Grid;
import org.dino4j.heads.SlideInference.Aug;
import org.dino4j.heads.SlideInference.GridLogits;
import org.dino4j.heads.SlideInference.Window;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.nn.Resize;
import org.dino4j.tensor.Tensor;

/**
 * Meta's linear segmentation heads ({@code dinov2_vit*14_{ade20k,voc2012}_{linear,ms}_head.pth}) as the official
 * segmentation notebook runs them: the backbone's {@code get_intermediate_layers(n=out_indices, reshape=True)} (final
 * norm, no class token) behind {@code CenterPadding(14)}, the {@code BNHead}, and mmseg's test-time inference (whole
 * image or sliding windows; for the {@code ms} heads several scales and a horizontal flip, probabilities averaged).
 * Thread-safe like the backbone.
 */
public final class Segmenter {
    /** The datasets Meta released heads for, with their class counts. */
    public enum Dataset {
        ADE20K(150), VOC2012(21);

        public final int classes;

        Dataset(int classes) {
            this.classes = classes;
        }
    }

    /**
     * mmseg's test pipeline: {@code MultiScaleFlipAug(img_scale=(longSide, shortSide), img_ratios=ratios, flip)} with
     * {@code Resize(keep_ratio=True)}, then whole or sliding-window inference.
     */
    public record TestConfig(int longSide, int shortSide, double[] ratios, boolean flip, int cropSize, int stride) {
        public TestConfig {
            if (ratios.length == 0) throw new IllegalArgumentException("at least one scale ratio");
            if (cropSize < 0 || stride < 0 || (cropSize > 0) != (stride > 0))
                throw new IllegalArgumentException("crop size and stride are both 0 (whole image) or both positive");
        }

        /** Meta's "linear" configs: one pass, 512-px windows every 341 px; ADE20K short side 512, VOC2012 within (2048, 512). */
        public static TestConfig linear(Dataset d) {
            return new TestConfig(d == Dataset.VOC2012 ? 2048 : 99999999, 512, new double[] {1.0}, false, 512, 341);
        }

        /**
         * Meta's "ms" configs: short side 640 times the first {@code scales} of [1.0, 1.32, 1.73, 2.28, 3.0] (the
         * notebook's HEAD_SCALE_COUNT), each also flipped, 640-px windows every 320 px.
         */
        public static TestConfig ms(int scales) {
            double[] all = {1.0, 1.32, 1.73, 2.28, 3.0};
            if (scales < 1 || scales > all.length) throw new IllegalArgumentException("scales must be in [1, 5], got " + scales);
            return new TestConfig(99999999, 640, java.util.Arrays.copyOf(all, scales), true, 640, 320);
        }

        Window window() {
            return cropSize == 0 ? Window.WHOLE : new Window(cropSize, cropSize, stride, stride);
        }

        /** mmcv.imrescale's size for an image of w × h at ratio r: (int(w·f + 0.5), int(h·f + 0.5)). */
        int[] size(int w, int h, double r) {
            double longEdge = Math.floor(longSide * r), shortEdge = Math.floor(shortSide * r);
            double f = Math.min(Math.max(longEdge, shortEdge) / Math.max(h, w), Math.min(longEdge, shortEdge) / Math.min(h, w));
            return new int[] {(int) (w * f + 0.5), (int) (h * f + 0.5)};
        }
    }

    /** Per-pixel class indices at the photo's size, row-major. */
    public record Segmentation(int width, int height, int classes, int[] labels) {}

    private final DinoVisionTransformer backbone;
    private final SegHead head;
    private final int[] blocks;

    private Segmenter(DinoVisionTransformer backbone, SegHead head, int[] blocks) {
        this.backbone = backbone;
        this.head = head;
        this.blocks = blocks;
    }

    /** A released {@code *_{ade20k,voc2012}_{linear,ms}_head.pth}; its class count must be the dataset's. */
    public static Segmenter load(DinoVisionTransformer backbone, Path headFile, Dataset dataset) {
        try (HeadWeights w = HeadWeights.open(headFile)) {
            return of(backbone, w, dataset == null ? 0 : dataset.classes, dataset == null ? "" : dataset.name(), null);
        }
    }

    /**
     * The head in {@code w} on {@code blocks}, or by default as Meta's configs place them: {@code out_indices} = the last
     * four blocks, of which a 1-layer ("linear") head reads the last ({@code in_index=[3]}) and a 4-layer ("ms") head all
     * four. {@code classes} 0 accepts any class count.
     */
    public static Segmenter of(DinoVisionTransformer backbone, HeadWeights w, int classes, String datasetName, int[] blocks) {
        SegHead h = SegHead.of(w, backbone.embedDim(), classes, datasetName);
        int[] b = blocks != null ? blocks.clone() : backbone.lastBlocks(h.layers);
        if (b.length != h.layers)
            throw w.fail("the head reads " + h.layers + " block(s) (" + h.channels + " channels), " + b.length + " were given");
        return new Segmenter(backbone, h, b);
    }

    /** 1 for the "linear" heads, 4 for the "ms" heads. */
    public int layers() {
        return head.layers;
    }

    public DinoVisionTransformer backbone() {
        return backbone;
    }

    public int classes() {
        return head.classes;
    }

    /** The blocks whose patch tokens the head reads. */
    public int[] blocks() {
        return blocks.clone();
    }

    /** {@code decode_head(features)} on the padded grid, (B, classes, h, w) as mmseg returns it. */
    public Tensor logits(Tensor pixels) {
        Tensor padded = Grids.centerPad(pixels, backbone.config().patchSize());
        Grid[][] g = Grids.grids(backbone, padded, blocks, true, false);
        int b = pixels.size(0), gh = g[0][0].h(), gw = g[0][0].w(), k = head.classes;
        float[] out = new float[b * k * gh * gw];
        for (int i = 0; i < b; i++) {
            float[] l = head.forward(g[i]);
            for (int p = 0; p < gh * gw; p++)
                for (int c = 0; c < k; c++) out[(i * k + c) * gh * gw + p] = l[p * k + c];
        }
        return new Tensor(out, b, k, gh, gw);
    }

    /** mmseg's whole-image {@code encode_decode}: the logits resized to the unpadded input, (B, classes, H, W). */
    public Tensor encodeDecode(Tensor pixels) {
        int b = pixels.size(0), h = pixels.size(2), w = pixels.size(3), k = head.classes;
        float[] out = new float[b * k * h * w];
        for (int i = 0; i < b; i++) {
            float[] one = new float[3 * h * w];
            System.arraycopy(pixels.data(), i * 3 * h * w, one, 0, one.length);
            GridLogits g = encode(new Tensor(one, 1, 3, h, w));
            float[] r = Resize.bilinear(g.logits(), g.gh(), g.gw(), k, h, w, false);
            for (int p = 0; p < h * w; p++)
                for (int c = 0; c < k; c++) out[(i * k + c) * h * w + p] = r[p * k + c];
        }
        return new Tensor(out, b, k, h, w);
    }

    GridLogits encode(Tensor crop) {
        Tensor padded = Grids.centerPad(crop, backbone.config().patchSize());
        Grid[] g = Grids.grids(backbone, padded, blocks, true, false)[0];
        return new GridLogits(g[0].h(), g[0].w(), head.forward(g));
    }

    /** A photo's classes at its own size, through the test pipeline {@code cfg}. */
    public Segmentation segment(RgbImage image, TestConfig cfg) {
        int w = image.width(), h = image.height(), k = head.classes;
        List<Aug> augs = new ArrayList<>();
        for (double r : cfg.ratios()) {
            int[] s = cfg.size(w, h, r);
            Tensor x = normalise(resize(image, s[0], s[1]));
            augs.add(new Aug(x, false));
            if (cfg.flip()) augs.add(new Aug(flip(x), true));
        }
        int[] labels = new int[w * h];
        SlideInference.run(h, w, k, augs, cfg.window(), this::encode, false, (y0, y1, p) ->
                org.dino4j.kernels.Parallel.forRange((y1 - y0) * w, 4096, (q0, q1) -> {
                    var kn = org.dino4j.kernels.Kernels.get();
                    for (int q = q0; q < q1; q++) { // torch.argmax: the first of equal maxima
                        float max = kn.max(p, q * k, k);
                        int best = 0;
                        while (best < k - 1 && p[q * k + best] != max) best++; // bounded: a NaN max matches nothing
                        labels[y0 * w + q] = best;
                    }
                }));
        return new Segmentation(w, h, k, labels);
    }

    /** mmcv.imresize's bilinear (cv2 INTER_LINEAR: half-pixel centres, no antialiasing), rounded back to 8 bits. */
    static RgbImage resize(RgbImage im, int w, int h) {
        if (w == im.width() && h == im.height()) return im;
        byte[] rgb = im.rgb();
        float[] x = new float[rgb.length];
        for (int i = 0; i < rgb.length; i++) x[i] = rgb[i] & 0xff;
        float[] y = Resize.bilinear(x, im.height(), im.width(), 3, h, w, false);
        byte[] out = new byte[y.length];
        for (int i = 0; i < y.length; i++) out[i] = (byte) Math.min(255, Math.max(0, Math.round(y[i])));
        return new RgbImage(w, h, out);
    }

    /** mmseg's Normalize (ImageNet mean and std on the 0..255 scale), channels first. */
    static Tensor normalise(RgbImage im) {
        int w = im.width(), h = im.height();
        float[] out = new float[3 * h * w];
        byte[] rgb = im.rgb();
        for (int c = 0; c < 3; c++) {
            float mean = Preprocess.IMAGENET_MEAN[c] * 255f, std = Preprocess.IMAGENET_STD[c] * 255f;
            for (int p = 0; p < h * w; p++) out[c * h * w + p] = ((rgb[p * 3 + c] & 0xff) - mean) / std;
        }
        return new Tensor(out, 1, 3, h, w);
    }

    static Tensor flip(Tensor x) {
        int c = x.size(1), h = x.size(2), w = x.size(3);
        float[] s = x.data(), out = new float[s.length];
        for (int r = 0; r < c * h; r++)
            for (int i = 0; i < w; i++) out[r * w + i] = s[r * w + w - 1 - i];
        return new Tensor(out, 1, c, h, w);
    }
}
