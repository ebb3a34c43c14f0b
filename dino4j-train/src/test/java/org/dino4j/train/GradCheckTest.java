package org.dino4j.train;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import java.util.function.BiFunction;

import org.dino4j.train.autograd.Tape;
import org.dino4j.train.autograd.Var;
import org.dino4j.train.loss.KoLeoLoss;
import org.junit.jupiter.api.Test;

/**
 * Every op's gradient against central finite differences: loss = sum(out * r) for a random r, on random shapes
 * (including 1-row, 1-column and odd sizes). Values are float32, so differences use h = 1e-2 and the check is
 * |analytic - numeric| <= 2e-3 * max(1, max |gradient|).
 */
class GradCheckTest {
    final SplittableRandom rnd = new SplittableRandom(11);

    Var param(double scale, int... shape) {
        int n = 1;
        for (int s : shape) n *= s;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (rnd.nextGaussian() * scale);
        return Var.param(v, shape);
    }

    /** Checks d(sum(f(inputs) * r))/d(input) for every input element. */
    void check(String what, List<Var> inputs, BiFunction<Tape, List<Var>, Var> f) {
        check(what, inputs, f, 1e-2);
    }

    void check(String what, List<Var> inputs, BiFunction<Tape, List<Var>, Var> f, double h) {
        Tape t0 = new Tape();
        Var out = f.apply(t0, inputs);
        float[] r = new float[out.numel()];
        for (int i = 0; i < r.length; i++) r[i] = (float) rnd.nextGaussian();
        t0.backward(t0.dot(out, r));
        for (int vi = 0; vi < inputs.size(); vi++) {
            Var x = inputs.get(vi);
            float[] analytic = x.grad();
            double max = 1;
            for (float a : analytic) max = Math.max(max, Math.abs(a));
            for (int i = 0; i < x.numel(); i++) {
                float keep = x.value()[i];
                x.value()[i] = (float) (keep + h);
                double up = loss(f, inputs, r);
                x.value()[i] = (float) (keep - h);
                double down = loss(f, inputs, r);
                x.value()[i] = keep;
                double numeric = (up - down) / (2 * h);
                assertTrue(Math.abs(numeric - analytic[i]) <= 2e-3 * max,
                        what + ": input " + vi + " element " + i + ": analytic " + analytic[i] + ", numeric " + numeric);
            }
            x.zeroGrad();
        }
    }

    double loss(BiFunction<Tape, List<Var>, Var> f, List<Var> inputs, float[] r) {
        Var o = f.apply(new Tape(), inputs);
        double s = 0;
        for (int i = 0; i < r.length; i++) s += (double) o.value()[i] * r[i];
        return s;
    }

    @Test
    void elementwiseAndReductions() {
        for (int[] s : new int[][] {{1, 1}, {3, 5}, {4, 17}}) {
            check("add", List.of(param(1, s), param(1, s)), (t, v) -> t.add(v.get(0), v.get(1)));
            check("sub", List.of(param(1, s), param(1, s)), (t, v) -> t.sub(v.get(0), v.get(1)));
            check("affine", List.of(param(1, s)), (t, v) -> t.affine(v.get(0), -1.7f, 0.3f));
            check("mulCols", List.of(param(1, s), param(1, s[1])), (t, v) -> t.mulCols(v.get(0), v.get(1)));
            float[] keep = new float[s[0]];
            for (int i = 0; i < keep.length; i++) keep[i] = i % 3 == 1 ? 0f : 1.25f; // DropPath: dropped and kept rows
            check("residual", List.of(param(1, s), param(1, s), param(1, s[1])),
                    (t, v) -> t.residual(v.get(0), v.get(1), v.get(2), 1, keep));
            check("residual (no gamma, no drop)", List.of(param(1, s), param(1, s)),
                    (t, v) -> t.residual(v.get(0), v.get(1), null, 1, null));
            // a residual stream of intermediates, each also read by another op: the gradient handed down the stream
            // must still collect the other consumers' contributions
            check("residual chain", List.of(param(1, s), param(1, s), param(1, s[1])), (t, v) -> {
                Var a = t.affine(v.get(0), 1.5f, 0.1f);
                Var y = t.residual(a, v.get(1), v.get(2), 1, keep);
                Var z = t.residual(y, t.gelu(y), null, 1, null);
                return t.add(t.residual(z, t.gelu(a), v.get(2), 1, null), t.gelu(z));
            });
            check("gelu", List.of(param(2, s)), (t, v) -> t.gelu(v.get(0)));
            check("log", List.of(Var.param(positive(s[0] * s[1]), s)), (t, v) -> t.log(v.get(0)));
            check("sum", List.of(param(1, s)), (t, v) -> t.sum(v.get(0)));
            check("mean", List.of(param(1, s)), (t, v) -> t.mean(v.get(0)));
            check("rowNorm", List.of(param(1, s)), (t, v) -> t.rowNorm(v.get(0)));
            check("reshape", List.of(param(1, s)), (t, v) -> t.gelu(t.reshape(v.get(0), s[0] * s[1])));
            int[] idx = s[0] == 1 ? new int[] {0, 0} : new int[] {s[0] - 1, 0, s[0] - 1};
            check("rows (repeated rows add up)", List.of(param(1, s)), (t, v) -> t.rows(v.get(0), idx));
        }
    }

