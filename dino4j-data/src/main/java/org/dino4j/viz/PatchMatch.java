package org.dino4j.viz;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Line2D;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

import org.dino4j.data.RgbImage;

/**
 * The paper's Figure 10: patches of two images matched by their features. Patch tokens are L2-normalised and
 * compared by cosine similarity; patch i of A and j of B match when each is the other's nearest neighbour (mutual
 * nearest neighbours; ties go to the lower index). The strongest matches are drawn as lines between the patch
 * centres, the two images side by side at the same height.
 */
public final class PatchMatch {
    /** The official notebooks' usual number of lines. */
    public static final int DEFAULT_TOP = 30;

    private PatchMatch() {}

    /** Patch {@code a} of the first image and {@code b} of the second, with their cosine similarity. */
    public record Match(int a, int b, float similarity) {}

    /** All mutual nearest neighbours between the two images' patches, by similarity descending (then by {@code a}). */
    public static List<Match> mutualNearest(PatchFeatures a, PatchFeatures b) {
        if (a.dim() != b.dim()) throw new IllegalArgumentException("feature sizes differ: " + a.dim() + " and " + b.dim());
        return mutualNearest(a.tokens(), a.patches(), b.tokens(), b.patches(), a.dim());
    }

    /** As above, on raw rows: {@code na} rows of {@code d} floats against {@code nb}. */
    public static List<Match> mutualNearest(float[] a, int na, float[] b, int nb, int d) {
        if (na < 1 || nb < 1) throw new IllegalArgumentException("no patches");
        float[] an = normalised(a, na, d), bn = normalised(b, nb, d);
        float[] sim = new float[na * nb];
        IntStream.range(0, na).parallel().forEach(i -> {
            for (int j = 0; j < nb; j++) {
                double s = 0;
                for (int k = 0; k < d; k++) s += an[i * d + k] * bn[j * d + k];
                sim[i * nb + j] = (float) s;
            }
        });
        int[] bestB = new int[na], bestA = new int[nb];
        for (int i = 0; i < na; i++)
            for (int j = 1; j < nb; j++)
                if (sim[i * nb + j] > sim[i * nb + bestB[i]]) bestB[i] = j;
        for (int j = 0; j < nb; j++)
            for (int i = 1; i < na; i++)
                if (sim[i * nb + j] > sim[bestA[j] * nb + j]) bestA[j] = i;
        List<Match> out = new ArrayList<>();
        for (int i = 0; i < na; i++)
            if (bestA[bestB[i]] == i) out.add(new Match(i, bestB[i], sim[i * nb + bestB[i]]));
        out.sort(Comparator.comparingDouble((Match m) -> -m.similarity()).thenComparingInt(Match::a));
        return out;
    }

    /** The first {@code k} of {@code matches} (all of them when k <= 0 or there are fewer). */
    public static List<Match> top(List<Match> matches, int k) {
        return k <= 0 || k >= matches.size() ? matches : matches.subList(0, k);
    }

    /** Size {width, height} of {@link #draw}'s picture: both images scaled to the taller one's height, side by side. */
    public static int[] canvasSize(int wa, int ha, int wb, int hb) {
        return canvasSize(wa, ha, wb, hb, 0);
    }

    /** As above, the whole scaled down (if need be) so that its longer side is at most maxSide (0: no limit). */
    public static int[] canvasSize(int wa, int ha, int wb, int hb, int maxSide) {
        int h = Math.max(ha, hb);
        if (maxSide > 0) {
            int w = scaled(wa, ha, h) + scaled(wb, hb, h);
            if (Math.max(w, h) > maxSide) h = Math.max(1, (int) ((long) h * maxSide / Math.max(w, h)));
            while (h > 1 && scaled(wa, ha, h) + scaled(wb, hb, h) > maxSide) h--; // rounding of the two widths
        }
        return new int[] {scaled(wa, ha, h) + scaled(wb, hb, h), h};
    }

    /**
     * A and B side by side, both scaled to the taller one's height, with a line from the centre of each matched
     * patch of A to that of B (colour by rank: red for the strongest, through the hues to violet). The grids are
     * those of the features, which cover each whole image (see {@link PatchFeatures}).
     */
    public static BufferedImage draw(RgbImage a, PatchFeatures fa, RgbImage b, PatchFeatures fb, List<Match> matches) {
        return draw(a, fa, b, fb, matches, 0);
    }

    /** As above, at most maxSide pixels on the longer side (0: the taller image's full height). */
    public static BufferedImage draw(RgbImage a, PatchFeatures fa, RgbImage b, PatchFeatures fb, List<Match> matches, int maxSide) {
        int h = canvasSize(a.width(), a.height(), b.width(), b.height(), maxSide)[1];
        int wa = scaled(a.width(), a.height(), h), wb = scaled(b.width(), b.height(), h);
        BufferedImage out = new BufferedImage(wa + wb, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BICUBIC);
            g.setRenderingHint(RenderingHints.KEY_RENDERING, RenderingHints.VALUE_RENDER_QUALITY);
            g.drawImage(Png.toBufferedImage(a), 0, 0, wa, h, null);
            g.drawImage(Png.toBufferedImage(b), wa, 0, wb, h, null);
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_STROKE_CONTROL, RenderingHints.VALUE_STROKE_PURE);
            float stroke = Math.max(1f, h / 300f), dot = 2.5f * stroke;
            g.setStroke(new BasicStroke(stroke, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
            for (int r = 0; r < matches.size(); r++) {
                Match m = matches.get(r);
                double xa = (m.a() % fa.gridW() + 0.5) * wa / fa.gridW(), ya = (m.a() / fa.gridW() + 0.5) * h / fa.gridH();
                double xb = wa + (m.b() % fb.gridW() + 0.5) * wb / fb.gridW(), yb = (m.b() / fb.gridW() + 0.5) * h / fb.gridH();
                g.setColor(Color.getHSBColor(0.8f * r / Math.max(1, matches.size() - 1), 0.9f, 1f));
                g.draw(new Line2D.Double(xa, ya, xb, yb));
                g.fill(new Ellipse2D.Double(xa - dot, ya - dot, 2 * dot, 2 * dot));
                g.fill(new Ellipse2D.Double(xb - dot, yb - dot, 2 * dot, 2 * dot));
            }
        } finally {
            g.dispose();
        }
        return out;
    }

    private static int scaled(int w, int h, int toHeight) {
        return (int) Math.max(1, Math.round(w * (double) toHeight / h));
    }

    private static float[] normalised(float[] x, int n, int d) {
        if ((long) n * d > x.length) throw new IllegalArgumentException("rows hold " + x.length + " values, need " + n + " x " + d);
        float[] out = new float[n * d];
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int k = 0; k < d; k++) s += (double) x[i * d + k] * x[i * d + k];
            double inv = 1 / Math.max(Math.sqrt(s), 1e-12); // F.normalize's eps: a zero row stays zero
            for (int k = 0; k < d; k++) out[i * d + k] = (float) (x[i * d + k] * inv);
        }
        return out;
    }
}
