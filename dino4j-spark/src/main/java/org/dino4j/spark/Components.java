package org.dino4j.spark;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;

/**
 * Connected components of the duplicate graph on the executors, by min-label propagation: every node starts with
 * its own row as label and takes the smallest label among itself and its neighbours until no label changes. A
 * component's label is then its smallest row, the root {@link org.dino4j.curate.DisjointSet} gives it, so the
 * removals are the local engine's. Each round's labels are written as a Parquet table (the checkpoint: a rerun goes
 * on from the last finished round) and rounds are about the diameter of the largest component: duplicate groups
 * are shallow. Pointer jumping (label ← label of label) halves the rounds on long chains.
 */
public final class Components {
    private Components() {}

    /**
     * @param edges columns q, p (rows of the pool; an undirected edge, either direction or both)
     * @param dir   where the rounds and the result ({@code dir/labels}: node, label) are written
     * @return the labels of the nodes that have an edge (others are components of one)
     */
    public static Dataset<Row> labels(SparkSession spark, Dataset<Row> edges, String dir, StageLog log, String fingerprint) {
        fresh(dir, fingerprint); // rounds of other edges are not a checkpoint of these
        String done = dir + "/labels";
        if (StageLog.complete(done)) return spark.read().parquet(done);
        Dataset<Row> und = edges.select(functions.col("q").as("a"), functions.col("p").as("b"))
                .union(edges.select(functions.col("p").as("a"), functions.col("q").as("b"))).distinct();
        und = und.persist(org.apache.spark.storage.StorageLevel.MEMORY_AND_DISK());
        int round = 0;
        while (StageLog.complete(dir + "/round-" + (round + 1))) round++;
        Dataset<Row> labels;
        if (round == 0) { // round 0: each node's smallest neighbour or itself
            labels = und.groupBy("a").agg(functions.min("b").as("m"))
                    .select(functions.col("a").as("node"), functions.least(functions.col("a"), functions.col("m")).as("label"));
        } else {
            labels = spark.read().parquet(dir + "/round-" + round);
        }
        while (true) {
            // propagate: each node takes the smallest label among its neighbours' labels
            Dataset<Row> fromNb = und.join(labels, und.col("b").equalTo(labels.col("node")))
                    .groupBy(und.col("a")).agg(functions.min(labels.col("label")).as("nl"));
            Dataset<Row> next = labels.join(fromNb, labels.col("node").equalTo(fromNb.col("a")), "left")
                    .select(labels.col("node"), functions.least(labels.col("label"), functions.coalesce(fromNb.col("nl"), labels.col("label"))).as("label"));
            // pointer jumping: a node's label takes its label's label (labels are nodes of the same component)
            Dataset<Row> l2 = next.select(functions.col("node").as("n2"), functions.col("label").as("l2"));
            next = next.join(l2, next.col("label").equalTo(l2.col("n2")), "left")
                    .select(next.col("node"), functions.least(next.col("label"), functions.coalesce(l2.col("l2"), next.col("label"))).as("label"));
            round++;
            String rd = dir + "/round-" + round;
            next.write().mode(SaveMode.Overwrite).parquet(rd);
            next = spark.read().parquet(rd);
            long changed = next.join(labels, next.col("node").equalTo(labels.col("node")))
                    .filter(next.col("label").notEqual(labels.col("label"))).count();
            log.line("components round " + round + ": " + changed + " labels changed");
            labels = next;
            if (changed == 0) break;
        }
        labels.write().mode(SaveMode.Overwrite).parquet(done);
        und.unpersist();
        return spark.read().parquet(done);
    }

    /** Empties dir unless it holds rounds of the same edges (its _fingerprint file), and marks it with this one. */
    static void fresh(String dir, String fingerprint) {
        org.apache.hadoop.fs.Path f = new org.apache.hadoop.fs.Path(dir, "_fingerprint");
        try {
            var fs = VectorTable.fs(dir);
            if (fs.exists(f)) {
                try (var in = fs.open(f)) {
                    if (new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).equals(fingerprint)) return;
                }
            }
            fs.delete(new org.apache.hadoop.fs.Path(dir), true);
            try (var out = fs.create(f, true)) {
                out.write(fingerprint.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(dir + ": " + e.getMessage(), e);
        }
    }
}
