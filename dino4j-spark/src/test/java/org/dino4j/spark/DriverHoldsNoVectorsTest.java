package org.dino4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.SparkSession;
import org.dino4j.curate.CurateConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No stage of the Spark curation brings vectors to the driver: a listener adds up the bytes of every task result sent
 * to the driver, stage by stage, while the whole pipeline runs (IVF k-NN with recall, components, eval-dedup, kept
 * table, retrieval, k-means, hierarchical k-means, outputs) on a pool of 20,000 × 256 floats (20 MB); no stage may
 * receive 1 MB. A control collects the pool's chunks and is caught.
 */
class DriverHoldsNoVectorsTest {
    @Test
    void noStageSendsVectorsToTheDriver(@TempDir Path dir) throws Exception {
        Map<Integer, Long> toDriver = new ConcurrentHashMap<>();
        SparkSession spark = SparkSession.builder().master("local[2]").appName("DriverHoldsNoVectorsTest").config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1").config("spark.sql.shuffle.partitions", "4").getOrCreate();
        spark.sparkContext().setLogLevel("WARN");
        spark.sparkContext().addSparkListener(new SparkListener() {
            @Override
            public void onTaskEnd(SparkListenerTaskEnd end) {
                if (end.taskMetrics() != null) toDriver.merge(end.stageId(), end.taskMetrics().resultSize(), Long::sum);
            }
        });
        try {
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            int n = 20_000, d = 256;
            VectorTable pool = new SyntheticPool(n, d, 40, 0.03, 7).write(jsc, dir.resolve("pool").toString(), 4096);
            new SyntheticPool(300, d, 40, 0, 8).write(jsc, dir.resolve("eval").toString(), 4096);
            new SyntheticPool(50, d, 40, 0, 9).write(jsc, dir.resolve("seeds").toString(), 4096);
            Path yaml = Files.writeString(dir.resolve("curate.yaml"), """
                    embedding: {kind: table}
                    pool: [pool]
                    eval_sets: [eval]
                    dedup: {k: 8, threshold: 0.95}
                    index: ivf
                    ivf: {cells: 16, probe: 2, recall_sample: 200}
                    seeds:
                      - {name: a, inputs: [seeds], per_image: 2}
                      - {name: b, inputs: [seeds], per_image: 0}
                    clusters: {k: 8, min_seeds: 1, per_cluster: 50, cap: 200, iterations: 5}
                    hierarchical:
                      levels:
                        - {clusters: 8, resamples: 1, sample_size: 20}
                        - {clusters: 2}
                      target: 2000
                      iterations: 5
                    """);
            SparkCurator.Result r = new SparkCurator(spark, CurateConfig.read(yaml), (s, x, t) -> {}).run(dir.resolve("out"));
            assertEquals(n, r.counts().get("pool"));
            assertTrue(r.counts().get("self-dedup removed") > 300, r.counts().toString()); // the planted copies
            assertTrue(r.counts().get("curated") > 2000, r.counts().toString());
            long vectors = 4L * n * d, worst = 0;
            for (long b : toDriver.values()) worst = Math.max(worst, b);
            assertTrue(toDriver.size() > 30, "stages seen: " + toDriver.size());
            assertTrue(worst < (1 << 20), "a stage sent " + worst + " bytes to the driver; the pool's vectors are " + vectors);

            // the control: collecting the vectors is what the listener catches
            toDriver.clear();
            new Vectors(pool, null).chunks(jsc, false).collect();
            long control = toDriver.values().stream().mapToLong(Long::longValue).sum();
            assertTrue(control >= vectors, "collecting the chunks sent " + control + " bytes");
        } finally {
            spark.stop();
        }
    }
}
