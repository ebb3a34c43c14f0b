package org.dino4j.nn;

import org.dino4j.kernels.Epilogue;
import org.dino4j.kernels.Kernels;
import org.dino4j.kernels.Mat;
import org.dino4j.kernels.Weight;
import org.dino4j.kernels.Parallel;

/**
 * Official {@code PatchEmbed}: Conv2d(in_chans, D, kernel = stride = p) as im2col + GEMM (the conv weight
 * (D, C, p, p) is a D × C·p·p Linear). Tokens are row-major over the (H/p, W/p) grid, as flatten(2).transpose(1, 2).
 */
public record PatchEmbed(Linear proj, int patchSize, int inChans) {
    /**
     * Embeds image {@code b} of {@code pixels} (B, C, H, W) into rows [row0, row0 + N) of {@code out} (row stride D).
     */
    public void forward(float[] pixels, int b, int h, int w, float[] out, int row0) {
        int p = patchSize, gh = h / p, gw = w / p, n = gh * gw, k = inChans * p * p;
        float[] cols = new float[n * k];
        int img = b * inChans * h * w;
        Parallel.forRange(gh, 4, (lo, hi) -> {
            for (int py = lo; py < hi; py++)
                for (int px = 0; px < gw; px++) {
                    int o = (py * gw + px) * k;
                    for (int c = 0; c < inChans; c++)
                        for (int ky = 0; ky < p; ky++) {
                            System.arraycopy(pixels, img + (c * h + py * p + ky) * w + px * p, cols, o, p);
                            o += p;
                        }
                }
        });
        int d = proj.out();
        Kernels.get().linear(Mat.of(cols, k), Weight.of(proj.weight()), Epilogue.bias(proj.bias()), new Mat(out, row0 * d, d), n, d, k);
    }
}
