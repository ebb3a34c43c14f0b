package org.dino4j.nn;

import java.lang.foreign.MemorySegment;

import org.dino4j.kernels.Epilogue;
import org.dino4j.kernels.Kernels;
import org.dino4j.kernels.Mat;
import org.dino4j.kernels.Parallel;
import org.dino4j.kernels.Weight;

/**
 * nn.ConvTranspose2d with kernel == stride and no padding (DPT's reassemble upsampling): the k x k output blocks
 * never overlap, so it is one GEMM (h·w, in) x (in, k·k·out) and a scatter of each pixel's blocks. The weight is
 * permuted once to rows (ky, kx, out) and packed; the bias rides in the GEMM's epilogue, repeated per (ky, kx).
 */
public final class ConvTranspose2d {
    private final int in, out, k, n;
    private final float[] bias;
    private final Weight weight;

    /** nn.ConvTranspose2d with kernel == stride and padding 0 (DPT's reassemble resize layers): weight (in, out, k, k) as PyTorch stores it; bias may be null. */
    public ConvTranspose2d(float[] weight, float[] bias, int in, int out, int k) {
        if (in < 1 || out < 1 || k < 1)
            throw new IllegalArgumentException("ConvTranspose2d needs positive in, out and k, got in=" + in + " out=" + out + " k=" + k);
        this.n = Math.multiplyExact(k * k, out);
        if (weight.length != (long) in * n)
            throw new IllegalArgumentException("ConvTranspose2d weight holds " + weight.length + " floats, expected " + in + "x"
                    + out + "x" + k + "x" + k);
        if (bias != null && bias.length != out)
            throw new IllegalArgumentException("ConvTranspose2d bias length " + bias.length + " != " + out);
        this.in = in;
        this.out = out;
        this.k = k;
        float[] w = new float[weight.length]; // (in, out, ky, kx) -> rows (ky, kx, out) of in: nn.Linear's (n, k)
        for (int i = 0; i < in; i++)
            for (int o = 0; o < out; o++)
                for (int t = 0; t < k * k; t++) w[(t * out + o) * in + i] = weight[(i * out + o) * k * k + t];
        MemorySegment seg = MemorySegment.ofArray(w);
        this.weight = new Weight(seg, Kernels.get().pack(seg, n, in));
        if (bias == null) this.bias = null;
        else {
            this.bias = new float[n];
            for (int t = 0; t < k * k; t++) System.arraycopy(bias, 0, this.bias, t * out, out);
        }
    }

    public int in() {
        return in;
    }

    public int out() {
        return out;
    }

    /** x (h, w, in) -> (h*k, w*k, out) */
    public float[] forward(float[] x, int h, int w) {
        if (h < 1 || w < 1 || x.length != (long) h * w * in)
            throw new IllegalArgumentException("ConvTranspose2d input holds " + x.length + " floats, expected " + h + "x" + w
                    + "x" + in);
        int m = h * w, ow = w * k, run = k * out;
        float[] g = new float[Math.multiplyExact(m, n)], y = new float[g.length];
        Kernels.get().linear(Mat.of(x, in), weight, Epilogue.bias(bias), Mat.of(g, n), m, n, in);
        // pixel (py, px)'s row ky (k·out floats: kx, out) goes to output row py·k + ky, columns px·k ...: a copy as
        // big as the output, split over the pool by input rows (a fifth of the GEMM's time on one thread)
        Parallel.forRange(h, Math.max(1, (1 << 16) / (w * n)), (lo, hi) -> {
            for (int p = lo * w; p < hi * w; p++) {
                int py = p / w, px = p % w;
                for (int ky = 0; ky < k; ky++)
                    System.arraycopy(g, p * n + ky * run, y, ((py * k + ky) * ow + px * k) * out, run);
            }
        });
        return y;
    }
}
