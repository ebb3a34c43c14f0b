package org.dino4j.curate;

import org.dino4j.data.PilResize;
import org.dino4j.data.RgbImage;

/** An image as a {@link org.dino4j.train.copydetect.CopyDetector} reads it: side x side (bicubic), gray or RGB, / 255. */
public final class CopyDetectorInput {
    private CopyDetectorInput() {}

    /** Input rows of the images that decode (n x side * side * channels), their ids, and "id TAB problem" for the others. */
    public record Rows(float[] x, java.util.List<String> ids, java.util.List<String> failures) {}

    /** Every image of ds as an input row, in order; progress hears (step, done, total) every 4096 images. */
    public static Rows rows(org.dino4j.data.Dataset ds, int side, int channels, String step, Engine.Progress progress) {
        int in = side * side * channels;
        float[] x = new float[ds.size() * in];
        java.util.List<String> ids = new java.util.ArrayList<>(), failures = new java.util.ArrayList<>();
        org.dino4j.data.ImageDecoder dec = new org.dino4j.data.ImageDecoder();
        for (int i = 0; i < ds.size(); i++) {
            String id = ds.get(i).id();
            try {
                row(ds.get(i).source().load(dec), side, channels, x, ids.size() * in);
                ids.add(id);
            } catch (org.dino4j.data.ImageException ex) {
                failures.add(failure(id, ex));
            }
            if (progress != null && ((i + 1) % 4096 == 0 || i + 1 == ds.size())) progress.update(step, i + 1, ds.size());
        }
        return new Rows(java.util.Arrays.copyOf(x, ids.size() * in), ids, failures);
    }

    /** "id TAB problem", without the id a second time when the message starts with it. */
    static String failure(String id, RuntimeException ex) {
        String m = String.valueOf(ex.getMessage());
        return id + "\t" + (m.startsWith(id + ": ") ? m.substring(id.length() + 2) : m);
    }

    /** Writes the image's input row (side * side * channels floats, channel-last) into out at off. */
    public static void row(RgbImage im, int side, int channels, float[] out, int off) {
        RgbImage s = im.width() == side && im.height() == side ? im : PilResize.bicubic(im, side, side);
        byte[] px = s.rgb();
        for (int p = 0; p < side * side; p++) {
            if (channels == 1) {
                out[off + p] = ((px[3 * p] & 0xff) + (px[3 * p + 1] & 0xff) + (px[3 * p + 2] & 0xff)) / (3 * 255f);
            } else {
                for (int c = 0; c < 3; c++) out[off + 3 * p + c] = (px[3 * p + c] & 0xff) / 255f;
            }
        }
    }
}
