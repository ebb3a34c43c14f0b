package org.dino4j.eval;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import org.dino4j.kernels.Epilogue;
import org.dino4j.kernels.Kernels;
import org.dino4j.kernels.Packed;
import org.dino4j.kernels.Mat;
import org.dino4j.kernels.Parallel;
import org.dino4j.kernels.Weight;

/**
 * Multinomial L2-regularised logistic regression as scikit-learn's {@code LogisticRegression(C=C, solver="lbfgs")}
 * fits it, and the official {@code dinov2/eval/log_regression.py} protocol around it ({@link #sweep}).
 *
 * <p>Objective (sklearn's, for K classes, coefficients W (K x d), intercepts b (K), not penalised):
 * {@code C * sum_i CE(softmax(W x_i + b), y_i) + 0.5 * ||W||^2}. Like sklearn it is minimised divided by C·n,
 * {@code mean_i CE_i + ||W||^2 / (2 C n)}, because its stopping tests read that scaling: L-BFGS stops when the
 * gradient's max-abs is at most {@code tol} (scipy's gtol = tol) or when a step lowers the objective by at most
 * 64 ulp(1) relative (scipy's ftol as sklearn sets it), or after {@code maxIter} iterations. Nothing is centred or
 * scaled. Optimisation starts at zero, as sklearn's, so the intercepts keep summing to zero (the softmax cannot see
 * their common shift; they are re-centred at the end). Two classes fit sklearn's binomial model: the multinomial
 * with C/2 has the same optimum (w1 - w0 is sklearn's coef_), see {@link #fit}.
 *
 * <p>Numerics: logits and gradients are float32 GEMMs ({@link Kernels}) over blocks of {@value #BLOCK} rows whose
 * results are summed in double. The line search runs in logit space: with Z = X Wᵀ + b (kept in double) and
 * ΔZ = X Dᵀ + d_b for the direction, every trial step costs O(n K) instead of a GEMM and sees one smooth
 * function, so the Wolfe tests are not defeated by float32 rounding near the optimum. Z is recomputed from W every
 * {@value #REFRESH} iterations so that the step-by-step updates cannot drift. X is packed for the GEMMs once per
 * fit when the heap has room (three copies of X; see Problem). Fixed block sizes (not thread counts) decide every
 * summation order: results do not depend on the number of threads.
 *
 * <p>On Fashion-MNIST raw pixels (60000 x 784, C = 1e-3, max_iter 1000, tol 1e-12) it reaches sklearn's test
 * accuracy (81.27 %) in 483 iterations to sklearn's 450; a sweep of five C values on 6000 rows gives the same
 * validation accuracies and choice as tools/logreg_peer.py.
 */
public final class LogisticRegression {
    /** Why the optimisation stopped. */
    public enum Stop {
        /** max |gradient| <= tol (scipy: CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL). */
        GRADIENT,
        /** the last step lowered the objective by at most 64 ulp(1) relative (scipy: REL_REDUCTION_OF_F). */
        REL_REDUCTION,
        /** maxIter iterations done (sklearn warns ConvergenceWarning). */
        MAX_ITER,
        /**
         * even along steepest descent no step satisfies the Wolfe conditions (or the direction does not descend):
         * the rounding floor (scipy: ABNORMAL_TERMINATION_IN_LNSRCH).
         */
        LINE_SEARCH
    }

