package org.dino4j.spark;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.dino4j.curate.HierarchicalKMeans;
import org.dino4j.curate.KMeans;

import scala.Tuple2;

/**
 * k-means over a vector table with only centroids on the driver: the k-means++ start runs in one task on its seeded
 * sample of 256·k rows (the local engine's sample), each Lloyd step is per-block assignments and partial sums on the
 * executors, merged in partition order, and the final assignment is a table (row, cluster, dist2), never an array.
 * The same centroids as {@link KMeans} on the same rows (blocks are multiples of its 256 rows), up to the last bit of
 * a double sum.
 */
public final class TableKMeans {
    /** Rows per block: a multiple of the local assignment's 256-row blocks. */
    static final int BLOCK = 4096;
    public static final StructType ASSIGNED = new StructType().add("row", DataTypes.LongType, false)
            .add("cluster", DataTypes.IntegerType, false).add("dist2", DataTypes.FloatType, false);

    private TableKMeans() {}

    /** A k-means step's sums over some blocks (part: the first partition they cover, for the order of the merge). */
    record Partial(int part, double[] sums, long[] counts, double objective) implements Serializable {
        Partial plus(Partial o) {
            double[] s = sums.clone();
            for (int i = 0; i < s.length; i++) s[i] += o.sums[i];
            long[] c = counts.clone();
            for (int i = 0; i < c.length; i++) c[i] += o.counts[i];
            return new Partial(Math.min(part, o.part), s, c, objective + o.objective);
        }
    }

    /** The rows for {@link KMeans#iterate}: steps on the executors; assign and rows are not for the driver. */
    static final class Data implements KMeans.Data {
        /** Partials merged on the driver at most this many at a time; more are first merged in groups, in order. */
        private static final int FAN_IN = 16;
        private final JavaSparkContext jsc;
        private final JavaRDD<Vectors.Block> blocks;
        private final long n;
        private final int d;

        /** @param blocks the rows in blocks of {@link #BLOCK} (see {@link #blocks}) */
        Data(JavaSparkContext jsc, JavaRDD<Vectors.Block> blocks, long n, int d) {
            this.jsc = jsc;
            this.blocks = blocks;
            this.n = n;
            this.d = d;
        }

        Data(JavaSparkContext jsc, Vectors v) {
            this(jsc, v.blocks(jsc, BLOCK), v.rows(), v.dim());
        }

        public long n() {
            return n;
        }

        public int d() {
            return d;
        }

        public KMeans.Step step(float[] centroids, int k) {
            Broadcast<float[]> bc = jsc.broadcast(centroids);
            int dd = d();
            try {
                JavaRDD<Partial> parts = blocks.mapPartitionsWithIndex((pi, it) -> {
                    float[] c = bc.value();
                    Partial acc = new Partial(pi, new double[k * dd], new long[k], 0);
                    while (it.hasNext()) {
                        Vectors.Block b = it.next();
                        int[] a = new int[b.n()];
                        float[] dist = new float[b.n()];
                        KMeans.assign(b.x(), b.n(), dd, c, k, a, dist);
                        KMeans.Step s = KMeans.accumulate(b.x(), b.n(), dd, new KMeans.Assignment(a, dist), k);
                        acc = acc.plus(new Partial(pi, s.sums(), s.counts(), s.objective()));
                    }
                    return List.of(acc).iterator();
                }, true);
                // a fixed merge order (partition order, in groups of FAN_IN): the same sums on every run
                while (parts.getNumPartitions() > FAN_IN) {
                    int groups = TableKnn.ceilDiv(parts.getNumPartitions(), FAN_IN);
                    parts = parts.mapToPair(p -> new Tuple2<>(p.part() / FAN_IN, p)).groupByKey(groups).map(g -> {
                        List<Partial> l = new ArrayList<>();
                        g._2().forEach(l::add);
                        return sum(l);
                    });
                }
                Partial acc = sum(new ArrayList<>(parts.collect()));
                return new KMeans.Step(acc.sums(), acc.counts(), acc.objective());
            } finally {
                bc.destroy();
            }
        }