    @Test
    void layers() {
        for (int[] s : new int[][] {{1, 1, 1}, {2, 7, 3}, {5, 16, 9}}) { // rows, in, out
            int r = s[0], k = s[1], n = s[2];
            check("linear", List.of(param(1, r, k), param(0.5, n, k), param(0.5, n)), (t, v) -> t.linear(v.get(0), v.get(1), v.get(2)));
            check("linear (no bias)", List.of(param(1, r, k), param(0.5, n, k)), (t, v) -> t.linear(v.get(0), v.get(1), null));
            check("geluLinear", List.of(param(1.5, r, k), param(0.5, n, k), param(0.5, n)), (t, v) -> t.geluLinear(v.get(0), v.get(1), v.get(2)));
            if (k > 1) check("layerNorm", List.of(param(1, r, k), param(1, k), param(1, k)), (t, v) -> t.layerNorm(v.get(0), v.get(1), v.get(2), 1e-6f));
            if (k > 1) check("layerNormLinear", List.of(param(1, r, k), param(1, k), param(1, k), param(0.5, n, k), param(0.5, n)),
                    (t, v) -> t.layerNormLinear(v.get(0), v.get(1), v.get(2), 1e-6f, v.get(3), v.get(4)));
            check("normalize", List.of(param(1, r, k)), (t, v) -> t.normalize(v.get(0), 1e-12f));
            check("weightNorm", List.of(param(1, n, 1), param(1, n, k)), (t, v) -> t.weightNorm(v.get(0), v.get(1)));
            float[] target = softmaxRows(r, n);
            check("softCrossEntropy", List.of(param(0.3, r, n)), (t, v) -> t.softCrossEntropy(v.get(0), target, 0.1f));
        }
    }

    @Test
    void layerNormLinearIsItsPartsBitForBit() {
        for (int[] s : new int[][] {{5, 7, 3}, {40, 64, 96}}) {
            int r = s[0], k = s[1], n = s[2];
            assertFusedIsItsParts(List.of(param(1, r, k), param(1, k), param(1, k), param(0.5, n, k), param(0.5, n)), r * n,
                    (t, v) -> t.layerNormLinear(v.get(0), v.get(1), v.get(2), 1e-6f, v.get(3), v.get(4)),
                    (t, v) -> t.linear(t.layerNorm(v.get(0), v.get(1), v.get(2), 1e-6f), v.get(3), v.get(4)));
        }
    }

    /** geluLinear (GELU applied as the GEMMs pack h; h's gradient made in place) is linear(gelu(h)) bit for bit. */
    @Test
    void geluLinearIsItsPartsBitForBit() {
        for (int[] s : new int[][] {{5, 7, 3}, {40, 64, 96}}) {
            int r = s[0], k = s[1], n = s[2];
            // h made on the tape (not a leaf), so that geluLinear may hand its in-place gradient to it
            assertFusedIsItsParts(List.of(param(1, r, k), param(1, k, k), param(0.5, n, k), param(0.5, n)), r * n,
                    (t, v) -> t.geluLinear(t.linear(v.get(0), v.get(1), null), v.get(2), v.get(3)),
                    (t, v) -> t.linear(t.gelu(t.linear(v.get(0), v.get(1), null)), v.get(2), v.get(3)));
        }
    }

