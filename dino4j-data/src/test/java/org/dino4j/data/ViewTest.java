package org.dino4j.data;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.SplittableRandom;

import org.dino4j.data.aug.PilOps;
import org.junit.jupiter.api.Test;

/** The views copy detection searches with (PilOps itself is checked against torchvision/PIL in PilOpsTest). */
class ViewTest {
    static RgbImage random(int w, int h, long seed) {
        byte[] px = new byte[3 * w * h];
        new SplittableRandom(seed).nextBytes(px);
        return new RgbImage(w, h, px);
    }

    @Test
    void cropKeepsTheCentredFractionOfEachSideAndResizesBack() {
        RgbImage im = random(28, 20, 1);
        RgbImage v = new View(0.93, false).apply(im); // 26 of 28 columns (1 px each side), 19 of 20 rows (none on top, 1 below)
        assertEquals(28, v.width());
        assertEquals(20, v.height());
        assertArrayEquals(PilOps.resizedCrop(im, 0, 1, 19, 26, 28, 20).rgb(), v.rgb());
        assertArrayEquals(PilOps.hflip(v).rgb(), new View(0.93, true).apply(im).rgb()); // crop, then mirror
        assertArrayEquals(PilOps.hflip(im).rgb(), new View(1, true).apply(im).rgb());
        assertSame(im, View.NONE.apply(im));
        assertArrayEquals(PilOps.resizedCrop(im, 0, 0, 19, 26, 28, 20).rgb(), new View(0.93, View.Anchor.TOP_LEFT, false).apply(im).rgb());
        assertArrayEquals(PilOps.resizedCrop(im, 0, 2, 19, 26, 28, 20).rgb(), new View(0.93, View.Anchor.TOP_RIGHT, false).apply(im).rgb());
        assertArrayEquals(PilOps.resizedCrop(im, 1, 0, 19, 26, 28, 20).rgb(), new View(0.93, View.Anchor.BOTTOM_LEFT, false).apply(im).rgb());
        assertArrayEquals(PilOps.resizedCrop(im, 1, 2, 19, 26, 28, 20).rgb(), new View(0.93, View.Anchor.BOTTOM_RIGHT, false).apply(im).rgb());
        RgbImage small = random(8, 8, 2);
        assertSame(small, new View(0.99, false).apply(small)); // 0.99 of 8 px rounds to 8: nothing to crop
    }

    @Test
    void namesAndBounds() {
        assertEquals(List.of("plain", "mirrored", "crop0.93", "crop0.875-mirrored", "crop0.9br"),
                List.of(View.NONE.name(), new View(1, true).name(), new View(0.93, false).name(), new View(0.875, true).name(),
                        new View(0.9, View.Anchor.BOTTOM_RIGHT, false).name()));
        assertThrows(IllegalArgumentException.class, () -> new View(0, false));
        assertThrows(IllegalArgumentException.class, () -> new View(1.5, false));
        assertThrows(IllegalArgumentException.class, () -> new View(Double.NaN, false));
    }
}
