package org.dino4j.viz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

/** A title longer than the chart is wide is broken into lines that fit, none of it drawn past the right edge. */
class LineChartTest {
    static final String LONG = "k-NN top-1 % (k = 20, T = 0.07) of the EMA backbone (train: the teacher; distill: the EMA student) "
            + "on the held-out images, with some more words to need a third line on a narrow chart";

    @Test
    void longTitleWrapsInsideTheImage() {
        for (int width : new int[] {800, 400}) {
            List<String> lines = LineChart.titleLines(LONG, width);
            assertTrue(lines.size() >= 2, lines.toString());
            assertEquals(LONG, String.join(" ", lines), "every word kept, in order");
            BufferedImage img = LineChart.render(LONG, Map.of("a", new double[] {3, 2, 1}), width, 260);
            int titleBottom = 18 + 15 * (lines.size() - 1) + 4; // baseline of the last title line plus descent
            boolean inked = false;
            for (int y = 0; y < titleBottom; y++) {
                for (int x = width - 10; x < width; x++) assertEquals(0xffffff, img.getRGB(x, y) & 0xffffff, "title ink at " + x + "," + y);
                for (int x = 60; x < width - 10; x++) inked |= y > 18 + 15 * (lines.size() - 2) && (img.getRGB(x, y) & 0xff) < 128;
            }
            assertTrue(inked, "the last title line is drawn");
        }
        assertEquals(List.of("losses"), LineChart.titleLines("losses", 800));
    }
}
