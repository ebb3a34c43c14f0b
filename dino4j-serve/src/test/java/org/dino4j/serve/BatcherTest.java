package org.dino4j.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

import org.dino4j.embed.Output;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;
import org.dino4j.model.ModelConfig;
import org.dino4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

class BatcherTest {
    static final ModelConfig CFG = ModelConfig.fromJson("{\"img_size\":28,\"patch_size\":14,\"embed_dim\":32,\"depth\":2,\"num_heads\":2,\"init_values\":1.0}");

    static float[] pixels(long seed, int h, int w) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[3 * h * w];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    /** The CLS token of one image alone: what its row in any batch must be. */
    static float[] alone(DinoVisionTransformer m, float[] chw, int h, int w) {
        return m.forwardFeatures(new Tensor(chw.clone(), 1, 3, h, w)).xNormClstoken().data();
    }

    /** Keeps the model thread busy until hold opens, so that jobs pile up in the queue. */
    static Future<?> occupy(Batcher b, ExecutorService pool, CountDownLatch hold) throws InterruptedException {
        Future<?> f = pool.submit(() -> b.run(() -> {
            hold.await();
            return null;
        }));
        while (b.depth() > 0 || !b.busy()) Thread.sleep(5);
        return f;
    }

    @Test
    void sameShapeJobsShareAForwardAndEachGetsItsOwnRow() throws Exception {
        SimpleMeterRegistry reg = new SimpleMeterRegistry();
        try (DinoVisionTransformer m = Dinov2.random(CFG, 1); Batcher b = new Batcher(m, 8, 1000, 64, 30_000, reg);
             ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            CountDownLatch hold = new CountDownLatch(1);
            Future<?> blocker = occupy(b, pool, hold);
            List<Future<float[][]>> fs = new ArrayList<>();
            int[][] shapes = {{28, 28}, {42, 28}};
            for (int i = 0; i < 8; i++) {
                int[] s = shapes[i % 2];
                float[] x = pixels(i, s[0], s[1]);
                fs.add(pool.submit(() -> b.embed(x, s[0], s[1], List.of(Output.CLS, Output.PATCH_MEAN))));
            }
            while (b.depth() < 8) Thread.sleep(5);
            hold.countDown();
            blocker.get();
            for (int i = 0; i < 8; i++) {
                int[] s = shapes[i % 2];
                float[][] rows = fs.get(i).get();
                assertEquals(2, rows.length);
                float[] want = alone(m, pixels(i, s[0], s[1]), s[0], s[1]);
                for (int k = 0; k < want.length; k++) assertEquals(want[k], rows[0][k], 1e-5f, "image " + i + " value " + k);
            }
            var sizes = reg.get("dino4j.batch.size").summary();
            assertEquals(2, sizes.count(), "two shapes, two forwards");
            assertEquals(8, sizes.totalAmount(), 0);
            assertEquals(8, reg.get("dino4j.images").counter().count(), 0);
        }
    }

    @Test
    void aFullQueueRefusesAndTimedOutJobsAreSkipped() throws Exception {
        SimpleMeterRegistry reg = new SimpleMeterRegistry();
        try (DinoVisionTransformer m = Dinov2.random(CFG, 1); Batcher b = new Batcher(m, 4, 0, 2, 2000, reg);
             ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            CountDownLatch hold = new CountDownLatch(1);
            occupy(b, pool, hold);
            float[] x = pixels(1, 28, 28);
            List<Future<float[][]>> waiting = new ArrayList<>();
            for (int i = 0; i < 2; i++) waiting.add(pool.submit(() -> b.embed(x, 28, 28, List.of(Output.CLS))));
            while (b.depth() < 2) Thread.sleep(5);
            ApiError full = assertThrows(ApiError.class, () -> b.embed(x, 28, 28, List.of(Output.CLS)));
            assertEquals(503, full.status());
            assertEquals("1", full.retryAfter());
            assertEquals(1, reg.get("dino4j.rejected").counter().count(), 0);
            for (Future<float[][]> f : waiting) {
                var e = assertThrows(java.util.concurrent.ExecutionException.class, f::get);
                assertEquals(504, ((ApiError) e.getCause()).status());
            }
            hold.countDown();
            // the model thread skips the two abandoned jobs: no forward ran for them
            float[][] after = b.embed(x, 28, 28, List.of(Output.CLS));
            assertArrayEquals(alone(m, x, 28, 28), after[0], 1e-5f);
            assertEquals(1, reg.get("dino4j.images").counter().count(), 0);
            assertTrue(reg.get("dino4j.timeouts").counter().count() >= 2);
        }
    }
}
