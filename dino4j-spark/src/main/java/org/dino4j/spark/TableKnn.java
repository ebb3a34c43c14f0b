package org.dino4j.spark;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.SplittableRandom;

import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.dino4j.curate.Neighbours;
import org.dino4j.eval.Knn;

import scala.Tuple2;

/**
 * k-NN between vector tables, on the executors; the driver sees no vector. Results are an RDD of {@link Hits}, one
 * per query row, most similar first, equal similarities: lower base row first (the local engine's order).
 * <ul>
 * <li>{@link #exact}: blocks of queries × blocks of the base (multiples of the local GEMM's 256 query rows and
 *     4096 base rows, so every similarity is bit-identical to the local engine's), top k per pair, merged per query
 *     block. Cost n·m·d: the way for small sets and the truth the approximate search is measured against.</li>
 * <li>{@link #ivf}: faiss's inverted file, with exact scores: k-means cells trained on a sample; every base row in its
 *     nearest cell, every query searched by GEMM in its {@code probe} nearest cells, the lists merged per query. Cost
 *     about n·m·d·probe/cells plus the assignment n·cells·d.</li>
 * </ul>
 */
public final class TableKnn {
    /** Per query row (its row in the query set), base rows and similarities, most similar first. */
    public record Hits(long q, long[] p, float[] s) implements Serializable {
        /** For a search of a set against itself with k + 1: the list without q (or without its last entry). */
        public Hits withoutSelf(int k1) {
            int len = p.length, skip = -1;
            for (int j = 0; j < len; j++) if (p[j] == q) { skip = j; break; }
            if (skip < 0 && len <= k1) return this;
            if (skip < 0) skip = len - 1;
            long[] pp = new long[len - 1];
            float[] ss = new float[len - 1];
            for (int j = 0, o = 0; j < len; j++) {
                if (j == skip) continue;
                pp[o] = p[j];
                ss[o++] = s[j];
            }
            return new Hits(q, pp, ss);
        }
    }

    /** The best k (or fewer) base rows of each row of a query block (rows × kk, row-major). */
    record TopK(int rows, int kk, long[] idx, float[] sim) implements Serializable {}

    /**
     * A row sent to a cell: as base, as query, or both (a set searched against itself). Shuffled as bytes (row, flags,
     * d floats little-endian): Java serialization of a byte array is one copy, of a record a reflective walk.
     */
    record Tagged(long row, boolean base, boolean query, float[] v) {
        byte[] bytes() {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(9 + 4 * v.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            b.putLong(row).put((byte) ((base ? 1 : 0) | (query ? 2 : 0)));
            b.asFloatBuffer().put(v);
            return b.array();
        }

        static Tagged of(byte[] bytes) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            long row = b.getLong();
            byte f = b.get();
            float[] v = new float[(bytes.length - 9) / 4];
            b.asFloatBuffer().get(v);
            return new Tagged(row, (f & 1) != 0, (f & 2) != 0, v);
        }
    }

    private TableKnn() {}

    static int ceilDiv(long a, long b) {
        return (int) ((a + b - 1) / b);
    }

    static int roundUp(long v, int multiple) {
        return Math.max(multiple, ceilDiv(v, multiple) * multiple);
    }

    /** Exact k-NN of every query row among the base rows (k ≤ base rows). */
    public static JavaRDD<Hits> exact(JavaSparkContext jsc, Vectors base, Vectors queries, int k) {
        long n = base.rows(), m = queries.rows();
        if (k < 1 || k > n) throw new IllegalArgumentException("k = " + k + " with " + n + " base rows");
        if (queries.dim() != base.dim()) throw new IllegalArgumentException("queries of dimension " + queries.dim() + ", base of " + base.dim());
        int p = Math.max(1, jsc.defaultParallelism()), d = base.dim();
        // blocks grow with the sets up to a cap (a task holds one of each), then their number grows
        int qb = roundUp(Math.min(ceilDiv(m, 2L * p), 8192), 256), bb = roundUp(Math.min(ceilDiv(n, p), 65536), 4096);
        // both sides kept where the executors are: a cartesian product reads each block once per block of the other side
        JavaRDD<Vectors.Block> qr = queries.blocks(jsc, qb).persist(org.apache.spark.storage.StorageLevel.MEMORY_AND_DISK()),
                br = base.blocks(jsc, bb).persist(org.apache.spark.storage.StorageLevel.MEMORY_AND_DISK());
        JavaPairRDD<Long, TopK> parts = qr.cartesian(br).mapToPair(pair -> {
            Vectors.Block q = pair._1(), b = pair._2();
            return new Tuple2<>(q.start(), topK(b, q, d, Math.min(k, b.n())));
        });
        JavaRDD<Hits> out = parts.reduceByKey((a, b) -> merge(a, b, k), Math.max(1, ceilDiv(m, qb)))
                .flatMap(t -> hits(t._1(), t._2()).iterator()).persist(org.apache.spark.storage.StorageLevel.MEMORY_AND_DISK_SER());
        out.count(); // computed while the blocks are cached, which can then go
        qr.unpersist();
        br.unpersist();
        return out;
    }