        private static Partial sum(List<Partial> l) {
            l.sort((x, y) -> Integer.compare(x.part(), y.part()));
            Partial acc = l.get(0);
            for (int i = 1; i < l.size(); i++) acc = acc.plus(l.get(i));
            return acc;
        }

        public KMeans.Assignment assign(float[] centroids, int k) {
            throw new UnsupportedOperationException("the assignment of a table stays on the executors: TableKMeans.assign");
        }

        public float[] rows(int[] indices) {
            throw new UnsupportedOperationException("the rows of a table stay on the executors");
        }
    }

    /** Rows of v at the given positions, in that order, as one array built in one task. */
    private static JavaRDD<float[]> gathered(JavaSparkContext jsc, Vectors v, long[] rowsInOrder) {
        long[] sorted = rowsInOrder.clone();
        Arrays.sort(sorted);
        Broadcast<long[]> bs = jsc.broadcast(sorted), bo = jsc.broadcast(rowsInOrder);
        int d = v.dim(), n = rowsInOrder.length;
        return TableKnn.rowsWhere(jsc, v, bs).coalesce(1, true).mapPartitions(it -> {
            java.util.Map<Long, float[]> got = new java.util.HashMap<>();
            it.forEachRemaining(t -> got.put(t._1(), t._2()));
            float[] x = new float[n * d];
            long[] order = bo.value();
            for (int i = 0; i < n; i++) System.arraycopy(got.get(order[i]), 0, x, i * d, d);
            return List.of(x).iterator();
        });
    }

    /** k-means++ on the local engine's sample of the rows (KMeans.init), in one task; the driver gets k centroids. */
    public static float[] init(JavaSparkContext jsc, Vectors v, int k, long seed) {
        int[] idx = KMeans.initSample(v.rows(), k, seed);
        long[] rows = Arrays.stream(idx).asLongStream().toArray();
        int d = v.dim();
        return gathered(jsc, v, rows).map(x -> KMeans.initPlusPlus(x, idx.length, d, k, seed)).collect().get(0);
    }

    /** KMeans.fit (k-means++ from initSeed, then iters) on the given rows, in one task: a resampling step. */
    static float[] fitRows(JavaSparkContext jsc, Vectors v, long[] rowsInOrder, int k, int iters, long initSeed) {
        int d = v.dim(), n = rowsInOrder.length;
        return gathered(jsc, v, rowsInOrder).map(x -> {
            KMeans.Data sub = KMeans.local(x, n, d);
            return KMeans.fit(sub, KMeans.init(sub, k, initSeed), k, iters, null).centroids();
        }).collect().get(0);
    }

    /** Every row's nearest centroid and squared distance, as a table written to dir (row, cluster, dist2). */
    public static Dataset<Row> assign(SparkSession spark, Vectors v, float[] centroids, int k, String dir) {
        return assign(spark, v.blocks(JavaSparkContext.fromSparkContext(spark.sparkContext()), BLOCK), v.dim(), centroids, k, dir);
    }

    /**
     * The rows of v in blocks of BLOCK, read from the table once and kept serialized on the executors' local disks:
     * a k-means reads them every iteration, and a float array deserializes faster than a Parquet record is assembled.
     */
    static JavaRDD<Vectors.Block> cached(JavaSparkContext jsc, Vectors v) {
        return v.blocks(jsc, BLOCK).persist(org.apache.spark.storage.StorageLevel.DISK_ONLY());
    }

