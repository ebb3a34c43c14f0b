package org.dino4j.heads;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.dino4j.embed.Forward;
import org.dino4j.embed.Head;
import org.dino4j.kernels.Epilogue;
import org.dino4j.kernels.Kernels;
import org.dino4j.kernels.Mat;
import org.dino4j.kernels.Weight;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.tensor.Tensor;

/**
 * The hub's linear classifiers ({@code dinov2_vit*14[_reg]_lc}, {@code dinov2/hub/classifiers.py}): an
 * {@code nn.Linear((1 + layers)·D, classes)} on {@code [x_norm_clstoken, mean(x_norm_patchtokens)]} (layers = 1) or on the
 * final-normed CLS of the last four blocks and the mean patch token of the last (layers = 4). The number of layers is read
 * from the head's width. Hugging Face's {@code Dinov2[WithRegisters]ForImageClassification} (the 1-layer head) loads
 * through {@link #loadHuggingFace}. Thread-safe like the backbone: the head is read-only after loading.
 */
public final class Classifier {
    /** One of the top-k answers: class index, its name, its softmax probability. */
    public record Prediction(int index, String label, double probability) {}

    private final DinoVisionTransformer backbone;
    private final int layers, classes, in;
    private final float[] weight, bias;
    private final List<String> labels;
    private final boolean floorToPatch; // Hugging Face's forward: sides floored to multiples of the patch

    private Classifier(DinoVisionTransformer backbone, int layers, int classes, float[] weight, float[] bias, List<String> labels,
                       boolean floorToPatch) {
        this.backbone = backbone;
        this.floorToPatch = floorToPatch;
        this.layers = layers;
        this.classes = classes;
        this.in = (1 + layers) * backbone.embedDim();
        this.weight = weight;
        this.bias = bias;
        this.labels = labels;
    }

    /** A released {@code *_linear_head.pth} / {@code *_linear4_head.pth} (or the same tensors in safetensors). */
    public static Classifier load(DinoVisionTransformer backbone, Path headFile, List<String> labels) {
        try (HeadWeights w = HeadWeights.open(headFile)) {
            return of(backbone, w, labels);
        }
    }

    /**
     * A Hugging Face {@code Dinov2ForImageClassification} / {@code Dinov2WithRegistersForImageClassification} directory
     * ({@code config.json} + {@code model.safetensors}, e.g. {@code facebook/dinov2-small-imagenet1k-1-layer}); the class
     * names come from its {@code id2label}. Close {@link #backbone()} when done.
     */
    public static Classifier loadHuggingFace(Path dir, Semantics semantics) {
        return HuggingFaceHeads.classifier(dir, semantics);
    }

    /** The head in {@code w}: {@code weight} (classes, (1 + layers)·D) and {@code bias}. */
    public static Classifier of(DinoVisionTransformer backbone, HeadWeights w, List<String> labels) {
        return of(backbone, w, labels, false);
    }

    static Classifier of(DinoVisionTransformer backbone, HeadWeights w, List<String> labels, boolean floorToPatch) {
        int[] s = w.shape("weight");
        if (s == null || s.length != 2) throw w.fail("not a linear classifier head: no 2-d 'weight' (" + String.join(", ", w.keys()) + ")");
        int d = backbone.embedDim(), classes = s[0], in = s[1];
        int layers = in == 2 * d ? 1 : in == 5 * d ? 4 : -1;
        if (layers < 0)
            throw w.fail("a classifier head for another backbone: its linear layer takes " + in + " features, the backbone's "
                    + "width " + d + " needs " + 2 * d + " (1 layer) or " + 5 * d + " (4 layers)" + widthHint(in));
        if (labels != null && labels.size() != classes)
            throw w.fail("the head has " + classes + " classes but " + labels.size() + " class names were given");
        float[] weight = w.get("weight", classes, in), bias = w.get("bias", classes);
        w.requireAllUsed();
        return new Classifier(backbone, layers, classes, weight, bias, labels, floorToPatch);
    }

    private static String widthHint(int in) {
        return in % 2 == 0 && in % 5 == 0 ? " (a head for width " + in / 2 + " or " + in / 5 + ")"
                : in % 2 == 0 ? " (a 1-layer head for width " + in / 2 + "?)" : in % 5 == 0 ? " (a 4-layer head for width " + in / 5 + "?)" : "";
    }

    public DinoVisionTransformer backbone() {
        return backbone;
    }

    public int layers() {
        return layers;
    }

    public int classes() {
        return classes;
    }

    public String label(int index) {
        return labels == null ? "class " + index : labels.get(index);
    }

    /** What the official {@code nn.Linear} sees, (B, (1 + layers)·D). */
    public Tensor linearInput(Tensor pixels) {
        if (floorToPatch) pixels = Grids.floorCrop(pixels, backbone.config().patchSize());
        Forward f = Forward.of(backbone, pixels);
        Head h = inputHead();
        int b = pixels.size(0);
        float[] out = new float[b * in];
        for (int i = 0; i < b; i++) System.arraycopy(h.row(f, i), 0, out, i * in, in);
        return new Tensor(out, b, in);
    }

    /** The logits, (B, classes). */
    public Tensor logits(Tensor pixels) {
        Tensor x = linearInput(pixels);
        int b = x.size(0);
        return new Tensor(linear(x.data(), b), b, classes);
    }

    float[] linear(float[] x, int rows) {
        float[] y = new float[rows * classes];
        Kernels.get().linear(Mat.of(x, in), Weight.of(weight), Epilogue.bias(bias), Mat.of(y, classes), rows, classes, in);
        return y;
    }

    /** The k most probable classes of each image, most probable first. */
    public List<List<Prediction>> classify(Tensor pixels, int k) {
        Tensor l = logits(pixels);
        List<List<Prediction>> out = new ArrayList<>();
        for (int i = 0; i < l.size(0); i++) out.add(top(Arrays.copyOfRange(l.data(), i * classes, (i + 1) * classes), k));
        return out;
    }

    /** Softmax of one row of logits, then its k largest, most probable first (ties: lower index first). */
    public List<Prediction> top(float[] logits, int k) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (float v : logits) max = Math.max(max, v);
        double[] p = new double[logits.length];
        for (int c = 0; c < logits.length; c++) sum += p[c] = Math.exp(logits[c] - max);
        Integer[] idx = new Integer[logits.length];
        for (int c = 0; c < idx.length; c++) idx[c] = c;
        Arrays.sort(idx, (a, b) -> p[a] != p[b] ? Double.compare(p[b], p[a]) : Integer.compare(a, b));
        List<Prediction> out = new ArrayList<>();
        for (int j = 0; j < Math.min(k, idx.length); j++) out.add(new Prediction(idx[j], label(idx[j]), p[idx[j]] / sum));
        return out;
    }

    private Head inputHead() {
        return Head.lastBlocks(layers);
    }

    /**
     * The logits as a row of the feature pipeline ({@link org.dino4j.embed.FeatureExtractor}), whose inputs are multiples
     * of the patch already (nothing is floored here).
     */
    public Head head() {
        Head input = inputHead();
        return new Head() {
            @Override
            public String key() {
                return "logits";
            }

            @Override
            public float[] row(Forward f, int i) {
                return linear(input.row(f, i), 1);
            }
        };
    }
}