    /** The top kk of a query block in a base block, as global base rows. */
    static TopK topK(Vectors.Block b, Vectors.Block q, int d, int kk) {
        Neighbours nb = Neighbours.exact(b.x(), b.n(), q.x(), q.n(), d, kk);
        long[] idx = new long[nb.idx().length];
        for (int i = 0; i < idx.length; i++) idx[i] = nb.idx()[i] + b.start();
        return new TopK(q.n(), kk, idx, nb.sim());
    }

    static List<Hits> hits(long start, TopK t) {
        List<Hits> out = new ArrayList<>(t.rows());
        for (int r = 0; r < t.rows(); r++)
            out.add(new Hits(start + r, Arrays.copyOfRange(t.idx(), r * t.kk(), (r + 1) * t.kk()),
                    Arrays.copyOfRange(t.sim(), r * t.kk(), (r + 1) * t.kk())));
        return out;
    }

    /** Per row, the k best of both lists: higher similarity first, then lower base row (the lists share no row). */
    static TopK merge(TopK a, TopK b, int k) {
        int kk = Math.min(k, a.kk() + b.kk());
        long[] idx = new long[a.rows() * kk];
        float[] sim = new float[a.rows() * kk];
        for (int r = 0; r < a.rows(); r++)
            mergeRow(a.idx(), a.sim(), r * a.kk(), a.kk(), b.idx(), b.sim(), r * b.kk(), b.kk(), idx, sim, r * kk, kk);
        return new TopK(a.rows(), kk, idx, sim);
    }

    static Hits merge(Hits a, Hits b, int k) {
        int kk = Math.min(k, a.p().length + b.p().length);
        long[] idx = new long[kk];
        float[] sim = new float[kk];
        mergeRow(a.p(), a.s(), 0, a.p().length, b.p(), b.s(), 0, b.p().length, idx, sim, 0, kk);
        return new Hits(a.q(), idx, sim);
    }

    private static void mergeRow(long[] ai, float[] as, int ao, int an, long[] bi, float[] bs, int bo, int bn,
                                 long[] idx, float[] sim, int o, int kk) {
        int i = 0, j = 0;
        for (int w = 0; w < kk; w++) {
            boolean takeA;
            if (i >= an) takeA = false;
            else if (j >= bn) takeA = true;
            else {
                float sa = as[ao + i], sb = bs[bo + j];
                takeA = sa > sb || (!(sb > sa) && ai[ao + i] < bi[bo + j]);
            }
            if (takeA) {
                idx[o + w] = ai[ao + i];
                sim[o + w] = as[ao + i++];
            } else {
                idx[o + w] = bi[bo + j];
                sim[o + w] = bs[bo + j++];
            }
        }
    }

    /**
     * Approximate k-NN by inverted lists with exact scores (see the class comment). {@code self}: the queries are the
     * base (each row sent once to its own cell as both). Rows in small cells may get fewer than k neighbours.
     */
    public static JavaRDD<Hits> ivf(JavaSparkContext jsc, Vectors base, Vectors queries, int k, int cells, int probe, long seed,
                                    boolean self) {
        long n = base.rows();
        int d = base.dim();
        int c = (int) Math.min(cells, n), pr = Math.min(probe, c);
        float[] centroids = trainCells(jsc, base, c, seed);
        Broadcast<float[]> bc = jsc.broadcast(centroids);
        int w = self ? pr : 1;
        JavaPairRDD<Integer, byte[]> sent = base.chunks(jsc, false)
                .flatMapToPair(ch -> sendToCells(ch, nearestCells(ch, bc.value(), c, w), w, true, self));
        if (!self) sent = sent.union(queries.chunks(jsc, false)
                .flatMapToPair(ch -> sendToCells(ch, nearestCells(ch, bc.value(), c, pr), pr, false, true)));
        int parts = Math.max(2 * jsc.defaultParallelism(), c / 16);
        return sent.groupByKey(parts).flatMapToPair(g -> {
            List<Tagged> b = new ArrayList<>(), q = new ArrayList<>();
            for (byte[] bytes : g._2()) {
                Tagged t = Tagged.of(bytes);
                if (t.base()) b.add(t);
                if (t.query()) q.add(t);
            }
            List<Tuple2<Long, Hits>> out = new ArrayList<>(q.size());
            if (b.isEmpty() || q.isEmpty()) return out.iterator();
            b.sort((x, y) -> Long.compare(x.row(), y.row())); // ties: lower row first, as the exact search
            float[] bx = stack(b, d), qx = stack(q, d);
            int kk = Math.min(k, b.size());
            Neighbours nb = Neighbours.exact(bx, b.size(), qx, q.size(), d, kk);
            for (int i = 0; i < q.size(); i++) {
                long[] p = new long[kk];
                for (int j = 0; j < kk; j++) p[j] = b.get(nb.index(i, j)).row();
                out.add(new Tuple2<>(q.get(i).row(), new Hits(q.get(i).row(), p, Arrays.copyOfRange(nb.sim(), i * kk, (i + 1) * kk))));
            }
            return out.iterator();
        }).reduceByKey((a, b) -> merge(a, b, k), parts).values(); // bc goes with the RDD (ContextCleaner): it is lazy
    }

