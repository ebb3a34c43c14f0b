package org.dino4j.viz;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;

/**
 * The paper's Figure 1: PCA of the patch features of several images together, as the official notebooks draw it.
 * <ol>
 * <li>One PCA over all patches of all images; the first component is min-max normalised over them all.</li>
 * <li>Patches whose normalised first component is below the threshold are background (black); the rest are
 * foreground. The sign of a component is arbitrary, so {@code flip} takes the other side as foreground.</li>
 * <li>A second PCA (3 components) on the foreground patches only; each component min-max scaled to 0..255 over all
 * foreground patches of all images, so the same colour means the same part across images. These are R, G, B.</li>
 * </ol>
 * The patch grid is then upsampled to the input's size ({@link #render}).
 */
public final class FeaturePictures {
    public static final double DEFAULT_THRESHOLD = 0.5;

    private FeaturePictures() {}

    /** How the patch grid becomes pixels: one flat colour per patch, or bilinear between patch centres. */
    public enum Upsample { NEAREST, BILINEAR }

    /**
     * One image's picture on its patch grid: {@code first} the normalised first component (0..1, after any flip),
     * {@code foreground} whether it reached the threshold, {@code rgb} 3 bytes per patch (0 for background).
     */
    public record PcaMap(int gridH, int gridW, float[] first, boolean[] foreground, byte[] rgb) {
        public PcaMap {
            int n = gridH * gridW;
            if (first.length != n || foreground.length != n || rgb.length != 3 * n)
                throw new IllegalArgumentException("PcaMap arrays do not match the " + gridH + "x" + gridW + " grid");
        }

        /** Index of the patch lying over pixel (x, y) of a {@code width x height} picture. */
        public int patchAt(int x, int y, int width, int height) {
            return PatchFeatures.patchAt(x, y, width, height, gridW, gridH);
        }

        public int foregroundPatches() {
            int n = 0;
            for (boolean f : foreground) if (f) n++;
            return n;
        }
    }

    /** The pictures of {@code images} (one map each, same order), PCA fitted over all of them. */
    public static List<PcaMap> pca(List<PatchFeatures> images, double threshold, boolean flip) {
        if (images.isEmpty()) throw new IllegalArgumentException("no images");
        if (!(threshold >= 0 && threshold <= 1)) throw new IllegalArgumentException("threshold must be in [0, 1], got " + threshold);
        int d = images.get(0).dim(), n = 0;
        for (PatchFeatures f : images) {
            if (f.dim() != d) throw new IllegalArgumentException("feature sizes differ: " + d + " and " + f.dim());
            n += f.patches();
        }
        float[] all = new float[n * d];
        int off = 0;
        for (PatchFeatures f : images) {
            System.arraycopy(f.tokens(), 0, all, off, f.tokens().length);
            off += f.tokens().length;
        }
        float[] first = Pca.fit(all, n, d, 1).transform(all, n);
        if (flip)
            for (int i = 0; i < n; i++) first[i] = -first[i];
        minMax(first, 0, 1, n);
        boolean[] fg = new boolean[n];
        int nf = 0;
        for (int i = 0; i < n; i++)
            if (fg[i] = first[i] >= threshold) nf++;

        byte[] rgb = new byte[3 * n];
        if (nf > 0) {
            float[] fgRows = new float[nf * d];
            for (int i = 0, j = 0; i < n; i++)
                if (fg[i]) System.arraycopy(all, i * d, fgRows, d * j++, d);
            int k = Math.min(3, d);
            float[] c = Pca.fit(fgRows, nf, d, k).transform(fgRows, nf);
            for (int ch = 0; ch < k; ch++) minMax(c, ch, k, nf);
            for (int i = 0, j = 0; i < n; i++)
                if (fg[i]) {
                    for (int ch = 0; ch < k; ch++) rgb[3 * i + ch] = (byte) Math.round(c[j * k + ch] * 255f);
                    j++;
                }
        }
        List<PcaMap> maps = new ArrayList<>();
        off = 0;
        for (PatchFeatures f : images) {
            int m = f.patches();
            boolean[] g = new boolean[m];
            System.arraycopy(fg, off, g, 0, m);
            maps.add(new PcaMap(f.gridH(), f.gridW(), java.util.Arrays.copyOfRange(first, off, off + m), g,
                    java.util.Arrays.copyOfRange(rgb, 3 * off, 3 * (off + m))));
            off += m;
        }
        return maps;
    }

    /** The map upsampled to {@code width x height} (the input image's size). */
    public static BufferedImage render(PcaMap map, int width, int height, Upsample upsample) {
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        int gw = map.gridW(), gh = map.gridH();
        byte[] rgb = map.rgb();
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) {
                int p;
                if (upsample == Upsample.NEAREST) {
                    int i = map.patchAt(x, y, width, height);
                    p = (rgb[3 * i] & 0xff) << 16 | (rgb[3 * i + 1] & 0xff) << 8 | rgb[3 * i + 2] & 0xff;
                } else { // PyTorch's bilinear with align_corners=False: pixel centres, edges clamped
                    double gx = Math.clamp((x + 0.5) * gw / width - 0.5, 0, gw - 1);
                    double gy = Math.clamp((y + 0.5) * gh / height - 0.5, 0, gh - 1);
                    int x0 = (int) gx, y0 = (int) gy, x1 = Math.min(x0 + 1, gw - 1), y1 = Math.min(y0 + 1, gh - 1);
                    double fx = gx - x0, fy = gy - y0;
                    p = 0;
                    for (int ch = 0; ch < 3; ch++) {
                        double top = (1 - fx) * (rgb[3 * (y0 * gw + x0) + ch] & 0xff) + fx * (rgb[3 * (y0 * gw + x1) + ch] & 0xff);
                        double bot = (1 - fx) * (rgb[3 * (y1 * gw + x0) + ch] & 0xff) + fx * (rgb[3 * (y1 * gw + x1) + ch] & 0xff);
                        p = p << 8 | (int) Math.round((1 - fy) * top + fy * bot);
                    }
                }
                out.setRGB(x, y, p);
            }
        return out;
    }

    /** Min-max scales column {@code col} of an n x stride matrix to 0..1 in place; a constant column becomes 0.5. */
    private static void minMax(float[] v, int col, int stride, int n) {
        float lo = Float.POSITIVE_INFINITY, hi = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            lo = Math.min(lo, v[i * stride + col]);
            hi = Math.max(hi, v[i * stride + col]);
        }
        float range = hi - lo;
        for (int i = 0; i < n; i++) v[i * stride + col] = range > 0 ? (v[i * stride + col] - lo) / range : 0.5f;
    }
}
