package org.dino4j.viz;

import java.awt.Color;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.awt.image.WritableRaster;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

import org.dino4j.data.ClassNames;
import org.dino4j.data.Resources;
import org.dino4j.data.RgbImage;

/**
 * A segmentation head's class map ({@code int[h * w]}, row-major, head class indices) as pictures: the colour mask,
 * the mask blended over the photo, the class-index PNG and a legend of the classes present.
 * <p>
 * Colours are the official ones ({@code dinov2/eval/segmentation/utils/colormaps.py}, resources
 * {@code ade20k_colormap.txt} and {@code voc2012_colormap.txt}), looked up as {@link Palette} says. Label 255
 * (mmseg's "ignore") is drawn black like the colour map's entry 0.
 */
public final class SegmentationPictures {
    /** Label value meaning "no class" (mmseg's ignore_index): black in the mask, left unblended in the overlay. */
    public static final int IGNORE = 255;
    public static final double DEFAULT_ALPHA = 0.5;

    private SegmentationPictures() {}

    /**
     * A dataset's colours and class names. Head class c is drawn with {@code colormap[c + offset]}:
     * <ul>
     * <li>ADE20K: 150 head classes, 151 colours whose entry 0 is ADE's unlabelled "other" (black), so offset 1,
     * as the official segmentation notebook renders ({@code colormap[segmentation_logits + 1]});</li>
     * <li>VOC2012: 21 head classes with 0 = background, 21 colours that are the PASCAL VOC palette of exactly those
     * classes (background black, aeroplane (128, 0, 0), ...), so offset 0. The notebook's {@code + 1} is wrong for
     * this map: it draws background dark red, each class in its neighbour's colour, and indexes past the end for
     * class 20 (tvmonitor).</li>
     * </ul>
     */
    public enum Palette {
        ADE20K("ade20k_colormap.txt", 151, 1),
        VOC2012("voc2012_colormap.txt", 21, 0);

        private final String resource;
        private final int size, offset;
        private volatile int[] colours;

        Palette(String resource, int size, int offset) {
            this.resource = resource;
            this.size = size;
            this.offset = offset;
        }

        /** Head classes this palette colours. */
        public int classes() {
            return size - offset;
        }

        /** The class names, index = head class. */
        public List<String> names() {
            return this == ADE20K ? ClassNames.ade20k() : ClassNames.voc2012();
        }

        /** 0xRRGGBB of head class {@code c}; {@link #IGNORE} is black. */
        public int rgb(int c) {
            if (c == IGNORE) return 0;
            if (c < 0 || c >= classes())
                throw new IllegalArgumentException(name() + " has classes 0.." + (classes() - 1) + ", got label " + c);
            return table()[c + offset];
        }

        private int[] table() {
            int[] t = colours;
            if (t == null) {
                List<String> rows = Resources.lines(SegmentationPictures.class, resource, size);
                t = new int[size];
                for (int i = 0; i < size; i++) {
                    String[] v = rows.get(i).trim().split("\\s+");
                    t[i] = Integer.parseInt(v[0]) << 16 | Integer.parseInt(v[1]) << 8 | Integer.parseInt(v[2]);
                }
                colours = t;
            }
            return t;
        }
    }

