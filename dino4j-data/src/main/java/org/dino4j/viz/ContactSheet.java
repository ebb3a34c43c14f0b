package org.dino4j.viz;

import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.List;

/**
 * Search results as one picture: a row per query, the query in the first cell (framed), then its neighbours in rank
 * order, each letterboxed into a square cell with a caption under it (score and a shortened id). A neighbour whose
 * picture cannot be shown gets a grey cell with its caption, so the rows stay aligned.
 */
public final class ContactSheet {
    /** One cell: the picture (null when it could not be read) and the lines under it. */
    public record Cell(BufferedImage image, List<String> caption) {}

    /** One query and its neighbours. */
    public record Row(Cell query, List<Cell> neighbours) {}

    static final int GAP = 8;
    static final Color BACKGROUND = new Color(0xF4F4F2), QUERY_FRAME = new Color(0x1F6FEB), MISSING = new Color(0xC8C8C8);

    private ContactSheet() {}

    /** The sheet with cells of {@code cell x cell} pixels (pictures keep their aspect ratio). */
    public static BufferedImage render(List<Row> rows, int cell) {
        if (rows.isEmpty()) throw new IllegalArgumentException("no rows");
        if (cell < 16) throw new IllegalArgumentException("cell size must be >= 16 px, got " + cell);
        int cols = 1 + rows.stream().mapToInt(r -> r.neighbours().size()).max().orElse(0);
        Font font = new Font(Font.SANS_SERIF, Font.PLAIN, Math.max(10, cell / 13));
        BufferedImage probe = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB);
        Graphics2D pg = probe.createGraphics();
        FontMetrics fm = pg.getFontMetrics(font);
        pg.dispose();
        int lines = rows.stream().flatMap(r -> java.util.stream.Stream.concat(java.util.stream.Stream.of(r.query()), r.neighbours().stream()))
                .mapToInt(c -> c.caption().size()).max().orElse(0);
        int rowH = cell + lines * fm.getHeight() + GAP, colW = cell + GAP;
        BufferedImage out = new BufferedImage(GAP + cols * colW, GAP + rows.size() * rowH, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.setColor(BACKGROUND);
        g.fillRect(0, 0, out.getWidth(), out.getHeight());
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setFont(font);
        for (int r = 0; r < rows.size(); r++) {
            int y = GAP + r * rowH;
            draw(g, rows.get(r).query(), GAP, y, cell, fm);
            g.setColor(QUERY_FRAME);
            for (int t = 1; t <= 3; t++) g.drawRect(GAP - t, y - t, cell + 2 * t - 1, cell + 2 * t - 1);
            List<Cell> ns = rows.get(r).neighbours();
            for (int c = 0; c < ns.size(); c++) draw(g, ns.get(c), GAP + (c + 1) * colW, y, cell, fm);
        }
        g.dispose();
        return out;
    }

    private static void draw(Graphics2D g, Cell c, int x, int y, int cell, FontMetrics fm) {
        if (c.image() == null) {
            g.setColor(MISSING);
            g.fillRect(x, y, cell, cell);
        } else {
            double s = Math.min((double) cell / c.image().getWidth(), (double) cell / c.image().getHeight());
            int w = Math.max(1, (int) Math.round(c.image().getWidth() * s)), h = Math.max(1, (int) Math.round(c.image().getHeight() * s));
            g.drawImage(c.image(), x + (cell - w) / 2, y + (cell - h) / 2, w, h, null);
        }
        g.setColor(Color.DARK_GRAY);
        for (int i = 0; i < c.caption().size(); i++)
            g.drawString(fit(c.caption().get(i), cell, fm), x, y + cell + i * fm.getHeight() + fm.getAscent());
    }

    /** The text, or its tail behind an ellipsis when wider than the cell (ids differ most at their ends). */
    static String fit(String s, int width, FontMetrics fm) {
        if (fm.stringWidth(s) <= width) return s;
        for (int i = 1; i < s.length(); i++) {
            String t = "…" + s.substring(i);
            if (fm.stringWidth(t) <= width) return t;
        }
        return "…";
    }
}