    /**
     * A fitted model: coef (numClasses x dim, row-major) and intercept (numClasses) as sklearn's coef_ and
     * intercept_ for three or more classes. A class absent from the training labels gets zero coefficients and an
     * intercept of -infinity (never predicted; sklearn would not know the class at all).
     *
     * @param meanLoss mean cross-entropy over the training rows at the solution
     */
    public record Model(double[] coef, double[] intercept, int numClasses, int dim, int iterations, Stop stop,
                        double meanLoss) {
        public boolean converged() {
            return stop != Stop.MAX_ITER;
        }

        /** Decision values (logits) x Wᵀ + b, n x numClasses row-major. */
        public float[] decision(float[] x, int n) {
            if (x.length != (long) n * dim)
                throw new IllegalArgumentException("x has " + x.length + " values, expected " + n + " x " + dim);
            float[] w = new float[numClasses * dim], b = new float[numClasses];
            for (int i = 0; i < w.length; i++) w[i] = (float) coef[i];
            for (int c = 0; c < numClasses; c++) b[c] = (float) intercept[c];
            MemorySegment ws = MemorySegment.ofArray(w);
            float[] out = new float[n * numClasses];
            int blocks = (n + BLOCK - 1) / BLOCK;
            Parallel.forEach(blocks, q -> {
                int i0 = q * BLOCK, rows = Math.min(BLOCK, n - i0);
                Kernels.get().linear(new Mat(x, i0 * dim, dim), Weight.of(ws), Epilogue.bias(b), new Mat(out, i0 * numClasses, numClasses),
                        rows, numClasses, dim);
            });
            return out;
        }

        /** The most probable class of each row (the first of equal logits, as argmax). */
        public int[] predict(float[] x, int n) {
            float[] z = decision(x, n);
            int[] out = new int[n];
            for (int i = 0; i < n; i++) {
                int best = 0;
                for (int c = 1; c < numClasses; c++) if (z[i * numClasses + c] > z[i * numClasses + best]) best = c;
                out[i] = best;
            }
            return out;
        }

        /** Top-1 accuracy (fraction, 0..1) on rows x with these labels. */
        public double accuracy(float[] x, int[] labels) {
            int[] p = predict(x, labels.length);
            int ok = 0;
            for (int i = 0; i < p.length; i++) if (p[i] == labels[i]) ok++;
            return labels.length == 0 ? Double.NaN : (double) ok / labels.length;
        }
    }

    /** One C of a sweep: accuracy on the held-out 10 %, and how the fit on the other 90 % ended. */
    public record Point(double c, double validationAccuracy, int iterations, Stop stop, long millis) {}

    /** The sweep, the chosen C, the model refitted on all training rows with it, and its test accuracy (0..1). */
    public record Sweep(List<Point> points, double bestC, Model model, double testAccuracy) {}

    /** scipy's default L-BFGS memory (maxcor). */
    static final int HISTORY = 10;
    /** sklearn passes maxls = 50 (scipy's default is 20). */
    static final int MAX_LINE_SEARCH = 50;
    /** Wolfe constants of scipy's line search (dcsrch ftol, gtol). */
    static final double C1 = 1e-3, C2 = 0.9;
    /** sklearn's ftol: 64 * np.finfo(float).eps. */
    static final double FTOL = 64 * Math.ulp(1.0);
    static final int BLOCK = 2048, REFRESH = 20;

    private LogisticRegression() {}

    /** The official sweep, {@code 10 ** linspace(-6, 5, 45)} (in double; the official torch.linspace is float32). */
    public static double[] officialCs() {
        double[] c = new double[45];
        for (int i = 0; i < c.length; i++) c[i] = Math.pow(10, -6 + 0.25 * i);
        return c;
    }

    /**
     * Fits the model to n rows x (row-major, n x d) with labels y in 0..numClasses-1.
     *
     * @param maxIter L-BFGS iterations at most (the official protocol: 1000)
     * @param tol     stop when max |gradient of the C·n-scaled objective| <= tol (the official protocol: 1e-12,
     *                which in practice leaves the relative-reduction test or maxIter to stop it)
     */
    public static Model fit(float[] x, int[] y, int n, int d, int numClasses, double C, int maxIter, double tol) {
        return fit(x, y, n, d, numClasses, C, maxIter, tol, FTOL, null);
    }

