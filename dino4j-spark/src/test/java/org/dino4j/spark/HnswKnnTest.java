package org.dino4j.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.dino4j.eval.Knn;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Per-partition HNSW and IVF over vector tables against a plain loop in this test (and {@link TableKnn#exact} against
 * the same loop): recall, planted near-duplicates, exact scores, and {@link TableKnn#recall} against a count made here.
 */
class HnswKnnTest {
    static final int D = 32, K = 10;
    /** Chunk sizes: an empty chunk, and one smaller than k (a partition of its own when the cap is 500 rows). */
    static final int[] CHUNKS = {700, 800, 0, 5, 895, 600};
    static final int N = Arrays.stream(CHUNKS).sum();
    static SparkSession spark;
    static JavaSparkContext jsc;
    static float[] x;
    /** Planted pairs (a, b): b is a plus a little noise, in another chunk. */
    static final List<int[]> PAIRS = new ArrayList<>();
    static float[][] truthSim;
    static int[][] truthRow;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("HnswKnnTest").config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1").getOrCreate();
        spark.sparkContext().setLogLevel("WARN");
        jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        SplittableRandom rnd = new SplittableRandom(23);
        x = new float[N * D];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        for (int i = 0; i < 40; i++) { // a in the first half, b in the second (other chunks, other partitions)
            int a = 31 * i + 3, b = N - 1 - 37 * i;
            for (int t = 0; t < D; t++) x[b * D + t] = x[a * D + t] + 0.02f * (float) rnd.nextGaussian();
            PAIRS.add(new int[] {a, b});
        }
        Knn.normalizeRows(x, N, D);
        truthSim = new float[N][];
        truthRow = new int[N][];
        for (int q = 0; q < N; q++) top(q, K + 1);
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
    }

    /** The inner product as HnswIndex re-scores: float, summed in order. */
    static float dot(float[] a, int ao, int b) {
        float s = 0;
        for (int t = 0; t < D; t++) s += a[ao + t] * x[b * D + t];
        return s;
    }

    /** Brute force: every base row scored, the best k kept by insertion (higher similarity, then lower row, first). */
    static void top(int q, int k) {
        int[] row = new int[k];
        float[] sim = new float[k];
        int filled = 0;
        for (int j = 0; j < N; j++) {
            float v = dot(x, q * D, j);
            if (filled == k && !(v > sim[k - 1])) continue;
            int p = filled == k ? k - 1 : filled++;
            for (; p > 0 && v > sim[p - 1]; p--) {
                sim[p] = sim[p - 1];
                row[p] = row[p - 1];
            }
            sim[p] = v;
            row[p] = j;
        }
        truthRow[q] = row;
        truthSim[q] = sim;
    }

    static Vectors table(Path dir) {
        String d = dir.resolve("vectors").toString();
        int row = 0;
        for (int c = 0; c < CHUNKS.length; c++) {
            List<VectorTable.Rec> recs = new ArrayList<>();
            for (int i = 0; i < CHUNKS[c]; i++, row++)
                recs.add(new VectorTable.Rec(row, "r" + row, "test", Arrays.copyOfRange(x, row * D, (row + 1) * D)));
            assertEquals(CHUNKS[c], VectorTable.writeChunk(d, c, D, recs.iterator()));
        }
        VectorTable t = VectorTable.seal(d, "test", D, CHUNKS.length);
        assertEquals(N, t.rows());
        return new Vectors(t, null);
    }

    static Map<Long, TableKnn.Hits> byRow(JavaRDD<TableKnn.Hits> r) {
        Map<Long, TableKnn.Hits> m = new HashMap<>();
        for (TableKnn.Hits h : r.collect()) assertEquals(null, m.put(h.q(), h), "one list per query row");
        return m;
    }

    static Set<Long> rows(TableKnn.Hits h) {
        Set<Long> s = new HashSet<>();
        for (long p : h.p()) s.add(p);
        return s;
    }

    /** Sorted as the exact search sorts, every score the plain loop's within float rounding (exactly, when asked). */
    static void checkList(TableKnn.Hits h, boolean bitExact) {
        check(h, x, (int) h.q(), bitExact);
    }

    static void checkListFor(TableKnn.Hits h, float[] queries, int q) {
        check(h, queries, q, true);
    }

    static void check(TableKnn.Hits h, float[] queries, int q, boolean bitExact) {
        for (int j = 0; j < h.p().length; j++) {
            float want = dot(queries, q * D, (int) h.p()[j]);
            if (bitExact) assertEquals(want, h.s()[j], "row " + h.q() + " → " + h.p()[j]);
            else assertEquals(want, h.s()[j], 1e-5f, "row " + h.q() + " → " + h.p()[j]);
            if (j > 0) assertTrue(h.s()[j] < h.s()[j - 1] || h.s()[j] == h.s()[j - 1] && h.p()[j] > h.p()[j - 1], "order of row " + h.q());
        }
    }

    @Test
    void groupsAreRunsOfConsecutiveChunksUpToTheTarget() {
        List<int[]> g = HnswKnn.groups(new long[] {700, 800, 0, 5, 895, 600}, 1500);
        assertEquals(2, g.size());
        assertArrayEquals(new int[] {0, 1}, g.get(0));
        assertArrayEquals(new int[] {3, 4, 5}, g.get(1), "the empty chunk is left out");
        assertEquals(5, HnswKnn.groups(new long[] {700, 800, 0, 5, 895, 600}, 500).size(), "a chunk over the target is a run alone");
        assertEquals(209_715, HnswKnn.maxRows(384), "512 MiB over 2.5 KB a row");
    }

    @Test
    void exactEqualsThePlainLoop(@TempDir Path dir) {
        Map<Long, TableKnn.Hits> exact = byRow(TableKnn.exact(jsc, table(dir), table(dir), K));
        assertEquals(N, exact.size());
        for (int q = 0; q < N; q++) {
            TableKnn.Hits h = exact.get((long) q);
            assertEquals(K, h.p().length);
            checkList(h, false);
            for (int j = 0; j < K; j++) assertEquals(truthSim[q][j], h.s()[j], 1e-5f, "rank " + j + " of row " + q);
        }
    }

    @Test
    void hnswFindsTheExactNeighboursAndThePlantedDuplicates(@TempDir Path dir) {
        Vectors v = table(dir);
        // five partitions (the cap is below every chunk but the 5-row one), so every list is merged from five
        Map<Long, TableKnn.Hits> got = byRow(HnswKnn.search(jsc, v, v, K, true, 500));
        assertEquals(N, got.size());
        long hit = 0;
        for (int q = 0; q < N; q++) {
            TableKnn.Hits h = got.get((long) q);
            assertEquals(K, h.p().length);
            checkList(h, true); // re-scored exactly, as HnswIndex does
            assertEquals(q, h.p()[0], "a row finds itself");
            Set<Long> have = rows(h);
            for (int j = 0; j < K; j++) if (have.contains((long) truthRow[q][j])) hit++;
        }
        double recall = hit / (double) (N * K);
        assertTrue(recall >= 0.95, "recall@10 " + recall);
        for (int[] pr : PAIRS) {
            assertTrue(rows(got.get((long) pr[0])).contains((long) pr[1]), pr[0] + " → " + pr[1]);
            assertTrue(rows(got.get((long) pr[1])).contains((long) pr[0]), pr[1] + " → " + pr[0]);
        }
    }

    @Test
    void hnswForOtherQueriesAndRecallAsCountedHere(@TempDir Path dir) {
        Vectors v = table(dir);
        // default partitions (two on local[2]); self with k + 1, compared without the row itself as recall does
        JavaRDD<TableKnn.Hits> approx = HnswKnn.search(jsc, v, v, K + 1, true).cache();
        int sample = 500;
        TableKnn.Recall r = TableKnn.recall(jsc, v, v, approx, K, true, 0.9, sample, 5);
        Map<Long, TableKnn.Hits> got = byRow(approx);
        long[] pick = TableKnn.sample(N, sample, 5 ^ 0x5EED);
        double sum = 0;
        long edges = 0, found = 0;
        for (long q : pick) {
            Set<Long> have = rows(got.get(q).withoutSelf(K));
            int hit = 0, o = 0;
            for (int j = 0; j < K + 1 && o < K; j++) {
                if (truthRow[(int) q][j] == q) continue;
                o++;
                boolean in = have.contains((long) truthRow[(int) q][j]);
                if (in) hit++;
                if (truthSim[(int) q][j] > 0.9) {
                    edges++;
                    if (in) found++;
                }
            }
            sum += hit / (double) K;
        }
        assertEquals(sample, r.queries());
        assertEquals(sum / sample, r.recallAtK(), 1e-9);
        assertEquals(edges, r.edges());
        assertEquals(found, r.edgesFound());
        assertTrue(edges >= 2, "the sample holds planted pairs: " + edges);
        assertTrue(r.recallAtK() >= 0.95, r.toString());
        approx.unpersist();

        // queries from another table: near copies of some base rows must find them
        float[] qx = new float[50 * D];
        SplittableRandom rnd = new SplittableRandom(9);
        for (int i = 0; i < 50; i++) for (int t = 0; t < D; t++) qx[i * D + t] = x[(60 * i + 1) * D + t] + 0.02f * (float) rnd.nextGaussian();
        Knn.normalizeRows(qx, 50, D);
        String qd = dir.resolve("queries").toString();
        for (int c = 0; c < 2; c++) {
            List<VectorTable.Rec> recs = new ArrayList<>();
            for (int i = 25 * c; i < 25 * (c + 1); i++) recs.add(new VectorTable.Rec(i, "q" + i, "q", Arrays.copyOfRange(qx, i * D, (i + 1) * D)));
            VectorTable.writeChunk(qd, c, D, recs.iterator());
        }
        Map<Long, TableKnn.Hits> other = byRow(HnswKnn.search(jsc, v, new Vectors(VectorTable.seal(qd, "q", D, 2), null), K, false));
        assertEquals(50, other.size());
        long hit = 0;
        for (int i = 0; i < 50; i++) {
            TableKnn.Hits h = other.get((long) i);
            checkListFor(h, qx, i);
            float[] s = new float[N]; // brute force for this query
            Integer[] order = new Integer[N];
            for (int j = 0; j < N; j++) {
                order[j] = j;
                s[j] = dot(qx, i * D, j);
            }
            Arrays.sort(order, (a, b) -> s[a] != s[b] ? Float.compare(s[b], s[a]) : Integer.compare(a, b));
            assertEquals((long) order[0], h.p()[0], "query " + i);
            Set<Long> have = rows(h);
            for (int j = 0; j < K; j++) if (have.contains((long) order[j])) hit++;
        }
        assertTrue(hit >= 0.95 * 50 * K, "recall@10 " + hit / (50.0 * K));
    }

    @Test
    void ivfFindsThePlantedDuplicatesWithExactScores(@TempDir Path dir) {
        Vectors v = table(dir);
        Map<Long, TableKnn.Hits> got = byRow(TableKnn.ivf(jsc, v, v, K + 1, 16, 2, 11, true));
        Map<Long, TableKnn.Hits> exact = byRow(TableKnn.exact(jsc, v, v, K + 1));
        assertEquals(N, got.size());
        long same = 0;
        for (int q = 0; q < N; q++) {
            TableKnn.Hits h = got.get((long) q), e = exact.get((long) q);
            checkList(h, false);
            assertEquals(q, h.p()[0], "a row finds itself");
            Map<Long, Float> es = new HashMap<>();
            for (int j = 0; j < e.p().length; j++) es.put(e.p()[j], e.s()[j]);
            for (int j = 0; j < h.p().length; j++)
                if (es.containsKey(h.p()[j])) {
                    assertEquals(es.get(h.p()[j]), h.s()[j], "row " + q + " → " + h.p()[j]);
                    same++;
                }
        }
        assertTrue(same > N * 2L, "pairs found by both: " + same);
        for (int[] pr : PAIRS) {
            assertTrue(rows(got.get((long) pr[0])).contains((long) pr[1]), pr[0] + " → " + pr[1]);
            assertTrue(rows(got.get((long) pr[1])).contains((long) pr[0]), pr[1] + " → " + pr[0]);
        }
    }
}
