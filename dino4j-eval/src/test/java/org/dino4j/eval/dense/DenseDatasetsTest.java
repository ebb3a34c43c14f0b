package org.dino4j.eval.dense;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;

import org.dino4j.data.ImageDecoder;
import org.dino4j.data.RgbImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tiny fake copies of the three layouts, written here with ImageIO. */
class DenseDatasetsTest {
    @TempDir
    Path dir;

    static void jpg(Path f, int w, int h, int rgb) throws IOException {
        Files.createDirectories(f.getParent());
        BufferedImage im = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) im.setRGB(x, y, rgb);
        if (!ImageIO.write(im, "jpg", f.toFile())) throw new IOException("no JPEG writer");
    }

    /** An 8-bit grey PNG (ADE20K annotations) or, with a palette, an indexed PNG (VOC SegmentationClass). */
    static void labelPng(Path f, int w, int h, int[] values, boolean palette) throws IOException {
        Files.createDirectories(f.getParent());
        BufferedImage im;
        if (palette) {
            byte[] r = new byte[256], g = new byte[256], b = new byte[256];
            for (int i = 0; i < 256; i++) { r[i] = (byte) (i * 37); g[i] = (byte) (i * 91); b[i] = (byte) (255 - i); } // colours unlike the indices
            im = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_INDEXED, new IndexColorModel(8, 256, r, g, b));
        } else im = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
        WritableRaster ras = im.getRaster();
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) ras.setSample(x, y, 0, values[y * w + x]);
        if (!ImageIO.write(im, "png", f.toFile())) throw new IOException("no PNG writer");
    }

    static void depthPng(Path f, int w, int h, int[] mm) throws IOException {
        Files.createDirectories(f.getParent());
        BufferedImage im = new BufferedImage(w, h, BufferedImage.TYPE_USHORT_GRAY);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) im.getRaster().setSample(x, y, 0, mm[y * w + x]);
        if (!ImageIO.write(im, "png", f.toFile())) throw new IOException("no PNG writer");
    }

    @Test
    void ade20k() throws IOException {
        Path root = dir.resolve("ADEChallengeData2016");
        jpg(root.resolve("images/validation/ADE_val_00000002.jpg"), 4, 2, 0x808080);
        jpg(root.resolve("images/validation/ADE_val_00000001.jpg"), 4, 2, 0xff0000);
        labelPng(root.resolve("annotations/validation/ADE_val_00000001.png"), 4, 2, new int[] {0, 1, 2, 150, 0, 255, 7, 1}, false);
        labelPng(root.resolve("annotations/validation/ADE_val_00000002.png"), 4, 2, new int[8], false);
        List<DenseDatasets.Item> items = DenseDatasets.ade20k(dir, "validation"); // the folder holding ADEChallengeData2016 works too
        assertEquals(List.of("ADE_val_00000001", "ADE_val_00000002"), items.stream().map(DenseDatasets.Item::id).toList());
        assertEquals(items, DenseDatasets.ade20k(root, "validation"));
        DenseDatasets.Labels l = DenseDatasets.ade20kLabels(items.get(0).target());
        assertEquals(4, l.width());
        assertEquals(2, l.height());
        assertArrayEquals(new int[] {255, 0, 1, 149, 255, 255, 6, 0}, l.labels()); // reduce_zero_label
        RgbImage im = new ImageDecoder().decode(items.get(0).image());
        assertTrue((im.get(0, 0, 0) & 0xff) > 200 && im.get(0, 0, 1) < 60, "decoded red");

        Files.delete(root.resolve("annotations/validation/ADE_val_00000002.png"));
        var e = assertThrows(IllegalArgumentException.class, () -> DenseDatasets.ade20k(root, "validation"));
        assertTrue(e.getMessage().contains("ADE_val_00000002.png"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> DenseDatasets.ade20k(root, "val"));
    }

    @Test
    void voc2012() throws IOException {
        Path root = dir.resolve("VOCdevkit/VOC2012");
        for (String id : new String[] {"2007_000032", "2007_000033", "2007_000039"}) {
            jpg(root.resolve("JPEGImages/" + id + ".jpg"), 3, 2, 0x00ff00);
            labelPng(root.resolve("SegmentationClass/" + id + ".png"), 3, 2, new int[] {0, 1, 20, 255, 15, 0}, true);
        }
        Files.createDirectories(root.resolve("ImageSets/Segmentation"));
        Files.writeString(root.resolve("ImageSets/Segmentation/train.txt"), "2007_000032\n2007_000039\n\n");
        Files.writeString(root.resolve("ImageSets/Segmentation/val.txt"), "2007_000033\n2007_999999\n");
        List<DenseDatasets.Item> train = DenseDatasets.voc2012(dir.resolve("VOCdevkit"), "train");
        assertEquals(List.of("2007_000032", "2007_000039"), train.stream().map(DenseDatasets.Item::id).toList());
        // palette PNGs give their indices, not their colours; 255 (boundary) stays the ignore index
        assertArrayEquals(new int[] {0, 1, 20, 255, 15, 0}, DenseDatasets.vocLabels(train.get(1).target()).labels());
        var e = assertThrows(IllegalArgumentException.class, () -> DenseDatasets.voc2012(root, "val"));
        assertTrue(e.getMessage().contains("val.txt:2") && e.getMessage().contains("2007_999999.jpg"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DenseDatasets.voc2012(root, "test"));
        assertTrue(e.getMessage().contains("test.txt"), e.getMessage());
        // an RGB label map is refused with the file named
        Path rgb = root.resolve("rgb.png");
        ImageIO.write(new BufferedImage(2, 2, BufferedImage.TYPE_INT_RGB), "png", rgb.toFile());
        e = assertThrows(IllegalArgumentException.class, () -> DenseDatasets.vocLabels(rgb));
        assertTrue(e.getMessage().startsWith(rgb.toString()) && e.getMessage().contains("single-channel"), e.getMessage());
    }

    @Test
    void nyuDepth() throws IOException {
        Path root = dir.resolve("nyu");
        jpg(root.resolve("kitchen_0028b/rgb_00045.jpg"), 3, 2, 0x0000ff);
        depthPng(root.resolve("kitchen_0028b/sync_depth_00045.png"), 3, 2, new int[] {0, 1000, 2500, 9999, 65535, 1});
        jpg(root.resolve("bathroom/rgb_00001.jpg"), 3, 2, 0x0000ff);
        depthPng(root.resolve("bathroom/sync_depth_00001.png"), 3, 2, new int[6]);
        Files.writeString(root.resolve("nyu_train.txt"), """
                /kitchen_0028b/rgb_00045.jpg /kitchen_0028b/sync_depth_00045.png 518.8579
                /bathroom/rgb_00001.jpg /bathroom/sync_depth_00001.png 518.8579
                /bathroom/rgb_00002.jpg None 518.8579
                """);
        List<DenseDatasets.Item> items = DenseDatasets.nyu(root, "nyu_train.txt");
        assertEquals(2, items.size()); // the "None" pair is skipped
        assertEquals("bathroom/rgb_00001.jpg", items.get(0).id()); // sorted by image path, as the toolbox
        DenseDatasets.Depth d = DenseDatasets.readDepth(items.get(1).target(), DenseDatasets.NYU_DEPTH_SCALE);
        assertEquals(3, d.width());
        assertArrayEquals(new float[] {0f, 1f, 2.5f, 9.999f, 65.535f, 0.001f}, d.metres(), 1e-6f); // 16 bits, millimetres
        Files.writeString(root.resolve("bad.txt"), "/kitchen_0028b/rgb_00045.jpg\n");
        var e = assertThrows(IllegalArgumentException.class, () -> DenseDatasets.nyu(root, "bad.txt"));
        assertTrue(e.getMessage().contains("bad.txt:1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DenseDatasets.readDepth(root.resolve("missing.png"), 1000));
        assertTrue(e.getMessage().contains("missing.png"), e.getMessage());
    }
}
