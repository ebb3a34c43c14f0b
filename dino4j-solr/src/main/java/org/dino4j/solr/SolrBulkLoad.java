package org.dino4j.solr;

import java.nio.file.Path;
import java.util.AbstractList;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

import org.dino4j.embed.EmbedDir;
import org.dino4j.index.Entry;
import org.dino4j.index.IndexBuild;
import org.dino4j.index.IndexSpec;

/**
 * Bulk loading of a {@link SolrIndex} ({@code dino4j index build --solr URL --collection C --from EMBED_DIR}):
 * batches of documents sent by several threads at once (Solr forwards each to its shard leader, so the shards index
 * in parallel), no commit until the end, then one hard commit. A failed batch stops the load and is rethrown; what
 * was sent before it is committed only if the caller commits.
 */
public final class SolrBulkLoad {
    /** Documents per update request: a 384-d batch is ~1 MB of javabin. */
    public static final int DEFAULT_BATCH = 500;
    public static final int DEFAULT_THREADS = 4;

    private SolrBulkLoad() {}

    /**
     * Sends every entry to the index and commits once. {@code progress} gets the running count of entries sent
     * (from the sending threads, at most once per batch). Returns how many were sent.
     */
    public static long load(SolrIndex index, Iterator<Entry> entries, int threads, int batch, LongConsumer progress) {
        if (threads < 1 || batch < 1) throw new IllegalArgumentException("threads and batch must be >= 1, got " + threads + " and " + batch);
        AtomicLong sent = new AtomicLong();
        // at most 2 batches waiting per thread: memory stays bounded however long the input is
        Semaphore inFlight = new Semaphore(2 * threads);
        List<Future<?>> futures = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(threads, Thread.ofPlatform().name("solr-load-", 0).daemon().factory())) {
            while (entries.hasNext()) {
                List<Entry> chunk = new ArrayList<>(batch);
                while (chunk.size() < batch && entries.hasNext()) chunk.add(entries.next());
                inFlight.acquireUninterruptibly();
                futures.add(pool.submit(() -> {
                    try {
                        index.index(chunk, false);
                        long n = sent.addAndGet(chunk.size());
                        if (progress != null) progress.accept(n);
                    } finally {
                        inFlight.release();
                    }
                }));
                futures.removeIf(f -> f.isDone() && rethrow(f));
            }
            for (Future<?> f : futures) rethrow(f);
        }
        index.commit();
        return sent.get();
    }

    /** {@link #load(SolrIndex, Iterator, int, int, LongConsumer)} with the default threads and batch size. */
    public static long load(SolrIndex index, Iterator<Entry> entries, LongConsumer progress) {
        return load(index, entries, DEFAULT_THREADS, DEFAULT_BATCH, progress);
    }

    /**
     * The entries of an {@code embed} output folder as the spec wants them: id = the input's id (its path), vector
     * from the CLS token (and the patch-token mean for {@link IndexSpec#CLS_PATCH_MEAN}), metadata {@code class} and
     * {@code label} where the manifest has them. Built lazily, one row at a time, from the vectors read.
     */
    public static List<Entry> embedEntries(Path embedDir, IndexSpec spec) {
        EmbedDir.Rows cls = EmbedDir.read(embedDir, "cls");
        EmbedDir.Rows mean = IndexSpec.CLS_PATCH_MEAN.equals(spec.vectors()) ? EmbedDir.read(embedDir, "patch_mean") : null;
        int expected = mean == null ? cls.dim() : cls.dim() + mean.dim();
        if (cls.size() > 0 && expected != spec.dim())
            throw new IllegalArgumentException(embedDir + ": " + spec.vectors() + " vectors have " + expected + " values, the index holds " + spec.dim());
        return new AbstractList<>() {
            @Override
            public Entry get(int i) {
                return IndexBuild.entry(embedDir, cls, mean, i, spec);
            }

            @Override
            public int size() {
                return cls.size();
            }
        };
    }

    /** Throws the task's failure (unwrapped when it is unchecked); true when it completed. */
    private static boolean rethrow(Future<?> f) {
        try {
            f.get();
            return true;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            if (e.getCause() instanceof Error err) throw err;
            throw new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while loading", e);
        }
    }
}
