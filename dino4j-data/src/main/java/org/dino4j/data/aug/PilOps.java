package org.dino4j.data.aug;

import org.dino4j.data.PilResize;
import org.dino4j.data.RgbImage;

/**
 * The image operations of DataAugmentationDINO as torchvision 0.15 runs them on PIL images, pixel for pixel:
 * crop + Pillow bicubic resize, ImageEnhance (Brightness, Contrast, Color: Pillow's float32 blend with truncation),
 * torchvision's PIL hue shift (Pillow's RGB/HSV conversions, uint8 wrap-around), PIL's luma, solarize, and the
 * 9-tap Gaussian blur torchvision computes in float32 (reflect padding, rounded back to uint8).
 */
public final class PilOps {
    private PilOps() {}

    /** F.resized_crop: the box (top, left, height, width), then Pillow bicubic to size x size. */
    public static RgbImage resizedCrop(RgbImage im, int top, int left, int h, int w, int outW, int outH) {
        return PilResize.bicubic(crop(im, top, left, h, w), outW, outH);
    }

    /** Image.crop: pixels outside the image are black (as PIL does for boxes past the border). */
    public static RgbImage crop(RgbImage im, int top, int left, int h, int w) {
        byte[] src = im.rgb(), out = new byte[3 * w * h];
        for (int y = 0; y < h; y++) {
            int sy = top + y;
            if (sy < 0 || sy >= im.height()) continue;
            for (int x = 0; x < w; x++) {
                int sx = left + x;
                if (sx >= 0 && sx < im.width()) System.arraycopy(src, 3 * (sy * im.width() + sx), out, 3 * (y * w + x), 3);
            }
        }
        return new RgbImage(w, h, out);
    }

