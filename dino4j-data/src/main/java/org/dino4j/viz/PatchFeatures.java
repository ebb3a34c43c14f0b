package org.dino4j.viz;

import org.dino4j.data.PilResize;
import org.dino4j.data.RgbImage;

/**
 * The final-normed patch tokens ({@code x_norm_patchtokens}) of one image on its {@code gridH x gridW} patch grid:
 * {@code tokens} holds gridH * gridW rows of {@code dim} floats, row-major over the grid.
 *
 * <p>The grid covers the whole image, uncropped: the image is resized (PIL bicubic) so that its shorter side is
 * about {@code resolution} pixels and each side is rounded to the nearest multiple of the patch size, then
 * normalised with the ImageNet mean/std as the eval transform does. The aspect ratio so changes by at most half a
 * patch per side; in exchange patch (r, c) lies exactly over the input's pixels [c W / gridW, (c+1) W / gridW) x
 * [r H / gridH, (r+1) H / gridH), which is what the pictures need.
 */
public record PatchFeatures(int gridH, int gridW, int dim, float[] tokens) {
    /** The shorter side the official notebooks use for these pictures (32 patches of 14). */
    public static final int DEFAULT_RESOLUTION = 448;

    public PatchFeatures {
        if (gridH < 1 || gridW < 1 || dim < 1) throw new IllegalArgumentException("grid " + gridH + "x" + gridW + ", dim " + dim);
        if (tokens.length != gridH * gridW * dim)
            throw new IllegalArgumentException("tokens hold " + tokens.length + " values, need " + gridH + " x " + gridW + " x " + dim);
    }

    public int patches() {
        return gridH * gridW;
    }

    /** {gridH, gridW} for a {@code width x height} image: shorter side scaled to {@code resolution}, sides rounded to patches. */
    public static int[] grid(int width, int height, int resolution, int patchSize) {
        if (resolution < 1 || patchSize < 1) throw new IllegalArgumentException("resolution and patch size must be >= 1");
        double scale = resolution / (double) Math.min(width, height);
        int gh = (int) Math.max(1, Math.round(height * scale / patchSize));
        int gw = (int) Math.max(1, Math.round(width * scale / patchSize));
        return new int[] {gh, gw};
    }

    /** The model's input for one image (see the class comment): resized onto its grid, nothing cropped. */
    public static RgbImage input(RgbImage image, int resolution, int patchSize) {
        int[] g = grid(image.width(), image.height(), resolution, patchSize);
        return PilResize.bicubic(image, g[1] * patchSize, g[0] * patchSize);
    }

    /** Index of the patch lying over pixel (x, y) of a {@code width x height} picture of this grid. */
    public int patchAt(int x, int y, int width, int height) {
        return patchAt(x, y, width, height, gridW, gridH);
    }

    static int patchAt(int x, int y, int width, int height, int gridW, int gridH) {
        int c = (int) ((long) x * gridW / width), r = (int) ((long) y * gridH / height);
        return r * gridW + c;
    }
}
