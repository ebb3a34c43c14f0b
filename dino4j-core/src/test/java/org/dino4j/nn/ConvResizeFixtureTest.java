package org.dino4j.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.dino4j.Fixtures;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorStore;
import org.junit.jupiter.api.Test;

/**
 * Conv2d, ConvTranspose2d and Resize.bilinear against PyTorch's F.conv2d, F.conv_transpose2d and F.interpolate
 * (fixtures/extra/conv_resize.safetensors from tools/make_conv_resize_fixture.py: computed in float64 from the stored
 * float32 inputs, stored as float32; two 3x3 convs of 33-64 channels run by Winograd, forced). The bounds are {@link ConvTest}'s
 * plus the fixture's own rounding (u·|y|);
 * {@link ConvTest}'s reference loops are checked against the fixture too.
 */
class ConvResizeFixtureTest {
    static final double U = 0x1p-24;

    @Test
    void convolutionsMatchPytorch() {
        try (TensorStore f = SafeTensors.read(Fixtures.file("extra/conv_resize.safetensors"))) {
            int n = 0, winograd = 0;
            for (; f.contains("conv" + n + "/params"); n++) {
                String c = "conv" + n + "/";
                int[] p = ints(f, c + "params"); // in, out, kernel, stride, padding, h, w, relu, bias
                float[] x = f.get(c + "x").toFloatArray(), wt = f.get(c + "weight").toFloatArray();
                float[] b = p[8] == 1 ? f.get(c + "bias").toFloatArray() : null, want = f.get(c + "y").toFloatArray();
                double[][] ref = ConvTest.conv(x, p[5], p[6], p[0], wt, b, p[1], p[2], p[3], p[4], p[7] == 1);
                Conv2d conv = new Conv2d(wt, b, p[1], p[0], p[2], p[3], p[4], n >= 8 ? true : null); // 8, 9: Winograd's
                float[] got = conv.forward(x, p[5], p[6], p[7] == 1);
                int chain = p[2] * p[2] * p[0] + 18;
                double[][] bound = withValues(ref, want);
                if (conv.winograd()) { // its own bound (ConvTest.winogradMatchesTheDefinition)
                    bound[1] = ConvTest.winogradAbs(x, p[5], p[6], p[0], wt, b, p[1], p[4], p[7] == 1);
                    chain = p[0] + 24;
                    winograd++;
                }
                ConvTest.assertWithin(bound, got, chain, U, c + " against PyTorch");
                ConvTest.assertWithin(ref, want, 1, U, c + " reference loop against PyTorch");
            }
            assertEquals(10, n);
            assertEquals(2, winograd, "Winograd convs");
            for (n = 0; f.contains("convT" + n + "/params"); n++) {
                String c = "convT" + n + "/";
                int[] p = ints(f, c + "params"); // in, out, k, h, w, bias
                float[] x = f.get(c + "x").toFloatArray(), wt = f.get(c + "weight").toFloatArray();
                float[] b = p[5] == 1 ? f.get(c + "bias").toFloatArray() : null, want = f.get(c + "y").toFloatArray();
                double[][] ref = ConvTest.convTranspose(x, p[3], p[4], p[0], wt, b, p[1], p[2]);
                float[] got = new ConvTranspose2d(wt, b, p[0], p[1], p[2]).forward(x, p[3], p[4]);
                ConvTest.assertWithin(withValues(ref, want), got, p[0] + 18, U, c + " against PyTorch");
                ConvTest.assertWithin(ref, want, 1, U, c + " reference loop against PyTorch");
            }
            assertEquals(3, n);
        }
    }

    /**
     * Resize against F.interpolate in float64. Java computes the taps' positions in float as ATen's float kernel does:
     * the scale and source index are each off by at most 3u·in (in = the larger input side), the weight 1 − λ by one
     * more rounding, and moving a weight by δ moves the value by δ·|x1 − x0| ≤ 2δ·max|x|, on both axes; the
     * weighted sum itself rounds up to 6 times (weights, product, three FMAs) on at most max|x|.
     */
    @Test
    void bilinearMatchesPytorch() {
        try (TensorStore f = SafeTensors.read(Fixtures.file("extra/conv_resize.safetensors"))) {
            int n = 0;
            for (; f.contains("resize" + n + "/params"); n++) {
                String c = "resize" + n + "/";
                int[] p = ints(f, c + "params"); // h, w, c, outH, outW, alignCorners
                float[] x = f.get(c + "x").toFloatArray(), want = f.get(c + "y").toFloatArray();
                float[] got = Resize.bilinear(x, p[0], p[1], p[2], p[3], p[4], p[5] == 1);
                double max = 0;
                for (float v : x) max = Math.max(max, Math.abs(v));
                double tol = ((6 + 2 * 2 * (3 * Math.max(p[0], p[1]) + 1)) * U) * max + U * max;
                assertEquals(want.length, got.length, c);
                for (int i = 0; i < want.length; i++)
                    if (!(Math.abs(want[i] - got[i]) <= 1.01 * tol))
                        throw new AssertionError(c + " " + p[0] + "x" + p[1] + "x" + p[2] + " -> " + p[3] + "x" + p[4]
                                + " align " + p[5] + ": element " + i + " want " + want[i] + " got " + got[i] + " > " + tol);
            }
            assertEquals(22, n);
        }
    }

    static int[] ints(TensorStore f, String name) {
        float[] v = f.get(name).toFloatArray();
        int[] r = new int[v.length];
        for (int i = 0; i < v.length; i++) r[i] = (int) v[i];
        return r;
    }

    /** The fixture's values with the reference's abs sums (the bound's scale). */
    static double[][] withValues(double[][] ref, float[] want) {
        double[] v = new double[want.length];
        for (int i = 0; i < v.length; i++) v[i] = want[i];
        return new double[][] {v, ref[1]};
    }
}
