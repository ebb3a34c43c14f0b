package org.dino4j.data.aug;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;

import org.dino4j.data.ImageDecoder;
import org.dino4j.data.ImageFixtures;
import org.dino4j.data.RgbImage;
import org.junit.jupiter.api.Test;

/** DataAugmentationDINO's structure and the probabilities of its random choices. */
class DataAugmentationDinoTest {
    @Test
    void cropParamsFollowTorchvisionsRules() {
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < 5000; i++) {
            int[] b = DataAugmentationDino.resizedCropParams(97, 61, 0.32, 1.0, r);
            int top = b[0], left = b[1], h = b[2], w = b[3];
            assertTrue(top >= 0 && left >= 0 && top + h <= 61 && left + w <= 97, java.util.Arrays.toString(b));
            double ratio = (double) w / h, frac = (double) w * h / (97 * 61);
            if (frac < 0.999) { // a sampled crop (not the fallback): aspect and area within range up to rounding
                assertTrue(ratio > 0.7 && ratio < 1.45, "ratio " + ratio);
                assertTrue(frac > 0.28 && frac < 1.05, "area " + frac);
            }
        }
        // a 1000 x 10 strip: no sample fits the aspect range, so the fallback centre crop clamped to 4/3
        assertArrayEquals(new int[] {0, 493, 10, 13}, DataAugmentationDino.resizedCropParams(1000, 10, 0.32, 1.0, new SplittableRandom(3)));
    }

    @Test
    void cropsAndProbabilities() {
        RgbImage img = new ImageDecoder().decode(ImageFixtures.images().resolve("rgb.png"));
        DataAugmentationDino aug = new DataAugmentationDino(DataAugmentationDino.Config.small(32, 16));
        int n = 600;
        int[] blur = new int[3], flip = new int[3], sol = new int[3], jitter = new int[3], gray = new int[3];
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < n; i++) {
            DataAugmentationDino.Crops c = aug.apply(img, r);
            assertEquals(2, c.global().size());
            assertEquals(8, c.local().size());
            assertEquals(3 * 32 * 32, c.global().get(0).length);
            assertEquals(3 * 16 * 16, c.local().get(5).length);
            for (int k = 0; k < 10; k++) {
                var t = c.traces().get(k);
                int g = Math.min(k, 2); // 0: first global, 1: second global, 2: locals
                if (t.blurred()) blur[g]++;
                if (t.flipped()) flip[g]++;
                if (t.solarized()) sol[g]++;
                if (t.jittered()) jitter[g]++;
                if (t.gray()) gray[g]++;
            }
        }
        // the released models' blur: never, 0.9, 0.5; solarize only on the second global crop
        assertEquals(0, blur[0]);
        assertEquals(0.9, blur[1] / (double) n, 0.04);
        assertEquals(0.5, blur[2] / (8.0 * n), 0.03);
        assertEquals(0, sol[0]);
        assertEquals(0.2, sol[1] / (double) n, 0.04);
        assertEquals(0, sol[2]);
        assertEquals(0.5, flip[2] / (8.0 * n), 0.03);
        assertEquals(0.8, jitter[2] / (8.0 * n), 0.03);
        assertEquals(0.2, gray[2] / (8.0 * n), 0.03);
        // the paper's intended values: first global always blurred, second 0.1
        var paper = new DataAugmentationDino(new DataAugmentationDino.Config(0.32, 1, 0.05, 0.32, 2, 32, 16, true));
        int b0 = 0, b1 = 0;
        for (int i = 0; i < 300; i++) {
            var c = paper.apply(img, r);
            if (c.traces().get(0).blurred()) b0++;
            if (c.traces().get(1).blurred()) b1++;
        }
        assertEquals(300, b0);
        assertEquals(0.1, b1 / 300.0, 0.05);
        // the same seed gives the same crops
        var a1 = aug.apply(img, new SplittableRandom(42)).global().get(1);
        var a2 = aug.apply(img, new SplittableRandom(42)).global().get(1);
        assertArrayEquals(a1, a2);
    }
}
