package org.dino4j.eval;

import java.util.List;
import java.util.function.IntConsumer;

import org.dino4j.data.Dataset;
import org.dino4j.data.ImageDecoder;
import org.dino4j.data.Preprocess;
import org.dino4j.data.RgbImage;
import org.dino4j.data.Sample;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.tensor.Tensor;

/** Features of a labelled dataset held in memory, for the protocols that read all of them (k-NN, probes). */
public record Features(float[] x, int[] labels, int dim, int numClasses) {
    public int size() {
        return labels.length;
    }

    /** The model's {@code x_norm_clstoken} of every image, batch by batch; {@code done} hears the running count. */
    public static Features cls(DinoVisionTransformer model, Dataset ds, Preprocess pre, int batch, IntConsumer done) {
        int n = ds.size(), d = model.config().embedDim();
        float[] out = new float[n * d];
        ImageDecoder dec = new ImageDecoder();
        for (int i0 = 0; i0 < n; i0 += batch) {
            int b = Math.min(batch, n - i0);
            Tensor px = batch(ds, i0, b, pre, dec);
            float[] cls = model.forwardFeatures(px).xNormClstoken().data();
            System.arraycopy(cls, 0, out, i0 * d, b * d);
            if (done != null) done.accept(i0 + b);
        }
        return new Features(out, labels(ds), d, numClasses(ds));
    }

    /** Images [i0, i0 + b) of ds, decoded and preprocessed into one (b, 3, H, W) tensor; all must come out one size. */
    static Tensor batch(Dataset ds, int i0, int b, Preprocess pre, ImageDecoder dec) {
        float[] px = null;
        int h = 0, w = 0;
        for (int j = 0; j < b; j++) {
            RgbImage im = ds.get(i0 + j).source().load(dec);
            int[] hw = pre.outputSize(im.width(), im.height());
            if (px == null) {
                h = hw[0];
                w = hw[1];
                px = new float[b * 3 * h * w];
            } else if (hw[0] != h || hw[1] != w) {
                throw new IllegalArgumentException(ds.get(i0 + j).id() + ": preprocessed to " + hw[1] + "x" + hw[0]
                        + ", the batch's first image to " + w + "x" + h + " (give a crop size)");
            }
            System.arraycopy(pre.chw(im), 0, px, j * 3 * h * w, 3 * h * w);
        }
        return new Tensor(px, b, 3, h, w);
    }

    /**
     * Raw pixels as features (RGB bytes / 255, all images the same size): the baseline every feature should beat.
     * When every image is gray (R = G = B) one channel is kept: the same cosine similarities at a third of the cost.
     */
    public static Features pixels(Dataset ds) {
        PixelRows r = pixelRows(ds);
        return new Features(r.x(), labels(ds), r.dim(), numClasses(ds));
    }

    /** Rows of length dim, row-major. */
    public record PixelRows(float[] x, int dim) {}

    /** The raw-pixel rows of {@link #pixels} without labels, for unlabelled images (curation). */
    public static PixelRows pixelRows(Dataset ds) {
        int n = ds.size();
        ImageDecoder dec = new ImageDecoder();
        boolean gray = true;
        int len = -1;
        for (int i = 0; i < n && gray; i++) {
            RgbImage im = ds.get(i).source().load(dec);
            byte[] px = im.rgb();
            if (len < 0) len = px.length;
            else if (px.length != len)
                throw new IllegalArgumentException(ds.get(i).id() + ": " + im.width() + "x" + im.height()
                        + " differs from the first image's size; raw-pixel features need one size");
            for (int j = 0; j < px.length && gray; j += 3) gray = px[j] == px[j + 1] && px[j] == px[j + 2];
        }
        int step = gray ? 3 : 1, d = len < 0 ? 0 : len / step;
        float[] out = new float[n * d];
        for (int i = 0; i < n; i++) {
            RgbImage im = ds.get(i).source().load(dec);
            byte[] px = im.rgb();
            if (px.length != len)
                throw new IllegalArgumentException(ds.get(i).id() + ": " + im.width() + "x" + im.height()
                        + " differs from the first image's size; raw-pixel features need one size");
            for (int j = 0; j < d; j++) out[i * d + j] = (px[j * step] & 0xff) / 255f;
        }
        return new PixelRows(out, d);
    }

    /**
     * Features that {@code dino4j embed} wrote: the rows of {@code manifest.tsv} with status ok, in order, their
     * {@code key} vectors (e.g. cls) from the shards, their labels from the manifest.
     */
    public static Features fromEmbedDir(java.nio.file.Path dir, String key) {
        org.dino4j.embed.EmbedDir.Rows r = org.dino4j.embed.EmbedDir.read(dir, key);
        java.util.Map<String, Integer> classIds = new java.util.LinkedHashMap<>();
        int[] labels = new int[r.size()];
        int maxLabel = -1;
        for (int i = 0; i < labels.length; i++) {
            int label = r.labels()[i];
            if (label < 0) {
                String c = r.classNames().get(i);
                if (c.isEmpty()) throw new IllegalArgumentException(dir.resolve("manifest.tsv") + ": " + r.ids().get(i) + " has no label");
                label = classIds.computeIfAbsent(c, k -> classIds.size());
            }
            labels[i] = label;
            maxLabel = Math.max(maxLabel, label);
        }
        return new Features(r.x(), labels, r.dim(), maxLabel + 1);
    }

    private static int[] labels(Dataset ds) {
        int[] l = new int[ds.size()];
        for (int i = 0; i < l.length; i++) {
            Sample s = ds.get(i);
            if (s.label() < 0) throw new IllegalArgumentException(s.id() + ": no label (evaluation needs labelled images)");
            l[i] = s.label();
        }
        return l;
    }

    private static int numClasses(Dataset ds) {
        int max = -1;
        for (int i = 0; i < ds.size(); i++) max = Math.max(max, ds.get(i).label());
        return Math.max(ds.classes().size(), max + 1);
    }
}
