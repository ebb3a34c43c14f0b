package org.dino4j.viz;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;

import org.dino4j.data.RgbImage;
import org.junit.jupiter.api.Test;

class PatchMatchTest {
    private static float[] gaussian(int n, int d, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = new float[n * d];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        return x;
    }

    private static int[] permutation(int n, long seed) {
        List<Integer> l = new ArrayList<>();
        for (int i = 0; i < n; i++) l.add(i);
        Collections.shuffle(l, new Random(seed));
        return l.stream().mapToInt(Integer::intValue).toArray();
    }

    @Test
    void aPermutedCopyMatchesPatchForPatch() {
        int n = 60, d = 32;
        float[] a = gaussian(n, d, 1);
        int[] perm = permutation(n, 2);
        float[] b = new float[n * d];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < d; k++) b[perm[i] * d + k] = 3f * a[i * d + k]; // scaled: cosine ignores the norm
        List<PatchMatch.Match> m = PatchMatch.mutualNearest(a, n, b, n, d);
        assertEquals(n, m.size());
        for (PatchMatch.Match x : m) {
            assertEquals(perm[x.a()], x.b(), "patch " + x.a());
            assertEquals(1f, x.similarity(), 1e-5f);
        }
    }

    @Test
    void aFeatureInOnlyOneImageHasNoMutualMatch() {
        int n = 40, d = 16;
        float[] a = gaussian(n + 1, d, 3); // row n exists only in A
        int[] perm = permutation(n, 4);
        float[] b = new float[n * d];
        for (int i = 0; i < n; i++) System.arraycopy(a, i * d, b, perm[i] * d, d);
        List<PatchMatch.Match> m = PatchMatch.mutualNearest(a, n + 1, b, n, d);
        assertEquals(n, m.size());
        assertTrue(m.stream().noneMatch(x -> x.a() == n));
        // and from B's side: the extra row of A is nobody's mutual neighbour either
        List<PatchMatch.Match> back = PatchMatch.mutualNearest(b, n, a, n + 1, d);
        assertTrue(back.stream().noneMatch(x -> x.b() == n));
    }

    @Test
    void strongestFirstAndTopK() {
        float[] a = {1, 0, 0, 1, 1, 1};           // (1,0), (0,1), (1,1)
        float[] b = {1, 0.2f, 0.1f, 1, -1, 1};    // near (1,0), near (0,1), (-1,1)
        List<PatchMatch.Match> m = PatchMatch.mutualNearest(a, 3, b, 3, 2);
        for (int i = 1; i < m.size(); i++) assertTrue(m.get(i - 1).similarity() >= m.get(i).similarity());
        assertEquals(1, m.get(0).a());
        assertEquals(1, m.get(0).b());
        assertEquals(1, PatchMatch.top(m, 1).size());
        assertEquals(m, PatchMatch.top(m, 0));
        assertEquals(m, PatchMatch.top(m, 100));
    }

    @Test
    void drawsBothImagesAtTheSameHeightWithLines() {
        RgbImage a = new RgbImage(97, 61, new byte[3 * 97 * 61]);            // black
        byte[] white = new byte[3 * 50 * 30];
        java.util.Arrays.fill(white, (byte) 255);
        RgbImage b = new RgbImage(50, 30, white);
        PatchFeatures fa = new PatchFeatures(4, 6, 1, new float[24]), fb = new PatchFeatures(3, 5, 1, new float[15]);
        BufferedImage im = PatchMatch.draw(a, fa, b, fb, List.of(new PatchMatch.Match(0, 14, 1f)));
        assertArrayEquals(new int[] {97 + 102, 61}, new int[] {im.getWidth(), im.getHeight()}); // 50 * 61 / 30 = 101.7
        assertArrayEquals(PatchMatch.canvasSize(97, 61, 50, 30), new int[] {im.getWidth(), im.getHeight()});
        // the line starts at the centre of A's patch 0 (red on black) and B's right half is still white away from it
        int c = im.getRGB((int) (0.5 * 97 / 6), (int) (0.5 * 61 / 4)) & 0xffffff;
        assertTrue((c >> 16 & 0xff) > 200 && (c >> 8 & 0xff) < 100, Integer.toHexString(c));
        assertEquals(0xffffff, im.getRGB(100, 58) & 0xffffff);
        assertEquals(0, im.getRGB(90, 58) & 0xffffff);
    }
}
