package org.dino4j.train.copydetect;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CopyDetectorTest {
    /** Random blob images: smooth enough that a crop resized back stays close to its original in pixels. */
    static float[] blobs(int n, int side, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n * side * side];
        for (int i = 0; i < n; i++)
            for (int b = 0; b < 3; b++) {
                double cx = r.nextDouble() * side, cy = r.nextDouble() * side, rad = 2 + r.nextDouble() * side / 4, a = r.nextDouble();
                for (int y = 0; y < side; y++)
                    for (int xx = 0; xx < side; xx++) {
                        double d2 = ((xx - cx) * (xx - cx) + (y - cy) * (y - cy)) / (rad * rad);
                        x[i * side * side + y * side + xx] = (float) Math.min(1, x[i * side * side + y * side + xx] + a * Math.exp(-d2));
                    }
            }
        return x;
    }

    @Test
    void trainedDescriptorFindsEachImagesCopyAmongTheOthersAndSurvivesSaveAndLoad(@TempDir Path dir) throws Exception {
        int n = 400, side = 16, in = side * side;
        float[] x = blobs(n, side, 1);
        var o = new CopyDetectorTrainer.Options(side, 1, 128, 32, 150, 64, 2e-3, 1e-4, 0.1f, 0.2f, 0.08, 0.05, true, true, 3);
        double[] first = {Double.NaN}, last = {Double.NaN};
        CopyDetector cd = CopyDetectorTrainer.train(x, n, o, (s, total, loss) -> {
            if (s == 1) first[0] = loss;
            last[0] = loss;
        });
        assertTrue(last[0] < first[0] * 0.5, "loss " + first[0] + " -> " + last[0]);
        // copies made the way the trainer makes them, then: is each copy's nearest original its own?
        SplittableRandom r = new SplittableRandom(99);
        float[] copies = new float[n * in];
        for (int i = 0; i < n; i++) CopyDetectorTrainer.augment(x, i * in, copies, i * in, o, r);
        int hitTrained = top1(cd, x, copies, n), hitPixels = top1Pixels(x, copies, n, in);
        System.out.println("copies that find their original: trained " + hitTrained + ", raw pixels " + hitPixels + " of " + n);
        assertTrue(hitTrained >= 0.9 * n, "trained: " + hitTrained + " of " + n + " copies find their original (pixels: " + hitPixels + ")");
        assertTrue(hitTrained > hitPixels + n / 5, "trained " + hitTrained + " against raw pixels " + hitPixels); // 379 vs 193 when written
        Path f = dir.resolve("cd.safetensors");
        cd.save(f);
        CopyDetector back = CopyDetector.load(f);
        assertArrayEquals(cd.embed(x, n), back.embed(x, n));
        assertEquals(side, back.side());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CopyDetector.load(Path.of("../fixtures/official/official_vit_tiny.safetensors")));
        assertTrue(e.getMessage().contains("not a copy detector"), e.getMessage());
    }

    static int top1(CopyDetector cd, float[] x, float[] copies, int n) {
        float[] a = cd.embed(x, n), b = cd.embed(copies, n);
        return top1Rows(a, b, n, cd.dim());
    }

    static int top1Pixels(float[] x, float[] copies, int n, int in) {
        return top1Rows(norm(x.clone(), n, in), norm(copies.clone(), n, in), n, in);
    }

    static float[] norm(float[] v, int n, int d) {
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < d; j++) s += v[i * d + j] * v[i * d + j];
            for (int j = 0; j < d; j++) v[i * d + j] /= (float) Math.sqrt(s + 1e-12);
        }
        return v;
    }

    static int top1Rows(float[] a, float[] b, int n, int d) {
        int hit = 0;
        for (int q = 0; q < n; q++) {
            int best = -1;
            double bs = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) {
                double s = 0;
                for (int j = 0; j < d; j++) s += b[q * d + j] * a[i * d + j];
                if (s > bs) { bs = s; best = i; }
            }
            if (best == q) hit++;
        }
        return hit;
    }

    @Test
    void aKilledRunResumesFromItsCheckpointToTheSameWeights(@TempDir Path dir) throws Exception {
        int n = 100, side = 12;
        float[] x = blobs(n, side, 5);
        var o = new CopyDetectorTrainer.Options(side, 1, 32, 8, 40, 16, 2e-3, 1e-4, 0.1f, 0.1f, 0.08, 0.05, true, true, 9);
        CopyDetector whole = CopyDetectorTrainer.train(x, n, o, null);
        Path ck = dir.resolve("ck.safetensors");
        RuntimeException kill = new RuntimeException("killed");
        RuntimeException e = assertThrows(RuntimeException.class, () -> CopyDetectorTrainer.train(x, n, o, (s, t, l) -> {
            if (s == 25) throw kill; // after the checkpoint of step 20
        }, ck, 10));
        assertSame(kill, e);
        int[] firstStep = {-1};
        CopyDetector resumed = CopyDetectorTrainer.train(x, n, o, (s, t, l) -> {
            if (firstStep[0] < 0) firstStep[0] = s;
        }, ck, 10);
        assertEquals(21, firstStep[0], "resumed after step 20");
        assertArrayEquals(whole.w1(), resumed.w1());
        assertArrayEquals(whole.w3(), resumed.w3());
        assertArrayEquals(whole.b3(), resumed.b3());
        // another run's checkpoint is refused, naming the file
        var other = new CopyDetectorTrainer.Options(side, 1, 32, 8, 50, 16, 2e-3, 1e-4, 0.1f, 0.1f, 0.08, 0.05, true, true, 9);
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> CopyDetectorTrainer.train(x, n, other, null, ck, 10));
        assertTrue(bad.getMessage().startsWith(ck.toString()), bad.getMessage());
    }
}
