package org.dino4j.viz;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FeaturePicturesTest {
    /** A gh x gw grid whose patches inside the rectangle carry +u, the others -u, plus small noise. */
    private static PatchFeatures planted(int gh, int gw, int r0, int r1, int c0, int c1, long seed) {
        int d = 24;
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] t = new float[gh * gw * d];
        for (int r = 0; r < gh; r++)
            for (int c = 0; c < gw; c++) {
                boolean in = r >= r0 && r < r1 && c >= c0 && c < c1;
                for (int k = 0; k < d; k++)
                    t[(r * gw + c) * d + k] = (float) ((k == 0 ? (in ? 5 : -5) : 0) + (in ? 0.5 * c * (k == 1 ? 1 : 0) : 0)
                            + 0.05 * rnd.nextGaussian());
            }
        return new PatchFeatures(gh, gw, d, t);
    }

    @Test
    void gridCoversTheImageWithTheShorterSideAtTheResolution() {
        assertArrayEquals(new int[] {32, 51}, PatchFeatures.grid(97, 61, 448, 14)); // 97 * 448 / 61 / 14 = 50.9
        assertArrayEquals(new int[] {51, 32}, PatchFeatures.grid(61, 97, 448, 14));
        assertArrayEquals(new int[] {16, 16}, PatchFeatures.grid(500, 500, 224, 14));
        assertArrayEquals(new int[] {1, 1}, PatchFeatures.grid(1, 1, 5, 14));
    }

    @Test
    void firstComponentSeparatesThePlantedObjectAndFlipSwapsTheSides() {
        List<PatchFeatures> images = List.of(planted(6, 8, 1, 4, 2, 6, 1), planted(5, 5, 0, 2, 0, 5, 2));
        List<FeaturePictures.PcaMap> maps = FeaturePictures.pca(images, 0.5, false);
        List<FeaturePictures.PcaMap> flipped = FeaturePictures.pca(images, 0.5, true);
        boolean objectIsForeground = maps.get(0).foreground()[1 * 8 + 2];
        for (int i = 0; i < 2; i++) {
            PatchFeatures f = images.get(i);
            for (int p = 0; p < f.patches(); p++) {
                boolean in = f.tokens()[p * f.dim()] > 0;
                FeaturePictures.PcaMap m = maps.get(i);
                assertEquals(in == objectIsForeground, m.foreground()[p], "image " + i + " patch " + p);
                assertEquals(!m.foreground()[p], flipped.get(i).foreground()[p]);
                assertEquals(m.first()[p] >= 0.5f, m.foreground()[p]);
                if (!m.foreground()[p]) assertArrayEquals(new byte[3], java.util.Arrays.copyOfRange(m.rgb(), 3 * p, 3 * p + 3));
            }
        }
        // colours are min-max scaled over all foreground patches: some channel reaches 0 and 255
        FeaturePictures.PcaMap m = objectIsForeground ? maps.get(0) : flipped.get(0);
        int lo = 255, hi = 0;
        for (FeaturePictures.PcaMap x : objectIsForeground ? maps : flipped)
            for (int p = 0; p < x.gridH() * x.gridW(); p++)
                if (x.foreground()[p]) {
                    lo = Math.min(lo, x.rgb()[3 * p] & 0xff);
                    hi = Math.max(hi, x.rgb()[3 * p] & 0xff);
                }
        assertEquals(0, lo);
        assertEquals(255, hi);
        assertTrue(m.foregroundPatches() == 12);
    }

    @Test
    void renderUpsamplesThePatchGridAndWritesAPng(@TempDir Path dir) throws Exception {
        List<FeaturePictures.PcaMap> maps = FeaturePictures.pca(List.of(planted(6, 8, 1, 4, 2, 6, 1)), 0.5, false);
        FeaturePictures.PcaMap m = maps.get(0);
        BufferedImage near = FeaturePictures.render(m, 97, 61, FeaturePictures.Upsample.NEAREST);
        for (int y = 0; y < 61; y++)
            for (int x = 0; x < 97; x++) {
                int p = m.patchAt(x, y, 97, 61);
                int want = (m.rgb()[3 * p] & 0xff) << 16 | (m.rgb()[3 * p + 1] & 0xff) << 8 | m.rgb()[3 * p + 2] & 0xff;
                assertEquals(want, near.getRGB(x, y) & 0xffffff);
            }
        assertEquals(0, m.patchAt(0, 0, 97, 61));
        assertEquals(6 * 8 - 1, m.patchAt(96, 60, 97, 61));
        BufferedImage smooth = FeaturePictures.render(m, 97, 61, FeaturePictures.Upsample.BILINEAR);
        assertEquals(near.getRGB(0, 0), smooth.getRGB(0, 0)); // corners are patch colours in both
        Path out = dir.resolve("sub/x_pca.png");
        Files.createDirectories(dir.resolve("sub"));
        Files.writeString(out, "an older picture");
        Png.write(near, out);
        BufferedImage back = ImageIO.read(out.toFile());
        assertEquals(97, back.getWidth());
        assertEquals(near.getRGB(40, 30), back.getRGB(40, 30));
        try (var s = Files.list(dir.resolve("sub"))) {
            assertEquals(1, s.count(), "no temporary file left behind");
        }
    }
}
