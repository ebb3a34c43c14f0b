package org.dino4j.eval.dense;

import java.util.List;
import java.util.SplittableRandom;

import org.dino4j.kernels.Epilogue;
import org.dino4j.kernels.Kernels;
import org.dino4j.kernels.Mat;
import org.dino4j.kernels.Weight;

/**
 * The trainable part of both linear heads: optional BatchNorm over the input channels (PyTorch semantics: batch
 * statistics while training, eps 1e-5, momentum 0.1, running variance updated with the unbiased estimate) followed
 * by a 1x1 convolution, i.e. a per-pixel {@code nn.Linear(in, out)}. The backbone is frozen, so the backward pass
 * needs no input gradient: only gamma, beta, W, b get gradients, which makes BN's backward a pair of sums.
 */
final class BnLinear {
    static final float BN_EPS = 1e-5f;
    static final float BN_MOMENTUM = 0.1f;

    enum Mode { TRAIN, TRAIN_FROZEN_STATS, EVAL }

    /** One parameter tensor with its gradient and optimiser state. */
    static final class Param {
        final float[] v, g, m, s;

        Param(float[] v) {
            this.v = v;
            g = new float[v.length];
            m = new float[v.length];
            s = new float[v.length];
        }
    }

    final int in, out;
    final boolean bn;
    final Param w, b, gamma, beta;
    final float[] runMean, runVar;
    private int steps;

    /** What the backward pass needs from a training forward. */
    record Cache(float[] xhat, float[] z, int rows) {}

    private BnLinear(int in, int out, boolean bn, float[] w, float[] b) {
        this.in = in;
        this.out = out;
        this.bn = bn;
        this.w = new Param(w);
        this.b = new Param(b);
        float[] ones = new float[in];
        java.util.Arrays.fill(ones, 1f);
        gamma = new Param(bn ? ones : new float[0]);
        beta = new Param(new float[bn ? in : 0]);
        runMean = new float[bn ? in : 0];
        runVar = bn ? ones.clone() : new float[0];
    }

