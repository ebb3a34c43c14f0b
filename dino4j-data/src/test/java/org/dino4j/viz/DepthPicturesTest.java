package org.dino4j.viz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Rectangle;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;

import org.dino4j.data.ImageFixtures;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DepthPicturesTest {
    @TempDir
    Path dir;

    /** fixtures/extra/render.safetensors: the notebook's render_depth and matplotlib's magma_r (tools/make_render_fixture.py). */
    @Test
    void coloursAreTheNotebooksRenderDepthExactly() {
        try (TensorStore f = SafeTensors.read(ImageFixtures.root().resolve("extra/render.safetensors"))) {
            float[] ramp = f.get("ramp").toFloatArray(), rampRgb = f.get("ramp_rgb").toFloatArray();
            for (int i = 0; i < ramp.length; i++)
                assertEquals(rgb(rampRgb, i), DepthPictures.colour(ramp[i]), "magma_r(" + ramp[i] + ")");

            int[] shape = f.get("depth").intShape();
            int h = shape[0], w = shape[1];
            float[] depth = f.get("depth").toFloatArray(), want = f.get("depth_rgb").toFloatArray();
            BufferedImage got = DepthPictures.colour(depth, w, h);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    assertEquals(rgb(want, y * w + x), got.getRGB(x, y) & 0xffffff, "pixel (" + x + ", " + y + ")");
        }
    }

    private static int rgb(float[] bytes, int i) {
        return (int) bytes[3 * i] << 16 | (int) bytes[3 * i + 1] << 8 | (int) bytes[3 * i + 2];
    }

    @Test
    void nearIsBrightAndOutOfRangeTakesTheEndColours() {
        assertTrue(luma(DepthPictures.colour(0f)) > 200, "near is bright");
        assertTrue(luma(DepthPictures.colour(1f)) < 10, "far is dark");
        assertEquals(DepthPictures.colour(0f), DepthPictures.colour(-3f));
        assertEquals(DepthPictures.colour(1f), DepthPictures.colour(7f));
        assertEquals(0, DepthPictures.colour(Float.NaN));
        var r = new DepthPictures.Range(1, 3);
        BufferedImage im = DepthPictures.colour(new float[] {1, 3, Float.NaN, 0, 5, Float.POSITIVE_INFINITY}, 3, 2, r);
        assertEquals(DepthPictures.colour(0f), im.getRGB(0, 0) & 0xffffff);
        assertEquals(DepthPictures.colour(1f), im.getRGB(1, 0) & 0xffffff);
        assertEquals(0, im.getRGB(2, 0) & 0xffffff);
        assertEquals(DepthPictures.colour(0f), im.getRGB(0, 1) & 0xffffff);
        assertEquals(DepthPictures.colour(1f), im.getRGB(1, 1) & 0xffffff);
        assertEquals(0, im.getRGB(2, 1) & 0xffffff);
    }

    @Test
    void rangeSkipsNonFiniteValues() {
        assertEquals(new DepthPictures.Range(0.5f, 4f), DepthPictures.Range.of(new float[] {Float.NaN, 4, 0.5f, Float.NEGATIVE_INFINITY}));
        assertEquals(new DepthPictures.Range(0, 0), DepthPictures.Range.of(new float[] {Float.NaN}));
        assertEquals(0f, new DepthPictures.Range(2, 2).normalise(2));
        assertThrows(IllegalArgumentException.class, () -> new DepthPictures.Range(3, 1));
        var e = assertThrows(IllegalArgumentException.class, () -> DepthPictures.colour(new float[5], 2, 3));
        assertEquals("depth map of 5 values is not 2 x 3", e.getMessage());
    }

    @Test
    void theScaleBarRunsFromFarAtTheTopToNearAtTheBottom() {
        int w = 40, h = 30;
        float[] depth = new float[w * h];
        for (int i = 0; i < depth.length; i++) depth[i] = 0.5f + 9.3f * i / (depth.length - 1);
        BufferedImage im = DepthPictures.withScaleBar(depth, w, h);
        Rectangle bar = DepthPictures.barBounds(w, h);
        assertEquals(DepthPictures.MIN_BAR_HEIGHT, bar.height); // a short map still gets a readable bar
        assertTrue(im.getWidth() > bar.x + bar.width && im.getHeight() >= bar.y + bar.height);
        int cx = bar.x + bar.width / 2;
        assertEquals(DepthPictures.colour(1f), im.getRGB(cx, bar.y) & 0xffffff, "top: the farthest");
        assertEquals(DepthPictures.colour(0f), im.getRGB(cx, bar.y + bar.height - 1) & 0xffffff, "bottom: the nearest");
        double prev = -1;
        int distinct = 0, last = -1;
        for (int y = bar.y; y < bar.y + bar.height; y++) {
            int c = im.getRGB(cx, y) & 0xffffff;
            double l = luma(c);
            assertTrue(l >= prev, "luminance falls at bar row " + (y - bar.y) + ": " + l + " after " + prev);
            prev = l;
            if (c != last) distinct++;
            last = c;
            for (int x = bar.x; x < bar.x + bar.width; x++) assertEquals(c, im.getRGB(x, y) & 0xffffff, "bar rows are flat");
        }
        assertTrue(distinct > 80, distinct + " colours along the bar");
        // the map itself sits at the margin, unchanged
        BufferedImage map = DepthPictures.colour(depth, w, h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                assertEquals(map.getRGB(x, y), im.getRGB(DepthPictures.MARGIN + x, DepthPictures.MARGIN + y));
    }

    @Test
    void tickLabelsNameTheRangeInMetres() {
        List<String> l = DepthPictures.tickLabels(new DepthPictures.Range(0.5f, 9.8f), 5);
        assertEquals(List.of("0.5 m", "2.8 m", "5.2 m", "7.5 m", "9.8 m"), l);
        assertEquals(List.of("3 m", "73 m"), DepthPictures.tickLabels(new DepthPictures.Range(3, 73), 2));
        assertEquals(List.of("1.23 m", "1.37 m", "1.50 m"), DepthPictures.tickLabels(new DepthPictures.Range(1.234f, 1.5f), 3));
        assertEquals(List.of("2.00 m", "2.00 m"), DepthPictures.tickLabels(new DepthPictures.Range(2, 2), 2));
        assertEquals(2, DepthPictures.ticks(20));
        assertEquals(4, DepthPictures.ticks(100));
        assertEquals(6, DepthPictures.ticks(1000));
    }

    @Test
    void millimetrePngReadsBackAsSixteenBitGrey() throws IOException {
        float[] m = {0f, Float.NaN, -1f, 0.0004f, 0.0006f, 1.5f, 2.2345f, 65.535f, 70f, 9.999f, Float.POSITIVE_INFINITY, 0.001f};
        int[] want = {0, 0, 0, 0, 1, 1500, 2234, 65535, 65535, 9999, 0, 1};
        Path png = dir.resolve("depth_mm.png");
        DepthPictures.writeMillimetres(png, m, 4, 3);
        BufferedImage back = ImageIO.read(png.toFile());
        assertEquals(16, back.getColorModel().getComponentSize(0));
        assertEquals(1, back.getRaster().getNumBands());
        Raster r = back.getRaster();
        for (int i = 0; i < m.length; i++) assertEquals(want[i], r.getSample(i % 4, i / 4, 0), "depth " + m[i]);
    }

    @Test
    void npyIsFloat32OfShapeHeightWidth() throws IOException {
        int w = 5, h = 3;
        float[] m = new float[w * h];
        for (int i = 0; i < m.length; i++) m[i] = 0.25f * i - 1f / 3;
        m[7] = Float.NaN;
        Path f = dir.resolve("depth.npy");
        DepthPictures.writeNpy(f, m, w, h);
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN);
        byte[] magic = new byte[6];
        b.get(magic);
        assertEquals("\u0093NUMPY", new String(magic, StandardCharsets.ISO_8859_1));
        assertEquals(1, b.get());
        assertEquals(0, b.get());
        int hl = Short.toUnsignedInt(b.getShort());
        assertEquals(0, (10 + hl) % 64, "data aligned to 64 bytes");
        byte[] hb = new byte[hl];
        b.get(hb);
        String header = new String(hb, StandardCharsets.US_ASCII);
        assertTrue(header.endsWith("\n"), header);
        assertEquals("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 5), }", header.strip());
        assertEquals(4 * m.length, b.remaining());
        for (float v : m) assertEquals(Float.floatToIntBits(v), Float.floatToIntBits(b.getFloat()));
    }

    private static double luma(int rgb) {
        return 0.2126 * (rgb >> 16 & 0xff) + 0.7152 * (rgb >> 8 & 0xff) + 0.0722 * (rgb & 0xff);
    }
}
