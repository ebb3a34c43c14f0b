package org.dino4j.embed;

import org.dino4j.data.Dataset;
import org.dino4j.data.ImageDecoder;
import org.dino4j.data.RgbImage;

/**
 * Raw pixels as features (RGB bytes / 255, all images the same size): the baseline every feature should beat. When
 * every image is gray (R = G = B) one channel is kept: the same cosine similarities at a third of the cost.
 * Rows of length dim, row-major.
 */
public record PixelRows(float[] x, int dim) {
    /** Every image of ds, read twice (one size? all gray?); the first image of another size is refused. */
    public static PixelRows of(Dataset ds) {
        int n = ds.size();
        ImageDecoder dec = new ImageDecoder();
        boolean gray = true;
        int len = -1;
        for (int i = 0; i < n && gray; i++) {
            byte[] px = sized(ds, i, dec, len);
            if (len < 0) len = px.length;
            gray = gray(px);
        }
        int step = gray ? 3 : 1, d = len < 0 ? 0 : len / step;
        float[] out = new float[n * d];
        for (int i = 0; i < n; i++) System.arraycopy(row(sized(ds, i, dec, len), step), 0, out, i * d, d);
        return new PixelRows(out, d);
    }

    private static byte[] sized(Dataset ds, int i, ImageDecoder dec, int len) {
        RgbImage im = ds.get(i).source().load(dec);
        byte[] px = im.rgb();
        if (len >= 0 && px.length != len)
            throw new IllegalArgumentException(ds.get(i).id() + ": " + im.width() + "x" + im.height()
                    + " differs from the first image's size; raw-pixel features need one size");
        return px;
    }

    /** R = G = B in every pixel. */
    public static boolean gray(byte[] rgb) {
        for (int j = 0; j < rgb.length; j += 3) if (rgb[j] != rgb[j + 1] || rgb[j] != rgb[j + 2]) return false;
        return true;
    }

    /** Every step-th byte / 255 (step 3: one channel of a gray image). */
    public static float[] row(byte[] rgb, int step) {
        float[] v = new float[rgb.length / step];
        for (int j = 0; j < v.length; j++) v[j] = (rgb[j * step] & 0xff) / 255f;
        return v;
    }
}