    /** mmseg's cls_seg init: weight N(0, std), bias 0. */
    static BnLinear normalInit(int in, int out, boolean bn, double std, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] w = new float[out * in];
        for (int i = 0; i < w.length; i++) w[i] = (float) (r.nextGaussian() * std);
        return new BnLinear(in, out, bn, w, new float[out]);
    }

    /** PyTorch's default Conv2d/Linear init (kaiming_uniform a=sqrt 5): weight and bias U(-1/sqrt(in), 1/sqrt(in)). */
    static BnLinear defaultInit(int in, int out, boolean bn, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        double bound = 1 / Math.sqrt(in);
        float[] w = new float[out * in], b = new float[out];
        for (int i = 0; i < w.length; i++) w[i] = (float) ((2 * r.nextDouble() - 1) * bound);
        for (int i = 0; i < out; i++) b[i] = (float) ((2 * r.nextDouble() - 1) * bound);
        return new BnLinear(in, out, bn, w, b);
    }

    List<Param> params() {
        return bn ? List.of(w, b, gamma, beta) : List.of(w, b);
    }

    /** logits (rows x out) of x (rows x in); the Cache is for {@link #backward} (null in EVAL mode). */
    Cache forward(float[] x, int rows, Mode mode, float[] logits) {
        float[] z = x, xhat = null;
        if (bn) {
            float[] mean = new float[in], invStd = new float[in];
            if (mode == Mode.EVAL) {
                for (int c = 0; c < in; c++) {
                    mean[c] = runMean[c];
                    invStd[c] = (float) (1 / Math.sqrt(runVar[c] + BN_EPS));
                }
            } else {
                if (rows < 2) throw new IllegalArgumentException("BatchNorm training needs more than one value per channel");
                double[] s = new double[in], ss = new double[in];
                for (int r = 0; r < rows; r++)
                    for (int c = 0; c < in; c++) s[c] += x[r * in + c];
                for (int c = 0; c < in; c++) mean[c] = (float) (s[c] / rows);
                for (int r = 0; r < rows; r++)
                    for (int c = 0; c < in; c++) {
                        double d = x[r * in + c] - mean[c];
                        ss[c] += d * d;
                    }
                for (int c = 0; c < in; c++) {
                    double var = ss[c] / rows;
                    invStd[c] = (float) (1 / Math.sqrt(var + BN_EPS));
                    if (mode == Mode.TRAIN) {
                        runMean[c] = (1 - BN_MOMENTUM) * runMean[c] + BN_MOMENTUM * mean[c];
                        runVar[c] = (float) ((1 - BN_MOMENTUM) * runVar[c] + BN_MOMENTUM * ss[c] / (rows - 1));
                    }
                }
            }
            xhat = new float[rows * in];
            z = new float[rows * in];
            float[] g = gamma.v, bt = beta.v;
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < in; c++) {
                    int i = r * in + c;
                    xhat[i] = (x[i] - mean[c]) * invStd[c];
                    z[i] = g[c] * xhat[i] + bt[c];
                }
        }
        Kernels.get().linear(Mat.of(z, in), Weight.of(w.v), Epilogue.bias(b.v), Mat.of(logits, out), rows, out, in);
        return mode == Mode.EVAL ? null : new Cache(xhat, z, rows);
    }

    /** Sets the parameter gradients from dLogits (rows x out). */
    void backward(Cache cache, float[] dLogits) {
        int rows = cache.rows();
        java.util.Arrays.fill(b.g, 0f);
        for (int r = 0; r < rows; r++)
            for (int k = 0; k < out; k++) b.g[k] += dLogits[r * out + k];
        Kernels.get().matmulTransA(Mat.of(dLogits, out), Mat.of(cache.z(), in), Mat.of(w.g, in), out, in, rows, false, null); // dW = dLᵀ z
        if (!bn) return;
        float[] dz = new float[rows * in];
        Kernels.get().matmul(Mat.of(dLogits, out), Mat.of(w.v, in), Mat.of(dz, in), rows, in, out, false); // dz = dL W
        double[] dg = new double[in], db = new double[in];
        float[] xhat = cache.xhat();
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < in; c++) {
                int i = r * in + c;
                dg[c] += dz[i] * xhat[i];
                db[c] += dz[i];
            }
        for (int c = 0; c < in; c++) {
            gamma.g[c] = (float) dg[c];
            beta.g[c] = (float) db[c];
        }
    }

    /** One optimiser step with learning rate lr (PyTorch AdamW / SGD semantics; weight decay on every parameter, as mmcv's default). */
    void step(TrainConfig cfg, double lr) {
        if (cfg.gradClip() > 0) { // torch.nn.utils.clip_grad_norm_
            double sq = 0;
            for (Param p : params())
                for (float g : p.g) sq += (double) g * g;
            double norm = Math.sqrt(sq), coef = cfg.gradClip() / (norm + 1e-6);
            if (coef < 1)
                for (Param p : params())
                    for (int i = 0; i < p.g.length; i++) p.g[i] *= (float) coef;
        }
        steps++;
        double wd = cfg.weightDecay();
        if (cfg.optimizer() == TrainConfig.Optimizer.ADAMW) {
            double b1 = cfg.beta1(), b2 = cfg.beta2(), bc1 = 1 - Math.pow(b1, steps), bc2 = 1 - Math.pow(b2, steps);
            for (Param p : params())
                for (int i = 0; i < p.v.length; i++) {
                    double g = p.g[i];
                    double v = p.v[i] * (1 - lr * wd);
                    p.m[i] = (float) (b1 * p.m[i] + (1 - b1) * g);
                    p.s[i] = (float) (b2 * p.s[i] + (1 - b2) * g * g);
                    v -= lr * (p.m[i] / bc1) / (Math.sqrt(p.s[i] / bc2) + 1e-8);
                    p.v[i] = (float) v;
                }
        } else {
            double mu = cfg.momentum();
            for (Param p : params())
                for (int i = 0; i < p.v.length; i++) {
                    double g = p.g[i] + wd * p.v[i];
                    double buf = steps == 1 ? g : mu * p.m[i] + g;
                    p.m[i] = (float) buf;
                    p.v[i] = (float) (p.v[i] - lr * buf);
                }
        }
    }
}