    /**
     * {@link #fit} with another relative-reduction threshold (0: off; tests reach the optimum with it) and X packed
     * for the GEMMs or not (null: when the heap has room), for tests.
     */
    static Model fit(float[] x, int[] y, int n, int d, int numClasses, double C, int maxIter, double tol, double ftol,
                     Boolean pack) {
        if (n < 1 || d < 1) throw new IllegalArgumentException("need at least one row and one feature, got " + n + " x " + d);
        if (x.length != (long) n * d) throw new IllegalArgumentException("x has " + x.length + " values, expected " + n + " x " + d);
        if (y.length != n) throw new IllegalArgumentException(y.length + " labels for " + n + " rows");
        if (!(C > 0) || Double.isInfinite(C)) throw new IllegalArgumentException("C must be positive and finite, got " + C);
        if (maxIter < 0) throw new IllegalArgumentException("maxIter must be >= 0, got " + maxIter);
        if (!(tol >= 0)) throw new IllegalArgumentException("tol must be >= 0, got " + tol);
        int[] count = new int[Math.max(numClasses, 0)];
        for (int i = 0; i < n; i++) {
            if (y[i] < 0 || y[i] >= numClasses)
                throw new IllegalArgumentException("label " + y[i] + " of row " + i + " outside 0.." + (numClasses - 1));
            count[y[i]]++;
        }
        // fit only the classes present, as sklearn (an absent class's intercept would run to -infinity)
        int[] compact = new int[numClasses], present = new int[numClasses];
        int k = 0;
        for (int c = 0; c < numClasses; c++) {
            compact[c] = count[c] > 0 ? k : -1;
            if (count[c] > 0) present[k++] = c;
        }
        if (k < 2) throw new IllegalArgumentException("the labels hold only class " + present[0] + ": a fit needs two classes");
        int[] yc = new int[n];
        for (int i = 0; i < n; i++) yc[i] = compact[y[i]];
        // binomial with C = multinomial with C/2: the penalty 0.5(|w0|^2 + |w1|^2) is smallest, |w1 - w0|^2 / 4,
        // at w0 = -w1, which makes C sum CE + |v|^2 / 4 = (2C sum CE + |v|^2 / 2) / 2 with v = w1 - w0
        double cEff = k == 2 ? C / 2 : C;
        Problem pr = new Problem(x, yc, n, d, k, 1 / (cEff * n), pack);
        double[] w = new double[k * d + k];
        Result r = lbfgs(pr, w, maxIter, tol, ftol);

        double[] coef = new double[numClasses * d], icpt = new double[numClasses];
        java.util.Arrays.fill(icpt, Double.NEGATIVE_INFINITY);
        double mean = 0;
        for (int c = 0; c < k; c++) mean += w[k * d + c] / k;
        for (int c = 0; c < k; c++) {
            System.arraycopy(w, c * d, coef, present[c] * d, d);
            icpt[present[c]] = w[k * d + c] - mean;
        }
        return new Model(coef, icpt, numClasses, d, r.iterations, r.stop, r.meanLoss);
    }

