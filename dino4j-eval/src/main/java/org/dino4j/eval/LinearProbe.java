package org.dino4j.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;

import org.dino4j.data.Dataset;
import org.dino4j.data.Preprocess;
import org.dino4j.kernels.Epilogue;
import org.dino4j.kernels.Kernels;
import org.dino4j.kernels.Mat;
import org.dino4j.kernels.Weight;
import org.dino4j.model.DinoVisionTransformer;

/**
 * Linear probing as the official {@code dinov2/eval/linear.py}, on cached features: for each way of building the
 * input (CLS tokens of the last 1 or 4 blocks, with or without the average-pooled patch tokens of the last block:
 * {@code create_linear_input}) and each of the 13 learning rates, one {@code nn.Linear} (weight N(0, 0.01), bias 0)
 * trained with cross-entropy by SGD (momentum 0.9, no weight decay, lr x batch / 256, cosine annealing to 0), all 52
 * at once on the same shuffled batches. The classifier with the best validation top-1 is reported, with its test
 * accuracy. Differences from the official run: no random-resized-crop/flip augmentation of the training images (the
 * features are computed once), and epochs are passes over the cached features.
 */
public final class LinearProbe {
    /** The official 13 learning rates. */
    public static final double[] LEARNING_RATES = {1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1};

    /**
     * Per image: the CLS tokens (final norm applied) of the last 4 blocks, oldest first, then the mean of the last
     * block's patch tokens: 5 x D floats, from which every input variant is a slice.
     */
    public record Inputs(float[] x, int[] labels, int embedDim, int numClasses) {
        public int size() {
            return labels.length;
        }

        int stride() {
            return 5 * embedDim;
        }

        /** The classifier input of one variant: its length. */
        int width(int nBlocks, boolean avgpool) {
            return (nBlocks + (avgpool ? 1 : 0)) * embedDim;
        }

        /** Copies image i's input for (nBlocks, avgpool) into dst at off. */
        void input(int i, int nBlocks, boolean avgpool, float[] dst, int off) {
            int d = embedDim, base = i * stride();
            System.arraycopy(x, base + (4 - nBlocks) * d, dst, off, nBlocks * d);
            if (avgpool) System.arraycopy(x, base + 4 * d, dst, off + nBlocks * d, d);
        }
    }

    public record Result(int nBlocks, boolean avgpool, double lr, double valTop1, double testTop1) {
        public String name() {
            return String.format(java.util.Locale.ROOT, "classifier_%d_blocks_avgpool_%s_lr_%s", nBlocks, avgpool ? "True" : "False",
                    Double.toString(lr).replace('.', '_'));
        }
    }

    private LinearProbe() {}

    /** The inputs of every image of ds: get_intermediate_layers(x, 4, return_class_token = True, norm = True). */
    public static Inputs inputs(DinoVisionTransformer model, Dataset ds, Preprocess pre, int batch, IntConsumer done) {
        int n = ds.size(), d = model.config().embedDim();
        if (model.config().depth() < 4) throw new IllegalArgumentException("the linear probe reads the last 4 blocks; the model has " + model.config().depth());
        float[] out = Features.rows(model, ds, pre, batch, org.dino4j.embed.Head.lastBlocks(4), done);
        int[] labels = new int[n];
        int max = -1;
        for (int i = 0; i < n; i++) {
            labels[i] = ds.get(i).label();
            if (labels[i] < 0) throw new IllegalArgumentException(ds.get(i).id() + ": no label (the linear probe needs labelled images)");
            max = Math.max(max, labels[i]);
        }
        return new Inputs(out, labels, d, Math.max(max + 1, ds.classes().size()));
    }

    /**
     * Trains all variants x learning rates on train, picks by top-1 on val, reports test top-1 for every one (the best
     * first). nBlocksList e.g. {1, 4}; batch 128 and 10 epochs are the official settings.
     */
    public static List<Result> run(Inputs train, Inputs val, Inputs test, int[] nBlocksList, double[] lrs, int epochs,
                                   int batch, long seed) {
        int classes = Math.max(train.numClasses(), Math.max(val.numClasses(), test.numClasses()));
        List<Result> all = new ArrayList<>();
        for (int nb : nBlocksList)
            for (boolean pool : new boolean[] {false, true}) {
                if (nb < 1 || nb > 4) throw new IllegalArgumentException("n_last_blocks must be 1..4, got " + nb);
                Head h = train(train, nb, pool, lrs, classes, epochs, batch, seed);
                double[] v = h.top1(val, nb, pool), t = h.top1(test, nb, pool);
                for (int r = 0; r < lrs.length; r++) all.add(new Result(nb, pool, lrs[r], v[r], t[r]));
            }
        all.sort((a, b) -> Double.compare(b.valTop1(), a.valTop1()));
        return all;
    }