    /**
     * DINOHead applied twice on one tape (the CLS tokens, then the masked patches, as the trainer does): GELU inside the
     * next Linear, one weight-normed W for both calls. Against the official ops one by one (linear, gelu, ..., a W of
     * its own per call), each call on a tape of its own and the second's backward first (the order in which one
     * tape's backward reaches the two calls): the same logits and every gradient, bit for bit.
     */
    @Test
    void dinoHeadTwiceIsTheOfficialOpsBitForBit() {
        int in = 12, hid = 40, bot = 8, k = 24;
        String[] names = {"mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias", "mlp.4.weight", "mlp.4.bias", "last_layer.weight_g", "last_layer.weight_v"};
        List<Var> a = List.of(param(0.3, hid, in), param(0.3, hid), param(0.3, hid, hid), param(0.3, hid), param(0.3, bot, hid), param(0.3, bot),
                param(1, k, 1), param(1, k, bot));
        List<Var> b = a.stream().map(v -> Var.param(v.value().clone(), v.shape())).toList();
        Var[] xa = {param(1, 5, in), param(1, 7, in)};
        Var[] xb = {Var.param(xa[0].value().clone(), 5, in), Var.param(xa[1].value().clone(), 7, in)};
        java.util.Map<String, Var> head = new java.util.LinkedHashMap<>();
        for (int i = 0; i < names.length; i++) head.put(names[i], a.get(i));
        Tape t = new Tape();
        var dino = new org.dino4j.train.model.DinoHead(head, 3);
        Var[] oa = {dino.forward(t, xa[0]), dino.forward(t, xa[1])};
        float[][] seeds = {param(1, 5 * k).value(), param(1, 7 * k).value()};
        Var[] ob = new Var[2];
        Tape[] tb = {new Tape(), new Tape()};
        for (int c = 0; c < 2; c++) {
            Tape u = tb[c];
            Var x = u.gelu(u.linear(xb[c], b.get(0), b.get(1)));
            x = u.linear(u.gelu(u.linear(x, b.get(2), b.get(3))), b.get(4), b.get(5));
            ob[c] = u.linear(u.normalize(x, 1e-12f), u.weightNorm(b.get(6), b.get(7)), null);
            org.junit.jupiter.api.Assertions.assertArrayEquals(ob[c].value(), oa[c].value(), "call " + c);
        }
        t.backward(t.add(t.dot(oa[0], seeds[0]), t.dot(oa[1], seeds[1])));
        tb[1].backward(ob[1], seeds[1]);
        tb[0].backward(ob[0], seeds[0]);
        for (int i = 0; i < a.size(); i++) org.junit.jupiter.api.Assertions.assertArrayEquals(b.get(i).grad(), a.get(i).grad(), names[i]);
        for (int c = 0; c < 2; c++) org.junit.jupiter.api.Assertions.assertArrayEquals(xb[c].grad(), xa[c].grad(), "input " + c);
        check("weightNorm twice on one tape", List.of(param(1, 6, 1), param(1, 6, 4)),
                (u, v) -> u.concatRows(u.weightNorm(v.get(0), v.get(1)), u.weightNorm(v.get(0), v.get(1))));
    }

    /** A fused op and the ops it fuses, on copies of the same inputs: the same output and input gradients, bit for bit. */
    private void assertFusedIsItsParts(List<Var> a, int outputs, BiFunction<Tape, List<Var>, Var> fused,
                                       BiFunction<Tape, List<Var>, Var> parts) {
        List<Var> b = a.stream().map(v -> Var.param(v.value().clone(), v.shape())).toList();
        float[] seed = param(1, outputs).value();
        Tape ta = new Tape(), tb = new Tape();
        Var oa = fused.apply(ta, a), ob = parts.apply(tb, b);
        org.junit.jupiter.api.Assertions.assertArrayEquals(ob.value(), oa.value());
        ta.backward(oa, seed);
        tb.backward(ob, seed);
        for (int i = 0; i < a.size(); i++) org.junit.jupiter.api.Assertions.assertArrayEquals(b.get(i).grad(), a.get(i).grad(), "input " + i);
    }

    @Test
    void attention() {
        for (int[] s : new int[][] {{1, 1, 1, 4}, {2, 5, 2, 12}, {1, 9, 3, 9}}) { // batch, tokens, heads, dim
            int b = s[0], tok = s[1], h = s[2], d = s[3];
            check("attention b" + b + " t" + tok + " h" + h, List.of(param(0.7, b * tok, 3 * d)), (t, v) -> t.attention(v.get(0), b, tok, h));
        }
    }

    @Test
    void patchEmbedAndTokens() {
        float[] px = new float[2 * 3 * 8 * 12];
        for (int i = 0; i < px.length; i++) px[i] = (float) rnd.nextGaussian();
        check("patchEmbed", List.of(param(0.2, 5, 3, 4, 4), param(1, 5)), (t, v) -> t.patchEmbed(px, 2, 3, 8, 12, v.get(0), v.get(1)));
        boolean[] masks = {true, false, false, true, true, true};
        check("tokens", List.of(param(1, 6, 5), param(1, 1, 1, 5), param(1, 1, 5), param(1, 1, 4, 5)),
                (t, v) -> t.tokens(v.get(0), v.get(1), v.get(2), v.get(3), masks, 2));
    }

