package org.dino4j.train.copydetect;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.dino4j.io.Json;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;
import org.dino4j.kernels.Epilogue;
import org.dino4j.kernels.Kernels;
import org.dino4j.kernels.Mat;
import org.dino4j.kernels.Weight;

/**
 * A copy-detection descriptor in the spirit of SSCD (Pizzi et al., CVPR 2022; the model the paper's deduplication
 * uses), at its smallest: an MLP over an image's pixels (resized to side x side, gray or RGB, / 255) with two GELU
 * layers, output L2-normalised. {@link CopyDetectorTrainer} trains it as SSCD does: InfoNCE between two copies of each
 * image (crops resized back, noise, quantisation) plus a KoLeo term that spreads the descriptors, so that copies land
 * close and distinct images — even alike ones — apart. It is no substitute for SSCD on photos; it is what a pool of
 * small images can train for itself.
 */
public record CopyDetector(int side, int channels, int hidden, int dim, float[] w1, float[] b1, float[] w2, float[] b2,
                           float[] w3, float[] b3) {
    public CopyDetector {
        int in = side * side * channels;
        if (w1.length != hidden * in || b1.length != hidden || w2.length != hidden * hidden || b2.length != hidden
                || w3.length != dim * hidden || b3.length != dim)
            throw new IllegalArgumentException("copy detector weights do not match side " + side + ", channels " + channels
                    + ", hidden " + hidden + ", dim " + dim);
    }

    public int inputSize() {
        return side * side * channels;
    }

    /** Descriptors of n input rows (n x inputSize()), n x dim, each of unit length. */
    public float[] embed(float[] x, int n) {
        int in = inputSize();
        if (x.length != (long) n * in) throw new IllegalArgumentException(x.length + " floats for " + n + " inputs of " + in);
        float[] h1 = new float[n * hidden], h2 = new float[n * hidden], out = new float[n * dim];
        Kernels.get().linear(Mat.of(x, in), Weight.of(w1), Epilogue.bias(b1), Mat.of(h1, hidden), n, hidden, in);
        Kernels.get().gelu(h1, 0, h1.length);
        Kernels.get().linear(Mat.of(h1, hidden), Weight.of(w2), Epilogue.bias(b2), Mat.of(h2, hidden), n, hidden, hidden);
        Kernels.get().gelu(h2, 0, h2.length);
        Kernels.get().linear(Mat.of(h2, hidden), Weight.of(w3), Epilogue.bias(b3), Mat.of(out, dim), n, dim, hidden);
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < dim; j++) s += (double) out[i * dim + j] * out[i * dim + j];
            float inv = (float) (1 / Math.max(Math.sqrt(s), 1e-12));
            for (int j = 0; j < dim; j++) out[i * dim + j] *= inv;
        }
        return out;
    }

    /** Writes the weights as safetensors, the sizes in the metadata ("copy_detector"). */
    public void save(Path file) throws IOException {
        long h = hidden, in = inputSize();
        SafeTensors.write(file, List.of(
                TensorEntry.of("fc1.weight", new long[] {h, in}, w1), TensorEntry.of("fc1.bias", new long[] {h}, b1),
                TensorEntry.of("fc2.weight", new long[] {h, h}, w2), TensorEntry.of("fc2.bias", new long[] {h}, b2),
                TensorEntry.of("fc3.weight", new long[] {dim, h}, w3), TensorEntry.of("fc3.bias", new long[] {dim}, b3)),
                Map.of("copy_detector", Json.write(Map.of("side", side, "channels", channels, "hidden", hidden, "dim", dim))));
    }

    public static CopyDetector load(Path file) {
        try (TensorStore st = SafeTensors.read(file)) {
            String meta = st.metadata() == null ? null : st.metadata().get("copy_detector");
            if (meta == null) throw new IllegalArgumentException(file + ": not a copy detector (no 'copy_detector' metadata; train one with `dino4j copy-detector`)");
            Map<String, Object> m = Json.parseObject(meta);
            int side = ((Number) m.get("side")).intValue(), ch = ((Number) m.get("channels")).intValue();
            int hidden = ((Number) m.get("hidden")).intValue(), dim = ((Number) m.get("dim")).intValue();
            String[] keys = {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"};
            float[][] w = new float[keys.length][];
            for (int i = 0; i < keys.length; i++) {
                if (!st.contains(keys[i])) throw new IllegalArgumentException(file + ": missing tensor " + keys[i]);
                w[i] = st.get(keys[i]).toFloatArray();
            }
            try {
                return new CopyDetector(side, ch, hidden, dim, w[0], w[1], w[2], w[3], w[4], w[5]);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(file + ": " + e.getMessage());
            }
        }
    }
}
