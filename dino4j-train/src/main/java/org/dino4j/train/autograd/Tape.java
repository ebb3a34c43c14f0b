package org.dino4j.train.autograd;

import java.util.ArrayList;
import java.util.List;

import org.dino4j.kernels.Epilogue;
import org.dino4j.kernels.KernelOperations;
import org.dino4j.kernels.Kernels;
import org.dino4j.kernels.Mat;
import org.dino4j.kernels.Prologue;
import org.dino4j.kernels.Weight;
import org.dino4j.kernels.Parallel;

/**
 * Reverse-mode automatic differentiation: every op computes its value at once and, when any input needs a
 * gradient, records how to send its output's gradient back; {@link #backward} replays the records in reverse.
 * Ops treat a value as rows x columns (the last dimension). Names follow PyTorch ({@code linear},
 * {@code layer_norm}, {@code F.normalize}, ...), so the training code reads like the official modules.
 */
public final class Tape {
    /** The kernels of this JVM ({@code -Ddino4j.kernels}), as the inference layers run them. */
    private static final KernelOperations K = Kernels.get();
    private final List<Var> nodes = new ArrayList<>();

    private Var out(float[] v, int[] shape, Var... inputs) {
        boolean rg = false;
        for (Var x : inputs) rg |= x != null && x.requiresGrad;
        Var o = new Var(v, shape, rg);
        if (rg) nodes.add(o);
        return o;
    }

    /** Gradients of {@code loss} (a single value) into every parameter it depends on (accumulated). */
    public void backward(Var loss) {
        if (loss.numel() != 1) throw new IllegalArgumentException("backward from a non-scalar " + loss);
        backward(loss, new float[] {1f});
    }

    /** The value the running backward started from (its gradient is the caller's to read afterwards). */
    private Var root;

    /** Backward from {@code out} with the given output gradient (vector-Jacobian product). */
    public void backward(Var out, float[] seed) {
        if (!out.requiresGrad) return;
        wnG = wnV = null; // nor the shared weight norm (the weights change after a backward)
        wnW = wnNorms = null;
        Var loss = out;
        root = out;
        add(loss.g(), seed);
        for (int i = nodes.size() - 1; i >= 0; i--) {
            Var n = nodes.get(i);
            if (n.grad != null && n.backward != null) n.backward.run();
            if (n != loss) n.grad = null; // intermediate gradients are not needed once passed on
            // nor is the record, nor what it captured (softmax probabilities, saved inputs): let the GC have them
            // now rather than after the whole backward (at a ViT-S batch of 16 this is gigabytes)
            n.backward = null;
            nodes.set(i, null);
        }
        nodes.clear();
        root = null;
    }

    /**
     * x's gradient += o's, for an op whose output gradient passes to x unchanged (a residual add): where x is an
     * intermediate value with no gradient yet, o's gradient array is handed over instead of a zeroed copy being
     * allocated and added into. o must not write its gradient afterwards (it may still read it).
     */
    private void passDown(Var x, Var o) {
        if (x.grad == null && x.backward != null && o != root) {
            x.grad = o.grad;
            o.grad = null;
        } else add(x.g(), o.grad);
    }

    /**
     * Activation checkpointing (torch.utils.checkpoint): f(x) is computed without keeping its intermediate values;
     * the backward runs f again on a fresh tape and back-propagates through that. f must be deterministic (draw any
     * randomness before) and may use parameters, whose gradients accumulate as usual.
     */
    public Var checkpoint(Var x, java.util.function.BiFunction<Tape, Var, Var> f) {
        if (!x.requiresGrad) return f.apply(this, x); // nothing upstream to save memory for
        Var y = f.apply(new Tape(), Var.constant(x.value, x.shape));
        Var o = out(y.value, y.shape, x);
        o.backward = () -> {
            Tape sub = new Tape();
            Var xi = Var.param(x.value, x.shape);
            Var yi = f.apply(sub, xi);
            sub.backward(yi, o.grad);
            if (xi.grad != null) add(x.g(), xi.grad);
        };
        return o;
    }

    // ------------------------------------------------------------------ shape

    /** The same values under another shape (no copy). */
    public Var reshape(Var x, int... shape) {
        Var o = out(x.value, shape, x);
        if (o.requiresGrad) o.backward = () -> add(x.g(), o.grad);
        return o;
    }

