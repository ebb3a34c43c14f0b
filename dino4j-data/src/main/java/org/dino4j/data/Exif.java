package org.dino4j.data;

/**
 * The EXIF orientation tag (0x0112) of a JPEG (APP1 "Exif"), PNG (eXIf chunk) or WebP (EXIF chunk), and
 * {@code ImageOps.exif_transpose}'s transform for it. Anything unreadable counts as no orientation (1), as in PIL.
 */
final class Exif {
    private Exif() {}

    static int orientation(byte[] b) {
        try {
            int tiff = tiffOffset(b);
            return tiff < 0 ? 1 : tiffOrientation(b, tiff);
        } catch (RuntimeException e) { // truncated or inconsistent EXIF: ignored, as PIL does
            return 1;
        }
    }

    private static int tiffOffset(byte[] b) {
        if (b.length > 4 && (b[0] & 0xff) == 0xFF && (b[1] & 0xff) == 0xD8) { // JPEG: walk the marker segments
            int p = 2;
            while (p + 4 <= b.length && (b[p] & 0xff) == 0xFF) {
                int marker = b[p + 1] & 0xff, len = u16be(b, p + 2);
                if (marker == 0xDA || marker == 0xD9) break; // start of scan: no more metadata
                if (marker == 0xE1 && len >= 8 && startsWith(b, p + 4, "Exif\0\0")) return p + 10;
                p += 2 + len;
            }
            return -1;
        }
        // chunk lengths are unsigned 32-bit: walked in long, so a huge one ends the walk instead of wrapping p
        // backwards (a WebP chunk of length 0xFFFFFFF8 looped forever; found by fuzzing)
        if (b.length > 8 && startsWith(b, 1, "PNG")) {
            for (long p = 8; p + 8 <= b.length; ) {
                int q = (int) p;
                if (startsWith(b, q + 4, "eXIf")) return startsWith(b, q + 8, "Exif\0\0") ? q + 14 : q + 8;
                if (startsWith(b, q + 4, "IDAT") || startsWith(b, q + 4, "IEND")) return -1;
                p += 12 + u32be(b, q);
            }
            return -1;
        }
        if (b.length > 12 && startsWith(b, 0, "RIFF") && startsWith(b, 8, "WEBP")) {
            for (long p = 12; p + 8 <= b.length; ) {
                int q = (int) p;
                long len = u32le(b, q + 4) & 0xffffffffL;
                if (startsWith(b, q, "EXIF")) return startsWith(b, q + 8, "Exif\0\0") ? q + 14 : q + 8;
                p += 8 + len + (len & 1);
            }
        }
        return -1;
    }

    private static int tiffOrientation(byte[] b, int t) {
        boolean le = b[t] == 'I' && b[t + 1] == 'I';
        if (!le && !(b[t] == 'M' && b[t + 1] == 'M')) return 1;
        int ifd = t + (int) u32(b, t + 4, le);
        int n = u16(b, ifd, le);
        for (int i = 0; i < n; i++) {
            int e = ifd + 2 + 12 * i;
            if (u16(b, e, le) == 0x0112) {
                int v = u16(b, e + 8, le);
                return v >= 1 && v <= 8 ? v : 1;
            }
        }
        return 1;
    }

    /** ImageOps.exif_transpose: 2 mirror, 3 rotate 180, 4 flip, 5 transpose, 6 rotate 90 cw, 7 transverse, 8 90 ccw. */
    static RgbImage apply(RgbImage im, int orientation) {
        if (orientation <= 1 || orientation > 8) return im;
        int w = im.width(), h = im.height();
        boolean swap = orientation >= 5;
        int ow = swap ? h : w, oh = swap ? w : h;
        byte[] src = im.rgb(), out = new byte[src.length];
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++) {
                int sx, sy;
                switch (orientation) {
                    case 2 -> { sx = w - 1 - x; sy = y; }
                    case 3 -> { sx = w - 1 - x; sy = h - 1 - y; }
                    case 4 -> { sx = x; sy = h - 1 - y; }
                    case 5 -> { sx = y; sy = x; }
                    case 6 -> { sx = y; sy = h - 1 - x; }
                    case 7 -> { sx = w - 1 - y; sy = h - 1 - x; }
                    default -> { sx = w - 1 - y; sy = x; }
                }
                System.arraycopy(src, 3 * (sy * w + sx), out, 3 * (y * ow + x), 3);
            }
        return new RgbImage(ow, oh, out);
    }

    private static boolean startsWith(byte[] b, int p, String s) {
        if (p < 0 || p + s.length() > b.length) return false;
        for (int i = 0; i < s.length(); i++) if (b[p + i] != (byte) s.charAt(i)) return false;
        return true;
    }

    private static int u16be(byte[] b, int p) {
        return (b[p] & 0xff) << 8 | (b[p + 1] & 0xff);
    }

    private static long u32be(byte[] b, int p) {
        return (long) u16be(b, p) << 16 | u16be(b, p + 2);
    }

    private static int u32le(byte[] b, int p) {
        return (b[p] & 0xff) | (b[p + 1] & 0xff) << 8 | (b[p + 2] & 0xff) << 16 | (b[p + 3] & 0xff) << 24;
    }

    private static int u16(byte[] b, int p, boolean le) {
        return le ? (b[p] & 0xff) | (b[p + 1] & 0xff) << 8 : u16be(b, p);
    }

    private static long u32(byte[] b, int p, boolean le) {
        return le ? u32le(b, p) & 0xffffffffL : u32be(b, p);
    }
}
