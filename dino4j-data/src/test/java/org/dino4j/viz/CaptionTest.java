package org.dino4j.viz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Rectangle;
import java.awt.image.BufferedImage;
import java.util.List;

import org.dino4j.data.RgbImage;
import org.junit.jupiter.api.Test;

class CaptionTest {
    static RgbImage gradient(int w, int h) {
        byte[] px = new byte[3 * w * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int i = 3 * (y * w + x);
                px[i] = (byte) (x * 255 / (w - 1));
                px[i + 1] = (byte) (y * 255 / (h - 1));
                px[i + 2] = (byte) 200;
            }
        return new RgbImage(w, h, px);
    }

    @Test
    void textGoesOnADarkenedBoxOfACopy() {
        RgbImage photo = gradient(320, 240);
        byte[] before = photo.rgb().clone();
        List<String> lines = List.of("top-1: golden retriever 87.1%", "top-2: Labrador retriever 6.0%");
        BufferedImage out = Caption.draw(photo, lines);
        assertEquals(320, out.getWidth());
        assertEquals(240, out.getHeight());
        assertTrue(java.util.Arrays.equals(before, photo.rgb()), "the photo is not drawn on");
        Rectangle box = Caption.box(320, 240, lines);
        assertTrue(box.width > 50 && box.width <= 320 && box.height > 20 && box.height < 120, box.toString());
        int white = 0;
        for (int y = 0; y < 240; y++)
            for (int x = 0; x < 320; x++) {
                int got = out.getRGB(x, y) & 0xffffff;
                if (!box.contains(x, y)) {
                    for (int c = 0; c < 3; c++) assertEquals(photo.get(x, y, c), got >> (16 - 8 * c) & 0xff, "outside the box");
                    continue;
                }
                boolean text = true;
                for (int c = 0; c < 3; c++) {
                    int v = got >> (16 - 8 * c) & 0xff, dark = Math.round((1 - Caption.BOX_ALPHA) * photo.get(x, y, c));
                    if (Math.abs(v - dark) > 2) text = false; // not the plain darkened photo: a glyph pixel
                }
                if (!text && (got & 0xff) > 200 && (got >> 8 & 0xff) > 200 && (got >> 16 & 0xff) > 200) white++;
            }
        assertTrue(white > 100, white + " white text pixels");
    }

    @Test
    void longLinesAreCutToThePhoto() {
        List<String> lines = List.of("top-1: " + "very ".repeat(40) + "long name 99.0%");
        Rectangle box = Caption.box(120, 90, lines);
        assertTrue(box.width <= 120 && box.height <= 90, box.toString());
        assertEquals(120, Caption.draw(gradient(120, 90), lines).getWidth());
        BufferedImage tiny = Caption.draw(gradient(8, 6), List.of("a caption larger than the photo", "and another"));
        assertEquals(8, tiny.getWidth());
        assertEquals(6, tiny.getHeight());
        RgbImage g = gradient(30, 20);
        BufferedImage none = Caption.draw(g, List.of());
        assertEquals(Png.toBufferedImage(g).getRGB(3, 3), none.getRGB(3, 3));
    }

    @Test
    void topKListsTheMostProbableClasses() {
        List<String> names = List.of("tench", "goldfish", "great white shark", "tiger shark");
        double[] p = {0.05, 0.871, 0.039, 0.04};
        assertEquals(List.of("top-1: goldfish 87.1%", "top-2: tench 5.0%", "top-3: tiger shark 4.0%"), Caption.topK(names, p, 3));
        assertEquals(4, Caption.topK(names, p, 10).size());
        assertEquals(List.of("top-1: tench 50.0%", "top-2: goldfish 50.0%"), Caption.topK(names.subList(0, 2), new double[] {0.5, 0.5}, 2));
        assertThrows(IllegalArgumentException.class, () -> Caption.topK(names, new double[3], 1));
        assertThrows(IllegalArgumentException.class, () -> Caption.topK(names, p, 0));
    }
}
