package org.dino4j.heads;

import java.nio.file.Path;

import org.dino4j.heads.DepthDecoder.Map;
import org.dino4j.heads.Grids.Grid;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.nn.Resize;
import org.dino4j.tensor.Tensor;

/**
 * The hub's depthers ({@code dinov2_vit*14_ld}, {@code _dd}; {@code dinov2/hub/depthers.py}): {@code CenterPadding(14)},
 * the backbone's blocks [2, 5, 8, 11] (ViT-S/B; L: [4, 11, 17, 23], g: [9, 19, 29, 39]; the last block alone for a 1-layer
 * linear head) without the final norm, a decode head, the depth clamped to [min, max] and resized bilinearly from the
 * padded grid's map straight to the input size ({@code whole_inference(x, img_meta=None, rescale=True)}). Hugging Face's
 * {@code DPTForDepthEstimation} loads through {@link #loadHuggingFace}, to run either its own forward or Meta's
 * ({@link Semantics}). Thread-safe like the backbone.
 */
public final class Depther {
    /** The dataset a head was trained on: it fixes the DPT head's depth range (the linear heads stop at 80 m whatever it is). */
    public enum Dataset {
        NYU(10f), KITTI(80f);

        final float maxDepth;

        Dataset(float maxDepth) {
            this.maxDepth = maxDepth;
        }
    }

    /** One image's depth in metres, row-major. */
    public record DepthMap(int width, int height, float[] metres) {}

    private final DinoVisionTransformer backbone;
    private final DepthDecoder head;
    private final int[] blocks;
    private final boolean norm;
    private final float minDepth, maxDepth;
    private final Semantics semantics;

    private Depther(DinoVisionTransformer backbone, DepthDecoder head, float minDepth, float maxDepth) {
        this(backbone, head, Grids.outIndex(backbone.depth(), head.layers()), false, minDepth, maxDepth, Semantics.META);
    }

    Depther(DinoVisionTransformer backbone, DepthDecoder head, int[] blocks, boolean norm, float minDepth, float maxDepth,
            Semantics semantics) {
        this.backbone = backbone;
        this.head = head;
        this.blocks = blocks.clone();
        this.norm = norm;
        this.minDepth = minDepth;
        this.maxDepth = maxDepth;
        this.semantics = semantics;
    }

    /**
     * A Hugging Face {@code DPTForDepthEstimation} directory ({@code config.json} + {@code model.safetensors}) on a Dinov2
     * backbone, e.g. {@code facebook/dpt-dinov2-small-nyu}. {@code dataset} gives the clamp range of {@link Semantics#META}
     * (HF's files do not say it); it may be null for {@link Semantics#HUGGING_FACE}. Close {@link #backbone()} when done.
     */
    public static Depther loadHuggingFace(Path dir, Semantics semantics, Dataset dataset) {
        return HuggingFaceHeads.depther(dir, semantics, dataset);
    }

    /** A released {@code *_{nyu,kitti}_{linear,linear4,dpt}_head.pth}; the kind is read from its keys. */
    public static Depther load(DinoVisionTransformer backbone, Path headFile, Dataset dataset) {
        try (HeadWeights w = HeadWeights.open(headFile)) {
            return of(backbone, w, dataset);
        }
    }

    public static Depther of(DinoVisionTransformer backbone, HeadWeights w, Dataset dataset) {
        int d = backbone.embedDim();
        if (DptHead.matches(w)) return new Depther(backbone, new DptHead(w, d, 0.001f), 0.001f, dataset.maxDepth);
        if (LinearDepthHead.matches(w))
            return new Depther(backbone, LinearDepthHead.of(w, d), LinearDepthHead.MIN_DEPTH, LinearDepthHead.MAX_DEPTH);
        throw w.fail("not a depth head: neither 'conv_depth.weight' (linear) nor 'reassemble_blocks.*' (DPT) is there");
    }

    public DinoVisionTransformer backbone() {
        return backbone;
    }

    /** "linear", "linear4" or "dpt". */
    public String kind() {
        return head instanceof DptHead ? "dpt" : head.layers() == 4 ? "linear4" : "linear";
    }

    /** The backbone blocks the head reads (0-based). */
    public int[] blocks() {
        return blocks.clone();
    }

    /** The clamp range (under {@link Semantics#HUGGING_FACE} nothing is clamped: 0 and the dataset's maximum, or +∞). */
    public float minDepth() {
        return minDepth;
    }

    public float maxDepth() {
        return maxDepth;
    }

    public Semantics semantics() {
        return semantics;
    }

    /**
     * Depth in metres at the input's size, (B, 1, H, W): the official {@code whole_inference(x, None, rescale=True)}.
     * Under {@link Semantics#HUGGING_FACE}: HF's {@code predicted_depth}, (B, 1, 32·ceil(gh/2), 32·ceil(gw/2)) for the
     * floored grid gh × gw, not resized (HF leaves that to {@code post_process_depth_estimation}).
     */
    public Tensor depth(Tensor pixels) {
        return run(pixels, true);
    }

    /**
     * The clamped map before the last resize, (B, 1, h, w): {@code encode_decode(x, None, rescale=False)} (under
     * {@link Semantics#HUGGING_FACE} the same as {@link #depth}).
     */
    public Tensor headResolution(Tensor pixels) {
        return run(pixels, false);
    }

    /** The blocks' grids the head reads: Meta pads the input to multiples of the patch, Hugging Face floors it. */
    Grid[][] grids(Tensor pixels) {
        int p = backbone.config().patchSize();
        Tensor in = semantics == Semantics.META ? Grids.centerPad(pixels, p) : Grids.floorCrop(pixels, p);
        return Grids.grids(backbone, in, blocks, norm, true);
    }

    DepthDecoder decoder() {
        return head;
    }

    /** One image's depth, (3, H, W) pixels. */
    public DepthMap depthMap(Tensor image) {
        Tensor d = depth(image.reshape(1, image.size(0), image.size(1), image.size(2)));
        return new DepthMap(d.size(3), d.size(2), d.data());
    }

    private Tensor run(Tensor pixels, boolean rescale) {
        int b = pixels.size(0), h = pixels.size(2), w = pixels.size(3);
        boolean meta = semantics == Semantics.META;
        rescale &= meta;
        Grid[][] g = grids(pixels);
        float[] out = null;
        int oh = 0, ow = 0;
        for (int i = 0; i < b; i++) {
            Map m = head.forward(g[i]);
            float[] v = m.values();
            if (meta) clamp(v, minDepth, maxDepth);
            if (rescale) v = Resize.bilinear(v, m.h(), m.w(), 1, h, w, false);
            oh = rescale ? h : m.h();
            ow = rescale ? w : m.w();
            if (out == null) out = new float[b * oh * ow];
            System.arraycopy(v, 0, out, i * oh * ow, oh * ow);
        }
        return new Tensor(out, b, 1, oh, ow);
    }

    /** In a method of its own, like {@link DptHead}'s element loops: C2 compiles this loop alone, not all of run on stack. */
    private static void clamp(float[] v, float min, float max) {
        for (int p = 0; p < v.length; p++) v[p] = Math.min(Math.max(v[p], min), max);
    }
}