    /**
     * The official protocol (log_regression.py without a finetune set): a seeded shuffle of the training rows
     * ({@link #permutation}) holds out the first n/10 of them; a model is fitted on the others for each C and
     * scored on them; the C of the best accuracy (the first of equal ones, in {@code cs} order, as torchmetrics'
     * MetricTracker keeps) is refitted on all training rows and scored on the test rows.
     *
     * @param progress hears each C's result as it comes (may be null)
     */
    public static Sweep sweep(Features train, Features test, double[] cs, long seed, int maxIter, double tol,
                              Consumer<Point> progress) {
        if (train.dim() != test.dim())
            throw new IllegalArgumentException("train features have " + train.dim() + " dimensions, test " + test.dim());
        if (cs.length == 0) throw new IllegalArgumentException("no C values to sweep");
        int n = train.size(), d = train.dim(), nv = n / 10, nf = n - nv;
        if (nv < 1) throw new IllegalArgumentException("the sweep holds out 10 % of the training rows: need at least 10, got " + n);
        int numClasses = Math.max(train.numClasses(), test.numClasses());
        int[] perm = permutation(n, seed);
        float[] xv = new float[nv * d], xf = new float[nf * d];
        int[] yv = new int[nv], yf = new int[nf];
        for (int i = 0; i < n; i++) {
            int src = perm[i];
            if (i < nv) {
                System.arraycopy(train.x(), src * d, xv, i * d, d);
                yv[i] = train.labels()[src];
            } else {
                System.arraycopy(train.x(), src * d, xf, (i - nv) * d, d);
                yf[i - nv] = train.labels()[src];
            }
        }
        List<Point> points = new ArrayList<>();
        int best = -1;
        double bestAcc = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < cs.length; i++) {
            long t0 = System.nanoTime();
            Model m = fit(xf, yf, nf, d, numClasses, cs[i], maxIter, tol);
            double acc = m.accuracy(xv, yv);
            Point p = new Point(cs[i], acc, m.iterations(), m.stop(), (System.nanoTime() - t0) / 1_000_000);
            points.add(p);
            if (progress != null) progress.accept(p);
            if (acc > bestAcc) {
                bestAcc = acc;
                best = i;
            }
        }
        // the official concatenates the 90 % and the 10 %: the same rows, and row order does not move the optimum
        Model fin = fit(train.x(), train.labels(), n, d, numClasses, cs[best], maxIter, tol);
        return new Sweep(List.copyOf(points), cs[best], fin, fin.accuracy(test.x(), test.labels()));
    }

    /**
     * A Fisher-Yates shuffle of 0..n-1 driven by SplitMix64 from {@code seed}: for i = n-1 down to 1, swap i with
     * (next unsigned 64-bit value mod (i + 1)). Chosen over torch.randperm (which Java cannot reproduce) because it
     * is ten lines in any language: tools/logreg_peer.py draws the same split.
     */
    public static int[] permutation(int n, long seed) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        long s = seed;
        for (int i = n - 1; i > 0; i--) {
            s += 0x9E3779B97F4A7C15L;
            long z = s;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            z ^= z >>> 31;
            int j = (int) Long.remainderUnsigned(z, i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    /**
     * The C·n-scaled objective (what sklearn hands to scipy) at params w = [coef (k x d) row-major, intercept (k)],
     * its gradient into grad; labels y in 0..k-1; X packed for the GEMMs or not (null: when the heap has room).
     * For tests.
     */
    static double objective(float[] x, int[] y, int n, int d, int k, double C, double[] w, double[] grad, Boolean pack) {
        Problem pr = new Problem(x, y, n, d, k, 1 / (C * n), pack);
        pr.logits(w);
        double loss = pr.line(0)[0];
        pr.gradient(w, grad);
        double ww = 0;
        for (int j = 0; j < k * d; j++) ww += w[j] * w[j];
        return loss + 0.5 * pr.lambda * ww;
    }

    private record Result(int iterations, Stop stop, double meanLoss) {}

    /** L-BFGS (two-loop recursion, H0 = sᵀy / yᵀy) from w, in place. */
    private static Result lbfgs(Problem pr, double[] w, int maxIter, double tol, double ftol) {
        int p = w.length, kd = pr.k * pr.d;
        double[][] sHist = new double[HISTORY][p], yHist = new double[HISTORY][p];
        double[] rho = new double[HISTORY], alphaTmp = new double[HISTORY];
        double[] grad = new double[p], old = new double[p], dir = new double[p], s = new double[p], yv = new double[p];
        int mem = 0, head = 0; // head: where the next pair goes (ring buffer)

        pr.logits(w);
        double meanLoss = pr.line(0)[0], f = meanLoss; // the penalty is 0 at w = 0
        pr.gradient(w, grad);
        int iter = 0;
        if (maxAbs(grad) <= tol) return new Result(0, Stop.GRADIENT, meanLoss);
        while (true) {
            if (iter >= maxIter) return new Result(iter, Stop.MAX_ITER, meanLoss);
            // d = -H g by the two-loop recursion, newest pair first
            for (int j = 0; j < p; j++) dir[j] = -grad[j];
            for (int m = 0; m < mem; m++) {
                int q = Math.floorMod(head - 1 - m, HISTORY);
                alphaTmp[q] = rho[q] * dot(sHist[q], dir, p);
                axpy(-alphaTmp[q], yHist[q], dir, p);
            }
            if (mem > 0) {
                int q = Math.floorMod(head - 1, HISTORY);
                double gamma = 1 / (rho[q] * dot(yHist[q], yHist[q], p));
                for (int j = 0; j < p; j++) dir[j] *= gamma;
            }
            for (int m = mem - 1; m >= 0; m--) {
                int q = Math.floorMod(head - 1 - m, HISTORY);
                double beta = rho[q] * dot(yHist[q], dir, p);
                axpy(alphaTmp[q] - beta, sHist[q], dir, p);
            }
            double ww = dot(w, w, kd), wd = dot(w, dir, kd), dd = dot(dir, dir, kd);
            // phi(0) = f was computed from the same logits every trial step will use (z + 0 dz)
            double f0 = f, dphi0 = dot(grad, dir, p);
            double[] ls = null;
            if (dphi0 < 0) {
                pr.direction(dir);
                // scipy: the first step (here every step without curvature pairs) is 1/|d|, later ones 1
                double a0 = mem == 0 ? Math.min(1 / Math.sqrt(dot(dir, dir, p)), 1e10) : 1;
                ls = lineSearch(pr, a0, f0, dphi0, ww, wd, dd);
            }
            if (ls == null) { // no descent or no step: L-BFGS-B restarts from steepest descent once, then gives up
                if (mem > 0) {
                    mem = 0;
                    continue;
                }
                return new Result(iter, Stop.LINE_SEARCH, meanLoss);
            }
            double a = ls[0], fNew = ls[1];
            if (pr.lastAlpha != a) pr.line(a); // the softmax at the accepted step feeds the gradient
            meanLoss = pr.lastLoss;
            iter++;
            for (int j = 0; j < p; j++) {
                s[j] = a * dir[j];
                w[j] += s[j];
            }
            if (iter % REFRESH == 0) {
                pr.logits(w);
                meanLoss = pr.line(0)[0];
                f = meanLoss + 0.5 * pr.lambda * dot(w, w, kd);
            } else {
                pr.advance(a);
                f = fNew;
            }
            System.arraycopy(grad, 0, old, 0, p);
            pr.gradient(w, grad);
            for (int j = 0; j < p; j++) yv[j] = grad[j] - old[j];
            double sy = dot(s, yv, p), yy = dot(yv, yv, p);
            if (sy > Math.ulp(1.0) * yy) { // keep the pair only with positive curvature, as L-BFGS-B
                double[] t = sHist[head];
                sHist[head] = s;
                s = t;
                t = yHist[head];
                yHist[head] = yv;
                yv = t;
                rho[head] = 1 / sy;
                head = (head + 1) % HISTORY;
                mem = Math.min(mem + 1, HISTORY);
            }
            if (maxAbs(grad) <= tol) return new Result(iter, Stop.GRADIENT, meanLoss);
            if (f0 - fNew <= ftol * Math.max(Math.max(Math.abs(f0), Math.abs(fNew)), 1))
                return new Result(iter, Stop.REL_REDUCTION, meanLoss);
        }
    }

    /**
     * Strong-Wolfe line search (Nocedal and Wright, algorithms 3.5 and 3.6, cubic interpolation) on
     * phi(a) = mean CE(Z + a ΔZ) + λ/2 |W + a D|^2. Returns {a, phi(a)}, or null when no step was found.
     */
    private static double[] lineSearch(Problem pr, double a0, double f0, double dphi0, double ww, double wd, double dd) {
        double lam = pr.lambda;
        double aPrev = 0, fPrev = f0, dPrev = dphi0, a = a0;
        for (int evals = 0; evals < MAX_LINE_SEARCH; ) {
            double[] l = pr.line(a);
            evals++;
            double fa = l[0] + 0.5 * lam * (ww + a * (2 * wd + a * dd)), da = l[1] + lam * (wd + a * dd);
            if (!Double.isFinite(fa)) fa = Double.POSITIVE_INFINITY;
            if (fa > f0 + C1 * a * dphi0 || (evals > 1 && fa >= fPrev))
                return zoom(pr, aPrev, fPrev, dPrev, a, fa, da, f0, dphi0, ww, wd, dd, evals);
            if (Math.abs(da) <= -C2 * dphi0) return new double[] {a, fa};
            if (da >= 0) return zoom(pr, a, fa, da, aPrev, fPrev, dPrev, f0, dphi0, ww, wd, dd, evals);
            aPrev = a;
            fPrev = fa;
            dPrev = da;
            a *= 2;
        }
        return aPrev > 0 ? new double[] {aPrev, fPrev} : null;
    }

    private static double[] zoom(Problem pr, double lo, double fLo, double dLo, double hi, double fHi, double dHi,
                                 double f0, double dphi0, double ww, double wd, double dd, int evals) {
        double lam = pr.lambda;
        while (evals < MAX_LINE_SEARCH && Math.abs(hi - lo) > 1e-15 * Math.max(Math.abs(lo), Math.abs(hi))) {
            double a = cubicMin(lo, fLo, dLo, hi, fHi, dHi);
            double delta = 0.1 * Math.abs(hi - lo), left = Math.min(lo, hi), right = Math.max(lo, hi);
            if (!(a >= left + delta && a <= right - delta)) a = 0.5 * (lo + hi); // safeguard: bisect
            double[] l = pr.line(a);
            evals++;
            double fa = l[0] + 0.5 * lam * (ww + a * (2 * wd + a * dd)), da = l[1] + lam * (wd + a * dd);
            if (!Double.isFinite(fa)) fa = Double.POSITIVE_INFINITY;
            if (fa > f0 + C1 * a * dphi0 || fa >= fLo) {
                hi = a;
                fHi = fa;
                dHi = da;
            } else {
                if (Math.abs(da) <= -C2 * dphi0) return new double[] {a, fa};
                if (da * (hi - lo) >= 0) {
                    hi = lo;
                    fHi = fLo;
                    dHi = dLo;
                }
                lo = a;
                fLo = fa;
                dLo = da;
            }
        }
        // out of evaluations: lo (when a step) still satisfies sufficient decrease, an acceptable if weak step
        return lo > 0 ? new double[] {lo, fLo} : null;
    }

    /** Minimiser of the cubic through (a, fa, da) and (b, fb, db); NaN when it has none. */
    private static double cubicMin(double a, double fa, double da, double b, double fb, double db) {
        if (!Double.isFinite(fb)) return Double.NaN;
        double d1 = da + db - 3 * (fa - fb) / (a - b);
        double disc = d1 * d1 - da * db;
        if (!(disc >= 0)) return Double.NaN;
        double d2 = Math.signum(b - a) * Math.sqrt(disc);
        return b - (b - a) * (db + d2 - d1) / (db - da + 2 * d2);
    }

    /**
     * The data term of the objective and its derivatives over k present classes, labels 0..k-1. Rows go in blocks
     * of {@value #BLOCK}; inside a block the n x k arrays are class-major (block q, row r, class c at
     * {@code i0 * k + c * rows + r}), the layout the GEMMs below read and write without transposes:
     * ΔZᵀ = D Xᵀ and ∇W = Gᵀ X, X (or Xᵀ) in the weight slot. X has only k = 10 or so partners per pass, so a
     * GEMM that packs it on every call spends most of its time copying; when the heap has room, each block of X is
     * packed once per fit in both orientations ({@link KernelOperations#pack}; Xᵀ also kept plain, as the packed weight's
     * source): 3-8x faster GEMMs for three copies of X.
     */
    private static final class Problem {
        final float[] x;
        final int[] y;
        final int n, d, k, blocks;
        final double lambda;
        /** Logits at the current point, double so that a line search sees a smooth function. */
        final double[] z;
        /** Logits of the search direction (float32 GEMM output). */
        final float[] dz;
        /** softmax - onehot at the last evaluated step: the gradient GEMM's left operand. */
        final float[] g;
        /** Column sums of g (in double) at the last evaluated step: n x the intercepts' gradient. */
        final double[] gSum;
        /** Per block, or null when not packed: X (rows x d) and Xᵀ (d x rows) as GEMM weights, packed; Xᵀ plain. */
        final Packed[] packX, packXT;
        final float[][] xT;
        double lastAlpha = Double.NaN, lastLoss = Double.NaN;

        /** @param pack pack X (true), do not (false), or decide by the free heap (null) */
        Problem(float[] x, int[] y, int n, int d, int k, double lambda, Boolean pack) {
            this.x = x;
            this.y = y;
            this.n = n;
            this.d = d;
            this.k = k;
            this.lambda = lambda;
            this.blocks = (n + BLOCK - 1) / BLOCK;
            this.z = new double[n * k];
            this.dz = new float[n * k];
            this.g = new float[n * k];
            this.gSum = new double[k];
            Runtime rt = Runtime.getRuntime();
            long free = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
            boolean doPack = pack != null ? pack : 3L * 4 * n * d <= free / 2; // the copies in half the free heap
            packX = doPack ? new Packed[blocks] : null;
            packXT = doPack ? new Packed[blocks] : null;
            xT = doPack ? new float[blocks][] : null;
            if (doPack) Parallel.forEach(blocks, q -> {
                int i0 = q * BLOCK, rows = Math.min(BLOCK, n - i0);
                packX[q] = Kernels.get().pack(xBlock(q), rows, d);
                float[] t = new float[rows * d];
                for (int r = 0; r < rows; r++) for (int j = 0; j < d; j++) t[j * rows + r] = x[(i0 + r) * d + j];
                xT[q] = t;
                packXT[q] = Kernels.get().pack(MemorySegment.ofArray(t), d, rows);
            });
        }

        private MemorySegment xBlock(int q) {
            int i0 = q * BLOCK, rows = Math.min(BLOCK, n - i0);
            return MemorySegment.ofArray(x).asSlice(4L * i0 * d, 4L * rows * d);
        }

        /** out (block-major, class-major) = x Wᵀ for W = params' coef; intercepts are added by the callers. */
        private void product(float[] wf, float[] out) {
            Parallel.forEach(blocks, q -> {
                int i0 = q * BLOCK, rows = Math.min(BLOCK, n - i0);
                Kernels.get().linear(Mat.of(wf, d), new Weight(xBlock(q), packX == null ? null : packX[q]), Epilogue.STORE,
                        new Mat(out, i0 * k, rows), k, rows, d);
            });
        }

        /** z = x Wᵀ + b from params w. */
        void logits(double[] w) {
            float[] wf = new float[k * d], zf = new float[n * k];
            for (int j = 0; j < k * d; j++) wf[j] = (float) w[j];
            product(wf, zf);
            forEachBlockClass((o, rows, c) -> {
                for (int r = 0; r < rows; r++) z[o + r] = zf[o + r] + w[k * d + c];
            });
            lastAlpha = Double.NaN;
        }

        /** dz = x Dᵀ + d_b for the direction dir (same layout as the params). */
        void direction(double[] dir) {
            float[] wf = new float[k * d];
            for (int j = 0; j < k * d; j++) wf[j] = (float) dir[j];
            product(wf, dz);
            forEachBlockClass((o, rows, c) -> {
                float b = (float) dir[k * d + c];
                for (int r = 0; r < rows; r++) dz[o + r] += b;
            });
            lastAlpha = Double.NaN;
        }

        private interface Segment {
            void run(int offset, int rows, int c);
        }

        /** Runs body on every (block, class) segment of rows: offset of its first element, its length, the class. */
        private void forEachBlockClass(Segment body) {
            for (int q = 0; q < blocks; q++) {
                int i0 = q * BLOCK, rows = Math.min(BLOCK, n - i0);
                for (int c = 0; c < k; c++) body.run(i0 * k + c * rows, rows, c);
            }
        }

        /** Moves the current point to step a along the direction: z += a dz. */
        void advance(double a) {
            for (int j = 0; j < z.length; j++) z[j] += a * dz[j];
            lastAlpha = 0; // g and gSum stay valid: they were computed at the step now taken
        }

        /**
         * {mean CE(z + a dz), its derivative in a} (penalty not included); leaves softmax - onehot in g and its
         * column sums in gSum. Per-block partial sums are added in block order: the result does not depend on
         * the thread count.
         */
        double[] line(double a) {
            double[][] part = new double[blocks][2 + k];
            Parallel.forEach(blocks, q -> {
                int i0 = q * BLOCK, rows = Math.min(BLOCK, n - i0), base = i0 * k;
                double[] acc = part[q], v = new double[k];
                for (int r = 0; r < rows; r++) {
                    int yi = y[i0 + r];
                    double m = Double.NEGATIVE_INFINITY;
                    for (int c = 0; c < k; c++) {
                        int o = base + c * rows + r;
                        v[c] = z[o] + a * dz[o];
                        m = Math.max(m, v[c]);
                    }
                    double s = 0, vy = v[yi];
                    for (int c = 0; c < k; c++) {
                        v[c] = Math.exp(v[c] - m);
                        s += v[c];
                    }
                    acc[0] += m + Math.log(s) - vy;
                    double inv = 1 / s;
                    for (int c = 0; c < k; c++) {
                        int o = base + c * rows + r;
                        double gi = v[c] * inv - (c == yi ? 1 : 0);
                        g[o] = (float) gi;
                        acc[1] += gi * dz[o];
                        acc[2 + c] += gi;
                    }
                }
            });
            double loss = 0, dl = 0;
            java.util.Arrays.fill(gSum, 0);
            for (double[] acc : part) {
                loss += acc[0];
                dl += acc[1];
                for (int c = 0; c < k; c++) gSum[c] += acc[2 + c];
            }
            lastAlpha = a;
            lastLoss = loss / n;
            return new double[] {loss / n, dl / n};
        }

        /** grad = [gᵀ x / n + λ W, gSum / n] from the last {@link #line} evaluation. */
        void gradient(double[] w, double[] grad) {
            float[][] parts = new float[blocks][];
            Parallel.forEach(blocks, q -> {
                int i0 = q * BLOCK, rows = Math.min(BLOCK, n - i0);
                float[] part = new float[k * d];
                if (packXT == null) Kernels.get().matmul(new Mat(g, i0 * k, rows), new Mat(x, i0 * d, d), Mat.of(part, d), k, d, rows, false);
                else Kernels.get().linear(new Mat(g, i0 * k, rows), new Weight(MemorySegment.ofArray(xT[q]), packXT[q]),
                        Epilogue.STORE, Mat.of(part, d), k, d, rows);
                parts[q] = part;
            });
            int kd = k * d;
            for (int j = 0; j < kd; j++) {
                double s = 0;
                for (float[] part : parts) s += part[j];
                grad[j] = s / n + lambda * w[j];
            }
            for (int c = 0; c < k; c++) grad[kd + c] = gSum[c] / n;
        }
    }

    private static double dot(double[] a, double[] b, int len) {
        double s = 0;
        for (int j = 0; j < len; j++) s += a[j] * b[j];
        return s;
    }

    private static void axpy(double alpha, double[] xv, double[] yv, int len) {
        for (int j = 0; j < len; j++) yv[j] += alpha * xv[j];
    }

    private static double maxAbs(double[] v) {
        double m = 0;
        for (double e : v) m = Math.max(m, Math.abs(e));
        return m;
    }
}
