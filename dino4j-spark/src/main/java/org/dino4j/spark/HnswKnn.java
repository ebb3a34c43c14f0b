package org.dino4j.spark;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.ForkJoinPool;

import org.apache.spark.HashPartitioner;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.dino4j.curate.HnswIndex;
import org.dino4j.curate.Neighbours;

import scala.Tuple2;

/**
 * Approximate k-NN between vector tables by one HNSW graph per base partition (the local engine's {@link HnswIndex}:
 * jvector, M 32, beam 200, candidates re-scored exactly). A partition is a run of consecutive base chunks, about
 * rows / parallelism rows and at most {@link #maxRows(int)}; its task builds the graph over its rows, then reads every
 * query chunk itself and searches each query row, emitting the best k of the partition with global base rows. The
 * partial lists are merged per query row as the exact search merges its blocks ({@link TableKnn#merge}), so the result
 * differs from {@link TableKnn#exact} only in what a graph misses. Cost: each query row is searched in every
 * partition (about log of its rows each), the build about rows · log(rows) per partition; no vector passes the driver.
 */
public final class HnswKnn {
    /**
     * Heap a partition's task may hold: its rows (d float32, once: the graph's vectors wrap them) plus the graph (0.85 KB
     * a row at M 32, measured on 30,000 rows), plus one chunk being read. Spark's default executor (1 GiB, one core)
     * fits one such task; a driver in local mode runs as many as it has cores, so give it that many times this.
     */
    public static final long TASK_BYTES = 512L << 20;

    private HnswKnn() {}

    /** The most base rows of one partition: {@link #TASK_BYTES} over the bytes a row costs (4·d + 1024). */
    public static long maxRows(int d) {
        return Math.max(1, TASK_BYTES / (4L * d + 1024));
    }

    /** k-NN of every query row among the base rows; {@code self}: the queries are the base (a row finds itself). */
    public static JavaRDD<TableKnn.Hits> search(JavaSparkContext jsc, Vectors base, Vectors queries, int k, boolean self) {
        return search(jsc, base, queries, k, self, maxRows(base.dim()));
    }

    /** As {@link #search(JavaSparkContext, Vectors, Vectors, int, boolean)} with at most maxRows rows a partition. */
    public static JavaRDD<TableKnn.Hits> search(JavaSparkContext jsc, Vectors base, Vectors queries, int k, boolean self, long maxRows) {
        long n = base.rows(), m = queries.rows();
        if (k < 1 || k > n) throw new IllegalArgumentException("k = " + k + " with " + n + " base rows");
        if (queries.dim() != base.dim()) throw new IllegalArgumentException("queries of dimension " + queries.dim() + ", base of " + base.dim());
        if (self && m != n) throw new IllegalArgumentException("self search with " + m + " query rows and " + n + " base rows");
        int p = Math.max(1, jsc.defaultParallelism()), d = base.dim();
        List<int[]> groups = groups(base.table().chunkRows(), Math.min(maxRows, TableKnn.ceilDiv(n, p)));
        int reducers = Math.max(2 * p, TableKnn.ceilDiv(m, 100_000));
        return jsc.parallelize(groups, Math.max(1, groups.size())).flatMapToPair(g -> {
            ForkJoinPool one = new ForkJoinPool(1); // the task's core (jvector's default pool is the JVM's, shared by the tasks)
            HnswIndex index;
            try {
                index = HnswIndex.build(rows(base, g, d), d, one);
            } finally {
                one.shutdown();
            }
            long start = base.table().offsets()[g[0]];
            return new Partials(queries, index, start, k);
        }).combineByKey(h -> h, (a, b) -> TableKnn.merge(a, b, k), (a, b) -> TableKnn.merge(a, b, k), new HashPartitioner(reducers),
                false, null).values(); // no map-side combining: a task emits each query row once
    }

    /**
     * Runs of consecutive chunks (as chunk indices) of about target rows: a chunk joins the run unless that would take
     * it past target; a chunk larger than target is a run alone (a chunk is what one task reads). Empty chunks are left out.
     */
    static List<int[]> groups(long[] chunkRows, long target) {
        List<int[]> out = new ArrayList<>();
        List<Integer> run = new ArrayList<>();
        long rows = 0;
        for (int c = 0; c < chunkRows.length; c++) {
            if (chunkRows[c] == 0) continue;
            if (!run.isEmpty() && rows + chunkRows[c] > target) {
                out.add(run.stream().mapToInt(Integer::intValue).toArray());
                run.clear();
                rows = 0;
            }
            run.add(c);
            rows += chunkRows[c];
        }
        if (!run.isEmpty()) out.add(run.stream().mapToInt(Integer::intValue).toArray());
        return out;
    }

    /** The rows of a run of chunks, one array each (read chunk by chunk: at most one chunk's block besides them). */
    private static float[][] rows(Vectors base, int[] chunks, int d) {
        long total = 0;
        for (int c : chunks) total += base.table().chunkRows()[c];
        if (total > Integer.MAX_VALUE - 8) throw new IllegalArgumentException(base.table().dir() + ": " + total + " rows in one partition");
        float[][] rows = new float[(int) total][];
        int o = 0;
        for (int c : chunks) {
            VectorTable.Chunk ch = base.read(c, false);
            for (int i = 0; i < ch.n(); i++) rows[o++] = Arrays.copyOfRange(ch.x(), i * d, (i + 1) * d);
        }
        if (o != rows.length) throw new IllegalStateException(base.table().dir() + ": chunks hold " + o + " rows, the table says " + total);
        return rows;
    }

    /** Each query row's best k in one partition, one query chunk at a time (read when the previous one is used up). */
    private static final class Partials implements Iterator<Tuple2<Long, TableKnn.Hits>> {
        private final Vectors queries;
        private final HnswIndex index;
        private final long start;
        private final int k;
        private int chunk = -1, row;
        private VectorTable.Chunk ch;

        Partials(Vectors queries, HnswIndex index, long start, int k) {
            this.queries = queries;
            this.index = index;
            this.start = start;
            this.k = k;
        }

        @Override
        public boolean hasNext() {
            while (ch == null || row >= ch.n()) {
                if (chunk + 1 >= queries.table().chunks()) return false;
                ch = queries.read(++chunk, false);
                row = 0;
            }
            return true;
        }

        @Override
        public Tuple2<Long, TableKnn.Hits> next() {
            if (!hasNext()) throw new NoSuchElementException();
            Neighbours nb = index.search(ch.x(), row * ch.d(), k);
            long q = ch.start() + row++;
            long[] p = new long[nb.k()];
            for (int j = 0; j < p.length; j++) p[j] = start + nb.idx()[j];
            return new Tuple2<>(q, new TableKnn.Hits(q, p, nb.sim()));
        }
    }
}