    /**
     * A chunk's rows to their cells, lazily (a chunk's rows times probes would be a second copy of it in memory): row i
     * to near[i·w + j] for j < w, as base in its nearest cell (when base), as query in all w (when query).
     */
    private static Iterator<Tuple2<Integer, byte[]>> sendToCells(VectorTable.Chunk ch, int[] near, int w, boolean base, boolean query) {
        return new Iterator<>() {
            int i, j;

            public boolean hasNext() {
                return i < ch.n();
            }

            public Tuple2<Integer, byte[]> next() {
                Tuple2<Integer, byte[]> t = new Tuple2<>(near[i * w + j],
                        new Tagged(ch.start() + i, base && j == 0, query, ch.row(i)).bytes());
                if (++j == w) {
                    j = 0;
                    i++;
                }
                return t;
            }
        };
    }

    private static float[] stack(List<Tagged> rows, int d) {
        float[] x = new float[rows.size() * d];
        for (int i = 0; i < rows.size(); i++) System.arraycopy(rows.get(i).v(), 0, x, i * d, d);
        return x;
    }

    /** Each row's w nearest cells (by inner product with the normalised centroids), nearest first. */
    static int[] nearestCells(VectorTable.Chunk ch, float[] centroids, int c, int w) {
        if (ch.n() == 0) return new int[0];
        return Neighbours.exact(centroids, c, ch.x(), ch.n(), ch.d(), w).idx();
    }

    /** Rows per cell the cells are trained on (at most 32768 rows: the sample sits in one task). */
    static int sampleRows(long n, int cells) {
        return (int) Math.min(n, Math.max(cells, Math.min(64L * cells, 32768)));
    }

    /**
     * The cells: spherical k-means (10 iterations, started from random rows, as faiss trains its coarse quantizer)
     * on a seeded sample of the base, run in one task; only the c centroids come back to the driver.
     */
    static float[] trainCells(JavaSparkContext jsc, Vectors base, int c, long seed) {
        long n = base.rows();
        int s = sampleRows(n, c), d = base.dim();
        long[] pick = sample(n, s, seed);
        Broadcast<long[]> bp = jsc.broadcast(pick);
        // coalesce with a shuffle: the chunks are read by parallel tasks and only the sample moves (without it, one task reads them all)
        List<float[]> res = rowsWhere(jsc, base, bp).coalesce(1, true).mapPartitions(it -> {
            List<Tuple2<Long, float[]>> rows = new ArrayList<>();
            it.forEachRemaining(rows::add);
            rows.sort((a, b) -> Long.compare(a._1(), b._1()));
            float[] x = new float[rows.size() * d];
            for (int i = 0; i < rows.size(); i++) System.arraycopy(rows.get(i)._2(), 0, x, i * d, d);
            return List.of(sphericalKMeans(x, rows.size(), d, c, 10, seed)).iterator();
        }).collect();
        bp.destroy();
        return res.get(0);
    }

    /** The rows whose indices are in the (sorted) broadcast array, with their row. */
    static JavaPairRDD<Long, float[]> rowsWhere(JavaSparkContext jsc, Vectors v, Broadcast<long[]> sorted) {
        return v.chunks(jsc, false).flatMapToPair(ch -> {
            long[] want = sorted.value();
            List<Tuple2<Long, float[]>> out = new ArrayList<>();
            int from = Arrays.binarySearch(want, ch.start());
            for (int i = from < 0 ? -from - 1 : from; i < want.length && want[i] < ch.start() + ch.n(); i++)
                out.add(new Tuple2<>(want[i], ch.row((int) (want[i] - ch.start()))));
            return out.iterator();
        });
    }

