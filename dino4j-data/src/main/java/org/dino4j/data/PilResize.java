package org.dino4j.data;

/**
 * PIL's {@code Image.resize(size, BICUBIC)} on 8-bit images, pixel for pixel: Pillow's {@code ImagingResample}
 * (libImaging/Resample.c). Separable Keys cubic (a = -0.5) whose support widens by the scale when shrinking
 * (antialiasing), weights normalised per output pixel in double, then rounded to 22-bit fixed point; each pass
 * (horizontal first, then vertical) rounds to uint8. The official eval transform runs this on every image.
 */
public final class PilResize {
    static final int PRECISION_BITS = 32 - 8 - 2;

    private PilResize() {}

    /** The image with its longer side at most {@code max} (aspect kept, sides rounded), or itself when it fits. */
    public static RgbImage fit(RgbImage im, int max) {
        int m = Math.max(im.width(), im.height());
        if (m <= max) return im;
        double s = (double) max / m;
        return bicubic(im, Math.max(1, (int) Math.round(im.width() * s)), Math.max(1, (int) Math.round(im.height() * s)));
    }

    /**
     * Resizes to {@code w x h}; the input itself is returned when the size is unchanged (PIL copies). Runs the Vector
     * API passes ({@link PilResizeVector}) once they are compiled, {@link #bicubicScalar} before: the same integer sums
     * in another order (integer addition is associative), hence the same bytes.
     */
    public static RgbImage bicubic(RgbImage in, int w, int h) {
        return VECTOR && PilResizeVector.hot() ? PilResizeVector.bicubic(in, w, h) : bicubicScalar(in, w, h);
    }

    /** Whether the Vector API is there (checked before PilResizeVector, whose fields are its types, loads) and usable. */
    private static final boolean VECTOR = vectorApi() && PilResizeVector.IS != null;

    private static boolean vectorApi() {
        try {
            Class.forName("jdk.incubator.vector.IntVector", false, PilResize.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    /**
     * The scalar twin of {@link #bicubic}: Pillow's loops as written (ImagingResampleHorizontal_8bpc, then
     * ImagingResampleVertical_8bpc), the reference the vector passes are tested against.
     */
    static RgbImage bicubicScalar(RgbImage in, int w, int h) {
        if (w < 1 || h < 1) throw new IllegalArgumentException("resize to " + w + "x" + h);
        byte[] src = in.rgb();
        int sw = in.width(), sh = in.height();
        if (w != sw) {
            Coeffs c = coeffs(sw, w);
            byte[] out = new byte[3 * w * sh];
            for (int y = 0; y < sh; y++)
                for (int x = 0; x < w; x++)
                    scalarPixel(src, 3 * (y * sw + c.bounds[2 * x]), c.kk, x * c.ksize, c.bounds[2 * x + 1], out, 3 * (y * w + x));
            src = out;
            sw = w;
        }
        if (h != sh) {
            byte[] out = new byte[3 * w * h];
            verticalScalar(src, 3 * w, h, coeffs(sh, h), out);
            src = out;
        }
        return src == in.rgb() ? in : new RgbImage(w, h, src);
    }

    /** One output pixel of the horizontal pass: n taps from src[si..], the three channels in one sweep. */
    static void scalarPixel(byte[] src, int si, int[] kk, int ko, int n, byte[] out, int o) {
        int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
        for (int i = 0; i < n; i++, si += 3) {
            int k = kk[ko + i];
            s0 += (src[si] & 0xff) * k;
            s1 += (src[si + 1] & 0xff) * k;
            s2 += (src[si + 2] & 0xff) * k;
        }
        out[o] = clip8(s0);
        out[o + 1] = clip8(s1);
        out[o + 2] = clip8(s2);
    }

    static void verticalScalar(byte[] src, int row, int h, Coeffs c, byte[] out) {
        for (int y = 0; y < h; y++) {
            int lo = c.bounds[2 * y], n = c.bounds[2 * y + 1], ko = y * c.ksize;
            for (int x = 0; x < row; x++) {
                int ss = 1 << (PRECISION_BITS - 1);
                for (int i = 0; i < n; i++) ss += (src[(lo + i) * row + x] & 0xff) * c.kk[ko + i];
                out[y * row + x] = clip8(ss);
            }
        }
    }

    /** Pillow's clip8: the fixed-point sum shifted down (arithmetic, i.e. floor), clamped to 0..255. */
    static byte clip8(int ss) {
        int v = ss >> PRECISION_BITS;
        return (byte) (v < 0 ? 0 : Math.min(v, 255));
    }

    private static double cubic(double x) {
        final double a = -0.5;
        x = Math.abs(x);
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
    }

    /** Per output pixel: first input index and tap count (bounds), and ksize fixed-point weights (kk). */
    record Coeffs(int ksize, int[] bounds, int[] kk) {}

    /** precompute_coeffs + normalize_coeffs_8bpc for the box [0, inSize). */
    static Coeffs coeffs(int inSize, int outSize) {
        double scale = (double) inSize / outSize;
        double filterscale = Math.max(scale, 1.0);
        double support = 2.0 * filterscale;
        int ksize = (int) Math.ceil(support) * 2 + 1;
        int[] bounds = new int[2 * outSize], kk = new int[outSize * ksize];
        double[] k = new double[ksize];
        for (int xx = 0; xx < outSize; xx++) {
            double center = (xx + 0.5) * scale, ss = 1.0 / filterscale, ww = 0.0;
            int xmin = (int) (center - support + 0.5);
            if (xmin < 0) xmin = 0;
            int xmax = (int) (center + support + 0.5);
            if (xmax > inSize) xmax = inSize;
            xmax -= xmin;
            for (int x = 0; x < xmax; x++) {
                double w = cubic((x + xmin - center + 0.5) * ss);
                k[x] = w;
                ww += w;
            }
            for (int x = 0; x < xmax; x++) {
                double v = ww != 0.0 ? k[x] / ww : k[x];
                kk[xx * ksize + x] = (int) (v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
            }
            bounds[2 * xx] = xmin;
            bounds[2 * xx + 1] = xmax;
        }
        return new Coeffs(ksize, bounds, kk);
    }
}
