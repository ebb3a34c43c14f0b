package org.dino4j.spark;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.dino4j.curate.CurateConfig;
import org.dino4j.io.Json;

/**
 * The curation rehearsed at scale on synthetic vectors (tools/rehearsal.sh runs it with a small driver heap):
 * <pre>Rehearsal --rows 10000000 --dim 384 --out DIR [--master local[2]] [--clusters 1000] [--copies 0.02]
 *          [--cells 4096] [--probe 2] [--level1 200] [--target 1000000]</pre>
 * writes the pool table (DIR/pool, reused by a rerun), runs {@link SparkCurator} on it (self-dedup by IVF k-NN,
 * components, hierarchical k-means, balanced sample), checks that the planted duplicates ended in one component with
 * their original, and writes DIR/rehearsal.json: rows, bytes of vectors on disk, each stage's time, the recall, the
 * planted duplicates found and the heap's peak.
 */
public final class Rehearsal {
    private Rehearsal() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new LinkedHashMap<>(Map.of("--master", "local[2]", "--dim", "384", "--clusters", "1000",
                "--copies", "0.02", "--cells", "4096", "--probe", "2", "--level1", "200", "--target", "1000000", "--k", "8"));
        for (int i = 0; i + 1 < args.length; i += 2) a.put(args[i], args[i + 1]);
        if (!a.containsKey("--rows") || !a.containsKey("--out"))
            throw new IllegalArgumentException("usage: Rehearsal --rows N --out DIR [--dim 384] [--master local[2]] ...");
        long rows = Long.parseLong(a.get("--rows"));
        Path out = Path.of(a.get("--out")).toAbsolutePath();
        Files.createDirectories(out);
        HeapPeak heap = HeapPeak.start();
        SparkSession spark = SparkSession.builder().master(a.get("--master")).appName("dino4j rehearsal")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "64").getOrCreate();
        spark.sparkContext().setLogLevel("WARN");
        spark.sparkContext().addSparkListener(new org.apache.spark.scheduler.SparkListener() {
            @Override // where the time goes: every Spark stage of 5 s or more, with its call site
            public void onStageCompleted(org.apache.spark.scheduler.SparkListenerStageCompleted e) {
                var i = e.stageInfo();
                if (i.submissionTime().isEmpty() || i.completionTime().isEmpty()) return;
                long ms = (Long) i.completionTime().get() - (Long) i.submissionTime().get();
                if (ms >= 5000) System.err.printf(Locale.ROOT, "    spark stage %d (%d tasks) %.1f s: %s%n", i.stageId(), i.numTasks(),
                        ms / 1e3, i.name());
            }
        });
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        try {
            SyntheticPool pool = new SyntheticPool(rows, Integer.parseInt(a.get("--dim")), Integer.parseInt(a.get("--clusters")),
                    Double.parseDouble(a.get("--copies")), 1);
            long t0 = System.nanoTime();
            VectorTable t = pool.write(jsc, out.resolve("pool").toString(), SparkCurator.CHUNK);
            double genSecs = (System.nanoTime() - t0) / 1e9;
            long bytes = 0;
            try (var s = Files.list(out.resolve("pool"))) {
                for (Path p : s.toList()) bytes += Files.size(p);
            }
            System.err.printf(Locale.ROOT, "pool: %,d rows x %d, %.2f GB on disk (%.1f s)%n", t.rows(), t.dim(), bytes / 1e9, genSecs);
            Path yaml = Files.writeString(out.resolve("curate.yaml"), String.format(Locale.ROOT, """
                    embedding: {kind: table}
                    pool: [%s]
                    dedup: {k: %s, threshold: 0.95}
                    index: ivf
                    ivf: {cells: %s, probe: %s, recall_sample: 500}
                    hierarchical:
                      levels:
                        - {clusters: %s, resamples: 1, sample_size: 20}
                        - {clusters: 10}
                      target: %s
                      iterations: 8
                    """, out.resolve("pool"), a.get("--k"), a.get("--cells"), a.get("--probe"), a.get("--level1"), a.get("--target")));
            CurateConfig cfg = CurateConfig.read(yaml);
            long t1 = System.nanoTime();
            SparkCurator.Result r = new SparkCurator(spark, cfg, SparkCurateJob.progress()).run(out.resolve("curation"));
            double curSecs = (System.nanoTime() - t1) / 1e9;

            // the planted duplicates: each copy in the component of its original
            Dataset<Row> labels = spark.read().parquet(out.resolve("curation/tables/components/labels").toString());
            Dataset<Row> pairs = spark.createDataFrame(pool.planted(jsc, 64).map(p -> org.apache.spark.sql.RowFactory.create(p._1(), p._2())),
                    new org.apache.spark.sql.types.StructType().add("copy", "long").add("orig", "long"));
            long planted = pairs.count();
            Dataset<Row> l1 = labels.withColumnRenamed("node", "n1").withColumnRenamed("label", "l1");
            Dataset<Row> l2 = labels.withColumnRenamed("node", "n2").withColumnRenamed("label", "l2");
            long found = pairs.join(l1, pairs.col("copy").equalTo(l1.col("n1"))).join(l2, pairs.col("orig").equalTo(l2.col("n2")))
                    .filter(l1.col("l1").equalTo(l2.col("l2"))).count();
            Map<String, Object> rep = new LinkedHashMap<>();
            rep.put("rows", rows);
            rep.put("dim", t.dim());
            rep.put("vector_bytes_on_disk", bytes);
            rep.put("max_heap_bytes", Runtime.getRuntime().maxMemory());
            rep.put("generate_seconds", Math.round(genSecs * 10) / 10.0);
            rep.put("curate_seconds", Math.round(curSecs * 10) / 10.0);
            rep.put("planted_duplicates", planted);
            rep.put("planted_found", found);
            rep.put("counts", r.counts());
            rep.put("stages", r.report().get("stages"));
            for (var e : r.report().entrySet()) if (e.getKey().startsWith("knn_recall")) rep.put(e.getKey(), e.getValue());
            rep.put("heap_peak_bytes", heap.peak());
            rep.put("heap_pools_peak_sum_bytes", HeapPeak.poolPeaks());
            Files.writeString(out.resolve("rehearsal.json"), Json.write(rep) + "\n");
            System.out.println(Json.write(rep));
        } finally {
            spark.stop();
            heap.stop();
        }
    }

    /** The heap in use, sampled every 50 ms (after GC or not: an upper bound of the live data), and its maximum. */
    static final class HeapPeak implements Runnable {
        private volatile boolean running = true;
        private volatile long peak;
        private final Thread thread = new Thread(this, "heap-peak");

        static HeapPeak start() {
            HeapPeak h = new HeapPeak();
            h.thread.setDaemon(true);
            h.thread.start();
            return h;
        }

        public void run() {
            var mem = ManagementFactory.getMemoryMXBean();
            while (running) {
                peak = Math.max(peak, mem.getHeapMemoryUsage().getUsed());
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        long peak() {
            return peak;
        }

        void stop() {
            running = false;
        }

        /** The sum of the heap pools' own peaks (eden, survivor, old: each at its own moment, so an over-estimate). */
        static long poolPeaks() {
            long s = 0;
            for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans())
                if (p.getType() == MemoryType.HEAP && p.getPeakUsage() != null) s += p.getPeakUsage().getUsed();
            return s;
        }
    }
}