    /** s distinct rows of n, sorted, seeded. */
    static long[] sample(long n, int s, long seed) {
        if (s >= n) {
            long[] all = new long[(int) n];
            for (int i = 0; i < n; i++) all[i] = i;
            return all;
        }
        return new SplittableRandom(seed).longs(0, n).distinct().limit(s).sorted().toArray();
    }

    /** k-means on the unit sphere from c random rows: assignments by inner product, centroids renormalised. */
    static float[] sphericalKMeans(float[] x, int n, int d, int c, int iters, long seed) {
        long[] start = sample(n, c, seed ^ 0x9E3779B97F4A7C15L);
        float[] cent = new float[c * d];
        for (int j = 0; j < c; j++) System.arraycopy(x, (int) start[j] * d, cent, j * d, d);
        for (int it = 0; it < iters; it++) {
            int[] a = Neighbours.exact(cent, c, x, n, d, 1).idx();
            float[] next = new float[c * d];
            int[] count = new int[c];
            for (int i = 0; i < n; i++) {
                count[a[i]]++;
                for (int t = 0; t < d; t++) next[a[i] * d + t] += x[i * d + t];
            }
            for (int j = 0; j < c; j++) if (count[j] == 0) System.arraycopy(cent, j * d, next, j * d, d);
            cent = Knn.normalizeRows(next, c, d);
        }
        return cent;
    }

    /** Recall of approximate lists against exact ones on the same sample of queries. */
    public record Recall(int queries, double recallAtK, long edges, long edgesFound) implements Serializable {}

    /**
     * Recall of {@code approx} measured on {@code sampleSize} seeded query rows: the exact lists of those rows (one
     * query block against every base chunk), recall@k (the share of the exact k found), and of the exact neighbours
     * above {@code threshold} (the duplicate edges), the share found. Lists are compared after withoutSelf when self.
     */
    public static Recall recall(JavaSparkContext jsc, Vectors base, Vectors queries, JavaRDD<Hits> approx, int k, boolean self,
                                double threshold, int sampleSize, long seed) {
        long m = queries.rows();
        int s = (int) Math.min(m, sampleSize), d = base.dim();
        if (s == 0) return new Recall(0, Double.NaN, 0, 0);
        long[] pick = sample(m, s, seed ^ 0x5EED);
        Broadcast<long[]> bp = jsc.broadcast(pick);
        // the sample as one block of queries (rows in pick order), searched exactly against every base chunk
        // (through a shuffle: read once by parallel tasks; without it one task would read every query chunk, again for each base chunk)
        JavaRDD<Vectors.Block> qs = rowsWhere(jsc, queries, bp).coalesce(1, true).mapPartitions(it -> {
            float[] x = new float[s * d];
            long[] want = bp.value();
            it.forEachRemaining(t -> System.arraycopy(t._2(), 0, x, Arrays.binarySearch(want, t._1()) * d, d));
            return List.of(new Vectors.Block(0, s, x)).iterator();
        }).persist(org.apache.spark.storage.StorageLevel.MEMORY_AND_DISK()); // cartesian reads it once per base chunk
        qs.count();
        int kk = self ? k + 1 : k;
        // (reduce returns one TopK of s rows: small, O(s·k) numbers, no vectors)
        TopK all = qs.cartesian(base.chunks(jsc, false).filter(ch -> ch.n() > 0)).map(pair -> {
            VectorTable.Chunk ch = pair._2();
            return topK(new Vectors.Block(ch.start(), ch.n(), ch.x()), pair._1(), d, Math.min(kk, ch.n()));
        }).reduce((a, b) -> merge(a, b, kk));
        java.util.Map<Long, Hits> got = new java.util.HashMap<>();
        for (Hits h : approx.filter(h -> Arrays.binarySearch(bp.value(), h.q()) >= 0).collect()) got.put(h.q(), self ? h.withoutSelf(k) : h);
        bp.destroy();
        qs.unpersist();
        double sum = 0;
        long edges = 0, found = 0;
        for (int i = 0; i < s; i++) {
            Hits want = new Hits(pick[i], Arrays.copyOfRange(all.idx(), i * all.kk(), (i + 1) * all.kk()),
                    Arrays.copyOfRange(all.sim(), i * all.kk(), (i + 1) * all.kk()));
            if (self) want = want.withoutSelf(k);
            Hits have = got.get(pick[i]);
            java.util.Set<Long> h = new java.util.HashSet<>();
            if (have != null) for (long p : have.p()) h.add(p);
            int hit = 0;
            for (int j = 0; j < want.p().length; j++) {
                if (h.contains(want.p()[j])) hit++;
                if (want.s()[j] > threshold) {
                    edges++;
                    if (h.contains(want.p()[j])) found++;
                }
            }
            sum += want.p().length == 0 ? 1 : (double) hit / want.p().length;
        }
        return new Recall(s, sum / s, edges, found);
    }
}
