package org.dino4j.train.loss;

import org.dino4j.train.autograd.Tape;
import org.dino4j.train.autograd.Var;

/**
 * The official KoLeoLoss: L2-normalise (eps 1e-8), find each row's nearest neighbour by inner product (itself
 * excluded), d = ||x - x[nn] + 1e-8|| (PairwiseDistance adds eps to the difference), loss = -mean(log(d + 1e-8)).
 */
public final class KoLeoLoss {
    private KoLeoLoss() {}

    public static Var forward(Tape t, Var x) {
        Var xn = t.normalize(x, 1e-8f);
        int r = xn.rows(), c = xn.cols();
        float[] v = xn.value();
        int[] nn = new int[r];
        for (int i = 0; i < r; i++) {
            double best = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < r; j++) {
                double dot = -1;
                if (j != i) {
                    dot = 0;
                    for (int e = 0; e < c; e++) dot += (double) v[i * c + e] * v[j * c + e];
                }
                if (dot > best) { // first maximum, as torch.argmax
                    best = dot;
                    nn[i] = j;
                }
            }
        }
        Var diff = t.affine(t.sub(xn, t.rows(xn, nn)), 1f, 1e-8f);
        Var d = t.rowNorm(diff);
        return t.affine(t.mean(t.log(t.affine(d, 1f, 1e-8f))), -1f, 0f);
    }
}
