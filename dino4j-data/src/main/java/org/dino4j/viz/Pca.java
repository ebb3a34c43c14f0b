package org.dino4j.viz;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Principal components of the rows of a float matrix, as scikit-learn's {@code PCA(n_components=k).fit(X)} would give
 * them up to sign: rows mean-centred, covariance (D x D, divided by n - 1) accumulated in double, its top-k
 * eigenvectors. Each component's sign is fixed so that its largest-|value| entry is positive (the first such entry on
 * a tie), so the same data always gives the same picture.
 */
public final class Pca {
    /** Matrices up to this size are diagonalised whole by Jacobi; larger ones by subspace iteration (k is small). */
    static final int JACOBI_MAX_DIM = 64;

    private final int dim;
    private final double[] mean;
    private final double[][] components; // k x dim, unit length
    private final double[] variances;    // eigenvalues of the covariance, descending

    private Pca(double[] mean, double[][] components, double[] variances) {
        this.dim = mean.length;
        this.mean = mean;
        this.components = components;
        this.variances = variances;
    }

    /** Eigenpairs of a symmetric matrix: values descending, vectors[i] the unit eigenvector of values[i]. */
    public record Eigen(double[] values, double[][] vectors) {}

    /** Fits {@code k} components to {@code n} rows of {@code d} floats stored row after row. */
    public static Pca fit(float[] rows, int n, int d, int k) {
        if (n < 1 || d < 1) throw new IllegalArgumentException("PCA needs at least one row and one column, got " + n + " x " + d);
        if (k < 1 || k > d) throw new IllegalArgumentException("PCA components must be in [1, " + d + "], got " + k);
        if ((long) n * d > rows.length) throw new IllegalArgumentException("rows hold " + rows.length + " values, need " + n + " x " + d);
        double[] mean = new double[d];
        for (int r = 0; r < n; r++)
            for (int j = 0; j < d; j++) mean[j] += rows[r * d + j];
        for (int j = 0; j < d; j++) mean[j] /= n;
        Eigen e = topEigen(covariance(rows, n, d, mean), d, k);
        return new Pca(mean, e.vectors(), e.values());
    }

    /** Projects {@code n} rows onto the components: an n x k matrix, row after row. */
    public float[] transform(float[] rows, int n) {
        if ((long) n * dim > rows.length) throw new IllegalArgumentException("rows hold " + rows.length + " values, need " + n + " x " + dim);
        int k = components.length;
        float[] out = new float[n * k];
        for (int r = 0; r < n; r++)
            for (int c = 0; c < k; c++) {
                double s = 0;
                double[] v = components[c];
                for (int j = 0; j < dim; j++) s += (rows[r * dim + j] - mean[j]) * v[j];
                out[r * k + c] = (float) s;
            }
        return out;
    }

    public int dim() {
        return dim;
    }

    public int numComponents() {
        return components.length;
    }

    /** Component {@code i} (unit length, sign fixed as the class says). */
    public double[] component(int i) {
        return components[i].clone();
    }

    /** The variance along each component (eigenvalues of the covariance), descending. */
    public double[] variances() {
        return variances.clone();
    }

    public double[] mean() {
        return mean.clone();
    }

    /** (X - mean)^T (X - mean) / max(n - 1, 1), upper and lower triangle, row-major. */
    static double[] covariance(float[] rows, int n, int d, double[] mean) {
        double[] c = new double[d * d];
        final int block = 64;
        double[] t = new double[d * block]; // a block of centred rows, transposed: column j's values contiguous
        for (int r0 = 0; r0 < n; r0 += block) {
            int b = Math.min(block, n - r0);
            for (int r = 0; r < b; r++)
                for (int j = 0; j < d; j++) t[j * block + r] = rows[(r0 + r) * d + j] - mean[j];
            // each (i, j) is summed by one thread in a fixed order: the result does not depend on the thread count
            IntStream.range(0, d).parallel().forEach(i -> {
                for (int j = i; j < d; j++) {
                    double s = 0;
                    for (int r = 0; r < b; r++) s += t[i * block + r] * t[j * block + r];
                    c[i * d + j] += s;
                }
            });
        }
        double div = Math.max(n - 1, 1);
        for (int i = 0; i < d; i++)
            for (int j = i; j < d; j++) c[j * d + i] = c[i * d + j] /= div;
        return c;
    }

