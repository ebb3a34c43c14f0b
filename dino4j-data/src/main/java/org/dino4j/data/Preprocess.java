package org.dino4j.data;

import org.dino4j.tensor.Tensor;

/**
 * Image to normalised (3, H, W) float32 tensor, as the official {@code make_classification_eval_transform}:
 * torchvision {@code Resize(resize)} (shorter side to {@code resize}, the longer one {@code int(resize * long /
 * short)}, PIL bicubic), {@code CenterCrop(crop)} (offsets with Python's round-half-even; zero padding when the crop
 * is larger), {@code /255}, ImageNet mean/std. {@code resize = 0} skips the resize and {@code crop = 0} the crop;
 * {@code padMultiple > 0} then zero-pads the normalised tensor to a multiple of it, split as the official
 * {@code CenterPadding} (left = pad / 2) - the depth heads' input. {@code roundTo > 0} (with {@code resize}) makes the
 * resize the dense evaluations' instead: shorter side to {@code resize}, each side then rounded to a multiple of
 * {@code roundTo} (at least one), a slight aspect change so that the patch grid covers the whole image.
 */
public record Preprocess(int resize, int crop, int padMultiple, int roundTo) {
    public static final float[] IMAGENET_MEAN = {0.485f, 0.456f, 0.406f};
    public static final float[] IMAGENET_STD = {0.229f, 0.224f, 0.225f};

    /** The official eval transform: resize 256, centre crop 224. */
    public static final Preprocess EVAL = new Preprocess(256, 224, 0);

    public Preprocess {
        if (resize < 0 || crop < 0 || padMultiple < 0 || roundTo < 0)
            throw new IllegalArgumentException("resize, crop, pad and rounding must be >= 0");
        if (roundTo > 0 && resize == 0) throw new IllegalArgumentException("rounding each side needs a resize");
    }

    public Preprocess(int resize, int crop, int padMultiple) {
        this(resize, crop, padMultiple, 0);
    }

    /** The dense evaluations' input: shorter side to {@code resolution}, each side rounded to the patch size, no crop. */
    public static Preprocess shorterSideRounded(int resolution, int patchSize) {
        return new Preprocess(resolution, 0, 0, patchSize);
    }

    /** No resize or crop; zero-pad to a multiple of the patch size (official CenterPadding). */
    public static Preprocess centerPadding(int multiple) {
        return new Preprocess(0, 0, multiple);
    }

    /**
     * The three-component form when there is no rounding: embedding runs record it in their run.json (which a rerun
     * compares as text) and {@link #parse} reads it back.
     */
    @Override
    public String toString() {
        return "Preprocess[resize=" + resize + ", crop=" + crop + ", padMultiple=" + padMultiple
                + (roundTo == 0 ? "" : ", roundTo=" + roundTo) + "]";
    }

    private static final java.util.regex.Pattern FORM =
            java.util.regex.Pattern.compile("Preprocess\\[resize=(\\d+), crop=(\\d+), padMultiple=(\\d+)(?:, roundTo=(\\d+))?]");

    /** The transform {@link #toString} wrote; IllegalArgumentException for any other text. */
    public static Preprocess parse(String text) {
        java.util.regex.Matcher m = FORM.matcher(text);
        if (!m.matches()) throw new IllegalArgumentException("not a recorded transform: \"" + text + "\"");
        return new Preprocess(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)),
                m.group(4) == null ? 0 : Integer.parseInt(m.group(4)));
    }

    /** The (1, 3, H, W) model input for one image. */
    public Tensor apply(RgbImage im) {
        float[] x = chw(im);
        int[] hw = outputSize(im.width(), im.height());
        return new Tensor(x, 1, 3, hw[0], hw[1]);
    }

    /** Output (H, W) for an input of the given size. */
    public int[] outputSize(int width, int height) {
        int w = width, h = height;
        if (resize > 0) {
            int[] s = resized(w, h);
            w = s[0];
            h = s[1];
        }
        if (crop > 0) w = h = crop;
        if (padMultiple > 0) {
            h = ceilTo(h, padMultiple);
            w = ceilTo(w, padMultiple);
        }
        return new int[] {h, w};
    }

    /** The normalised image, channels first, at {@link #outputSize}. */
    public float[] chw(RgbImage im) {
        if (resize > 0) {
            int[] s = resized(im.width(), im.height());
            if (roundTo == 0 || s[0] != im.width() || s[1] != im.height()) im = PilResize.bicubic(im, s[0], s[1]);
        }
        if (crop > 0) im = centerCrop(im, crop, crop);
        int w = im.width(), h = im.height();
        int ph = padMultiple > 0 ? ceilTo(h, padMultiple) : h, pw = padMultiple > 0 ? ceilTo(w, padMultiple) : w;
        int top = (ph - h) / 2, left = (pw - w) / 2;
        float[] out = new float[3 * ph * pw];
        byte[] rgb = im.rgb();
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    float v = (rgb[3 * (y * w + x) + c] & 0xff) / 255f; // ToTensor, then Normalize's sub_ and div_
                    out[(c * ph + y + top) * pw + x + left] = (v - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
                }
        return out;
    }

    /** (w, h) after the resize: torchvision's, or rounded per side to roundTo. */
    private int[] resized(int w, int h) {
        if (roundTo == 0) return shorterSide(w, h, resize);
        double s = (double) resize / Math.min(w, h);
        return new int[] {Math.max(roundTo, (int) Math.round(w * s / roundTo) * roundTo),
                Math.max(roundTo, (int) Math.round(h * s / roundTo) * roundTo)};
    }

    /** torchvision's size for Resize(int): (w, h) with the shorter side = size. */
    static int[] shorterSide(int w, int h, int size) {
        if (w <= h) return new int[] {size, (int) ((long) size * h / (double) w)};
        return new int[] {(int) (size * (double) w / h), size};
    }

    /** torchvision CenterCrop: pads with zeros (black) first when the crop is larger than the image. */
    static RgbImage centerCrop(RgbImage im, int cw, int ch) {
        int w = im.width(), h = im.height();
        int padL = cw > w ? (cw - w) / 2 : 0, padT = ch > h ? (ch - h) / 2 : 0;
        int pw = Math.max(w, cw), ph = Math.max(h, ch);
        // after padding (left/top = d/2, right/bottom = (d+1)/2), crop offsets use round-half-even
        int top = (int) Math.rint((ph - ch) / 2.0), left = (int) Math.rint((pw - cw) / 2.0);
        byte[] src = im.rgb(), out = new byte[3 * cw * ch];
        int d = left - padL, x0 = Math.max(0, -d), x1 = Math.min(cw, w - d); // output columns whose source column sx = x + d is in the image
        for (int y = 0; y < ch; y++) {
            int sy = y + top - padT;
            if (sy < 0 || sy >= h || x0 >= x1) continue;
            System.arraycopy(src, 3 * (sy * w + x0 + d), out, 3 * (y * cw + x0), 3 * (x1 - x0));
        }
        return new RgbImage(cw, ch, out);
    }

    private static int ceilTo(int v, int m) {
        return (v + m - 1) / m * m;
    }
}
