package org.dino4j.serve;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import org.dino4j.embed.Forward;
import org.dino4j.embed.Output;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.tensor.Tensor;

/**
 * Dynamic batching on one model: request threads put preprocessed images into a bounded queue; the single model
 * thread takes the first, gathers up to {@code maxBatch} of the same input shape (waiting at most {@code maxWaitMs}
 * for more), runs one forward and completes each request. Other work on the model (match, PCA, heads) runs on the same
 * thread as single jobs, so the one model instance is never used by two threads at once. A full queue is refused at
 * once (503 with Retry-After) rather than grown; a job whose requester gave up (timeout) is skipped.
 */
public final class Batcher implements AutoCloseable {
    private sealed interface Job permits Embed, Task {
        long deadline();

        CompletableFuture<?> future();
    }

    private record Embed(float[] chw, int h, int w, List<Output> outputs, long deadline, CompletableFuture<float[][]> future) implements Job {}

    private record Task(Callable<?> work, long deadline, CompletableFuture<Object> future) implements Job {}

    private final DinoVisionTransformer model;
    private final int maxBatch;
    private final long maxWaitNanos, timeoutNanos;
    private final BlockingQueue<Job> queue;
    /** Jobs taken from the queue while gathering a batch of another shape: first in line for the next one. */
    private final ArrayDeque<Job> carry = new ArrayDeque<>();
    /** carry's size, for other threads' reads (carry itself belongs to the model thread). */
    private volatile int carried;
    private volatile boolean busy;
    private final Thread thread;
    private volatile boolean accepting = true, running = true;
    private final DistributionSummary batchSize;
    private final Counter images, rejected, timedOut;

    public Batcher(DinoVisionTransformer model, int maxBatch, long maxWaitMs, int capacity, long timeoutMs, MeterRegistry registry) {
        if (maxBatch < 1 || maxWaitMs < 0 || capacity < 1 || timeoutMs < 1)
            throw new IllegalArgumentException("max batch, queue and timeout must be >= 1, max wait >= 0");
        this.model = model;
        this.maxBatch = maxBatch;
        this.maxWaitNanos = TimeUnit.MILLISECONDS.toNanos(maxWaitMs);
        this.timeoutNanos = TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        this.queue = new ArrayBlockingQueue<>(capacity);
        this.batchSize = DistributionSummary.builder("dino4j.batch.size").description("images per forward")
                .serviceLevelObjectives(1, 2, 4, 8, 16, 32, 64).register(registry);
        this.images = Counter.builder("dino4j.images").description("images through the model").register(registry);
        this.rejected = Counter.builder("dino4j.rejected").description("requests refused because the queue was full").register(registry);
        this.timedOut = Counter.builder("dino4j.timeouts").description("requests that waited past the timeout").register(registry);
        Gauge.builder("dino4j.queue.depth", this, Batcher::depth).description("jobs waiting for the model").register(registry);
        this.thread = new Thread(this::loop, "dino4j-model");
        thread.setDaemon(true);
        thread.start();
    }

    /** Whether the model thread is running a job now. */
    public boolean busy() {
        return busy;
    }

    /** Jobs waiting for the model. */
    public int depth() {
        return queue.size() + carried;
    }

    /** The rows of {@code outputs} for one preprocessed image (3, h, w): waits for its batch; ApiError 503/504 on overload. */
    public float[][] embed(float[] chw, int h, int w, List<Output> outputs) {
        Embed job = new Embed(chw, h, w, List.copyOf(outputs), System.nanoTime() + timeoutNanos, new CompletableFuture<>());
        submit(job);
        return await(job, job.future());
    }

    /** Runs work on the model thread alone (demo endpoints); the same queue, limits and timeout as embedding. */
    @SuppressWarnings("unchecked")
    public <T> T run(Callable<T> work) {
        Task job = new Task(work, System.nanoTime() + timeoutNanos, new CompletableFuture<>());
        submit(job);
        return (T) await(job, job.future());
    }

    /** Whether the queue is full now (requests can be refused before their image is decoded). */
    public boolean full() {
        return queue.remainingCapacity() == 0;
    }

    /** The 503 of a full queue, counted. */
    public ApiError reject() {
        rejected.increment();
        return new ApiError(503, "busy: " + queue.size() + " requests are waiting for the model; retry later", "1");
    }

    private void submit(Job job) {
        if (!accepting) throw new ApiError(503, "the server is shutting down", "5");
        if (!queue.offer(job)) throw reject();
    }

