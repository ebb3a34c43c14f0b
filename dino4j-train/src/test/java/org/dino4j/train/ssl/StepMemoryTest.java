package org.dino4j.train.ssl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.util.List;

import org.dino4j.model.ModelConfig;
import org.dino4j.train.bench.TrainStepBench;
import org.junit.jupiter.api.Test;

/** The training step's heap estimate: its shape, its ViT-S/14 anchors, and a small step's measured live heap. */
class StepMemoryTest {
    static StepMemory vits(int batch, int checkpointEvery) {
        return TrainStepBench.memory("dinov2_vits14", batch, 65536, checkpointEvery);
    }

    @Test
    void growsWithTheBatchThePrototypesAndTheModelAndShrinksWithCheckpointing() {
        long prev = 0;
        for (int b : new int[] {1, 2, 4, 8, 16, 32, 64}) {
            long n = vits(b, 0).needed();
            assertTrue(n > prev, "batch " + b + ": " + n + " after " + prev);
            prev = n;
        }
        // activations: per block and token 12 x D floats (qkv 3D, attention D, projection D, MLP 4D and D, two residual sums)
        ModelConfig s = TrainStepBench.config("dinov2_vits14");
        long[] one = StepMemory.forward(s, 1, 224, 0, true, 0), two = StepMemory.forward(s, 2, 224, 0, true, 0);
        long perImage = two[0] - one[0], pixels = 3 * 224 * 224, patches = 256;
        assertEquals(pixels + patches * 3 * 14 * 14 + 2 * patches * 384 + 2 * 257 * 384 + 384 + 2 * 257 + 12 * 257 * (12 * 384 + 4), perImage);
        // checkpointing every block keeps each block's output only, and recomputes one block in the backward
        StepMemory ck = vits(16, 1), full = vits(16, 0);
        assertTrue(ck.activations() < full.activations() / 5 && ck.backward() > full.backward(), ck + " against " + full);
        assertTrue(vits(16, 2).needed() < full.needed() && vits(16, 2).needed() > ck.needed());
        StepMemory fewer = TrainStepBench.memory("dinov2_vits14", 16, 4096, 0);
        assertTrue(fewer.heads() < full.heads() / 4 && fewer.activations() == full.activations());
        assertTrue(TrainStepBench.memory("dinov2_vitb14", 16, 65536, 0).needed() > 2 * full.needed() * 0.9);
    }

    @Test
    void vitS14AtBatch16NeedsMoreThanTheJvmsDefaultHeapOn24GbAndLessThan8Gib() {
        // the machine: 5.9 GiB (a quarter of 24 GB) ran out of memory; -Xmx8g ran the step (5442 MiB live at
        // the forward's end, 2026-12-07)
        long need = vits(16, 0).needed();
        assertTrue(need > 6_320_816_128L && need < 8L << 30, StepMemory.gib(need));
    }

    @Test
    void sslTrainerStepCountsItsConfiguration() {
        SslTrainer.Config c = SslConfig.load("vits14", null, List.of("train.batch_size_per_gpu=16")).trainer();
        StepMemory m = StepMemory.of(c, false), distill = StepMemory.of(c, true);
        // distillation: iBOT on every global patch (8192 rows of 65536 logits and targets), a frozen head on the heap
        assertTrue(distill.heads() - m.heads() > 4L * 2 * (8192 - 1300) * 65536, distill.heads() - m.heads() + "");
        assertTrue(distill.weights() > m.weights());
        StepMemory b32 = StepMemory.of(SslConfig.load("vits14", null, List.of("train.batch_size_per_gpu=32")).trainer(), false);
        assertTrue(b32.activations() > 1.99 * m.activations() && b32.activations() < 2.01 * m.activations());
    }

    /** Bytes in use after a full collection. */
    static long live() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    @Test
    void countMatchesTheLiveHeapOfASmallStep() {
        // a 192-wide 4-block ViT/14 at batch 4, 4096 prototypes: about 0.25 GB, most of it activations (the tests' JVM
        // runs the parallel collector: no G1 regions, so the count itself is measured, without JVM_OVERHEAD)
        ModelConfig cfg = new ModelConfig(224, 14, 3, 192, 4, 3, 4.0, true, true, true, 1e-5, "mlp", 0, false, 0.1, 1e-6);
        long before = live();
        var r = TrainStepBench.run(cfg, "test", 4, 4096, 0, 1, 0, line -> {});
        long measured = (r.liveHeapMb() << 20) - before, counted = TrainStepBench.memory(cfg, 4, 4096, 0).forwardEnd();
        assertTrue(counted > 200L << 20, "mostly the step's own arrays: " + counted);
        assertTrue(Math.abs(measured - counted) < 0.1 * counted, "measured " + (measured >> 20) + " MiB, counted " + (counted >> 20) + " MiB");
    }
}
