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
        return new Features(out, labels(ds), d, numClasses(ds));
    }

    /**
     * Features that {@code dino4j embed} wrote: the rows of {@code manifest.tsv} with status ok, in order, their
     * {@code key} vectors (e.g. cls) from the shards, their labels from the manifest.
     */
    public static Features fromEmbedDir(java.nio.file.Path dir, String key) {
        java.nio.file.Path manifest = dir.resolve("manifest.tsv");
        List<String> lines;
        try {
            lines = java.nio.file.Files.readAllLines(manifest);
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException(manifest + ": cannot read (not a `dino4j embed` output?): " + e.getMessage());
        }
        java.util.Map<Integer, float[]> shards = new java.util.HashMap<>();
        int[] dim = {-1}; // the vectors' length, read from the first shard's shape
        java.util.Map<String, Integer> classIds = new java.util.LinkedHashMap<>();
        List<float[]> rows = new java.util.ArrayList<>();
        List<Integer> labels = new java.util.ArrayList<>();
        int d = -1, maxLabel = -1;
        for (int i = 1; i < lines.size(); i++) {
            String[] f = lines.get(i).split("\t", -1);
            if (f.length < 7) throw new IllegalArgumentException(manifest + ":" + (i + 1) + ": expected 7 columns");
            if (!f[6].equals("ok")) continue;
            int label = Integer.parseInt(f[2]);
            if (label < 0) {
                if (f[3].isEmpty()) throw new IllegalArgumentException(manifest + ":" + (i + 1) + ": " + f[1] + " has no label");
                label = classIds.computeIfAbsent(f[3], c -> classIds.size());
            }
            int shard = Integer.parseInt(f[4]), row = Integer.parseInt(f[5]);
            float[] x = shards.computeIfAbsent(shard, sh -> {
                java.nio.file.Path file = dir.resolve(org.dino4j.embed.Embedder.shardName(sh) + ".safetensors");
                try (var st = org.dino4j.io.SafeTensors.read(file)) {
                    if (!st.contains(key)) throw new IllegalArgumentException(file + ": no '" + key + "' tensor (embed it with that output)");
                    long[] shape = st.get(key).shape();
                    float[] v = st.get(key).toFloatArray();
                    if (dim[0] < 0) dim[0] = (int) (v.length / shape[0]);
                    return v;
                }
            });
            d = dim[0];
            rows.add(java.util.Arrays.copyOfRange(x, row * d, (row + 1) * d));
            labels.add(label);
            maxLabel = Math.max(maxLabel, label);
            if (shards.size() > 2) shards.keySet().removeIf(k -> k < shard); // shards come in order: keep memory to one
        }
        float[] out = new float[rows.size() * Math.max(d, 0)];
        for (int i = 0; i < rows.size(); i++) System.arraycopy(rows.get(i), 0, out, i * d, d);
        return new Features(out, labels.stream().mapToInt(Integer::intValue).toArray(), Math.max(d, 0), maxLabel + 1);
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
