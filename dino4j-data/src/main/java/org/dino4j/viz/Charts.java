package org.dino4j.viz;

import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** The evaluation pictures: a bar chart (accuracy per k, per class) and a confusion matrix heat map. */
public final class Charts {
    private Charts() {}

    /** A white, antialiased canvas over img with a 12-point sans-serif font (headless). */
    public static Graphics2D canvas(BufferedImage img) {
        System.setProperty("java.awt.headless", System.getProperty("java.awt.headless", "true"));
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        return g;
    }

    /** The metrics of {@link #canvas}'s font, to size a picture before drawing it. */
    static FontMetrics fontMetrics() {
        Graphics2D g = canvas(new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB));
        try {
            return g.getFontMetrics();
        } finally {
            g.dispose();
        }
    }

    /** Vertical bars with their values printed on top; values in [0, max]. */
    public static void bars(Path file, String title, List<String> labels, double[] values, double max) throws IOException {
        if (labels.size() != values.length) throw new IllegalArgumentException(labels.size() + " labels for " + values.length + " values");
        int n = values.length, bw = Math.max(14, Math.min(60, 900 / Math.max(1, n))), left = 50, top = 30, ph = 300;
        int w = left + n * (bw + 6) + 20, h = top + ph + 110;
        BufferedImage img = new BufferedImage(Math.max(w, 320), h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = canvas(img);
        g.setColor(Color.BLACK);
        g.drawString(title, 10, 18);
        g.drawLine(left, top + ph, left + n * (bw + 6), top + ph);
        for (int t = 0; t <= 4; t++) {
            int y = top + ph - ph * t / 4;
            g.setColor(new Color(0xdddddd));
            g.drawLine(left, y, left + n * (bw + 6), y);
            g.setColor(Color.BLACK);
            g.drawString(String.format(Locale.ROOT, "%.3g", max * t / 4), 4, y + 4);
        }
        for (int i = 0; i < n; i++) {
            int x = left + 3 + i * (bw + 6), bh = (int) Math.round(ph * Math.max(0, Math.min(values[i], max)) / max);
            g.setColor(new Color(0x1f77b4));
            g.fillRect(x, top + ph - bh, bw, bh);
            g.setColor(Color.BLACK);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 10));
            g.drawString(String.format(Locale.ROOT, "%.1f", values[i]), x, top + ph - bh - 3);
            Graphics2D r = (Graphics2D) g.create(); // labels written downwards so long class names fit
            r.translate(x + bw / 2 + 4, top + ph + 6);
            r.rotate(Math.PI / 2);
            String lab = labels.get(i);
            r.drawString(lab.length() > 16 ? lab.substring(0, 15) + "…" : lab, 0, 0);
            r.dispose();
        }
        g.dispose();
        Png.write(img, file);
    }

    /** counts[true][predicted] as a heat map, each row normalised to its total; at most 100 classes. */
    public static void confusion(Path file, String title, List<String> classes, long[][] counts) throws IOException {
        int c = counts.length;
        if (c > 100) throw new IllegalArgumentException(c + " classes: a confusion matrix picture is drawn for at most 100");
        int cell = Math.max(4, Math.min(40, 800 / Math.max(1, c))), left = 130, top = 40;
        BufferedImage img = new BufferedImage(left + c * cell + 20, top + c * cell + 120, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = canvas(img);
        g.setColor(Color.BLACK);
        g.drawString(title + " (rows: true class, columns: predicted; row-normalised)", 10, 18);
        for (int i = 0; i < c; i++) {
            long row = 0;
            for (long v : counts[i]) row += v;
            for (int j = 0; j < c; j++) {
                double f = row == 0 ? 0 : (double) counts[i][j] / row;
                int shade = (int) Math.round(255 * (1 - f));
                g.setColor(new Color(shade, shade, 255));
                g.fillRect(left + j * cell, top + i * cell, cell, cell);
                if (cell >= 28 && counts[i][j] > 0) {
                    g.setColor(f > 0.5 ? Color.WHITE : Color.BLACK);
                    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 9));
                    g.drawString(String.format(Locale.ROOT, "%.2f", f), left + j * cell + 3, top + i * cell + cell / 2 + 3);
                }
            }
            if (cell >= 10) {
                g.setColor(Color.BLACK);
                g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
                String lab = classes.get(i);
                g.drawString(lab.length() > 18 ? lab.substring(0, 17) + "…" : lab, 4, top + i * cell + cell / 2 + 4);
                Graphics2D r = (Graphics2D) g.create();
                r.translate(left + i * cell + cell / 2 - 4, top + c * cell + 6);
                r.rotate(Math.PI / 2);
                r.drawString(lab.length() > 16 ? lab.substring(0, 15) + "…" : lab, 0, 0);
                r.dispose();
            }
        }
        g.setColor(Color.GRAY);
        g.drawRect(left, top, c * cell, c * cell);
        g.dispose();
        Png.write(img, file);
    }
}
