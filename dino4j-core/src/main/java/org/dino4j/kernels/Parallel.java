package org.dino4j.kernels;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * The one dedicated compute pool, sized to the cores (or {@code -Ddino4j.threads=N}). Work is split into tasks
 * pulled from a shared counter, so uneven tasks balance; the calling thread works too. Calls from inside a running
 * loop (a task that nests a loop) run inline, as do calls from a second user thread while the pool is busy with
 * another's loop: kernels may nest without deadlock, and concurrent inference calls share the cores.
 *
 * <p>A forward pass makes ~100 short loops, so the fork/join round trip matters: with a ForkJoinPool it took
 * ~65 us (2-core Zen 3 VM) when the caller had worked serially for 300 us since the last loop. Here a loop is
 * published through one volatile field and idle workers poll it for {@link #SPIN_NS} before parking: 0.3 us back
 * to back, ~5 us after such a gap.
 */
public final class Parallel {
    /** How long an idle worker polls for the next loop before parking: longer than the gap between a forward's loops. */
    static final long SPIN_NS = Long.getLong("dino4j.spinMicros", 200) * 1000;

    private static volatile Pool pool = new Pool(defaultThreads());

    /** A thread that owns no segment: a segment it may access is readable by the pool's threads too. */
    private static final Thread ANY_THREAD = Thread.ofVirtual().unstarted(() -> {});

    private Parallel() {}

    /** Whether the pool's threads may read w (a confined arena's segment is readable by its owner thread only). */
    static boolean poolMayRead(java.lang.foreign.MemorySegment w) {
        return w.isAccessibleBy(ANY_THREAD);
    }

    static int defaultThreads() {
        String p = System.getProperty("dino4j.threads");
        if (p != null && !p.isBlank()) return Math.max(1, Integer.parseInt(p.trim()));
        return Runtime.getRuntime().availableProcessors();
    }

    /** Number of compute threads (the workers plus the calling thread). */
    public static int threads() {
        return pool.threads;
    }

    /** Replaces the pool with one of {@code n} threads (for benchmarks and the CLI's --threads). */
    public static synchronized void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("threads must be >= 1, got " + n);
        if (n == pool.threads) return;
        Pool old = pool;
        pool = new Pool(n);
        old.shutdown();
    }

    /**
     * Whether a loop is running now, so that one started now would most likely run inline on the calling thread (a
     * task's nested loop, or a second user thread's): a kernel then splits its work for one thread, not for the pool.
     */
    public static boolean busy() {
        return pool.busy.get();
    }

    /** Runs {@code task.accept(i)} for i in [0, n), in parallel; returns when all are done. */
    public static void forEach(int n, IntConsumer task) {
        if (n <= 0) return;
        Pool p = pool;
        if (n == 1 || p.threads == 1 || !p.busy.compareAndSet(false, true)) { // nested, concurrent or trivial
            for (int i = 0; i < n; i++) task.accept(i);
            return;
        }
        try {
            if (p.shut) { // lost a race with setThreads: the workers are gone
                for (int i = 0; i < n; i++) task.accept(i);
                return;
            }
            p.run(new Job(n, task));
        } finally {
            p.busy.set(false);
        }
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

    /** One loop: tasks are claimed from {@code next}; the caller returns once {@code done} reaches n. */
    private static final class Job {
        final int n;
        final IntConsumer task;
        final Thread caller = Thread.currentThread();
        final AtomicInteger next = new AtomicInteger(), done = new AtomicInteger();
        volatile Throwable err;

        Job(int n, IntConsumer task) {
            this.n = n;
            this.task = task;
        }

        /** Runs tasks until none is left; after a failure the remaining tasks are skipped (but counted). */
        void drain() {
            for (int i; (i = next.getAndIncrement()) < n; ) {
                try {
                    if (err == null) task.accept(i);
                } catch (Throwable t) {
                    if (err == null) err = t;
                }
                if (done.incrementAndGet() == n && Thread.currentThread() != caller) LockSupport.unpark(caller);
            }
        }
    }

    private static final class Pool {
        final int threads;
        /** Held by the one caller whose loop the workers run; also taken for good by {@link #shutdown}. */
        final AtomicBoolean busy = new AtomicBoolean();
        final Worker[] workers;
        volatile Job job;
        volatile boolean shut;

        Pool(int threads) {
            this.threads = threads;
            workers = new Worker[threads - 1];
            for (int i = 0; i < workers.length; i++) {
                workers[i] = new Worker(this);
                Thread t = new Thread(workers[i], "dino4j-compute-" + i);
                t.setDaemon(true);
                workers[i].thread = t;
                t.start();
            }
        }

        void run(Job j) {
            job = j;
            for (Worker w : workers) if (w.parked) LockSupport.unpark(w.thread); // volatile write, then read: no lost wake-up
            j.drain();
            for (long spins = 0; j.done.get() < j.n; spins++) { // a worker is finishing its last task
                if (spins < 1 << 14) Thread.onSpinWait();
                else LockSupport.park(this);
            }
            job = null; // drop the loop's captures (activation arrays) for the GC
            Throwable err = j.err;
            if (err instanceof RuntimeException re) throw re;
            if (err instanceof Error e) throw e;
            if (err != null) throw new RuntimeException(err);
        }

        void shutdown() {
            while (!busy.compareAndSet(false, true)) Thread.yield(); // let a running loop finish; no new ones start
            shut = true;
            for (Worker w : workers) LockSupport.unpark(w.thread);
        }
    }

    private static final class Worker implements Runnable {
        final Pool pool;
        Thread thread;
        volatile boolean parked;

        Worker(Pool pool) {
            this.pool = pool;
        }

        @Override
        public void run() {
            Job seen = null;
            while (!pool.shut) {
                Job j = pool.job;
                if (j != seen) {
                    seen = j;
                    if (j != null) j.drain();
                    continue;
                }
                long start = System.nanoTime();
                while (pool.job == seen && !pool.shut && System.nanoTime() - start < SPIN_NS) Thread.onSpinWait();
                if (pool.job != seen || pool.shut) continue;
                parked = true;
                if (pool.job == seen && !pool.shut) LockSupport.park(this);
                parked = false;
            }
        }
    }
}