    /** Rows {@code idx} of x (as rows x cols), in that order: [idx.length, cols]. */
    public Var rows(Var x, int[] idx) {
        int c = x.cols();
        float[] v = new float[idx.length * c];
        for (int i = 0; i < idx.length; i++) System.arraycopy(x.value, idx[i] * c, v, i * c, c);
        Var o = out(v, new int[] {idx.length, c}, x);
        if (o.requiresGrad) o.backward = () -> {
            float[] g = x.g();
            for (int i = 0; i < idx.length; i++) for (int j = 0; j < c; j++) g[idx[i] * c + j] += o.grad[i * c + j];
        };
        return o;
    }

    /** Rows of several values stacked: [sum rows, cols]. */
    public Var concatRows(Var... parts) {
        int c = parts[0].cols(), r = 0;
        for (Var p : parts) {
            if (p.cols() != c) throw new IllegalArgumentException("concat of " + parts[0] + " and " + p);
            r += p.rows();
        }
        float[] v = new float[r * c];
        int o = 0;
        for (Var p : parts) {
            System.arraycopy(p.value, 0, v, o, p.numel());
            o += p.numel();
        }
        Var out = out(v, new int[] {r, c}, parts);
        if (out.requiresGrad) out.backward = () -> {
            int off = 0;
            for (Var p : parts) {
                if (p.requiresGrad) {
                    float[] g = p.g();
                    for (int i = 0; i < g.length; i++) g[i] += out.grad[off + i];
                }
                off += p.numel();
            }
        };
        return out;
    }

    /** Columns [from, to) of x: [rows, to - from] (torch.chunk / narrow on the last dimension). */
    public Var cols(Var x, int from, int to) {
        int r = x.rows(), c = x.cols(), w = to - from;
        if (from < 0 || to > c || w <= 0) throw new IllegalArgumentException("columns " + from + ".." + to + " of " + x);
        float[] v = new float[r * w];
        for (int i = 0; i < r; i++) System.arraycopy(x.value, i * c + from, v, i * w, w);
        Var o = out(v, new int[] {r, w}, x);
        if (o.requiresGrad) o.backward = () -> {
            float[] g = x.g();
            for (int i = 0; i < r; i++) for (int j = 0; j < w; j++) g[i * c + from + j] += o.grad[i * w + j];
        };
        return o;
    }

    /** a · x for a constant matrix a [rOut, x.rows()]: a linear resampling of rows (position-embedding resize). */
    public Var leftMultiply(float[] a, int rOut, Var x) {
        int rIn = x.rows(), c = x.cols();
        if (a.length != rOut * rIn) throw new IllegalArgumentException("matrix " + a.length + " for " + rOut + " x " + rIn);
        float[] v = new float[rOut * c];
        K.matmul(Mat.of(a, rIn), Mat.of(x.value, c), Mat.of(v, c), rOut, c, rIn, false);
        Var o = out(v, new int[] {rOut, c}, x);
        if (o.requiresGrad) o.backward = () -> K.matmulTransA(Mat.of(a, rIn), Mat.of(o.grad, c), Mat.of(x.g(), c), rIn, c, rOut, true, null);
        return o;
    }

    /**
     * index_add: x with alpha * src added to rows idx (repeats add up); the official efficient stochastic depth adds a
     * residual computed on a subset of the batch this way.
     */
    public Var indexAddRows(Var x, int[] idx, Var src, float alpha) {
        int c = x.cols();
        if (src.cols() != c || src.rows() != idx.length) throw new IllegalArgumentException("index_add of " + src + " into " + x);
        float[] v = x.value.clone();
        for (int i = 0; i < idx.length; i++) for (int j = 0; j < c; j++) v[idx[i] * c + j] += alpha * src.value[i * c + j];
        Var o = out(v, x.shape, x, src);
        if (o.requiresGrad) o.backward = () -> {
            if (x.requiresGrad) add(x.g(), o.grad);
            if (src.requiresGrad) {
                float[] g = src.g();
                for (int i = 0; i < idx.length; i++) for (int j = 0; j < c; j++) g[i * c + j] += alpha * o.grad[idx[i] * c + j];
            }
        };
        return o;
    }

    // ------------------------------------------------------------------ elementwise

