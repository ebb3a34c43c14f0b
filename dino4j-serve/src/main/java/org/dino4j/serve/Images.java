package org.dino4j.serve;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

import javax.imageio.ImageIO;

import org.dino4j.data.ImageDecoder;
import org.dino4j.data.ImageException;
import org.dino4j.data.PilResize;
import org.dino4j.data.RgbImage;
import org.dino4j.viz.Png;

/** Bytes to pixels with HTTP statuses for what goes wrong, and pixels to the PNG/JPEG bytes the server answers with. */
final class Images {
    static final int PREVIEW_SIDE = 256;

    private final ImageDecoder decoder;

    Images(long maxPixels) {
        this.decoder = new ImageDecoder(maxPixels);
    }

    /**
     * The decoded image: 413 for one over the pixel limit (checked on the header, before any pixel is decoded), 415 for
     * bytes no reader recognises, 400 for a truncated or corrupt image.
     */
    RgbImage decode(String what, byte[] bytes) {
        try {
            return decoder.decode(Path.of(what), bytes);
        } catch (ImageException e) {
            String p = e.problem();
            int status = p.contains("over the limit") || p.contains("too large") ? 413 : p.startsWith("not an image") ? 415 : 400;
            throw new ApiError(status, what + ": " + p);
        }
    }

    /** A JPEG of at most PREVIEW_SIDE px on its longer side (the image itself if smaller). */
    static byte[] preview(RgbImage im) {
        BufferedImage b = Png.toBufferedImage(PilResize.fit(im, PREVIEW_SIDE));
        if (b.getType() != BufferedImage.TYPE_INT_RGB) {
            BufferedImage rgb = new BufferedImage(b.getWidth(), b.getHeight(), BufferedImage.TYPE_INT_RGB);
            rgb.getGraphics().drawImage(b, 0, 0, null);
            b = rgb;
        }
        return encode(b, "jpg");
    }

    static byte[] png(BufferedImage im) {
        return encode(im, "png");
    }

    private static byte[] encode(BufferedImage im, String format) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            if (!ImageIO.write(im, format, out)) throw new IllegalStateException("no ImageIO writer for " + format);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }
}
