package org.dino4j.viz;

import java.awt.AlphaComposite;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.Rectangle;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.IntStream;

import org.dino4j.data.RgbImage;

/**
 * A few lines of text ("top-1: golden retriever 87%") on a copy of a photo: white on a translucent black box in the
 * top-left corner, the font sized to the photo (about 1/22 of its shorter side, 11 to 48 pt), lines too wide for
 * the photo cut with an ellipsis.
 */
public final class Caption {
    /** Opacity of the box behind the text. */
    static final float BOX_ALPHA = 0.6f;

    private Caption() {}

    public static BufferedImage draw(RgbImage photo, List<String> lines) {
        return draw(Png.toBufferedImage(photo), lines);
    }

    /** A copy of {@code photo} with {@code lines} drawn on it; the photo itself is left as it was. */
    public static BufferedImage draw(BufferedImage photo, List<String> lines) {
        int w = photo.getWidth(), h = photo.getHeight();
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.drawImage(photo, 0, 0, null);
        if (lines.isEmpty()) {
            g.dispose();
            return out;
        }
        Layout l = layout(w, h, lines, g);
        g.setComposite(AlphaComposite.getInstance(AlphaComposite.SRC_OVER, BOX_ALPHA));
        g.setColor(Color.BLACK);
        g.fill(l.box);
        g.setComposite(AlphaComposite.SrcOver);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.setFont(l.font);
        g.setClip(l.box);
        FontMetrics fm = g.getFontMetrics();
        for (int i = 0; i < l.lines.size(); i++)
            g.drawString(l.lines.get(i), l.box.x + l.pad, l.box.y + l.pad + i * fm.getHeight() + fm.getAscent());
        g.dispose();
        return out;
    }

    /** Where {@link #draw} puts the box on a {@code width x height} photo. */
    static Rectangle box(int width, int height, List<String> lines) {
        BufferedImage probe = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = probe.createGraphics();
        try {
            return layout(width, height, lines, g).box;
        } finally {
            g.dispose();
        }
    }

    private record Layout(Font font, int pad, List<String> lines, Rectangle box) {}

    private static Layout layout(int w, int h, List<String> lines, Graphics2D g) {
        System.setProperty("java.awt.headless", System.getProperty("java.awt.headless", "true"));
        Font font = new Font(Font.SANS_SERIF, Font.BOLD, Math.clamp(Math.round(Math.min(w, h) / 22f), 11, 48));
        FontMetrics fm = g.getFontMetrics(font);
        int pad = Math.max(2, font.getSize() / 3), room = Math.max(1, w - 2 * pad);
        List<String> fitted = new ArrayList<>(lines.size());
        int textW = 0;
        for (String s : lines) {
            String f = fit(s, room, fm);
            fitted.add(f);
            textW = Math.max(textW, fm.stringWidth(f));
        }
        Rectangle box = new Rectangle(0, 0, Math.min(w, textW + 2 * pad), Math.min(h, fitted.size() * fm.getHeight() + 2 * pad));
        return new Layout(font, pad, fitted, box);
    }

    /** {@code s}, or its longest prefix that fits {@code room} pixels with "…" after it. */
    static String fit(String s, int room, FontMetrics fm) {
        if (fm.stringWidth(s) <= room) return s;
        int n = s.length();
        while (n > 0 && fm.stringWidth(s.substring(0, n) + "…") > room) n--;
        return s.substring(0, n) + "…";
    }

    /**
     * The {@code k} most probable classes as caption lines, "top-1: golden retriever 87.1%" then "top-2: ...";
     * ties keep the lower class index first.
     */
    public static List<String> topK(List<String> names, double[] probabilities, int k) {
        if (names.size() != probabilities.length)
            throw new IllegalArgumentException(names.size() + " names for " + probabilities.length + " probabilities");
        if (k < 1) throw new IllegalArgumentException("k must be >= 1, got " + k);
        List<Integer> order = IntStream.range(0, probabilities.length).boxed()
                .sorted(Comparator.comparingDouble((Integer i) -> -probabilities[i]).thenComparingInt(i -> i)).limit(k).toList();
        List<String> out = new ArrayList<>(order.size());
        for (int r = 0; r < order.size(); r++)
            out.add(String.format(Locale.ROOT, "top-%d: %s %.1f%%", r + 1, names.get(order.get(r)), 100 * probabilities[order.get(r)]));
        return out;
    }
}
