package org.dino4j.curate;

import org.dino4j.data.PilResize;
import org.dino4j.data.RgbImage;

/** An image as a {@link org.dino4j.train.copydetect.CopyDetector} reads it: side x side (bicubic), gray or RGB, / 255. */
public final class CopyDetectorInput {
    private CopyDetectorInput() {}

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
