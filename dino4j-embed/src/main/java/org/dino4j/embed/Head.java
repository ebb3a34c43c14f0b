package org.dino4j.embed;

import java.util.List;

import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.tensor.Tensor;

/** One output of the feature pipeline: a row of floats per image, read from its batch's forward (later heads plug in here). */
public interface Head {
    String key();

    float[] row(Forward f, int i);

    /**
     * The CLS tokens of the last n blocks (final norm applied), oldest first, then the mean of the last block's patch
     * tokens: the parts of the official linear probe's {@code create_linear_input}, (n + 1) x D floats.
     */
    static Head lastBlocks(int n) {
        return new Head() {
            @Override
            public String key() {
                return "last_" + n + "_blocks";
            }

            @Override
            public float[] row(Forward f, int i) {
                List<DinoVisionTransformer.Layer> layers = f.lastLayers(n);
                int d = f.model().config().embedDim();
                float[] out = new float[(n + 1) * d];
                for (int l = 0; l < n; l++) System.arraycopy(layers.get(l).cls().data(), i * d, out, l * d, d);
                System.arraycopy(patchMean(layers.get(n - 1).patch(), i), 0, out, n * d, d);
                return out;
            }
        };
    }

    /** The mean over the patches of image i of (B, N, D) tokens, summed in double. */
    static float[] patchMean(Tensor tokens, int i) {
        int np = tokens.size(1), d = tokens.size(2);
        float[] pt = tokens.data(), m = new float[d];
        double[] acc = new double[d];
        for (int t = 0; t < np; t++)
            for (int c = 0; c < d; c++) acc[c] += pt[(i * np + t) * d + c];
        for (int c = 0; c < d; c++) m[c] = (float) (acc[c] / np);
        return m;
    }
}
