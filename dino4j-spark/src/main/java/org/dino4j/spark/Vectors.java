package org.dino4j.spark;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.dino4j.eval.Knn;

import scala.Tuple2;

/**
 * The vectors of a table as the curation sees them: minus the pool's mean and L2-normalised again when {@code mean}
 * is given (embedding.center), else as stored. Serializable: executors read their chunks themselves.
 */
public record Vectors(VectorTable table, float[] mean) implements Serializable {
    /** Rows [start, start + n) of a set, d floats each. */
    public record Block(long start, int n, float[] x) implements Serializable {}

    public long rows() {
        return table.rows();
    }

    public int dim() {
        return table.dim();
    }

    /** Chunk c, centred when asked (executor side), as {@code Curator.centered}: x − mean, then normalised. */
    public VectorTable.Chunk read(int c, boolean withIds) {
        VectorTable.Chunk ch = table.read(c, withIds);
        if (mean == null) return ch;
        int d = ch.d();
        float[] x = ch.x();
        for (int i = 0; i < ch.n(); i++) for (int t = 0; t < d; t++) x[i * d + t] -= mean[t];
        Knn.normalizeRows(x, ch.n(), d);
        return ch;
    }

    /** One partition per chunk, each read by its task. */
    public JavaRDD<VectorTable.Chunk> chunks(JavaSparkContext jsc, boolean withIds) {
        List<Integer> cs = new ArrayList<>();
        for (int c = 0; c < table.chunks(); c++) cs.add(c);
        return jsc.parallelize(cs, Math.max(1, cs.size())).map(c -> read(c, withIds));
    }

    /**
     * The rows in blocks [j·rows, (j+1)·rows) of the set, whatever the chunks: a block is the same GEMM operand as
     * the local engine's when rows is a multiple of its block (256 query rows, 4096 base rows), so similarities and
     * assignments are bit-identical. Chunks that are not aligned are cut and the pieces shuffled to their block.
     */
    public JavaRDD<Block> blocks(JavaSparkContext jsc, int rows) {
        long[] off = table.offsets();
        boolean aligned = true; // every chunk starts a block: then every chunk but the last holds whole blocks
        for (long o : off) aligned &= o % rows == 0;
        if (aligned) return chunks(jsc, false).flatMap(ch -> {
            List<Block> out = new ArrayList<>();
            int d = ch.d();
            for (int i = 0; i < ch.n(); i += rows) {
                int len = Math.min(rows, ch.n() - i);
                out.add(new Block(ch.start() + i, len, len == ch.n() ? ch.x() : java.util.Arrays.copyOfRange(ch.x(), i * d, (i + len) * d)));
            }
            return out.iterator();
        });
        long n = rows();
        int blocks = (int) Math.max(1, (n + rows - 1) / rows);
        return chunks(jsc, false).flatMapToPair(ch -> {
            List<Tuple2<Long, Block>> out = new ArrayList<>();
            int d = ch.d();
            for (int i = 0; i < ch.n(); ) {
                long r = ch.start() + i, b = r / rows;
                int len = (int) Math.min(ch.n() - i, (b + 1) * rows - r);
                out.add(new Tuple2<>(b, new Block(r, len, java.util.Arrays.copyOfRange(ch.x(), i * d, (i + len) * d))));
                i += len;
            }
            return out.iterator();
        }).groupByKey(blocks).map(g -> {
            List<Block> ps = new ArrayList<>();
            g._2().forEach(ps::add);
            ps.sort((a, b) -> Long.compare(a.start(), b.start()));
            int total = 0;
            for (Block p : ps) total += p.n();
            int d = ps.get(0).x().length / ps.get(0).n();
            float[] x = new float[total * d];
            int o = 0;
            for (Block p : ps) {
                System.arraycopy(p.x(), 0, x, o, p.x().length);
                o += p.x().length;
            }
            return new Block(ps.get(0).start(), total, x);
        });
    }
}
