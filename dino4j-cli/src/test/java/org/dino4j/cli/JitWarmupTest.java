package org.dino4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import org.dino4j.kernels.Parallel;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.ModelConfig;
import org.dino4j.model.Warmup;
import org.dino4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

class JitWarmupTest {
    /** Runs r with System.out and System.err captured; returns what was printed. */
    private static String printed(Runnable r) {
        PrintStream out = System.out, err = System.err;
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(b, true));
            System.setErr(new PrintStream(b, true));
            r.run();
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
        return b.toString();
    }

    /**
     * Every command's warm-up, pictures included, on its own thread as the commands start it: nothing printed, no file
     * written, the pool's size kept, and a model's output the same bits before and after.
     */
    @Test
    void warmupsPrintNothingWriteNothingAndLeaveNoState() throws Exception {
        ModelConfig cfg = ModelConfig.preset("dinov2_vits14_reg");
        DinoVisionTransformer model = Warmup.miniature(cfg);
        Tensor x = Warmup.pattern(1, 3, 3 * 14, 5 * 14);
        float[] before = model.forwardFeatures(x).xNormPatchtokens().data();
        int threads = Parallel.threads();
        Path cwd = Path.of("").toAbsolutePath();
        List<Path> files;
        try (var s = Files.list(cwd)) {
            files = s.sorted().toList();
        }
        List<Runnable> all = List.of(JitWarmup.backbone(cfg, true), JitWarmup.depth(cfg, "dpt"), JitWarmup.depth(cfg, "linear4"),
                JitWarmup.depth(cfg, "linear"), JitWarmup.segment(cfg, false, 150), JitWarmup.segment(cfg, true, 21),
                JitWarmup.classify(cfg, 4, true), JitWarmup.classify(cfg, 1, false));
        String out = printed(() -> {
            for (Runnable r : all) {
                AtomicBoolean ran = new AtomicBoolean();
                JitWarmup w = JitWarmup.start(() -> {
                    r.run();
                    ran.set(true);
                });
                w.await();
                assertTrue(ran.get());
            }
        });
        assertEquals("", out);
        try (var s = Files.list(cwd)) {
            assertEquals(files, s.sorted().toList());
        }
        assertEquals(threads, Parallel.threads());
        assertArrayEquals(before, model.forwardFeatures(x).xNormPatchtokens().data());
    }

    /** A warm-up that fails is not the run's problem: nothing printed, await returns. */
    @Test
    void aFailureIsSwallowedQuietly() {
        String out = printed(() -> JitWarmup.start(() -> {
            throw new IllegalStateException("boom");
        }).await());
        assertEquals("", out);
    }

    @Test
    void offWithTheProperty() {
        String old = System.getProperty(JitWarmup.PROPERTY);
        AtomicBoolean ran = new AtomicBoolean();
        try {
            System.setProperty(JitWarmup.PROPERTY, "false");
            JitWarmup.start(() -> ran.set(true)).await();
            assertFalse(ran.get());
        } finally {
            if (old == null) System.clearProperty(JitWarmup.PROPERTY);
            else System.setProperty(JitWarmup.PROPERTY, old);
        }
    }
}
