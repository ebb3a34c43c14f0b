package org.dino4j.kernels;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * The one dedicated compute pool, sized to the cores (or {@code -Ddino4j.threads=N}). Work is split into tasks
 * pulled from a shared counter, so uneven tasks balance. Calls from inside the pool run inline: kernels may nest
 * without deadlock, and concurrent inference calls from user threads share the pool.
 */
public final class Parallel {
    private static volatile ForkJoinPool pool = newPool(defaultThreads());

    private Parallel() {}

    static int defaultThreads() {
        String p = System.getProperty("dino4j.threads");
        if (p != null && !p.isBlank()) return Math.max(1, Integer.parseInt(p.trim()));
        return Runtime.getRuntime().availableProcessors();
    }

    private static ForkJoinPool newPool(int n) {
        return new ForkJoinPool(n, fjp -> {
            ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(fjp);
            t.setName("dino4j-compute-" + t.getPoolIndex());
            t.setDaemon(true);
            return t;
        }, null, false);
    }

    /** Number of compute threads. */
    public static int threads() {
        return pool.getParallelism();
    }

    /** Replaces the pool with one of {@code n} threads (for benchmarks and the CLI's --threads). */
    public static synchronized void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("threads must be >= 1, got " + n);
        if (n == pool.getParallelism()) return;
        ForkJoinPool old = pool;
        pool = newPool(n);
        old.shutdown();
    }

    /** Runs {@code task.accept(i)} for i in [0, n), in parallel; returns when all are done. */
    public static void forEach(int n, IntConsumer task) {
        if (n <= 0) return;
        ForkJoinPool p = pool;
        int workers = Math.min(n, p.getParallelism());
        if (workers <= 1 || (Thread.currentThread() instanceof ForkJoinWorkerThread w && w.getPool() == p)) {
            for (int i = 0; i < n; i++) task.accept(i);
            return;
        }
        AtomicInteger next = new AtomicInteger();
        Runnable drain = () -> {
            for (int i; (i = next.getAndIncrement()) < n; ) task.accept(i);
        };
        ForkJoinTask<?>[] fs = new ForkJoinTask<?>[workers - 1];
        for (int w = 0; w < fs.length; w++) fs[w] = p.submit(drain);
        Throwable err = null;
        try {
            drain.run(); // the caller works too
        } catch (Throwable t) {
            err = t;
        }
        for (ForkJoinTask<?> f : fs) {
            try {
                f.join();
            } catch (Throwable t) {
                if (err == null) err = t;
            }
        }
        if (err instanceof RuntimeException re) throw re;
        if (err instanceof Error e) throw e;
        if (err != null) throw new RuntimeException(err);
    }

    /** Splits [0, n) into about {@code threads()*k} contiguous ranges and runs {@code body(lo, hi)} on each. */
    public static void forRange(int n, int minChunk, RangeBody body) {
        if (n <= 0) return;
        int chunks = Math.max(1, Math.min(threads() * 4, (n + Math.max(1, minChunk) - 1) / Math.max(1, minChunk)));
        int step = (n + chunks - 1) / chunks;
        int count = (n + step - 1) / step;
        forEach(count, c -> body.run(c * step, Math.min(n, (c + 1) * step)));
    }

    @FunctionalInterface
    public interface RangeBody {
        void run(int lo, int hi);
    }
}