    private <T> T await(Job job, CompletableFuture<T> f) {
        try {
            return f.get(timeoutNanos, TimeUnit.NANOSECONDS);
        } catch (TimeoutException | CancellationException e) {
            f.cancel(false); // the model thread skips it if it has already taken it
            queue.remove(job); // and it leaves its place in the queue to others now
            timedOut.increment();
            throw new ApiError(504, "timed out after " + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms waiting for the model");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            f.cancel(false);
            queue.remove(job);
            throw new ApiError(503, "interrupted", "1");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw new IllegalStateException(e.getCause());
        }
    }

    /** Stops accepting, finishes every accepted job, then stops the model thread. */
    @Override
    public void close() {
        accepting = false;
        running = false;
        try {
            thread.join(TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + 1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void loop() {
        while (running || !queue.isEmpty() || !carry.isEmpty()) {
            try {
                Job first = carry.isEmpty() ? queue.poll(50, TimeUnit.MILLISECONDS) : carry.poll();
                carried = carry.size();
                if (first == null || stale(first)) continue;
                if (first instanceof Task t) {
                    runTask(t);
                    continue;
                }
                List<Embed> batch = gather((Embed) first);
                carried = carry.size();
                runBatch(batch);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (Throwable t) { // never let the model thread die: a request's failure is its own
                System.err.println("dino4j serve: model thread: " + t);
            }
        }
    }

    /** The first job and up to maxBatch - 1 more of its shape, from the carried jobs and then the queue until maxWait. */
    private List<Embed> gather(Embed first) throws InterruptedException {
        List<Embed> batch = new ArrayList<>(maxBatch);
        batch.add(first);
        for (Iterator<Job> it = carry.iterator(); it.hasNext() && batch.size() < maxBatch; ) {
            Job j = it.next();
            if (j instanceof Embed e && sameShape(first, e)) {
                it.remove();
                if (!stale(e)) batch.add(e);
            }
        }
        long until = System.nanoTime() + maxWaitNanos;
        while (batch.size() < maxBatch && carry.size() < maxBatch) {
            Job j = queue.poll(Math.max(0, until - System.nanoTime()), TimeUnit.NANOSECONDS);
            if (j == null) break;
            if (stale(j)) continue;
            if (j instanceof Embed e && sameShape(first, e)) batch.add(e);
            else carry.add(j);
        }
        return batch;
    }

    private static boolean sameShape(Embed a, Embed b) {
        return a.h() == b.h() && a.w() == b.w();
    }

    /** A job nobody waits for any more: cancelled by its requester, or past its deadline. */
    private static boolean stale(Job j) {
        if (j.future().isDone()) return true;
        if (System.nanoTime() - j.deadline() > 0) {
            j.future().cancel(false);
            return true;
        }
        return false;
    }

    private void runTask(Task t) {
        busy = true;
        try {
            t.future().complete(t.work().call());
        } catch (Throwable e) {
            t.future().completeExceptionally(e instanceof RuntimeException ? e : new IllegalStateException(e.toString(), e));
        } finally {
            busy = false;
        }
    }

    private void runBatch(List<Embed> batch) {
        int b = batch.size(), h = batch.get(0).h(), w = batch.get(0).w(), per = 3 * h * w;
        busy = true;
        try {
            float[] x = new float[b * per];
            for (int i = 0; i < b; i++) System.arraycopy(batch.get(i).chw(), 0, x, i * per, per);
            Forward f = Forward.of(model, new Tensor(x, b, 3, h, w));
            for (int i = 0; i < b; i++) {
                Embed e = batch.get(i);
                float[][] rows = new float[e.outputs().size()][];
                for (int o = 0; o < rows.length; o++) rows[o] = row(e.outputs().get(o), f, i);
                e.future().complete(rows);
            }
            batchSize.record(b);
            images.increment(b);
        } catch (Throwable e) {
            RuntimeException r = e instanceof RuntimeException re ? re : new IllegalStateException(e.toString(), e);
            for (Embed j : batch) j.future().completeExceptionally(r);
        } finally {
            busy = false;
        }
    }

    /** One output's row; registers of a model without any are empty. */
    private float[] row(Output o, Forward f, int i) {
        if (o == Output.REGISTERS && model.config().numRegisterTokens() == 0) return new float[0];
        return o.row(f, i);
    }
}
