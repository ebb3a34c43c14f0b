package org.dino4j.data;

/**
 * An 8-bit RGB image, rows top to bottom, pixels interleaved (r, g, b): what PIL's {@code convert("RGB")} holds.
 */
public record RgbImage(int width, int height, byte[] rgb) {
    public RgbImage {
        if (width < 1 || height < 1) throw new IllegalArgumentException("image size " + width + "x" + height);
        if (rgb.length != 3 * width * height)
            throw new IllegalArgumentException("rgb holds " + rgb.length + " bytes, need 3 x " + width + " x " + height);
    }

    /** Channel c (0 r, 1 g, 2 b) of pixel (x, y), 0..255. */
    public int get(int x, int y, int c) {
        return rgb[3 * (y * width + x) + c] & 0xff;
    }
}
