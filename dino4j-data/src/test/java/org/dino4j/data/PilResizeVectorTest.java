package org.dino4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/**
 * The Vector API resize against its scalar twin (Pillow's loops, which bicubicResizeIsPillowExact checks against
 * Pillow itself), at the preferred width and again at 256 and 512 bits on any machine (the pom's executions), on sizes that hit every edge: 1-pixel images, widths whose
 * rows are shorter than a vector, odd sizes, windows reaching the image's last byte, up- and down-scaling and both
 * at once, and extreme pixels (0/255 steps, where the cubic's overshoot meets the clamp) in every channel.
 */
class PilResizeVectorTest {
    private static final int[][] SIZES = { // from w, h, to w, h
        {1, 1, 1, 1}, {1, 1, 7, 5}, {1, 9, 1, 4}, {9, 1, 4, 1}, {2, 3, 17, 1}, {5, 7, 3, 11}, {3, 3, 1, 1},
        {17, 13, 5, 29}, {31, 7, 31, 3}, {7, 31, 3, 31}, {640, 480, 293, 224}, {101, 257, 256, 640}, {333, 100, 7, 3},
        {1000, 3, 1, 2}, {6, 40, 255, 2}, {48, 48, 16, 16}, {49, 47, 224, 224},
    };

    @Test
    void vectorPassesEqualTheScalarTwin() {
        assertNotNull(PilResizeVector.IS, "the Vector API path is off");
        SplittableRandom r = new SplittableRandom(22);
        for (int[] s : SIZES)
            for (int kind = 0; kind < 2; kind++) {
                RgbImage in = image(s[0], s[1], kind, r);
                byte[] want = PilResize.bicubicScalar(in, s[2], s[3]).rgb();
                String what = s[0] + "x" + s[1] + " -> " + s[2] + "x" + s[3] + (kind == 0 ? " noise" : " 0/255 steps") + " at " + PilResizeVector.IS;
                assertArrayEquals(want, PilResizeVector.bicubic(in, s[2], s[3]).rgb(), what);
                assertArrayEquals(want, PilResize.bicubic(in, s[2], s[3]).rgb(), what + ", the public entry (scalar until warm)");
            }
        RgbImage same = image(5, 3, 0, r);
        assertSame(same, PilResizeVector.bicubic(same, 5, 3));
    }

    /** Noise in 0..255, or blocks of 0 and 255 per channel (the overshoot that clip8 clamps). */
    private static RgbImage image(int w, int h, int kind, SplittableRandom r) {
        byte[] px = new byte[3 * w * h];
        for (int i = 0; i < px.length; i++) px[i] = (byte) (kind == 0 ? r.nextInt(256) : ((i / 3 / 2 + i % 3) % 2 == 0 ? 0 : 255));
        return new RgbImage(w, h, px);
    }
}
