package org.dino4j.viz;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import javax.imageio.ImageIO;

import org.dino4j.data.RgbImage;

/** PNG out, and RgbImage to BufferedImage for drawing. */
public final class Png {
    private Png() {}

    /**
     * Writes {@code image} as PNG to {@code file} atomically: a temporary file beside it is written and renamed, so
     * an interrupted run never leaves a half picture under the final name (an older picture there is replaced whole).
     */
    public static void write(BufferedImage image, Path file) throws IOException {
        ImageIO.setUseCache(false);
        org.dino4j.io.AtomicFile.write(file, os -> {
            if (!ImageIO.write(image, "png", os)) throw new IOException(file + ": no PNG writer in this JDK");
        });
    }

    public static BufferedImage toBufferedImage(RgbImage im) {
        BufferedImage out = new BufferedImage(im.width(), im.height(), BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < im.height(); y++)
            for (int x = 0; x < im.width(); x++)
                out.setRGB(x, y, im.get(x, y, 0) << 16 | im.get(x, y, 1) << 8 | im.get(x, y, 2));
        return out;
    }
}