    /** lrs.length linear classifiers over the same input: one weight matrix (lrs.length * classes) x width. */
    private record Head(float[] w, float[] b, int classes, int width, int count) {
        /** Logits of rows [0, m) of in (m x width) into out (m x count*classes). */
        void logits(float[] in, int m, float[] out) {
            Kernels.get().linear(Mat.of(in, width), Weight.of(w), Epilogue.bias(b), Mat.of(out, count * classes), m, count * classes, width);
        }

        double[] top1(Inputs data, int nb, boolean pool) {
            int n = data.size(), blk = 512;
            long[] correct = new long[count];
            float[] in = new float[blk * width], out = new float[blk * count * classes];
            for (int i0 = 0; i0 < n; i0 += blk) {
                int m = Math.min(blk, n - i0);
                for (int i = 0; i < m; i++) data.input(i0 + i, nb, pool, in, i * width);
                logits(in, m, out);
                for (int i = 0; i < m; i++)
                    for (int r = 0; r < count; r++) {
                        int o = (i * count + r) * classes, best = 0;
                        for (int c = 1; c < classes; c++) if (out[o + c] > out[o + best]) best = c;
                        if (best == data.labels()[i0 + i]) correct[r]++;
                    }
            }
            double[] acc = new double[count];
            for (int r = 0; r < count; r++) acc[r] = n == 0 ? 0 : (double) correct[r] / n;
            return acc;
        }
    }

    private static Head train(Inputs data, int nb, boolean pool, double[] lrs, int classes, int epochs, int batch, long seed) {
        int width = data.width(nb, pool), count = lrs.length, outs = count * classes, n = data.size();
        SplittableRandom rng = new SplittableRandom(seed);
        float[] w = new float[outs * width], bias = new float[outs];
        for (int i = 0; i < w.length; i++) w[i] = (float) (0.01 * rng.nextGaussian());
        float[] mw = new float[w.length], mb = new float[outs]; // SGD momentum buffers
        Head h = new Head(w, bias, classes, width, count);
        int itersPerEpoch = (n + batch - 1) / batch, total = epochs * itersPerEpoch, it = 0;
        float[] in = new float[batch * width], logits = new float[batch * outs], gw = new float[w.length], gb = new float[outs];
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        for (int e = 0; e < epochs; e++) {
            for (int i = n - 1; i > 0; i--) { // Fisher-Yates with the run's generator
                int j = rng.nextInt(i + 1), t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            for (int s = 0; s < n; s += batch, it++) {
                int m = Math.min(batch, n - s);
                for (int i = 0; i < m; i++) data.input(order[s + i], nb, pool, in, i * width);
                h.logits(in, m, logits);
                // d(mean CE)/d logits = (softmax - onehot) / m, per classifier
                for (int i = 0; i < m; i++) {
                    int y = data.labels()[order[s + i]];
                    for (int r = 0; r < count; r++) {
                        int o = (i * count + r) * classes;
                        float mx = Float.NEGATIVE_INFINITY;
                        for (int c = 0; c < classes; c++) mx = Math.max(mx, logits[o + c]);
                        double z = 0;
                        for (int c = 0; c < classes; c++) z += Math.exp(logits[o + c] - mx);
                        for (int c = 0; c < classes; c++)
                            logits[o + c] = (float) ((Math.exp(logits[o + c] - mx) / z - (c == y ? 1 : 0)) / m);
                    }
                }
                // gW = dLᵀ · X (outs x width), gb = column sums
                java.util.Arrays.fill(gb, 0);
                Kernels.get().matmulTransA(Mat.of(logits, outs), Mat.of(in, width), Mat.of(gw, width), outs, width, m, false, null);
                for (int i = 0; i < m; i++) for (int o = 0; o < outs; o++) gb[o] += logits[i * outs + o];
                double cos = 0.5 * (1 + Math.cos(Math.PI * it / total)); // CosineAnnealingLR(T_max = total, eta_min = 0)
                for (int r = 0; r < count; r++) {
                    float lr = (float) (lrs[r] * batch / 256.0 * cos);
                    for (int k = r * classes * width; k < (r + 1) * classes * width; k++) {
                        mw[k] = 0.9f * mw[k] + gw[k];
                        w[k] -= lr * mw[k];
                    }
                    for (int k = r * classes; k < (r + 1) * classes; k++) {
                        mb[k] = 0.9f * mb[k] + gb[k];
                        bias[k] -= lr * mb[k];
                    }
                }
            }
        }
        return h;
    }
}