    /**
     * A block's residual add, x + keep[group] · gamma ⊙ h in one pass: LayerScale (gamma [cols], or null), DropPath's
     * per-sample factor (keep [groups of rowsPerGroup rows], or null) and the add, without the intermediate arrays that
     * separate ops would keep on the tape until the backward.
     */
    public Var residual(Var x, Var h, Var gamma, int rowsPerGroup, float[] keep) {
        sameSize(x, h);
        int c = x.cols(), per = rowsPerGroup * c, n = x.numel();
        if (gamma != null && gamma.numel() != c) throw new IllegalArgumentException("gamma " + gamma + " for " + x);
        if (keep != null && keep.length * per != n) throw new IllegalArgumentException(keep.length + " groups of " + rowsPerGroup + " rows for " + x);
        float[] v = new float[n], xv = x.value, hv = h.value, gv = gamma == null ? null : gamma.value;
        Parallel.forRange(x.rows(), 64, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                float s = keep == null ? 1f : keep[i * c / per];
                for (int j = 0, o = i * c; j < c; j++, o++) v[o] = xv[o] + s * (gv == null ? hv[o] : gv[j] * hv[o]);
            }
        });
        Var o = out(v, x.shape, x, h, gamma);
        if (o.requiresGrad) o.backward = () -> {
            float[] g = o.grad;
            if (x.requiresGrad && x != h) passDown(x, o); // the residual stream's gradient, handed down, not copied
            else if (x.requiresGrad) add(x.g(), g);
            if (h.requiresGrad) {
                float[] gh = h.g();
                Parallel.forRange(x.rows(), 64, (lo, hi) -> {
                    for (int i = lo; i < hi; i++) {
                        float s = keep == null ? 1f : keep[i * c / per];
                        for (int j = 0, q = i * c; j < c; j++, q++) gh[q] += g[q] * s * (gv == null ? 1f : gv[j]);
                    }
                });
            }
            if (gamma != null && gamma.requiresGrad) K.addColumnSums(g, hv, keep, rowsPerGroup, x.rows(), c, gamma.g());
        };
        return o;
    }


    public Var mul(Var a, Var b) {
        sameSize(a, b);
        float[] v = new float[a.numel()];
        for (int i = 0; i < v.length; i++) v[i] = a.value[i] * b.value[i];
        Var o = out(v, a.shape, a, b);
        if (o.requiresGrad) o.backward = () -> {
            if (a.requiresGrad) for (int i = 0; i < v.length; i++) a.g()[i] += o.grad[i] * b.value[i];
            if (b.requiresGrad) for (int i = 0; i < v.length; i++) b.g()[i] += o.grad[i] * a.value[i];
        };
        return o;
    }

    /** SiLU: x sigmoid(x); derivative s (1 + x (1 - s)). */
    public Var silu(Var x) {
        float[] v = new float[x.numel()];
        for (int i = 0; i < v.length; i++) v[i] = (float) (x.value[i] / (1 + Math.exp(-x.value[i])));
        Var o = out(v, x.shape, x);
        if (o.requiresGrad) o.backward = () -> {
            float[] g = x.g();
            for (int i = 0; i < g.length; i++) {
                double sg = 1 / (1 + Math.exp(-x.value[i]));
                g[i] += (float) (o.grad[i] * sg * (1 + x.value[i] * (1 - sg)));
            }
        };
        return o;
    }

    public Var add(Var a, Var b) {
        sameSize(a, b);
        float[] v = new float[a.numel()];
        for (int i = 0; i < v.length; i++) v[i] = a.value[i] + b.value[i];
        Var o = out(v, a.shape, a, b);
        if (o.requiresGrad) o.backward = () -> {
            if (a.requiresGrad) add(a.g(), o.grad);
            if (b.requiresGrad) add(b.g(), o.grad);
        };
        return o;
    }

    public Var sub(Var a, Var b) {
        sameSize(a, b);
        float[] v = new float[a.numel()];
        for (int i = 0; i < v.length; i++) v[i] = a.value[i] - b.value[i];
        Var o = out(v, a.shape, a, b);
        if (o.requiresGrad) o.backward = () -> {
            if (a.requiresGrad) add(a.g(), o.grad);
            if (b.requiresGrad) {
                float[] g = b.g();
                for (int i = 0; i < g.length; i++) g[i] -= o.grad[i];
            }
        };
        return o;
    }

    /** x * c + d elementwise, constants c and d. */
    public Var affine(Var x, float c, float d) {
        float[] v = new float[x.numel()];
        for (int i = 0; i < v.length; i++) v[i] = x.value[i] * c + d;
        Var o = out(v, x.shape, x);
        if (o.requiresGrad) o.backward = () -> {
            float[] g = x.g();
            for (int i = 0; i < g.length; i++) g[i] += o.grad[i] * c;
        };
        return o;
    }

    /** x * gamma per column (LayerScale). */
    public Var mulCols(Var x, Var gamma) {
        int c = x.cols();
        if (gamma.numel() != c) throw new IllegalArgumentException("gamma " + gamma + " for " + x);
        float[] v = new float[x.numel()];
        for (int i = 0; i < v.length; i++) v[i] = x.value[i] * gamma.value[i % c];
        Var o = out(v, x.shape, x, gamma);
        if (o.requiresGrad) o.backward = () -> {
            if (x.requiresGrad) {
                float[] g = x.g();
                for (int i = 0; i < g.length; i++) g[i] += o.grad[i] * gamma.value[i % c];
            }
            if (gamma.requiresGrad) {
                float[] g = gamma.g();
                double[] acc = new double[c];
                for (int i = 0; i < v.length; i++) acc[i % c] += (double) o.grad[i] * x.value[i];
                for (int j = 0; j < c; j++) g[j] += (float) acc[j];
            }
        };
        return o;
    }

    /** Exact (erf) GELU; its derivative is Phi(x) + x phi(x). */
    public Var gelu(Var x) {
        float[] v = gelu(x.value);
        Var o = out(v, x.shape, x);
        if (o.requiresGrad) o.backward = () -> K.geluBackward(x.value, o.grad, x.g(), v.length, true);
        return o;
    }

    public Var log(Var x) {
        float[] v = new float[x.numel()];
        for (int i = 0; i < v.length; i++) v[i] = (float) Math.log(x.value[i]);
        Var o = out(v, x.shape, x);
        if (o.requiresGrad) o.backward = () -> {
            float[] g = x.g();
            for (int i = 0; i < g.length; i++) g[i] += o.grad[i] / x.value[i];
        };
        return o;
    }

    // ------------------------------------------------------------------ reductions

    public Var sum(Var x) {
        double s = 0;
        for (float f : x.value) s += f;
        Var o = out(new float[] {(float) s}, new int[] {1}, x);
        if (o.requiresGrad) o.backward = () -> {
            float[] g = x.g();
            for (int i = 0; i < g.length; i++) g[i] += o.grad[0];
        };
        return o;
    }

    public Var mean(Var x) {
        return affine(sum(x), 1f / x.numel(), 0f);
    }

    /** sum_i x_i * w_i with constant weights w. */
    public Var dot(Var x, float[] w) {
        if (w.length != x.numel()) throw new IllegalArgumentException(w.length + " weights for " + x);
        double s = 0;
        for (int i = 0; i < w.length; i++) s += (double) x.value[i] * w[i];
        Var o = out(new float[] {(float) s}, new int[] {1}, x);
        if (o.requiresGrad) o.backward = () -> {
            float[] g = x.g();
            for (int i = 0; i < g.length; i++) g[i] += o.grad[0] * w[i];
        };
        return o;
    }

    /** Euclidean norm of each row: [rows]. */
    public Var rowNorm(Var x) {
        int r = x.rows(), c = x.cols();
        float[] v = new float[r];
        for (int i = 0; i < r; i++) {
            double s = 0;
            for (int j = 0; j < c; j++) s += (double) x.value[i * c + j] * x.value[i * c + j];
            v[i] = (float) Math.sqrt(s);
        }
        Var o = out(v, new int[] {r}, x);
        if (o.requiresGrad) o.backward = () -> {
            float[] g = x.g();
            for (int i = 0; i < r; i++)
                if (v[i] > 0) for (int j = 0; j < c; j++) g[i * c + j] += o.grad[i] * x.value[i * c + j] / v[i];
        };
        return o;
    }

    // ------------------------------------------------------------------ layers

    /** F.linear: x [.., K] W[N, K]^T + b[N] -> [.., N]. */
    public Var linear(Var x, Var w, Var b) {
        int k = x.cols(), r = x.rows(), n = w.shape[0];
        Var o = out(linearValue(x, null, w, b), linearShape(x, n), x, w, b);
        if (o.requiresGrad) o.backward = () -> {
            if (x.requiresGrad) K.matmul(Mat.of(o.grad, n), Mat.of(w.value, k), Mat.of(x.g(), k), r, k, n, true); // dX = dY W
            // dW = dY^T X, the bias's gradient (dY's column sums) taken from the rows it packs
            if (w.requiresGrad) K.matmulTransA(Mat.of(o.grad, n), Mat.of(x.value, k), Mat.of(w.g(), k), n, k, r, true, biasGrad(b));
            else if (b != null && b.requiresGrad) K.addColumnSums(o.grad, r, n, b.g());
        };
        return o;
    }

    /** The bias's gradient array when it needs one (for {@link KernelOperations#matmulTransA}'s column sums), else null. */
    private static float[] biasGrad(Var b) {
        return b != null && b.requiresGrad ? b.g() : null;
    }

    /** f(x) Wᵀ + b (f null: x), f applied as the GEMM packs x, so that f(x) is never a whole array. */
    private static float[] linearValue(Var x, Prologue f, Var w, Var b) {
        int k = x.cols(), r = x.rows(), n = w.shape[0];
        if (w.shape.length != 2 || w.shape[1] != k) throw new IllegalArgumentException("linear " + x + " x " + w);
        if (b != null && b.numel() != n) throw new IllegalArgumentException("bias " + b + " for " + w);
        float[] v = new float[r * n];
        K.linear(new Mat(x.value, 0, k, f), Weight.of(w.value), Epilogue.bias(b == null ? null : b.value), Mat.of(v, n), r, n, k);
        return v;
    }

    /** x's shape with the last dimension n. */
    private static int[] linearShape(Var x, int n) {
        int[] shape = x.shape.clone();
        shape[shape.length - 1] = n;
        return shape;
    }

    /**
     * F.linear(gelu(h), w, b) keeping only h: the GELU output (the MLP's widest activation) is never a whole array,
     * forward or backward: the GEMMs apply GELU as they pack h (for the product, and again for dW). As
     * {@code linear(gelu(h), w, b)}, the same floats.
     */
    public Var geluLinear(Var h, Var w, Var b) {
        int k = h.cols(), r = h.rows(), n = w.shape[0];
        Var o = out(linearValue(h, K.geluPrologue(), w, b), linearShape(h, n), h, w, b);
        if (o.requiresGrad) o.backward = () -> {
            float[] dy = o.grad;
            if (w.requiresGrad) // dW = dY^T gelu(h)
                K.matmulTransA(Mat.of(dy, n), Mat.of(h.value, k).through(K.geluPrologue()), Mat.of(w.g(), k), n, k, r, true, biasGrad(b));
            else if (b != null && b.requiresGrad) K.addColumnSums(dy, r, n, b.g());
            if (h.requiresGrad) {
                float[] da = new float[r * k];
                K.matmul(Mat.of(dy, n), Mat.of(w.value, k), Mat.of(da, k), r, k, n, false); // dA = dY W
                if (h.grad == null && h.backward != null) { // h's gradient made in place in dA, which h then keeps
                    K.geluBackward(h.value, da, da, da.length, false);
                    h.grad = da;
                } else K.geluBackward(h.value, da, h.g(), da.length, true);
            }
        };
        return o;
    }

    /**
     * nn.LayerNorm over the last dimension (biased variance). Keeps each row's mean and 1/std for the backward, which
     * recomputes x̂ from x instead of holding a copy of it ({@link KernelOperations#layerNormStats}, {@link KernelOperations#layerNormBackward}).
     */
    public Var layerNorm(Var x, Var w, Var b, float eps) {
        int r = x.rows(), c = x.cols();
        if (w.numel() != c || b.numel() != c) throw new IllegalArgumentException("layer norm of " + x + " with " + w + ", " + b);
        float[] mean = new float[r], rstd = new float[r];
        Var o = out(normalized(x, w, b, eps, mean, rstd), x.shape, x, w, b);
        if (o.requiresGrad) o.backward = () -> K.layerNormBackward(x.value, o.grad, w.value, mean, rstd, r, c,
                x.requiresGrad ? x.g() : null, w.requiresGrad ? w.g() : null, b.requiresGrad ? b.g() : null);
        return o;
    }

    /**
     * F.linear(layer_norm(x), w, b) keeping only x (the residual stream, kept anyway) and each row's mean and 1/std:
     * the normalised rows, the Linear's input, are never a whole array: the GEMMs normalise x as they pack it, for
     * the product and again for dW (two per block: 540 MB over a ViT-S/14 step at batch 16, not held, not written).
     * The same floats as {@code linear(layerNorm(x, lnw, lnb, eps), w, b)}, forward and backward.
     */
    public Var layerNormLinear(Var x, Var lnw, Var lnb, float eps, Var w, Var b) {
        int r = x.rows(), c = x.cols(), n = w.shape[0];
        if (lnw.numel() != c || lnb.numel() != c) throw new IllegalArgumentException("layer norm of " + x + " with " + lnw + ", " + lnb);
        float[] mean = new float[r], rstd = new float[r];
        K.layerNormStats(x.value, null, r, c, lnw.value, lnb.value, eps, mean, rstd);
        Prologue ln = K.layerNormPrologue(mean, rstd, lnw.value, lnb.value);
        Var o = out(linearValue(x, ln, w, b), linearShape(x, n), x, lnw, lnb, w, b);
        if (o.requiresGrad) o.backward = () -> {
            float[] dy = o.grad;
            if (w.requiresGrad) // dW = dY^T LN(x)
                K.matmulTransA(Mat.of(dy, n), Mat.of(x.value, c).through(ln), Mat.of(w.g(), c), n, c, r, true, biasGrad(b));
            else if (b != null && b.requiresGrad) K.addColumnSums(dy, r, n, b.g());
            if (x.requiresGrad || lnw.requiresGrad || lnb.requiresGrad) {
                float[] dxn = new float[r * c];
                K.matmul(Mat.of(dy, n), Mat.of(w.value, c), Mat.of(dxn, c), r, c, n, false); // d LN(x) = dY W
                K.layerNormBackward(x.value, dxn, lnw.value, mean, rstd, r, c, x.requiresGrad ? x.g() : null,
                        lnw.requiresGrad ? lnw.g() : null, lnb.requiresGrad ? lnb.g() : null);
            }
        };
        return o;
    }

    /** layer_norm(x) (a new array), each row's mean and 1/std into mean and rstd. */
    private static float[] normalized(Var x, Var lnw, Var lnb, float eps, float[] mean, float[] rstd) {
        float[] v = new float[x.numel()];
        K.layerNormStats(x.value, v, x.rows(), x.cols(), lnw.value, lnb.value, eps, mean, rstd);
        return v;
    }

    /** F.normalize(x, p=2, dim=-1, eps): x / max(||x||, eps) per row. */
    public Var normalize(Var x, float eps) {
        int r = x.rows(), c = x.cols();
        float[] v = new float[x.numel()], den = new float[r];
        boolean[] clamped = new boolean[r];
        for (int i = 0; i < r; i++) {
            double s = 0;
            for (int j = 0; j < c; j++) s += (double) x.value[i * c + j] * x.value[i * c + j];
            double nrm = Math.sqrt(s);
            clamped[i] = nrm < eps;
            den[i] = (float) Math.max(nrm, eps);
            for (int j = 0; j < c; j++) v[i * c + j] = x.value[i * c + j] / den[i];
        }
        Var o = out(v, x.shape, x);
        if (o.requiresGrad) o.backward = () -> {
            float[] g = x.g();
            for (int i = 0; i < r; i++) {
                double dot = 0;
                if (!clamped[i]) for (int j = 0; j < c; j++) dot += (double) o.grad[i * c + j] * v[i * c + j];
                for (int j = 0; j < c; j++) g[i * c + j] += (float) ((o.grad[i * c + j] - v[i * c + j] * dot) / den[i]);
            }
        };
        return o;
    }

    /** The last {@link #weightNorm}'s g, v, W and row norms: a head called again on this tape reuses W. */
    private Var wnG, wnV;
    private float[] wnW, wnNorms;

    /**
     * torch.nn.utils.weight_norm (dim 0): W = g * v / ||v|| per row; g [N, 1], v [N, K]. Called again with the same g
     * and v (a head applied to the CLS tokens, then to the patch tokens) it returns a new value that shares the first
     * one's array: the same floats (weights do not change while a tape records), not a second copy of W held until
     * the backward (K x bottleneck floats: 67 MB at 65,536 prototypes). Each call's gradient is its own, as before.
     */
    public Var weightNorm(Var g, Var v) {
        int n = v.shape[0], k = v.cols();
        if (g != wnG || v != wnV) {
            float[] w = new float[v.numel()], nrm = new float[n];
            Parallel.forRange(n, 256, (lo, hi) -> { // rows are independent: the same floats on any thread count
                for (int i = lo; i < hi; i++) {
                    double s = 0;
                    for (int j = 0; j < k; j++) s += (double) v.value[i * k + j] * v.value[i * k + j];
                    nrm[i] = (float) Math.sqrt(s);
                    for (int j = 0; j < k; j++) w[i * k + j] = g.value[i] * v.value[i * k + j] / nrm[i];
                }
            });
            wnG = g;
            wnV = v;
            wnW = w;
            wnNorms = nrm;
        }
        float[] w = wnW, nrm = wnNorms;
        Var o = out(w, v.shape, g, v);
        if (o.requiresGrad) o.backward = () -> {
            float[] gg = g.requiresGrad ? g.g() : null, gv = v.requiresGrad ? v.g() : null;
            Parallel.forRange(n, 256, (lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    double dot = 0; // dW . v / ||v||
                    for (int j = 0; j < k; j++) dot += (double) o.grad[i * k + j] * v.value[i * k + j] / nrm[i];
                    if (gg != null) gg[i] += (float) dot;
                    if (gv != null)
                        for (int j = 0; j < k; j++)
                            gv[i * k + j] += (float) (g.value[i] / nrm[i] * (o.grad[i * k + j] - dot * v.value[i * k + j] / nrm[i]));
                }
            });
        };
        return o;
    }

    /**
     * Multi-head self-attention core, softmax(q k^T / sqrt(hd)) v, from the qkv Linear's output [B*T, 3D] (q, k, v
     * heads side by side, as the official Attention) to [B*T, D]. The forward is the inference engine's fused
     * attention ({@link KernelOperations#attention}) and keeps nothing but its output; the backward ({@link KernelOperations#attentionBackward})
     * recomputes the probabilities.
     */
    public Var attention(Var qkv, int batch, int tokens, int heads) {
        int d3 = qkv.cols(), d = d3 / 3;
        if (qkv.rows() != batch * tokens || d % heads != 0) throw new IllegalArgumentException("attention over " + qkv);
        float[] out = new float[batch * tokens * d];
        K.attention(qkv.value, out, batch, tokens, d, heads);
        Var o = out(out, new int[] {batch * tokens, d}, qkv);
        if (o.requiresGrad) o.backward = () -> K.attentionBackward(qkv.value, o.grad, qkv.g(), batch, tokens, d, heads);
        return o;
    }

    /**
     * Per row, -sum_k t_k log_softmax(s / temp)_k against constant targets t: the cross-entropy term of DINOLoss and
     * iBOTPatchLoss. Returns [rows].
     */
    public Var softCrossEntropy(Var s, float[] t, float temp) {
        int r = s.rows(), k = s.cols();
        if (t.length != s.numel()) throw new IllegalArgumentException("targets " + t.length + " for " + s);
        float[] v = new float[r];
        Parallel.forRange(r, 1, (lo, hi) -> {
            float[] p = new float[k]; // the probabilities are recomputed in the backward, not kept (rows x K floats)
            for (int i = lo; i < hi; i++) v[i] = K.softCrossEntropyRow(s.value, i * k, k, 1f / temp, t, i * k, p, 0);
        });
        Var o = out(v, new int[] {r}, s);
        if (o.requiresGrad) o.backward = () -> {
            float[] g = s.g();
            Parallel.forRange(r, 1, (lo, hi) -> {
                float[] p = new float[k];
                for (int i = lo; i < hi; i++) {
                    K.softCrossEntropyRow(s.value, i * k, k, 1f / temp, t, i * k, p, 0);
                    float tsum = (float) K.sum(t, i * k, k), c = o.grad[i] / temp;
                    for (int j = 0, q = i * k; j < k; j++, q++) g[q] += c * (p[j] * tsum - t[q]); // float: vectorised by C2
                }
            });
        };
        return o;
    }

    /**
     * The official PatchEmbed (a p x p, stride p convolution) as im2col + linear: pixels [B, C, H, W] (no gradient)
     * -> [B * N, D], patches row-major; weight [D, C, p, p], bias [D].
     */
    public Var patchEmbed(float[] pixels, int batch, int chans, int height, int width, Var weight, Var bias) {
        int p = weight.shape[2], gh = height / p, gw = width / p, n = gh * gw, kk = chans * p * p;
        float[] cols = new float[batch * n * kk];
        for (int b = 0; b < batch; b++)
            for (int y = 0; y < gh; y++)
                for (int x = 0; x < gw; x++) {
                    int r = (b * n + y * gw + x) * kk;
                    for (int c = 0; c < chans; c++)
                        for (int i = 0; i < p; i++)
                            System.arraycopy(pixels, ((b * chans + c) * height + y * p + i) * width + x * p, cols, r + (c * p + i) * p, p);
                }
        return linear(Var.constant(cols, batch * n, kk), reshape(weight, weight.shape[0], kk), bias);
    }

    /**
     * prepare_tokens_with_masks: [cls + pos[0], (masked ? mask_token : patch_i) + pos[1 + i]] per image, from
     * patches [B * N, D]; cls [1, 1, D], maskToken [1, D], pos [1, 1 + N, D] (at the native grid), masks [B * N] or
     * null. Returns [B * (1 + N), D].
     */
    public Var tokens(Var patches, Var cls, Var maskToken, Var pos, boolean[] masks, int batch) {
        return tokens(patches, cls, maskToken, pos, null, masks, batch);
    }

    /**
     * As {@link #tokens(Var, Var, Var, Var, boolean[], int)} with register tokens [R, D] inserted after the class
     * token, without position embedding (the official order): rows per image 1 + R + N.
     */
    public Var tokens(Var patches, Var cls, Var maskToken, Var pos, Var registers, boolean[] masks, int batch) {
        Var base = tokens0(patches, cls, maskToken, pos, masks, batch);
        if (registers == null || registers.numel() == 0) return base;
        int d = patches.cols(), n = patches.rows() / batch, t = n + 1, nr = registers.numel() / d;
        List<Var> parts = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            parts.add(rows(base, new int[] {b * t}));
            parts.add(reshape(registers, nr, d));
            int[] pr = new int[n];
            for (int i = 0; i < n; i++) pr[i] = b * t + 1 + i;
            parts.add(rows(base, pr));
        }
        return concatRows(parts.toArray(Var[]::new));
    }

    private Var tokens0(Var patches, Var cls, Var maskToken, Var pos, boolean[] masks, int batch) {
        int d = patches.cols(), n = patches.rows() / batch, t = n + 1;
        float[] v = new float[batch * t * d];
        for (int b = 0; b < batch; b++) {
            for (int j = 0; j < d; j++) v[b * t * d + j] = cls.value[j] + pos.value[j];
            for (int i = 0; i < n; i++) {
                boolean m = masks != null && masks[b * n + i];
                for (int j = 0; j < d; j++)
                    v[(b * t + 1 + i) * d + j] = (m ? maskToken.value[j] : patches.value[(b * n + i) * d + j]) + pos.value[(1 + i) * d + j];
            }
        }
        Var o = out(v, new int[] {batch * t, d}, patches, cls, maskToken, pos);
        if (o.requiresGrad) o.backward = () -> {
            float[] g = o.grad;
            for (int b = 0; b < batch; b++)
                for (int r = 0; r < t; r++) {
                    boolean m = r > 0 && masks != null && masks[b * n + r - 1];
                    for (int j = 0; j < d; j++) {
                        float gv = g[(b * t + r) * d + j];
                        if (pos.requiresGrad) pos.g()[r * d + j] += gv;
                        if (r == 0) {
                            if (cls.requiresGrad) cls.g()[j] += gv;
                        } else if (m) {
                            if (maskToken.requiresGrad) maskToken.g()[j] += gv;
                        } else if (patches.requiresGrad) patches.g()[(b * n + r - 1) * d + j] += gv;
                    }
                }
        };
        return o;
    }

    // ------------------------------------------------------------------ helpers

    /** GELU of a copy of x. */
    private static float[] gelu(float[] x) {
        float[] v = x.clone();
        K.gelu(v, 0, v.length);
        return v;
    }

    private static void sameSize(Var a, Var b) {
        if (a.numel() != b.numel()) throw new IllegalArgumentException("sizes differ: " + a + " and " + b);
    }

    static void add(float[] into, float[] g) {
        for (int i = 0; i < into.length; i++) into[i] += g[i];
    }

    @Override
    public String toString() {
        return "Tape(" + nodes.size() + " ops)";
    }
}
