package org.dino4j.viz;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** A plain line chart (x: step, one line per series, shared y axis) written as PNG: the training curve. */
public final class LineChart {
    private static final Color[] COLORS = {new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c),
            new Color(0xd62728), new Color(0x9467bd), new Color(0x8c564b)};

    private static final Font FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 12);
    private static final int LEFT = 60, LINE = 15; // plot's left edge (the title starts there too); title line height

    static {
        System.setProperty("java.awt.headless", System.getProperty("java.awt.headless", "true"));
    }

    private LineChart() {}

    /** The title's lines as drawn on a chart {@code width} px wide: broken between words where it would not fit. */
    public static java.util.List<String> titleLines(String title, int width) {
        Graphics2D g = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB).createGraphics();
        g.setFont(FONT);
        try {
            return wrap(title, g.getFontMetrics(), width - LEFT - 10);
        } finally {
            g.dispose();
        }
    }

    /** Words joined into lines of at most {@code max} px (a single longer word gets a line of its own). */
    private static java.util.List<String> wrap(String text, java.awt.FontMetrics fm, int max) {
        java.util.List<String> lines = new java.util.ArrayList<>();
        String line = "";
        for (String w : text.split(" ")) {
            String joined = line.isEmpty() ? w : line + " " + w;
            if (!line.isEmpty() && fm.stringWidth(joined) > max) {
                lines.add(line);
                line = w;
            } else {
                line = joined;
            }
        }
        lines.add(line);
        return lines;
    }

    /** series: name to y values (x = index); NaN values are skipped (the line joins the points around them). */
    public static BufferedImage render(String title, Map<String, double[]> series, int width, int height) {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        g.setFont(FONT);
        java.util.List<String> titleLines = wrap(title, g.getFontMetrics(), width - LEFT - 10);
        int left = LEFT, right = 190, top = 30 + LINE * (titleLines.size() - 1), bottom = 40, pw = width - left - right, ph = height - top - bottom;
        double min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY;
        int n = 1;
        for (double[] ys : series.values()) {
            n = Math.max(n, ys.length);
            for (double y : ys) if (Double.isFinite(y)) { min = Math.min(min, y); max = Math.max(max, y); }
        }
        if (!Double.isFinite(min)) { min = 0; max = 1; }
        if (max - min < 1e-12) { max += 0.5; min -= 0.5; }
        g.setColor(Color.BLACK);
        for (int i = 0; i < titleLines.size(); i++) g.drawString(titleLines.get(i), left, 18 + LINE * i);
        g.drawRect(left, top, pw, ph);
        for (int i = 0; i <= 4; i++) { // y ticks
            double v = min + (max - min) * i / 4;
            int y = top + ph - (int) Math.round(ph * (double) i / 4);
            g.setColor(new Color(0xdddddd));
            g.drawLine(left + 1, y, left + pw - 1, y);
            g.setColor(Color.BLACK);
            g.drawString(String.format(Locale.ROOT, "%.3g", v), 4, y + 4);
        }
        g.drawString("step " + (n - 1), left + pw - 60, top + ph + 16);
        g.drawString("0", left, top + ph + 16);
        int si = 0;
        for (var e : series.entrySet()) {
            Color c = COLORS[si % COLORS.length];
            g.setColor(c);
            g.setStroke(new BasicStroke(1.5f));
            double[] ys = e.getValue();
            int px = -1, py = -1;
            for (int i = 0; i < ys.length; i++) {
                if (!Double.isFinite(ys[i])) continue;
                int x = left + (int) Math.round(pw * (n == 1 ? 0.5 : (double) i / (n - 1)));
                int y = top + ph - (int) Math.round(ph * (ys[i] - min) / (max - min));
                if (px >= 0) g.drawLine(px, py, x, y);
                g.fillRect(x - 1, y - 1, 3, 3);
                px = x;
                py = y;
            }
            g.fillRect(left + pw + 10, top + 10 + 18 * si, 12, 3);
            g.setColor(Color.BLACK);
            g.drawString(e.getKey(), left + pw + 26, top + 15 + 18 * si);
            si++;
        }
        g.dispose();
        return img;
    }

    public static void write(Path file, String title, Map<String, double[]> series) throws IOException {
        Png.write(render(title, new LinkedHashMap<>(series), 800, 400), file);
    }

    /** One panel of a {@link #write(Path, java.util.List)} figure. */
    public record Panel(String title, Map<String, double[]> series, int height) {}

    /** Panels stacked top to bottom, 800 px wide (e.g. losses above k-NN accuracy, on one step axis). */
    public static void write(Path file, java.util.List<Panel> panels) throws IOException {
        int h = panels.stream().mapToInt(Panel::height).sum();
        BufferedImage all = new BufferedImage(800, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = all.createGraphics();
        int y = 0;
        for (Panel p : panels) {
            g.drawImage(render(p.title(), new LinkedHashMap<>(p.series()), 800, p.height()), 0, y, null);
            y += p.height();
        }
        g.dispose();
        Png.write(all, file);
    }
}