    /** The top {@code k} eigenpairs of the symmetric {@code d x d} matrix {@code a} (row-major; not modified). */
    public static Eigen topEigen(double[] a, int d, int k) {
        if (k < 1 || k > d) throw new IllegalArgumentException("k must be in [1, " + d + "], got " + k);
        if (a.length != d * d) throw new IllegalArgumentException("matrix holds " + a.length + " values, need " + d + " x " + d);
        Eigen e = d <= JACOBI_MAX_DIM ? jacobi(a, d) : subspace(a, d, k);
        double[] values = Arrays.copyOf(e.values(), k);
        double[][] vectors = new double[k][];
        for (int i = 0; i < k; i++) vectors[i] = fixSign(e.vectors()[i]);
        return new Eigen(values, vectors);
    }

    /** All eigenpairs by the cyclic Jacobi method, sorted by value descending. */
    static Eigen jacobi(double[] matrix, int n) {
        double[] a = matrix.clone();
        double[] v = new double[n * n]; // columns: eigenvectors
        for (int i = 0; i < n; i++) v[i * n + i] = 1;
        double norm = 0;
        for (double x : a) norm += x * x;
        for (int sweep = 0; sweep < 100; sweep++) {
            double off = 0;
            for (int p = 0; p < n; p++)
                for (int q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
            if (off <= 1e-30 * norm || off == 0) break;
            for (int p = 0; p < n; p++)
                for (int q = p + 1; q < n; q++) {
                    double apq = a[p * n + q];
                    if (apq == 0) continue;
                    // the rotation J (c at pp and qq, s at pq, -s at qp) that zeroes a'pq of J^T A J, smaller angle
                    double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
                    double t = Math.signum(theta) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
                    if (theta == 0) t = 1;
                    double c = 1 / Math.sqrt(t * t + 1), s = t * c;
                    for (int i = 0; i < n; i++) { // A J
                        double aip = a[i * n + p], aiq = a[i * n + q];
                        a[i * n + p] = c * aip - s * aiq;
                        a[i * n + q] = s * aip + c * aiq;
                    }
                    for (int i = 0; i < n; i++) { // J^T (A J)
                        double api = a[p * n + i], aqi = a[q * n + i];
                        a[p * n + i] = c * api - s * aqi;
                        a[q * n + i] = s * api + c * aqi;
                    }
                    a[p * n + q] = a[q * n + p] = 0;
                    for (int i = 0; i < n; i++) { // V J
                        double vip = v[i * n + p], viq = v[i * n + q];
                        v[i * n + p] = c * vip - s * viq;
                        v[i * n + q] = s * vip + c * viq;
                    }
                }
        }
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        double[] diag = new double[n];
        for (int i = 0; i < n; i++) diag[i] = a[i * n + i];
        Arrays.sort(order, (x, y) -> Double.compare(diag[y], diag[x])); // stable: equal values keep their order
        double[] values = new double[n];
        double[][] vectors = new double[n][n];
        for (int r = 0; r < n; r++) {
            int col = order[r];
            values[r] = diag[col];
            for (int i = 0; i < n; i++) vectors[r][i] = v[i * n + col];
        }
        return new Eigen(values, vectors);
    }

    /**
     * Top-k eigenpairs by subspace (block power) iteration with a Rayleigh-Ritz step each round: a block of
     * p = min(d, 2k + 10) vectors, so the wanted ones converge at the rate (lambda_{p+1} / lambda_i)^iterations.
     * Stops when every wanted Ritz pair's residual is below 1e-9 of the largest value, or after 300 rounds: only a
     * nearly flat spectrum (features of random weights) gets there, and then the top directions are hardly defined
     * anyway (scikit-learn's randomized PCA, which the notebooks get for over 500 patches, does 7 rounds).
     */
    static Eigen subspace(double[] a, int d, int k) {
        int p = Math.min(d, 2 * k + 10);
        SplittableRandom rnd = new SplittableRandom(0x5EED);
        double[][] q = new double[p][d];
        for (double[] col : q)
            for (int i = 0; i < d; i++) col[i] = rnd.nextGaussian();
        orthonormalise(q, rnd);
        double[] values = new double[p];
        double[][] ritz = q;
        for (int iter = 0; iter < 300; iter++) {
            double[][] z = multiply(a, d, q);
            double[] h = new double[p * p]; // Q^T A Q
            for (int i = 0; i < p; i++)
                for (int j = i; j < p; j++) h[i * p + j] = h[j * p + i] = dot(q[i], z[j]);
            Eigen small = jacobi(h, p);
            values = small.values();
            ritz = combine(q, small.vectors());
            double[][] az = combine(z, small.vectors()); // A times each Ritz vector
            double scale = Math.max(Math.abs(values[0]), Double.MIN_NORMAL), worst = 0;
            for (int i = 0; i < k; i++) {
                double r = 0;
                for (int j = 0; j < d; j++) {
                    double e = az[i][j] - values[i] * ritz[i][j];
                    r += e * e;
                }
                worst = Math.max(worst, Math.sqrt(r) / scale);
            }
            if (worst < 1e-9 || values[0] == 0) break;
            q = az;
            orthonormalise(q, rnd);
        }
        return new Eigen(values, ritz);
    }

    /** Columns of {@code basis} combined by the coefficient vectors {@code coeffs[r]}: result[r] = sum_c coeffs[r][c] basis[c]. */
    private static double[][] combine(double[][] basis, double[][] coeffs) {
        int d = basis[0].length;
        double[][] out = new double[coeffs.length][d];
        for (int r = 0; r < coeffs.length; r++)
            for (int c = 0; c < basis.length; c++) {
                double w = coeffs[r][c];
                for (int i = 0; i < d; i++) out[r][i] += w * basis[c][i];
            }
        return out;
    }

    /** Modified Gram-Schmidt, twice; a column that vanishes (rank-deficient matrix) is replaced by a fresh random one. */
    private static void orthonormalise(double[][] q, SplittableRandom rnd) {
        for (int c = 0; c < q.length; c++) {
            for (int attempt = 0; ; attempt++) {
                double before = Math.sqrt(dot(q[c], q[c]));
                for (int pass = 0; pass < 2; pass++)
                    for (int o = 0; o < c; o++) {
                        double w = dot(q[o], q[c]);
                        for (int i = 0; i < q[c].length; i++) q[c][i] -= w * q[o][i];
                    }
                double norm = Math.sqrt(dot(q[c], q[c]));
                if (norm > 1e-12 * before && norm > 0 || attempt == 10) {
                    for (int i = 0; i < q[c].length; i++) q[c][i] = norm > 0 ? q[c][i] / norm : 0;
                    break;
                }
                for (int i = 0; i < q[c].length; i++) q[c][i] = rnd.nextGaussian();
            }
        }
    }

    /** A times each vector of the block; each row of A is used for 4 vectors at once (4 independent sums: faster). */
    private static double[][] multiply(double[] a, int d, double[][] q) {
        int p = q.length;
        double[][] z = new double[p][d];
        IntStream.range(0, d).parallel().forEach(i -> {
            int row = i * d, c = 0;
            for (; c + 4 <= p; c += 4) {
                double[] q0 = q[c], q1 = q[c + 1], q2 = q[c + 2], q3 = q[c + 3];
                double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                for (int j = 0; j < d; j++) {
                    double aij = a[row + j];
                    s0 += aij * q0[j];
                    s1 += aij * q1[j];
                    s2 += aij * q2[j];
                    s3 += aij * q3[j];
                }
                z[c][i] = s0;
                z[c + 1][i] = s1;
                z[c + 2][i] = s2;
                z[c + 3][i] = s3;
            }
            for (; c < p; c++) {
                double s = 0;
                for (int j = 0; j < d; j++) s += a[row + j] * q[c][j];
                z[c][i] = s;
            }
        });
        return z;
    }

    private static double dot(double[] x, double[] y) {
        double s = 0;
        for (int i = 0; i < x.length; i++) s += x[i] * y[i];
        return s;
    }

    /** The vector negated if its largest-|value| entry (the first of equals) is negative. */
    static double[] fixSign(double[] v) {
        int arg = 0;
        for (int i = 1; i < v.length; i++)
            if (Math.abs(v[i]) > Math.abs(v[arg])) arg = i;
        double[] out = v.clone();
        if (v[arg] < 0)
            for (int i = 0; i < out.length; i++) out[i] = -out[i];
        return out;
    }
}
