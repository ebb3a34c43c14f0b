package org.dino4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ParallelTest {
    @Test
    void runsEveryIndexOnce() {
        for (int n : new int[] {0, 1, 2, 3, 7, 1000}) {
            AtomicIntegerArray hits = new AtomicIntegerArray(Math.max(1, n));
            Parallel.forEach(n, hits::incrementAndGet);
            for (int i = 0; i < n; i++) assertEquals(1, hits.get(i), "n=" + n + " i=" + i);
        }
    }

    @Test
    void nestedLoopsRunInline() {
        AtomicLong sum = new AtomicLong();
        Parallel.forEach(8, i -> Parallel.forEach(8, j -> Parallel.forEach(4, k -> sum.addAndGet(i * 32 + j * 4 + k))));
        assertEquals(256L * 255 / 2, sum.get());
    }

    @Test
    void exceptionsPropagateAndThePoolSurvives() {
        RuntimeException boom = new IllegalStateException("boom");
        for (int rep = 0; rep < 20; rep++) {
            int bad = rep % 10;
            RuntimeException got = assertThrows(RuntimeException.class, () -> Parallel.forEach(10, i -> {
                if (i == bad) throw boom;
            }));
            assertSame(boom, got);
        }
        assertThrows(AssertionError.class, () -> Parallel.forEach(4, i -> {
            throw new AssertionError("err");
        }));
        AtomicLong sum = new AtomicLong();
        Parallel.forEach(100, sum::addAndGet);
        assertEquals(4950, sum.get());
    }

    @Test
    void concurrentCallersShareThePool() throws Exception {
        ExecutorService ex = Executors.newFixedThreadPool(4);
        try {
            List<Future<Long>> fs = new ArrayList<>();
            for (int c = 0; c < 4; c++)
                fs.add(ex.submit(() -> {
                    long total = 0;
                    for (int rep = 0; rep < 500; rep++) {
                        AtomicLong sum = new AtomicLong();
                        Parallel.forRange(1000, 16, (lo, hi) -> {
                            for (int i = lo; i < hi; i++) sum.addAndGet(i);
                        });
                        total += sum.get();
                    }
                    return total;
                }));
            for (Future<Long> f : fs) assertEquals(500L * 999 * 1000 / 2, f.get());
        } finally {
            ex.shutdown();
        }
    }

    @Test
    void setThreadsReplacesThePool() {
        int before = Parallel.threads();
        try {
            for (int t : new int[] {3, 1, 2}) {
                Parallel.setThreads(t);
                assertEquals(t, Parallel.threads());
                AtomicIntegerArray hits = new AtomicIntegerArray(50);
                Parallel.forEach(50, hits::incrementAndGet);
                for (int i = 0; i < 50; i++) assertEquals(1, hits.get(i));
            }
        } finally {
            Parallel.setThreads(before);
        }
    }
}
