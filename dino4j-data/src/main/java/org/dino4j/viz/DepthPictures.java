package org.dino4j.viz;

import java.awt.Color;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.Rectangle;
import java.awt.image.BufferedImage;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.dino4j.data.Resources;
import org.dino4j.io.Npy;

/**
 * A depth map in metres ({@code float[h * w]}, row-major) as pictures and files:
 * <ul>
 * <li>{@link #colour}: the official depth notebook's {@code render_depth} (notebooks/depth_estimation.ipynb): the
 * map min-max normalised, then matplotlib's {@code magma_r} colour map with {@code bytes=True}: near is bright
 * yellow, far is black. The 256-entry magma table is matplotlib's own ({@code _magma_data}, resource
 * {@code magma.txt}), and the lookup is matplotlib's ListedColormap's, so the pixels are the notebook's;</li>
 * <li>{@link #withScaleBar}: the same map with a vertical colour bar to its right, labelled in metres (nearest at
 * the bottom, as matplotlib draws a colour bar);</li>
 * <li>{@link #millimetres}: 16-bit greyscale, value = round(m * 1000) clamped to 0..65535 (NYU Depth v2's
 * convention, 0 = no value);</li>
 * <li>{@link #writeNpy}: float32 .npy of shape (h, w).</li>
 * </ul>
 * Non-finite depths are left out of the range and drawn black (matplotlib's "bad" colour with its alpha dropped).
 */
public final class DepthPictures {
    /** Scale-bar layout: margins, bar width and the gap between map and bar, in pixels. */
    static final int MARGIN = 8, GAP = 12, BAR_WIDTH = 18, MIN_BAR_HEIGHT = 100, TICK = 4;

    private DepthPictures() {}

    /** The magma table as 0xRRGGBB, each channel (int) (value * 255) as matplotlib's bytes=True takes it. */
    private static final class Magma {
        static final int[] LUT = load();

        private static int[] load() {
            List<String> rows = Resources.lines(DepthPictures.class, "magma.txt", 256);
            int[] lut = new int[256];
            for (int i = 0; i < 256; i++) {
                String[] v = rows.get(i).trim().split("\\s+");
                int rgb = 0;
                for (int c = 0; c < 3; c++) rgb = rgb << 8 | (int) (Double.parseDouble(v[c]) * 255);
                lut[i] = rgb;
            }
            return lut;
        }
    }

    /** The depth range a picture is scaled to. */
    public record Range(float min, float max) {
        public Range {
            if (!Float.isFinite(min) || !Float.isFinite(max) || max < min)
                throw new IllegalArgumentException("depth range must be finite with min <= max, got " + min + " .. " + max);
        }

        /** The smallest and largest finite depth of {@code depth}; (0, 0) if none is finite. */
        public static Range of(float[] depth) {
            float lo = Float.POSITIVE_INFINITY, hi = Float.NEGATIVE_INFINITY;
            for (float v : depth)
                if (Float.isFinite(v)) {
                    lo = Math.min(lo, v);
                    hi = Math.max(hi, v);
                }
            return lo <= hi ? new Range(lo, hi) : new Range(0, 0);
        }

        /**
         * (v - min) / (max - min) in float32, as the notebook computes it on a float32 tensor; a constant map
         * (max == min) gives 0, where the notebook would divide 0 by 0.
         */
        public float normalise(float v) {
            return max > min ? (v - min) / (max - min) : 0f;
        }
    }

    /**
     * matplotlib's {@code magma_r(t, bytes=True)} as 0xRRGGBB: index floor(t * 256) in float32, 1.0 mapping to the
     * last entry; below 0 and above 1 take the end colours (matplotlib's default under/over); NaN is black.
     */
    public static int colour(float t) {
        if (Float.isNaN(t)) return 0;
        float x = t * 256f;
        int i = x >= 256f ? 255 : x < 0f ? 0 : (int) x;
        return Magma.LUT[255 - i]; // _r: the table reversed
    }

    /** The notebook's picture: the map scaled to its own finite min..max. */
    public static BufferedImage colour(float[] depth, int width, int height) {
        return colour(depth, width, height, Range.of(depth));
    }

