package org.dino4j.data;

import java.io.Serializable;
import java.util.Locale;

import org.dino4j.data.aug.PilOps;

/**
 * A fixed geometric view of an image, as copy detection searches with it: a crop keeping {@code crop} of each side,
 * at the centre or in a corner, resized back to the image's size (bicubic, as PIL), then optionally mirrored left to
 * right. Copies are often a crop of their original scaled back up; the original's own crop then looks like the copy
 * far more than any crop-invariant embedding can make them look alike without also joining distinct images.
 */
public record View(double crop, Anchor anchor, boolean mirror) implements Serializable {
    public static final View NONE = new View(1, false);

    /** Where the crop sits: the centre (the extra pixel of an odd margin goes right and below) or a corner. */
    public enum Anchor {
        CENTER("c"), TOP_LEFT("tl"), TOP_RIGHT("tr"), BOTTOM_LEFT("bl"), BOTTOM_RIGHT("br");

        final String shortName;

        Anchor(String shortName) {
            this.shortName = shortName;
        }
    }

    public View {
        if (!(crop > 0 && crop <= 1)) throw new IllegalArgumentException("crop: the kept fraction of each side must be in (0, 1], got " + crop);
        java.util.Objects.requireNonNull(anchor, "anchor");
    }

    /** A centred crop. */
    public View(double crop, boolean mirror) {
        this(crop, Anchor.CENTER, mirror);
    }

    public boolean identity() {
        return crop == 1 && !mirror;
    }

    public RgbImage apply(RgbImage im) {
        if (crop < 1) {
            int w = im.width(), h = im.height();
            int cw = Math.max(1, (int) Math.round(w * crop)), ch = Math.max(1, (int) Math.round(h * crop));
            if (cw < w || ch < h) {
                int left = switch (anchor) {
                    case CENTER -> (w - cw) / 2;
                    case TOP_LEFT, BOTTOM_LEFT -> 0;
                    case TOP_RIGHT, BOTTOM_RIGHT -> w - cw;
                };
                int top = switch (anchor) {
                    case CENTER -> (h - ch) / 2;
                    case TOP_LEFT, TOP_RIGHT -> 0;
                    case BOTTOM_LEFT, BOTTOM_RIGHT -> h - ch;
                };
                im = PilOps.resizedCrop(im, top, left, ch, cw, w, h);
            }
        }
        return mirror ? PilOps.hflip(im) : im;
    }

    /** A name for the view's embeddings: {@code mirrored}, {@code crop0.93}, {@code crop0.93tl-mirrored}. */
    public String name() {
        if (identity()) return "plain";
        String c = crop < 1 ? String.format(Locale.ROOT, "crop%s%s", stripped(crop), anchor == Anchor.CENTER ? "" : anchor.shortName) : "";
        return mirror ? (c.isEmpty() ? "mirrored" : c + "-mirrored") : c;
    }

    private static String stripped(double v) {
        String s = String.format(Locale.ROOT, "%.4f", v);
        return s.replaceAll("0+$", "").replaceAll("\\.$", "");
    }
}
