package org.dino4j.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.dino4j.curate.DisjointSet;
import org.dino4j.curate.KMeans;
import org.dino4j.curate.Neighbours;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The table stages against the local code on the same rows: k-NN (ties included), k-means, components. */
class TableStagesTest {
    static SparkSession spark;
    static JavaSparkContext jsc;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("TableStagesTest").config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1").config("spark.sql.shuffle.partitions", "4").getOrCreate();
        spark.sparkContext().setLogLevel("WARN");
        jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
    }

    /** Unit rows with many exact duplicates (ties at every rank, and more copies of one row than k). */
    static float[] rowsWithTies(int n, int d, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = new float[n * d];
        for (int i = 0; i < n * d; i++) x[i] = (float) rnd.nextGaussian();
        for (int i = n / 2; i < n; i += 2) System.arraycopy(x, (i - n / 2) * d, x, i * d, d); // every other row of the 2nd half: a copy
        for (int i = 1; i < 40; i++) System.arraycopy(x, 7 * d, x, (n / 2 + 1 + 2 * i) * d, d); // 40 copies of row 7
        return org.dino4j.eval.Knn.normalizeRows(x, n, d);
    }

    static Vectors table(float[] x, int d, Path dir, int chunk) {
        SparkCuratorTest.table(SparkCuratorTest.set("t", x, d), dir, chunk);
        return new Vectors(VectorTable.open(dir.toString(), null), null);
    }

    static void assertHits(Neighbours want, List<TableKnn.Hits> got, float tol) {
        assertEquals(want.queries(), got.size());
        for (TableKnn.Hits h : got) {
            int q = (int) h.q();
            assertEquals(want.k(), h.p().length);
            for (int j = 0; j < want.k(); j++) {
                assertEquals(want.index(q, j), h.p()[j], "query " + q + " rank " + j);
                assertEquals(want.similarity(q, j), h.s()[j], tol, "query " + q + " rank " + j);
            }
        }
    }

    @Test
    void exactKnnEqualsLocalSearchWithTies(@TempDir Path dir) {
        int n = 5000, d = 16, k = 24;
        float[] x = rowsWithTies(n, d, 1);
        // chunks of 1300 rows: the blocks are re-cut to the local GEMM's, so the similarities are bit-identical
        Vectors base = table(x, d, dir.resolve("base"), 1300);
        List<TableKnn.Hits> got = new ArrayList<>(TableKnn.exact(jsc, base, base, k).collect());
        got.sort((a, b) -> Long.compare(a.q(), b.q()));
        assertHits(Neighbours.exact(x, n, x, n, d, k), got, 0f);
        // row 7's 40 copies fill its whole list, in row order
        TableKnn.Hits h7 = got.get(7);
        assertEquals(7, h7.p()[0]);
        for (int j = 1; j < k; j++) assertTrue(h7.p()[j] > h7.p()[j - 1] && h7.s()[j] == h7.s()[0]);
        // queries that are another table; a withoutSelf that drops the row itself or the last entry
        float[] q = java.util.Arrays.copyOfRange(x, 0, 700 * d);
        List<TableKnn.Hits> got2 = new ArrayList<>(TableKnn.exact(jsc, base, table(q, d, dir.resolve("q"), 300), k).collect());
        got2.sort((a, b) -> Long.compare(a.q(), b.q()));
        assertHits(Neighbours.exact(x, n, q, 700, d, k), got2, 0f);
        Neighbours ws = Neighbours.exact(x, n, x, n, d, k).withoutSelf();
        for (TableKnn.Hits h : got) assertArrayEquals(java.util.Arrays.stream(ws.idx(), (int) h.q() * (k - 1), (int) h.q() * (k - 1) + k - 1)
                .asLongStream().toArray(), h.withoutSelf(k - 1).p(), "without self, row " + h.q());
    }

    @Test
    void kmeansOnTableEqualsLocal(@TempDir Path dir) {
        int n = 9000, d = 32, k = 12;
        SplittableRandom rnd = new SplittableRandom(3);
        float[] centres = new float[k * d];
        for (int i = 0; i < centres.length; i++) centres[i] = (float) rnd.nextGaussian();
        float[] x = new float[n * d];
        for (int i = 0; i < n; i++) {
            int c = rnd.nextInt(k);
            for (int t = 0; t < d; t++) x[i * d + t] = centres[c * d + t] + 0.7f * (float) rnd.nextGaussian();
        }
        Vectors v = table(x, d, dir.resolve("x"), 2500);
        KMeans.Data local = KMeans.local(x, n, d);
        float[] init = KMeans.init(local, k, 11);
        assertArrayEquals(init, TableKMeans.init(jsc, v, k, 11), "k-means++ on the same sample, in a task");
        KMeans.Result a = KMeans.fit(local, init, k, 25, null);
        KMeans.Fitted b = KMeans.iterate(new TableKMeans.Data(jsc, v), init, k, 25, null);
        assertEquals(a.iterations(), b.iterations());
        for (int i = 0; i < a.centroids().length; i++) assertEquals(a.centroids()[i], b.centroids()[i], 1e-5f, "centroid value " + i);
        List<Row> rows = TableKMeans.assign(spark, v, a.centroids(), k, dir.resolve("assign").toString()).orderBy("row").collectAsList();
        assertEquals(n, rows.size());
        for (int i = 0; i < n; i++) {
            assertEquals(i, rows.get(i).getLong(0));
            assertEquals(a.assignment()[i], rows.get(i).getInt(1), "row " + i);
            assertEquals(a.dist2()[i], rows.get(i).getFloat(2), "row " + i);
        }
    }

    @Test
    void componentsAreTheDisjointSetRoots(@TempDir Path dir) {
        SplittableRandom rnd = new SplittableRandom(5);
        int n = 3000;
        List<Row> edges = new ArrayList<>();
        DisjointSet ds = new DisjointSet(n);
        for (int i = 0; i < 900; i++) { // short groups
            int a = rnd.nextInt(n), b = rnd.nextInt(n);
            edges.add(RowFactory.create((long) a, (long) b, 0.99f));
            ds.union(a, b);
        }
        for (int i = 2000; i < 2199; i++) { // a long chain, numbered against its direction: many rounds without jumping
            edges.add(RowFactory.create((long) i + 1, (long) i, 0.99f));
            ds.union(i, i + 1);
        }
        StructType st = new StructType().add("q", DataTypes.LongType).add("p", DataTypes.LongType).add("s", DataTypes.FloatType);
        List<Row> labels = Components.labels(spark, spark.createDataFrame(edges, st), dir.toString(), new StageLog(dir.toString()), "test")
                .collectAsList();
        java.util.Set<Long> seen = new java.util.HashSet<>();
        for (Row r : labels) {
            int node = (int) r.getLong(0);
            assertEquals(ds.find(node), r.getLong(1), "node " + node);
            seen.add(r.getLong(0));
        }
        for (Row e : edges) assertTrue(seen.contains(e.getLong(0)) && seen.contains(e.getLong(1)));
    }
}
