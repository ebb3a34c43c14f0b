package org.dino4j.eval;

import java.util.function.IntConsumer;

import org.dino4j.data.Dataset;
import org.dino4j.data.Preprocess;
import org.dino4j.data.Sample;
import org.dino4j.embed.FeatureExtractor;
import org.dino4j.embed.Head;
import org.dino4j.embed.Output;
import org.dino4j.embed.PixelRows;
import org.dino4j.model.DinoVisionTransformer;

/** Features of a labelled dataset held in memory, for the protocols that read all of them (k-NN, probes). */
public record Features(float[] x, int[] labels, int dim, int numClasses) {
    public int size() {
        return labels.length;
    }

    /** The model's {@code x_norm_clstoken} of every image, batch by batch; {@code done} hears the running count. */
    public static Features cls(DinoVisionTransformer model, Dataset ds, Preprocess pre, int batch, IntConsumer done) {
        int d = model.config().embedDim();
        return new Features(rows(model, ds, pre, batch, Output.CLS, done), labels(ds), d, numClasses(ds));
    }

    /** One head's rows of every image of ds, in order, through the feature pipeline; a failure stops it with its error. */
    static float[] rows(DinoVisionTransformer model, Dataset ds, Preprocess pre, int batch, Head head, IntConsumer done) {
        try (FeatureExtractor fx = new FeatureExtractor(model, FeatureExtractor.Options.of(head).withPreprocess(pre).withBatchSize(batch))) {
            return fx.rows(ds, done);
        }
    }

    /** Raw pixels as features ({@link PixelRows}): the baseline every feature should beat. */
    public static Features pixels(Dataset ds) {
        PixelRows r = PixelRows.of(ds);
        return new Features(r.x(), labels(ds), r.dim(), numClasses(ds));
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
