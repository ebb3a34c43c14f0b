package org.dino4j.data;

import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentColorModel;
import java.awt.image.ComponentSampleModel;
import java.awt.image.DataBuffer;
import java.awt.image.DataBufferByte;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * Decodes JPEG (baseline, progressive, grayscale, CMYK/YCCK), PNG (1-16 bit, palette, alpha, interlaced), WebP,
 * BMP and GIF (first frame) to what the official code sees: {@code ImageOps.exif_transpose(Image.open(f))
 * .convert("RGB")}. That means PIL's conversions, not Java2D's colour management: alpha is dropped (not blended),
 * gray is replicated, 16-bit gray is clipped at 255 (PIL's I;16 to L), 16-bit RGB keeps the high byte, CMYK uses
 * PIL's formula, and embedded ICC profiles are ignored. Images whose header claims more than {@code maxPixels}
 * are refused before any pixel is decoded (PIL's decompression-bomb limit by default).
 */
public final class ImageDecoder {
    /** PIL's Image.MAX_IMAGE_PIXELS: int(1024 * 1024 * 1024 // 4 // 3). */
    public static final long DEFAULT_MAX_PIXELS = 178_956_970L;

    private final long maxPixels;

    public ImageDecoder() {
        this(DEFAULT_MAX_PIXELS);
    }

    public ImageDecoder(long maxPixels) {
        if (maxPixels < 1) throw new IllegalArgumentException("maxPixels must be >= 1");
        this.maxPixels = maxPixels;
        ImageIO.setUseCache(false); // decode in memory, no temp files
    }

    public RgbImage decode(Path file) {
        byte[] bytes;
        try {
            if (Files.size(file) > Integer.MAX_VALUE - 64) throw new ImageException(file, "file larger than 2 GB");
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ImageException(file, "no such file");
        } catch (IOException e) {
            throw new ImageException(file, "cannot read: " + e.getMessage());
        }
        return decode(file, bytes);
    }

    /** Decodes bytes; {@code file} only names them in errors. */
    public RgbImage decode(Path file, byte[] bytes) {
        if (bytes.length == 0) throw new ImageException(file, "empty file (0 bytes)");
        try (ImageInputStream in = new BytesImageInputStream(bytes)) {
            Iterator<ImageReader> it = ImageIO.getImageReaders(in);
            if (!it.hasNext())
                throw new ImageException(file, "not an image dino4j can read (JPEG, PNG, WebP, BMP, GIF); starts with " + magic(bytes));
            ImageReader reader = it.next();
            try {
                reader.setInput(in, true, true);
                List<String> warnings = new ArrayList<>();
                reader.addIIOReadWarningListener((r, w) -> warnings.add(w));
                int w = reader.getWidth(0), h = reader.getHeight(0);
                if ((long) w * h > maxPixels)
                    throw new ImageException(file, String.format(Locale.ROOT,
                            "image is %d x %d = %d pixels, over the limit of %d (a decompression-bomb guard; raise it with --max-pixels)",
                            w, h, (long) w * h, maxPixels));
                boolean jpeg = reader.getFormatName().toLowerCase(Locale.ROOT).contains("jp");
                RgbImage im = jpeg && isFourChannel(reader) ? cmyk(reader.readRaster(0, null))
                        : toRgb(jpeg ? readJpeg(reader, w, h) : reader.read(0));
                for (String warning : warnings)
                    if (warning.contains("Premature end") || warning.toLowerCase(Locale.ROOT).contains("truncat"))
                        throw new ImageException(file, "truncated image (" + warning.trim() + ")");
                return Exif.apply(im, Exif.orientation(bytes));
            } finally {
                reader.dispose();
            }
        } catch (ImageException e) {
            throw e;
        } catch (OutOfMemoryError e) {
            throw new ImageException(file, "too large to decode in this heap (raise -Xmx)", e);
        } catch (IOException | RuntimeException e) {
            String m = e.getMessage();
            throw new ImageException(file, "cannot decode (truncated or corrupt?): "
                    + (m == null || m.isBlank() ? e.getClass().getSimpleName() : m.trim()), e);
        }
    }

    /**
     * {@code reader.read(0)} of a JPEG, but where the reader's own choice is 3-byte BGR (YCbCr without an ICC
     * profile), into a raster of the same colour model in R, G, B order: the reader copies each decoded line (RGB) into
     * its image with one arraycopy instead of a per-sample loop, and toRgb's copy is one too (together a quarter of a
     * JPEG's decoding, 2026-12-07). The same colour model keeps the reader's colour decisions, and the bytes, unchanged.
     * JPEG only: the BMP reader, for one, writes its BGR bytes into any destination as they are.
     */
    private static BufferedImage readJpeg(ImageReader reader, int w, int h) throws IOException {
        Iterator<ImageTypeSpecifier> types = reader.getImageTypes(0);
        ImageTypeSpecifier first = types != null && types.hasNext() ? types.next() : null;
        if (first == null || first.getBufferedImageType() != BufferedImage.TYPE_3BYTE_BGR) return reader.read(0);
        ImageReadParam p = reader.getDefaultReadParam();
        p.setDestination(new BufferedImage(first.getColorModel(),
                Raster.createInterleavedRaster(DataBuffer.TYPE_BYTE, w, h, 3 * w, 3, new int[] {0, 1, 2}, null), false, null));
        return reader.read(0, p);
    }

    private static boolean isFourChannel(ImageReader reader) throws IOException {
        var raw = reader.getRawImageType(0);
        if (raw != null) return raw.getNumComponents() == 4 && !raw.getColorModel().hasAlpha();
        var types = reader.getImageTypes(0);
        return types.hasNext() && types.next().getColorModel().getColorSpace().getType() == java.awt.color.ColorSpace.TYPE_CMYK;
    }

    /** PIL's cmyk2rgb on the raw CMYK samples of an (Adobe, inverted) CMYK JPEG. */
    private static RgbImage cmyk(Raster r) {
        int w = r.getWidth(), h = r.getHeight();
        byte[] out = new byte[3 * w * h];
        int[] px = new int[4];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                r.getPixel(r.getMinX() + x, r.getMinY() + y, px);
                int nk = px[3]; // stored inverted: 255 - k
                for (int c = 0; c < 3; c++) {
                    int cc = 255 - px[c];
                    int t = cc * nk + 128;
                    int v = nk - (((t >> 8) + t) >> 8);
                    out[3 * (y * w + x) + c] = (byte) Math.max(0, Math.min(255, v));
                }
            }
        return new RgbImage(w, h, out);
    }

    /** The image's bytes when they are laid out as RgbImage's (R, G, B, row after row, nothing around), else null. */
    private static byte[] rgbLayout(BufferedImage im) {
        Raster r = im.getRaster();
        if (!(im.getColorModel() instanceof ComponentColorModel cm) || cm.getNumComponents() != 3
                || !(r.getDataBuffer() instanceof DataBufferByte db) || !(r.getSampleModel() instanceof ComponentSampleModel sm))
            return null;
        int w = im.getWidth(), h = im.getHeight();
        boolean packed = db.getNumBanks() == 1 && db.getOffset() == 0 && db.getData().length == 3 * w * h
                && sm.getPixelStride() == 3 && sm.getScanlineStride() == 3 * w
                && java.util.Arrays.equals(sm.getBandOffsets(), new int[] {0, 1, 2})
                && r.getSampleModelTranslateX() == 0 && r.getSampleModelTranslateY() == 0;
        return packed ? db.getData() : null;
    }

    /** PIL's convert("RGB") from whatever layout the reader produced, on the raw samples. */
    static RgbImage toRgb(BufferedImage im) {
        int w = im.getWidth(), h = im.getHeight();
        byte[] same = rgbLayout(im);
        if (same != null) return new RgbImage(w, h, same); // readJpeg's raster: the decoder's image is dropped, its bytes kept
        byte[] out = new byte[3 * w * h];
        ColorModel cm = im.getColorModel();
        Raster r = im.getRaster();
        if (cm instanceof IndexColorModel icm) {
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    int i = r.getSample(x, y, 0), o = 3 * (y * w + x);
                    out[o] = (byte) icm.getRed(i);
                    out[o + 1] = (byte) icm.getGreen(i);
                    out[o + 2] = (byte) icm.getBlue(i);
                }
        } else if (cm instanceof ComponentColorModel && (cm.getNumColorComponents() == 1 || cm.getNumColorComponents() == 3)
                && r.getSampleModel().getSampleSize(0) == 8 && r.getDataBuffer() instanceof DataBufferByte db
                && r.getSampleModel() instanceof ComponentSampleModel sm && db.getNumBanks() == 1) {
            // 8-bit samples in one byte array (JPEG's BGR, PNG's RGB(A) and gray): read in place, not through
            // Raster.getPixels' int copies (which cost a fifth of a JPEG's decoding)
            byte[] d = db.getData();
            int[] bo = sm.getBandOffsets();
            int ps = sm.getPixelStride(), ss = sm.getScanlineStride(), gray = cm.getNumColorComponents() == 1 ? 1 : 0;
            int b0 = bo[0], b1 = bo[1 - gray], b2 = bo[2 - 2 * gray];
            for (int y = 0; y < h; y++) {
                int i = db.getOffset() + (y - r.getSampleModelTranslateY()) * ss - r.getSampleModelTranslateX() * ps, o = 3 * y * w;
                for (int x = 0; x < w; x++, i += ps, o += 3) {
                    out[o] = d[i + b0];
                    out[o + 1] = d[i + b1];
                    out[o + 2] = d[i + b2];
                }
            }
        } else if (cm instanceof ComponentColorModel && (cm.getNumColorComponents() == 1 || cm.getNumColorComponents() == 3)) {
            int colors = cm.getNumColorComponents(), bits = r.getSampleModel().getSampleSize(0);
            int[] row = new int[w * r.getNumBands()];
            int bands = r.getNumBands();
            for (int y = 0; y < h; y++) {
                r.getPixels(0, y, w, 1, row);
                for (int x = 0; x < w; x++)
                    for (int c = 0; c < 3; c++) {
                        int v = row[x * bands + (colors == 1 ? 0 : c)];
                        if (bits == 16) v = colors == 1 ? Math.min(v, 255) : v >> 8; // PIL: I;16 -> L clips; RGB;16B keeps the MSB
                        else if (bits < 8) v = v * 255 / ((1 << bits) - 1);
                        out[3 * (y * w + x) + c] = (byte) v;
                    }
            }
        } else { // packed (e.g. BMP 565, WebP ARGB): sRGB already
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    int p = im.getRGB(x, y), o = 3 * (y * w + x);
                    out[o] = (byte) (p >> 16);
                    out[o + 1] = (byte) (p >> 8);
                    out[o + 2] = (byte) p;
                }
        }
        return new RgbImage(w, h, out);
    }

    private static String magic(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < Math.min(8, b.length); i++) s.append(String.format("%02x", b[i] & 0xff));
        return "0x" + s;
    }
}
