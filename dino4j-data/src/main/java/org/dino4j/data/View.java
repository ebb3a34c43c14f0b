package org.dino4j.data;

import java.io.Serializable;
import java.util.Locale;

import org.dino4j.data.aug.PilOps;

/**
 * A fixed geometric view of an image, as copy detection searches with it: a centred crop keeping {@code crop} of each
 * side, resized back to the image's size (bicubic, as PIL), then optionally mirrored left to right. Copies are often
 * a crop of their original scaled back up; the original's own crop then looks like the copy far more than any
 * crop-invariant embedding can make them look alike without also joining distinct images.
 */
public record View(double crop, boolean mirror) implements Serializable {
    public static final View NONE = new View(1, false);

    public View {
        if (!(crop > 0 && crop <= 1)) throw new IllegalArgumentException("crop: the kept fraction of each side must be in (0, 1], got " + crop);
    }

    public boolean identity() {
        return crop == 1 && !mirror;
    }

    public RgbImage apply(RgbImage im) {
        if (crop < 1) {
            int w = im.width(), h = im.height();
            int cw = Math.max(1, (int) Math.round(w * crop)), ch = Math.max(1, (int) Math.round(h * crop));
            if (cw < w || ch < h) im = PilOps.resizedCrop(im, (h - ch) / 2, (w - cw) / 2, ch, cw, w, h);
        }
        return mirror ? PilOps.hflip(im) : im;
    }

    /** A name for the view's embeddings: {@code mirrored}, {@code crop0.93}, {@code crop0.93-mirrored}. */
    public String name() {
        if (identity()) return "plain";
        String c = crop < 1 ? String.format(Locale.ROOT, "crop%s", stripped(crop)) : "";
        return mirror ? (c.isEmpty() ? "mirrored" : c + "-mirrored") : c;
    }

    private static String stripped(double v) {
        String s = String.format(Locale.ROOT, "%.4f", v);
        return s.replaceAll("0+$", "").replaceAll("\\.$", "");
    }
}