    /** Each pixel the colour of its class. */
    public static BufferedImage mask(int[] labels, int width, int height, Palette palette) {
        check(labels, width, height);
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) out.setRGB(x, y, palette.rgb(labels[y * width + x]));
        return out;
    }

    /**
     * The mask over the photo (same size): per channel round((1 - alpha) * photo + alpha * mask), alpha in [0, 1];
     * {@link #IGNORE} pixels keep the photo.
     */
    public static BufferedImage overlay(RgbImage photo, int[] labels, Palette palette, double alpha) {
        if (!(alpha >= 0 && alpha <= 1)) throw new IllegalArgumentException("alpha must be in [0, 1], got " + alpha);
        int w = photo.width(), h = photo.height();
        check(labels, w, h);
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int l = labels[y * w + x];
                int p = photo.get(x, y, 0) << 16 | photo.get(x, y, 1) << 8 | photo.get(x, y, 2);
                out.setRGB(x, y, l == IGNORE ? p : blend(p, palette.rgb(l), alpha));
            }
        return out;
    }

    public static BufferedImage overlay(RgbImage photo, int[] labels, Palette palette) {
        return overlay(photo, labels, palette, DEFAULT_ALPHA);
    }

    /** Channel-wise round((1 - alpha) * a + alpha * b) of two 0xRRGGBB colours. */
    static int blend(int a, int b, double alpha) {
        int out = 0;
        for (int shift = 16; shift >= 0; shift -= 8) {
            int ca = a >> shift & 0xff, cb = b >> shift & 0xff;
            out |= (int) Math.round((1 - alpha) * ca + alpha * cb) << shift;
        }
        return out;
    }

    /** 8-bit grey whose pixel value is the class index (what a dataset's label PNG holds; 255 stays 255). */
    public static BufferedImage classIndex(int[] labels, int width, int height) {
        check(labels, width, height);
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_BYTE_GRAY);
        WritableRaster r = out.getRaster();
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) {
                int l = labels[y * width + x];
                if (l < 0 || l > 255) throw new IllegalArgumentException("label " + l + " at (" + x + ", " + y + ") does not fit 8 bits");
                r.setSample(x, y, 0, l);
            }
        return out;
    }

    /** A class present in the map: its index, name and share of the pixels. */
    public record Present(int classIndex, String name, long pixels, double fraction) {}

    /** The classes present, most pixels first (ties: lower index first); {@link #IGNORE} left out. */
    public static List<Present> present(int[] labels, Palette palette) {
        long[] count = new long[palette.classes()];
        for (int l : labels) {
            if (l == IGNORE) continue;
            palette.rgb(l); // range check with the palette's message
            count[l]++;
        }
        List<String> names = palette.names();
        List<Present> out = new ArrayList<>();
        for (int c = 0; c < count.length; c++)
            if (count[c] > 0) out.add(new Present(c, names.get(c), count[c], (double) count[c] / labels.length));
        out.sort(Comparator.comparingLong(Present::pixels).reversed().thenComparingInt(Present::classIndex));
        return out;
    }

    /** Legend layout in pixels. */
    static final int ROW = 18, SWATCH = 12, PAD = 6;

    /**
     * A legend strip: one row per class (colour swatch, name, share of pixels), most frequent first, at most
     * {@code maxRows} rows; a last row says how many classes were left out.
     */
    public static BufferedImage legend(List<Present> present, Palette palette, int maxRows) {
        if (maxRows < 1) throw new IllegalArgumentException("maxRows must be >= 1, got " + maxRows);
        int shown = Math.min(present.size(), maxRows), rest = present.size() - shown;
        List<String> text = new ArrayList<>();
        for (int i = 0; i < shown; i++) text.add(legendText(present.get(i)));
        if (rest > 0) text.add("+ " + rest + " more");
        if (text.isEmpty()) text.add("(no classes)");
        FontMetrics fm = Charts.fontMetrics();
        int textW = text.stream().mapToInt(fm::stringWidth).max().orElse(0);
        BufferedImage out = new BufferedImage(PAD + SWATCH + PAD + textW + PAD, PAD + text.size() * ROW + PAD, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = Charts.canvas(out);
        int baseline = (ROW + fm.getAscent() - fm.getDescent()) / 2;
        for (int i = 0; i < text.size(); i++) {
            int top = PAD + i * ROW;
            if (i < shown) {
                g.setColor(new Color(palette.rgb(present.get(i).classIndex())));
                g.fillRect(PAD, top + (ROW - SWATCH) / 2, SWATCH, SWATCH);
                g.setColor(Color.GRAY);
                g.drawRect(PAD, top + (ROW - SWATCH) / 2, SWATCH - 1, SWATCH - 1);
            }
            g.setColor(Color.BLACK);
            g.drawString(text.get(i), PAD + SWATCH + PAD, top + baseline);
        }
        g.dispose();
        return out;
    }

    /** "wall 41.3%" */
    static String legendText(Present p) {
        return String.format(Locale.ROOT, "%s %.1f%%", p.name(), 100 * p.fraction());
    }

    private static void check(int[] labels, int width, int height) {
        if (width < 1 || height < 1 || (long) width * height != labels.length)
            throw new IllegalArgumentException("class map of " + labels.length + " values is not " + width + " x " + height);
    }
}
