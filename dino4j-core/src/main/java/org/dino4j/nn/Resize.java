package org.dino4j.nn;

import org.dino4j.kernels.Kernels;

/** Resizing of channels-last images (one image (H, W, C) row-major) through the kernels. */
public final class Resize {
    private Resize() {}

    /** F.interpolate(x, size=(outH, outW), mode="bilinear", align_corners=alignCorners) on one channels-last (h, w, c) image. */
    public static float[] bilinear(float[] x, int h, int w, int c, int outH, int outW, boolean alignCorners) {
        if (h < 1 || w < 1 || c < 1 || outH < 1 || outW < 1)
            throw new IllegalArgumentException("bilinear resize needs positive sizes, got " + h + "x" + w + "x" + c + " -> "
                    + outH + "x" + outW);
        if (x.length != (long) h * w * c)
            throw new IllegalArgumentException("bilinear input holds " + x.length + " floats, expected " + h + "x" + w + "x" + c);
        float[] y = new float[Math.multiplyExact(Math.multiplyExact(outH, outW), c)];
        Kernels.get().resizeBilinear(x, 0, h, w, c, y, 0, outH, outW, alignCorners);
        return y;
    }
}