    public static RgbImage hflip(RgbImage im) {
        int w = im.width(), h = im.height();
        byte[] src = im.rgb(), out = new byte[src.length];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) System.arraycopy(src, 3 * (y * w + x), out, 3 * (y * w + w - 1 - x), 3);
        return new RgbImage(w, h, out);
    }

    /** ImageEnhance.Brightness: blend with black. */
    public static RgbImage brightness(RgbImage im, double factor) {
        return blend(new byte[im.rgb().length], im.rgb(), factor, im);
    }

    /** ImageEnhance.Contrast: blend with the gray of the mean luma, int(mean + 0.5). */
    public static RgbImage contrast(RgbImage im, double factor) {
        byte[] rgb = im.rgb();
        long sum = 0;
        for (int i = 0; i < rgb.length; i += 3) sum += luma(rgb[i], rgb[i + 1], rgb[i + 2]);
        int mean = (int) ((double) sum / (rgb.length / 3) + 0.5);
        byte[] deg = new byte[rgb.length];
        java.util.Arrays.fill(deg, (byte) mean);
        return blend(deg, rgb, factor, im);
    }

    /** ImageEnhance.Color (torchvision's saturation): blend with the image's own luma. */
    public static RgbImage saturation(RgbImage im, double factor) {
        return blend(grayscale(im).rgb(), im.rgb(), factor, im);
    }

    /** F.rgb_to_grayscale(img, 3): PIL's convert("L") replicated to three channels. */
    public static RgbImage grayscale(RgbImage im) {
        byte[] rgb = im.rgb(), out = new byte[rgb.length];
        for (int i = 0; i < rgb.length; i += 3) out[i] = out[i + 1] = out[i + 2] = (byte) luma(rgb[i], rgb[i + 1], rgb[i + 2]);
        return new RgbImage(im.width(), im.height(), out);
    }

    /** ImageOps.solarize: values >= threshold become 255 - v. */
    public static RgbImage solarize(RgbImage im, int threshold) {
        byte[] rgb = im.rgb(), out = new byte[rgb.length];
        for (int i = 0; i < rgb.length; i++) {
            int v = rgb[i] & 0xff;
            out[i] = (byte) (v < threshold ? v : 255 - v);
        }
        return new RgbImage(im.width(), im.height(), out);
    }

    /** torchvision's adjust_hue on PIL: to HSV (Pillow), H += uint8(factor * 255) modulo 256, back to RGB (Pillow). */
    public static RgbImage hue(RgbImage im, double factor) {
        if (factor < -0.5 || factor > 0.5) throw new IllegalArgumentException("hue factor " + factor + " not in [-0.5, 0.5]");
        int shift = (int) (long) (factor * 255) & 0xff; // numpy's float -> uint8: truncate, then wrap
        byte[] rgb = im.rgb(), out = new byte[rgb.length];
        for (int i = 0; i < rgb.length; i += 3) {
            int r = rgb[i] & 0xff, g = rgb[i + 1] & 0xff, b = rgb[i + 2] & 0xff;
            int maxc = Math.max(r, Math.max(g, b)), minc = Math.min(r, Math.min(g, b));
            int uh = 0, us = 0, uv = maxc;
            if (minc != maxc) { // Pillow's rgb2hsv_row: float math, truncation
                float cr = maxc - minc, s = cr / maxc, rc = (maxc - r) / cr, gc = (maxc - g) / cr, bc = (maxc - b) / cr;
                float h = r == maxc ? bc - gc : g == maxc ? (float) (2.0 + rc - bc) : (float) (4.0 + gc - rc);
                h = (float) ((h / 6.0 + 1.0) % 1.0);
                uh = clip8((int) (h * 255.0));
                us = clip8((int) (s * 255.0));
            }
            hsvToRgb((uh + shift) & 0xff, us, uv, out, i);
        }
        return new RgbImage(im.width(), im.height(), out);
    }

    /** Pillow's hsv2rgb. */
    private static void hsvToRgb(int h, int s, int v, byte[] out, int o) {
        if (s == 0) {
            out[o] = out[o + 1] = out[o + 2] = (byte) v;
            return;
        }
        int i = (int) Math.floor((float) h * 6.0 / 255.0);
        float f = (float) ((float) h * 6.0 / 255.0 - (float) i);
        float fs = (float) (((float) s) / 255.0);
        int p = clip8((int) Math.round((float) v * (1.0 - fs)));
        int q = clip8((int) Math.round((float) v * (1.0 - fs * f)));
        int t = clip8((int) Math.round((float) v * (1.0 - fs * (1.0 - f))));
        int r, g, b;
        switch (i % 6) {
            case 0 -> { r = v; g = t; b = p; }
            case 1 -> { r = q; g = v; b = p; }
            case 2 -> { r = p; g = v; b = t; }
            case 3 -> { r = p; g = q; b = v; }
            case 4 -> { r = t; g = p; b = v; }
            default -> { r = v; g = p; b = q; }
        }
        out[o] = (byte) r;
        out[o + 1] = (byte) g;
        out[o + 2] = (byte) b;
    }

    /**
     * torchvision's F.gaussian_blur on a PIL image: the 1-D kernel exp(-x^2 / (2 sigma^2)) on linspace(-4, 4, 9),
     * normalised, as a 9 x 9 outer product, applied in float32 with reflect padding, rounded half-to-even.
     * (PyTorch's conv2d may add the 81 products in another order: the last bit can differ, so a value may land on
     * the other side of a .5 once in a while.)
     */
    public static RgbImage gaussianBlur(RgbImage im, double sigma) {
        final int k = 9, half = 4;
        float[] k1 = new float[k];
        float sum = 0;
        for (int i = 0; i < k; i++) {
            float x = -half + i; // torch.linspace(-4, 4, 9) is exact here
            sum += k1[i] = (float) Math.exp(-0.5f * (x / (float) sigma) * (x / (float) sigma));
        }
        for (int i = 0; i < k; i++) k1[i] /= sum;
        float[] k2 = new float[k * k];
        for (int i = 0; i < k; i++) for (int j = 0; j < k; j++) k2[i * k + j] = k1[i] * k1[j];
        int w = im.width(), h = im.height();
        byte[] src = im.rgb(), out = new byte[src.length];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    float acc = 0;
                    for (int i = 0; i < k; i++) {
                        int sy = reflect(y + i - half, h);
                        for (int j = 0; j < k; j++) acc += k2[i * k + j] * (src[3 * (sy * w + reflect(x + j - half, w)) + c] & 0xff);
                    }
                    out[3 * (y * w + x) + c] = (byte) Math.max(0, Math.min(255, (int) Math.rint(acc)));
                }
        return new RgbImage(w, h, out);
    }

    private static int reflect(int i, int n) {
        if (n == 1) return 0;
        while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
        return i;
    }

    /** Pillow's ImagingBlend: in1 + alpha (in2 - in1) in float32, truncated (clipped when extrapolating). */
    private static RgbImage blend(byte[] in1, byte[] in2, double factor, RgbImage like) {
        float alpha = (float) factor;
        byte[] out = new byte[in1.length];
        boolean inside = alpha >= 0 && alpha <= 1.0;
        for (int i = 0; i < out.length; i++) {
            int a = in1[i] & 0xff, b = in2[i] & 0xff;
            float v = a + alpha * (b - a);
            out[i] = (byte) (inside ? (int) v : v <= 0 ? 0 : v >= 255 ? 255 : (int) v);
        }
        return new RgbImage(like.width(), like.height(), out);
    }

    /** PIL's L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16. */
    static int luma(byte r, byte g, byte b) {
        return ((r & 0xff) * 19595 + (g & 0xff) * 38470 + (b & 0xff) * 7471 + 0x8000) >> 16;
    }

    private static int clip8(int v) {
        return v < 0 ? 0 : Math.min(v, 255);
    }
}
