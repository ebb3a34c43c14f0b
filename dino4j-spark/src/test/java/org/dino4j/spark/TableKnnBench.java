package org.dino4j.spark;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.dino4j.eval.Knn;

/**
 * Seconds and recall@10 of {@link TableKnn#exact}, {@link TableKnn#ivf} and {@link HnswKnn#search} on one vector table
 * searched against itself on local[2]: Gaussian clusters (1000 centres, noise 0.7 a coordinate) with planted near
 * duplicates. Not a test: a main class, run by hand on a quiet machine, e.g.
 * {@code java -cp ... org.dino4j.spark.TableKnnBench --rows 200000 --dim 384 --methods exact,ivf,hnsw}.
 * Each search is timed to its last list (the lists persisted), then its recall measured on a sample of query rows.
 */
public final class TableKnnBench {
    public static void main(String[] args) {
        int rows = 200_000, dim = 384, chunk = 10_000, sample = 1000, k = 10, cells = 512, probe = 2;
        Path dir = Path.of("target/table-knn-bench");
        List<String> methods = List.of("exact", "ivf", "hnsw");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--rows" -> rows = Integer.parseInt(args[++i]);
                case "--dim" -> dim = Integer.parseInt(args[++i]);
                case "--chunk" -> chunk = Integer.parseInt(args[++i]);
                case "--sample" -> sample = Integer.parseInt(args[++i]);
                case "--cells" -> cells = Integer.parseInt(args[++i]);
                case "--probe" -> probe = Integer.parseInt(args[++i]);
                case "--dir" -> dir = Path.of(args[++i]);
                case "--methods" -> methods = List.of(args[++i].split(","));
                default -> throw new IllegalArgumentException("unknown option " + args[i]
                        + " (--rows N --dim D --chunk ROWS --sample N --cells C --probe P --dir DIR --methods exact,ivf,hnsw)");
            }
        }
        SparkSession spark = SparkSession.builder().master("local[2]").appName("TableKnnBench").config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1").getOrCreate();
        spark.sparkContext().setLogLevel("WARN");
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        try {
            long t0 = System.nanoTime();
            Vectors v = new Vectors(write(dir.resolve("vectors").toString(), rows, dim, chunk, 23), null);
            System.out.printf(Locale.ROOT, "table: %d rows, d %d, %d chunks, written in %.1f s%n", v.rows(), dim, v.table().chunks(), (System.nanoTime() - t0) / 1e9);
            for (String m : methods) {
                long t = System.nanoTime();
                int kk = k + 1, c = cells, p = probe; // self: each row's list holds itself
                JavaRDD<TableKnn.Hits> r = switch (m) {
                    case "exact" -> TableKnn.exact(jsc, v, v, kk);
                    case "ivf" -> TableKnn.ivf(jsc, v, v, kk, c, p, 7, true);
                    case "hnsw" -> HnswKnn.search(jsc, v, v, kk, true);
                    default -> throw new IllegalArgumentException("unknown method " + m);
                };
                r.persist(StorageLevel.MEMORY_AND_DISK());
                long lists = r.count();
                double search = (System.nanoTime() - t) / 1e9;
                t = System.nanoTime();
                TableKnn.Recall rec = TableKnn.recall(jsc, v, v, r, k, true, 0.95, sample, 11);
                double recall = (System.nanoTime() - t) / 1e9;
                System.out.printf(Locale.ROOT, "%-5s %8.1f s  lists %d  recall@%d %.4f on %d queries  duplicate edges %d/%d  (recall measured in %.1f s)%n",
                        m, search, lists, k, rec.recallAtK(), rec.queries(), rec.edgesFound(), rec.edges(), recall);
                r.unpersist();
            }
        } finally {
            spark.stop();
        }
    }

    /** The table: 1000 Gaussian centres, each row a centre plus noise 0.7; every 100th row a near copy of the row before. */
    static VectorTable write(String dir, int rows, int dim, int chunk, long seed) {
        VectorTable.delete(dir);
        SplittableRandom r = new SplittableRandom(seed);
        int c = 1000;
        float[] centres = new float[c * dim];
        for (int i = 0; i < centres.length; i++) centres[i] = (float) r.nextGaussian();
        int chunks = (rows + chunk - 1) / chunk;
        for (int ch = 0; ch < chunks; ch++) {
            int from = ch * chunk, n = Math.min(chunk, rows - from);
            SplittableRandom cr = new SplittableRandom(seed * 31 + ch);
            float[] x = new float[n * dim];
            for (int i = 0; i < n; i++) {
                if ((from + i) % 100 == 99 && i > 0) {
                    for (int t = 0; t < dim; t++) x[i * dim + t] = x[(i - 1) * dim + t] + 0.01f * (float) cr.nextGaussian();
                    continue;
                }
                int k = cr.nextInt(c);
                for (int t = 0; t < dim; t++) x[i * dim + t] = centres[k * dim + t] + 0.7f * (float) cr.nextGaussian();
            }
            Knn.normalizeRows(x, n, dim);
            List<VectorTable.Rec> recs = new ArrayList<>(n);
            for (int i = 0; i < n; i++)
                recs.add(new VectorTable.Rec(from + i, "r" + (from + i), "bench", java.util.Arrays.copyOfRange(x, i * dim, (i + 1) * dim)));
            VectorTable.writeChunk(dir, ch, dim, recs.iterator());
        }
        return VectorTable.seal(dir, "bench", dim, chunks);
    }

}