    @Test
    void shapingAndResidualOps() {
        check("concatRows", List.of(param(1, 2, 3), param(1, 1, 3), param(1, 4, 3)), (t, v) -> t.gelu(t.concatRows(v.get(0), v.get(1), v.get(2))));
        check("cols", List.of(param(1, 3, 7)), (t, v) -> t.mul(t.cols(v.get(0), 0, 3), t.cols(v.get(0), 4, 7)));
        float[] a = new float[5 * 4];
        for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
        check("leftMultiply", List.of(param(1, 4, 3)), (t, v) -> t.leftMultiply(a, 5, v.get(0)));
        check("indexAddRows", List.of(param(1, 5, 3), param(1, 3, 3)), (t, v) -> t.indexAddRows(v.get(0), new int[] {4, 0, 4}, t.gelu(v.get(1)), 1.7f));
        check("residual (DropPath over groups of 2 rows)", List.of(param(1, 6, 2), param(1, 6, 2)),
                (t, v) -> t.residual(v.get(0), v.get(1), null, 2, new float[] {0f, 1.25f, 1.25f}));
        check("mul", List.of(param(1, 3, 4), param(1, 3, 4)), (t, v) -> t.mul(v.get(0), v.get(1)));
        check("silu", List.of(param(2, 3, 5)), (t, v) -> t.silu(v.get(0)));
        boolean[] masks = {false, true, false, false};
        check("tokens with registers", List.of(param(1, 4, 3), param(1, 1, 1, 3), param(1, 1, 3), param(1, 1, 3, 3), param(1, 1, 2, 3)),
                (t, v) -> t.tokens(v.get(0), v.get(1), v.get(2), v.get(3), v.get(4), masks, 2));
    }

    @Test
    void koleo() {
        // finite differences need every nearest neighbour to stay the same under the perturbation (a margin between
        // each row's best and second-best cosine; without it this check fails where PyTorch's autograd agrees with
        // ours) and points apart on the sphere (log(d) curves fast near a close pair)
        Var x;
        do x = param(1, 6, 5); while (minDistanceOnSphere(x.value(), 6, 5) < 0.5 || nnMargin(x.value(), 6, 5) < 0.05);
        check("KoLeo", List.of(x), (t, v) -> KoLeoLoss.forward(t, v.get(0)), 1e-3);
    }

    /** Smallest gap, over rows, between the best and the second-best cosine to another row. */
    static double nnMargin(float[] x, int r, int c) {
        double min = Double.MAX_VALUE;
        for (int i = 0; i < r; i++) {
            double best = -2, second = -2;
            for (int j = 0; j < r; j++) {
                if (j == i) continue;
                double dot = 0, ni = 0, nj = 0;
                for (int e = 0; e < c; e++) {
                    dot += x[i * c + e] * x[j * c + e];
                    ni += x[i * c + e] * x[i * c + e];
                    nj += x[j * c + e] * x[j * c + e];
                }
                dot /= Math.sqrt(ni * nj);
                if (dot > best) {
                    second = best;
                    best = dot;
                } else second = Math.max(second, dot);
            }
            min = Math.min(min, best - second);
        }
        return min;
    }

    static double minDistanceOnSphere(float[] x, int r, int c) {
        double min = Double.MAX_VALUE;
        for (int i = 0; i < r; i++)
            for (int j = i + 1; j < r; j++) {
                double ni = 0, nj = 0, d = 0;
                for (int e = 0; e < c; e++) {
                    ni += x[i * c + e] * x[i * c + e];
                    nj += x[j * c + e] * x[j * c + e];
                }
                for (int e = 0; e < c; e++) {
                    double q = x[i * c + e] / Math.sqrt(ni) - x[j * c + e] / Math.sqrt(nj);
                    d += q * q;
                }
                min = Math.min(min, Math.sqrt(d));
            }
        return min;
    }

    float[] positive(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (0.5 + rnd.nextDouble() * 2);
        return v;
    }

    float[] softmaxRows(int r, int k) {
        float[] t = new float[r * k];
        for (int i = 0; i < r; i++) {
            double s = 0;
            for (int j = 0; j < k; j++) s += t[i * k + j] = (float) Math.exp(rnd.nextGaussian());
            for (int j = 0; j < k; j++) t[i * k + j] /= (float) s;
        }
        return t;
    }
}
