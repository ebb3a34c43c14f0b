package org.dino4j.viz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;

import org.dino4j.data.ImageFixtures;
import org.dino4j.data.RgbImage;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorStore;
import org.dino4j.viz.SegmentationPictures.Palette;
import org.dino4j.viz.SegmentationPictures.Present;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SegmentationPicturesTest {
    @TempDir
    Path dir;

    /** The segmentation notebook's render_segmentation(labels, "ade20k") (tools/make_render_fixture.py). */
    @Test
    void ade20kMaskIsTheNotebooksRendering() {
        try (TensorStore f = SafeTensors.read(ImageFixtures.root().resolve("extra/render.safetensors"))) {
            int[] shape = f.get("ade").intShape();
            int h = shape[0], w = shape[1];
            float[] a = f.get("ade").toFloatArray(), want = f.get("ade_rgb").toFloatArray();
            int[] labels = new int[a.length];
            for (int i = 0; i < a.length; i++) labels[i] = (int) a[i];
            BufferedImage got = SegmentationPictures.mask(labels, w, h, Palette.ADE20K);
            for (int i = 0; i < labels.length; i++) {
                int rgb = (int) want[3 * i] << 16 | (int) want[3 * i + 1] << 8 | (int) want[3 * i + 2];
                assertEquals(rgb, got.getRGB(i % w, i / w) & 0xffffff, "class " + labels[i]);
            }
        }
    }

    @Test
    void ade20kColoursAreMmsegsPalette() {
        // mmseg's ADE20KDataset palette (open-mmlab/mmsegmentation mmseg/datasets/ade.py), index = head class
        assertEquals(0x787878, Palette.ADE20K.rgb(0)); // wall [120, 120, 120]
        assertEquals(0xB47878, Palette.ADE20K.rgb(1)); // building [180, 120, 120]
        assertEquals(0x96053D, Palette.ADE20K.rgb(12)); // person [150, 5, 61]
        assertEquals(0x5C00FF, Palette.ADE20K.rgb(149)); // flag [92, 0, 255]
        assertEquals(150, Palette.ADE20K.classes());
        assertEquals("wall", Palette.ADE20K.names().get(0));
    }

    @Test
    void voc2012ColoursAreThePascalDevkitPalette() {
        // VOCdevkit's labelcolormap: class bits interleaved into the high bits of r, g, b
        for (int c = 0; c < 21; c++) {
            int r = 0, g = 0, b = 0, id = c;
            for (int j = 0; j < 8 && id > 0; j++, id >>= 3) {
                r |= (id & 1) << (7 - j);
                g |= (id >> 1 & 1) << (7 - j);
                b |= (id >> 2 & 1) << (7 - j);
            }
            assertEquals(r << 16 | g << 8 | b, Palette.VOC2012.rgb(c), "VOC class " + c);
        }
        assertEquals(0, Palette.VOC2012.rgb(0)); // background black
        assertEquals(21, Palette.VOC2012.classes());
        assertEquals("tvmonitor", Palette.VOC2012.names().get(20));
    }

    @Test
    void badLabelsAreOneLineErrors() {
        var e = assertThrows(IllegalArgumentException.class, () -> SegmentationPictures.mask(new int[] {0, 150}, 2, 1, Palette.ADE20K));
        assertEquals("ADE20K has classes 0..149, got label 150", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Palette.VOC2012.rgb(-1));
        var s = assertThrows(IllegalArgumentException.class, () -> SegmentationPictures.mask(new int[3], 2, 2, Palette.VOC2012));
        assertEquals("class map of 3 values is not 2 x 2", s.getMessage());
        assertEquals(0, Palette.ADE20K.rgb(SegmentationPictures.IGNORE));
    }

    @Test
    void overlayBlendsEachChannel() {
        int w = 3, h = 2;
        byte[] px = new byte[3 * w * h];
        for (int i = 0; i < px.length; i++) px[i] = (byte) (i * 41 + 7);
        RgbImage photo = new RgbImage(w, h, px);
        int[] labels = {0, 12, 149, SegmentationPictures.IGNORE, 3, 3};
        for (double alpha : new double[] {0, 0.25, 0.5, 0.8, 1}) {
            BufferedImage o = SegmentationPictures.overlay(photo, labels, Palette.ADE20K, alpha);
            for (int i = 0; i < labels.length; i++) {
                int x = i % w, y = i / w, got = o.getRGB(x, y) & 0xffffff;
                for (int c = 0; c < 3; c++) {
                    int p = photo.get(x, y, c);
                    int want = labels[i] == SegmentationPictures.IGNORE ? p
                            : (int) Math.round((1 - alpha) * p + alpha * (Palette.ADE20K.rgb(labels[i]) >> (16 - 8 * c) & 0xff));
                    assertEquals(want, got >> (16 - 8 * c) & 0xff, "alpha " + alpha + " pixel " + i + " channel " + c);
                }
            }
        }
        // the default is half and half: (7 + 120) / 2 = 63.5 rounds to 64
        assertEquals(64, SegmentationPictures.overlay(photo, labels, Palette.ADE20K).getRGB(0, 0) >> 16 & 0xff);
        assertThrows(IllegalArgumentException.class, () -> SegmentationPictures.overlay(photo, labels, Palette.ADE20K, 1.5));
        assertThrows(IllegalArgumentException.class, () -> SegmentationPictures.overlay(photo, new int[4], Palette.ADE20K, 0.5));
    }

    @Test
    void classIndexPngHoldsTheClassesAsGreyLevels() throws IOException {
        int[] labels = {0, 1, 149, 255, 20, 7};
        Path png = dir.resolve("classes.png");
        Png.write(SegmentationPictures.classIndex(labels, 3, 2), png);
        BufferedImage back = ImageIO.read(png.toFile());
        assertEquals(1, back.getRaster().getNumBands());
        assertEquals(8, back.getColorModel().getComponentSize(0));
        for (int i = 0; i < labels.length; i++) assertEquals(labels[i], back.getRaster().getSample(i % 3, i / 3, 0));
        assertThrows(IllegalArgumentException.class, () -> SegmentationPictures.classIndex(new int[] {256}, 1, 1));
    }

    @Test
    void legendListsThePresentClassesMostFrequentFirst() {
        int[] labels = {3, 3, 0, 5, 5, 5, 255, 2, 0, 3};
        List<Present> p = SegmentationPictures.present(labels, Palette.VOC2012);
        assertEquals(List.of(3, 5, 0, 2), p.stream().map(Present::classIndex).toList()); // 3 and 5 tie: lower first
        assertEquals("bird", p.get(0).name());
        assertEquals(3, p.get(0).pixels());
        assertEquals(0.3, p.get(0).fraction(), 1e-12);
        assertEquals("bird 30.0%", SegmentationPictures.legendText(p.get(0)));

        BufferedImage full = SegmentationPictures.legend(p, Palette.VOC2012, 10);
        assertEquals(2 * SegmentationPictures.PAD + 4 * SegmentationPictures.ROW, full.getHeight());
        for (int i = 0; i < p.size(); i++) { // each swatch's centre is the class colour
            int cx = SegmentationPictures.PAD + SegmentationPictures.SWATCH / 2;
            int cy = SegmentationPictures.PAD + i * SegmentationPictures.ROW + SegmentationPictures.ROW / 2;
            assertEquals(Palette.VOC2012.rgb(p.get(i).classIndex()), full.getRGB(cx, cy) & 0xffffff, "row " + i);
        }
        BufferedImage cut = SegmentationPictures.legend(p, Palette.VOC2012, 2); // two rows and "+ 2 more"
        assertEquals(2 * SegmentationPictures.PAD + 3 * SegmentationPictures.ROW, cut.getHeight());
        assertTrue(SegmentationPictures.legend(List.of(), Palette.VOC2012, 5).getWidth() > 20);
    }
}
