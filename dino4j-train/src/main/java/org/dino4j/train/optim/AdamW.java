package org.dino4j.train.optim;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

import org.dino4j.train.autograd.Var;

/**
 * torch.optim.AdamW (betas 0.9/0.999, eps 1e-8), single-tensor path: p *= 1 - lr wd; m = b1 m + (1 - b1) g;
 * v = b2 v + (1 - b2) g^2; p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). Learning rate and weight
 * decay are given per parameter at each step (the official code sets them per group every iteration).
 */
public final class AdamW {
    private final float beta1, beta2, eps;
    private final Map<Var, State> state = new IdentityHashMap<>();

    /** Per-parameter moments and step count (the optimizer state a checkpoint must keep). */
    public static final class State {
        public final float[] expAvg, expAvgSq;
        public long step;

        State(int n) {
            expAvg = new float[n];
            expAvgSq = new float[n];
        }
    }

    public AdamW() {
        this(0.9f, 0.999f, 1e-8f);
    }

    public AdamW(float beta1, float beta2, float eps) {
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
    }

    public State state(Var p) {
        return state.computeIfAbsent(p, k -> new State(k.numel()));
    }

    /** One step for one parameter; parameters without a gradient are skipped (PyTorch's grad is None). */
    public void step(Var p, float[] grad, double lr, double weightDecay) {
        if (grad == null) return;
        State s = state(p);
        s.step++;
        float[] w = p.value(), m = s.expAvg, v = s.expAvgSq;
        float decay = (float) (1 - lr * weightDecay);
        double bc1 = 1 - Math.pow(beta1, s.step), bc2 = 1 - Math.pow(beta2, s.step);
        float stepSize = (float) (lr / bc1), bc2Sqrt = (float) Math.sqrt(bc2);
        for (int i = 0; i < w.length; i++) {
            w[i] *= decay;
            m[i] += (grad[i] - m[i]) * (1 - beta1); // PyTorch's lerp_
            v[i] = v[i] * beta2 + (1 - beta2) * grad[i] * grad[i];
            float denom = (float) Math.sqrt(v[i]) / bc2Sqrt + eps;
            w[i] -= stepSize * m[i] / denom;
        }
    }

    /** torch.nn.utils.clip_grad_norm_: scales the gradients together so their joint L2 norm is at most maxNorm. */
    public static double clipGradNorm(List<Var> params, double maxNorm) {
        double sq = 0;
        for (Var p : params) for (float g : p.grad()) sq += (double) g * g;
        double norm = Math.sqrt(sq);
        double coef = Math.min(1.0, maxNorm / (norm + 1e-6));
        if (coef < 1.0) for (Var p : params) p.scaleGrad((float) coef);
        return norm;
    }

    /** The teacher's EMA update: t = m t + (1 - m) s. */
    public static void ema(float[] teacher, float[] student, double momentum) {
        float m = (float) momentum, a = (float) (1 - momentum);
        for (int i = 0; i < teacher.length; i++) teacher[i] = teacher[i] * m + student[i] * a;
    }
}