    /** The picture scaled to {@code range} (a fixed range, e.g. 0..10 m, makes pictures of several images comparable). */
    public static BufferedImage colour(float[] depth, int width, int height, Range range) {
        check(depth, width, height);
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) {
                float v = depth[y * width + x];
                out.setRGB(x, y, Float.isFinite(v) ? colour(range.normalise(v)) : 0);
            }
        return out;
    }

    /** Where {@link #withScaleBar} draws the bar for a {@code width x height} map (top row = far, bottom = near). */
    public static Rectangle barBounds(int width, int height) {
        return new Rectangle(MARGIN + width + GAP, MARGIN, BAR_WIDTH, Math.max(height, MIN_BAR_HEIGHT));
    }

    public static BufferedImage withScaleBar(float[] depth, int width, int height) {
        return withScaleBar(depth, width, height, Range.of(depth));
    }

    /**
     * The map on white with a colour bar to its right: the bar runs from {@code range.max} (top) to
     * {@code range.min} (bottom), each row the colour of its depth, with ticks labelled by {@link #tickLabels}.
     */
    public static BufferedImage withScaleBar(float[] depth, int width, int height, Range range) {
        BufferedImage map = colour(depth, width, height, range);
        Rectangle bar = barBounds(width, height);
        int n = ticks(bar.height);
        List<String> labels = tickLabels(range, n);
        FontMetrics fm = Charts.fontMetrics();
        int labelW = labels.stream().mapToInt(fm::stringWidth).max().orElse(0);
        BufferedImage out = new BufferedImage(bar.x + bar.width + TICK + 3 + labelW + MARGIN,
                Math.max(height, bar.height) + 2 * MARGIN, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = Charts.canvas(out);
        g.drawImage(map, MARGIN, MARGIN, null);
        for (int r = 0; r < bar.height; r++) {
            g.setColor(new Color(colour(barValue(r, bar.height))));
            g.fillRect(bar.x, bar.y + r, bar.width, 1);
        }
        g.setColor(Color.DARK_GRAY);
        g.drawRect(bar.x - 1, bar.y - 1, bar.width + 1, bar.height + 1);
        g.setColor(Color.BLACK);
        int ascent = fm.getAscent(), descent = fm.getDescent();
        for (int i = 0; i < n; i++) { // labels[0] is the minimum: the bottom of the bar
            int y = bar.y + bar.height - 1 - (int) Math.round((double) i * (bar.height - 1) / (n - 1));
            g.drawLine(bar.x + bar.width, y, bar.x + bar.width + TICK, y);
            g.drawString(labels.get(i), bar.x + bar.width + TICK + 3, y + (ascent - descent) / 2);
        }
        g.dispose();
        return out;
    }

    /** The normalised depth shown by row {@code r} of a bar {@code h} rows high: 1 at the top, 0 at the bottom. */
    static float barValue(int r, int h) {
        return h == 1 ? 0f : 1f - (float) r / (h - 1);
    }

    /** How many ticks fit a bar {@code h} pixels high: about one per 30 px, between 2 and 6. */
    static int ticks(int h) {
        return Math.clamp(h / 30 + 1, 2, 6);
    }

    /**
     * {@code n >= 2} evenly spaced tick labels from {@code range.min} to {@code range.max}, e.g. "0.5 m" ... "9.8 m":
     * one decimal more than the range's order of magnitude needs (9.3 m: one decimal; 70 m: none; 0.3 m: two).
     */
    public static List<String> tickLabels(Range range, int n) {
        if (n < 2) throw new IllegalArgumentException("need at least 2 ticks, got " + n);
        double span = (double) range.max() - range.min();
        int decimals = span > 0 ? Math.clamp(1 - (int) Math.floor(Math.log10(span)), 0, 4) : 2;
        List<String> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            double v = i == n - 1 ? range.max() : range.min() + span * i / (n - 1);
            out.add(String.format(Locale.ROOT, "%." + decimals + "f m", v));
        }
        return out;
    }

    /**
     * 16-bit grey: round(m * 1000) (half to even, as numpy rounds) clamped to 0..65535; non-finite or negative depths
     * are 0 (no value).
     */
    public static BufferedImage millimetres(float[] depth, int width, int height) {
        check(depth, width, height);
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_USHORT_GRAY);
        WritableRaster r = out.getRaster();
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) r.setSample(x, y, 0, millimetres(depth[y * width + x]));
        return out;
    }

    /** One depth in metres as the 16-bit PNG stores it. */
    static int millimetres(float metres) {
        if (!(metres > 0) || metres == Float.POSITIVE_INFINITY) return 0; // NaN, infinite, negative, zero: no value
        double mm = Math.rint((double) metres * 1000.0);
        return mm >= 65535 ? 65535 : (int) mm;
    }

    public static void writeColour(Path png, float[] depth, int width, int height) throws IOException {
        Png.write(withScaleBar(depth, width, height), png);
    }

    public static void writeMillimetres(Path png, float[] depth, int width, int height) throws IOException {
        Png.write(millimetres(depth, width, height), png);
    }

    /** float32 .npy of shape (height, width), metres; numpy.load reads it. */
    public static void writeNpy(Path npy, float[] depth, int width, int height) throws IOException {
        check(depth, width, height);
        Npy.write(npy, new long[] {height, width}, depth);
    }

    private static void check(float[] depth, int width, int height) {
        if (width < 1 || height < 1 || (long) width * height != depth.length)
            throw new IllegalArgumentException("depth map of " + depth.length + " values is not " + width + " x " + height);
    }
}
