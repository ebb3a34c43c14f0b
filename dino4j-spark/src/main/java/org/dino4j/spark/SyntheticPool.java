package org.dino4j.spark;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.SplittableRandom;

import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.dino4j.eval.Knn;

import scala.Tuple2;

/**
 * A pool of synthetic unit vectors for rehearsing the curation at scale, written as a {@link VectorTable} by the
 * executors (nothing on the driver but the cluster centres): rows drawn around {@code clusters} random centres
 * (cosine about 0.5 between members), and a share {@code copies} of rows that are near-copies of an earlier row
 * (cosine 0.97–0.999: the planted duplicates). Every row is a function of (seed, row), so any task can regenerate
 * the original of a copy, and {@link #planted} lists the pairs without storing them.
 */
public record SyntheticPool(long rows, int dim, int clusters, double copies, long seed) implements Serializable {
    /** Row r's cluster, or −1 − o when r is a copy of row o. */
    long kind(long r) {
        SplittableRandom rnd = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + r);
        boolean copy = r > 0 && rnd.nextDouble() < copies;
        long o = rnd.nextLong(Math.max(1, r));
        int c = rnd.nextInt(clusters);
        return copy ? -1 - o : c;
    }

    float[] centres() {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] c = new float[clusters * dim];
        for (int i = 0; i < c.length; i++) c[i] = (float) rnd.nextGaussian();
        return Knn.normalizeRows(c, clusters, dim);
    }

    /** Row r as stored: unit length. */
    float[] row(long r, float[] centres) {
        long k = kind(r);
        SplittableRandom rnd = new SplittableRandom((seed ^ 0x5DEECE66DL) * 31 + r);
        float[] x = new float[dim];
        if (k >= 0) {
            double sigma = 1 / Math.sqrt(dim);
            for (int t = 0; t < dim; t++) x[t] = centres[(int) k * dim + t] + (float) (sigma * rnd.nextGaussian());
        } else {
            float[] o = row(-1 - k, centres);
            double eps = (0.02 + 0.2 * rnd.nextDouble()) / Math.sqrt(dim); // |noise| 0.02..0.22: cosine 0.97..0.9998
            for (int t = 0; t < dim; t++) x[t] = o[t] + (float) (eps * rnd.nextGaussian());
        }
        return Knn.normalizeRows(x, 1, dim);
    }

    /** Writes the pool as a table of chunks of {@code chunk} rows (a rerun writes only missing chunks). */
    public VectorTable write(JavaSparkContext jsc, String dir, int chunk) {
        String fp = toString() + "|chunk=" + chunk;
        VectorTable t = VectorTable.open(dir, fp);
        if (t != null) return t;
        int chunks = (int) ((rows + chunk - 1) / chunk);
        TableEmbedder.claim(dir, fp); // chunks of another pool are not ours to keep
        boolean[] done = VectorTable.written(dir, chunks);
        List<Integer> todo = new ArrayList<>();
        for (int c = 0; c < chunks; c++) if (!done[c]) todo.add(c);
        Broadcast<float[]> bc = jsc.broadcast(centres());
        if (!todo.isEmpty()) jsc.parallelize(todo, todo.size()).foreach(c -> {
            long from = (long) c * chunk, to = Math.min(rows, from + chunk);
            float[] cent = bc.value();
            Iterator<VectorTable.Rec> it = new Iterator<>() {
                long r = from;

                public boolean hasNext() {
                    return r < to;
                }

                public VectorTable.Rec next() {
                    long i = r++;
                    return new VectorTable.Rec(i, "synthetic#" + i, "synthetic", row(i, cent));
                }
            };
            VectorTable.writeChunk(dir, c, dim, it);
        });
        bc.destroy();
        return VectorTable.seal(dir, fp, dim, chunks);
    }

    /** The planted pairs (copy row, its original), listed on the executors. */
    public JavaPairRDD<Long, Long> planted(JavaSparkContext jsc, int slices) {
        List<Integer> parts = new ArrayList<>();
        for (int s = 0; s < slices; s++) parts.add(s);
        return jsc.parallelize(parts, slices).flatMapToPair(s -> {
            List<Tuple2<Long, Long>> out = new ArrayList<>();
            long from = rows * s / slices, to = rows * (s + 1) / slices;
            for (long r = from; r < to; r++) {
                long k = kind(r);
                if (k < 0) out.add(new Tuple2<>(r, -1 - k));
            }
            return out.iterator();
        });
    }
}