    static Dataset<Row> assign(SparkSession spark, JavaRDD<Vectors.Block> blocks, int d, float[] centroids, int k, String dir) {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Broadcast<float[]> bc = jsc.broadcast(centroids);
        JavaRDD<Row> rows = blocks.flatMap(b -> {
            int[] a = new int[b.n()];
            float[] dist = new float[b.n()];
            KMeans.assign(b.x(), b.n(), d, bc.value(), k, a, dist);
            List<Row> out = new ArrayList<>(b.n());
            for (int i = 0; i < b.n(); i++) out.add(RowFactory.create(b.start() + i, a[i], dist[i]));
            return out.iterator();
        });
        spark.createDataFrame(rows, ASSIGNED).write().mode(SaveMode.Overwrite).parquet(dir);
        bc.destroy();
        return spark.read().parquet(dir);
    }

    /** Members' rank in their cluster: closest to the centroid first, then lower row (HierarchicalKMeans.members). */
    public static Dataset<Row> ranked(Dataset<Row> assigned) {
        return assigned.withColumn("rank", functions.row_number().over(Window.partitionBy("cluster").orderBy("dist2", "row")).minus(1));
    }

    /** Cluster sizes (k entries). */
    public static long[] sizes(Dataset<Row> assigned, int k) {
        long[] s = new long[k];
        for (Row r : assigned.groupBy("cluster").count().collectAsList()) s[r.getInt(0)] = r.getLong(1);
        return s;
    }

    /** Level 1 of a hierarchical k-means on the table, the upper levels on its centroids: the local levels' draws. */
    public record Hierarchy(List<HierarchicalKMeans.LevelResult> levels, Dataset<Row> levelOne, long[] levelOneSizes) {}

    /**
     * {@link HierarchicalKMeans#fit} with level 1 on the executors (strategy closest): k-means, then each resampling
     * step's closest members per cluster gathered in one task for their k-means, and every row assigned again; level
     * 1's assignment is the table {@code dir/level-1}. Upper levels run on the driver on level-1 centroids (k·d).
     */
    public static Hierarchy hierarchical(SparkSession spark, Vectors v, List<HierarchicalKMeans.Level> levels, int iters, long seed,
                                         String dir, KMeans.Listener listener) {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        SplittableRandom rnd = new SplittableRandom(seed);
        HierarchicalKMeans.Level lv = levels.get(0);
        if (v.rows() < lv.clusters())
            throw new IllegalArgumentException("level 1: " + lv.clusters() + " clusters for " + v.rows() + " rows");
        int k = lv.clusters(), d = v.dim();
        JavaRDD<Vectors.Block> blocks = cached(jsc, v);
        float[] c = KMeans.iterate(new Data(jsc, blocks, v.rows(), d), init(jsc, v, k, rnd.nextLong()), k, iters, listener).centroids();
        Dataset<Row> a = assign(spark, blocks, d, c, k, dir + "/level-1-fit");
        if (lv.sampleSize() > 1) {
            for (int s = 0; s < lv.resamples(); s++) {
                List<Row> picked = ranked(a).filter(functions.col("rank").lt(lv.sampleSize())).select("cluster", "rank", "row")
                        .orderBy("cluster", "rank").collectAsList(); // k·sample_size row numbers, no vectors
                long[] pick = new long[picked.size()];
                for (int i = 0; i < pick.length; i++) pick[i] = picked.get(i).getLong(2);
                int kk = Math.min(k, pick.length);
                c = fitRows(jsc, v, pick, kk, iters, rnd.nextLong());
                a = assign(spark, blocks, d, c, kk, dir + "/level-1-resample-" + (s + 1));
            }
        }
        blocks.unpersist();
        int k1 = c.length / d;
        List<HierarchicalKMeans.LevelResult> out = new ArrayList<>();
        out.add(new HierarchicalKMeans.LevelResult(c, k1, null, null));
        if (levels.size() > 1)
            out.addAll(HierarchicalKMeans.fit(KMeans.local(c, k1, d), levels.subList(1, levels.size()), iters, true, rnd, listener));
        return new Hierarchy(out, a, sizes(a, k1));
    }
}
