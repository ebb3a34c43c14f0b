package org.dino4j.viz;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
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
        Path dir = file.toAbsolutePath().getParent();
        if (dir != null) Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                OutputStream os = Channels.newOutputStream(ch);
                ImageIO.setUseCache(false);
                if (!ImageIO.write(image, "png", os)) throw new IOException(file + ": no PNG writer in this JDK");
                os.flush();
                ch.force(true);
            }
            try {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    public static BufferedImage toBufferedImage(RgbImage im) {
        BufferedImage out = new BufferedImage(im.width(), im.height(), BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < im.height(); y++)
            for (int x = 0; x < im.width(); x++)
                out.setRGB(x, y, im.get(x, y, 0) << 16 | im.get(x, y, 1) << 8 | im.get(x, y, 2));
        return out;
    }
}
