package org.dino4j.curate;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;

import io.github.jbellis.jvector.graph.GraphIndexBuilder;
import io.github.jbellis.jvector.graph.GraphSearcher;
import io.github.jbellis.jvector.graph.ImmutableGraphIndex;
import io.github.jbellis.jvector.graph.ListRandomAccessVectorValues;
import io.github.jbellis.jvector.graph.SearchResult;
import io.github.jbellis.jvector.graph.similarity.BuildScoreProvider;
import io.github.jbellis.jvector.util.Bits;
import io.github.jbellis.jvector.util.PhysicalCoreExecutor;
import io.github.jbellis.jvector.vector.VectorSimilarityFunction;
import io.github.jbellis.jvector.vector.VectorizationProvider;
import io.github.jbellis.jvector.vector.types.VectorFloat;
import io.github.jbellis.jvector.vector.types.VectorTypeSupport;
import org.dino4j.kernels.Parallel;

/**
 * Approximate neighbour search for pools too large for the exact blocked search: a hierarchical navigable-small-world
 * graph (jvector; M 32, beam 200). The graph proposes candidates (4k, at least 40); their similarities are then computed
 * exactly here and sorted as the exact search sorts, so the two differ only in what the graph misses.
 */
public final class HnswIndex {
    private static final VectorTypeSupport VTS = VectorizationProvider.getInstance().getVectorTypeSupport();
    private final float[][] rows;
    private final int d;
    private final ListRandomAccessVectorValues ravv;
    private final ImmutableGraphIndex graph;

    private HnswIndex(float[][] rows, int d, ListRandomAccessVectorValues ravv, ImmutableGraphIndex graph) {
        this.rows = rows;
        this.d = d;
        this.ravv = ravv;
        this.graph = graph;
    }

    public static HnswIndex build(VectorSet base) {
        int d = base.dim();
        float[][] rows = new float[base.size()][];
        for (int i = 0; i < rows.length; i++) rows[i] = java.util.Arrays.copyOfRange(base.x(), i * d, (i + 1) * d);
        return build(rows, d);
    }

    /**
     * Over these rows (d floats each, at least one row), kept as they are: the graph's vectors wrap them and the
     * re-scoring reads them, so the index costs one copy of the vectors plus the graph (about 0.85 KB a row at M 32).
     */
    public static HnswIndex build(float[][] rows, int d) {
        return build(rows, d, PhysicalCoreExecutor.pool(), ForkJoinPool.commonPool()); // jvector's own defaults
    }

    /**
     * As {@link #build(float[][], int)}, the graph built by the threads of {@code pool} (a Spark task: a pool of one, the
     * core Spark gave it; jvector's default is one pool for the whole JVM, physical cores, which tasks would share).
     */
    public static HnswIndex build(float[][] rows, int d, ForkJoinPool pool) {
        return build(rows, d, pool, pool);
    }

    private static HnswIndex build(float[][] rows, int d, ForkJoinPool simd, ForkJoinPool parallel) {
        List<VectorFloat<?>> vs = new ArrayList<>(rows.length);
        for (float[] r : rows) vs.add(VTS.createFloatVector(r));
        ListRandomAccessVectorValues ravv = new ListRandomAccessVectorValues(vs, d);
        try (GraphIndexBuilder b = new GraphIndexBuilder(BuildScoreProvider.randomAccessScoreProvider(ravv, VectorSimilarityFunction.DOT_PRODUCT),
                d, 32, 200, 1.2f, 1.2f, true, true, simd, parallel)) {
            return new HnswIndex(rows, d, ravv, b.build(ravv));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public int size() {
        return rows.length;
    }

    private static VectorFloat<?> vector(float[] x, int off, int d) {
        float[] v = new float[d];
        System.arraycopy(x, off, v, 0, d);
        return VTS.createFloatVector(v);
    }

    public Neighbours search(VectorSet queries, int k) {
        int n = rows.length, m = queries.size();
        if (k < 1 || k > n) throw new IllegalArgumentException("k = " + k + " with " + n + " base rows");
        int[][] idx = new int[m][];
        float[][] sim = new float[m][];
        Parallel.forRange(m, 64, (lo, hi) -> {
            for (int q = lo; q < hi; q++) {
                Neighbours r = search(queries.x(), q * d, k);
                int kk = r.k();
                idx[q] = new int[k];
                sim[q] = new float[k];
                for (int j = 0; j < k; j++) { // a graph that returns fewer than k pads with its last (never happens on connected graphs)
                    idx[q][j] = r.idx()[Math.min(j, kk - 1)];
                    sim[q][j] = r.sim()[Math.min(j, kk - 1)];
                }
            }
        });
        return Neighbours.flatten(idx, sim, k);
    }

    /**
     * The query at {@code x[off, off + d)}: the graph's candidates (4k, at least 40, at most every row), re-scored
     * exactly (float inner product, summed in order) and sorted by similarity, then lower row; the best k of them, or
     * all when fewer (a single query row: {@code queries() == 1}, {@code k()} the count).
     */
    public Neighbours search(float[] x, int off, int k) {
        int n = rows.length;
        SearchResult r = GraphSearcher.search(vector(x, off, d), Math.min(n, Math.max(4 * k, 40)), ravv,
                VectorSimilarityFunction.DOT_PRODUCT, graph, Bits.ALL);
        SearchResult.NodeScore[] nodes = r.getNodes();
        int c = nodes.length;
        int[] ci = new int[c];
        float[] cs = new float[c];
        for (int j = 0; j < c; j++) {
            ci[j] = nodes[j].node;
            float[] b = rows[ci[j]];
            float s = 0;
            for (int t = 0; t < d; t++) s += x[off + t] * b[t];
            cs[j] = s;
        }
        Integer[] order = new Integer[c];
        for (int j = 0; j < c; j++) order[j] = j;
        java.util.Arrays.sort(order, (a, b) -> cs[a] != cs[b] ? Float.compare(cs[b], cs[a]) : Integer.compare(ci[a], ci[b]));
        int kk = Math.min(k, c);
        int[] idx = new int[kk];
        float[] sim = new float[kk];
        for (int j = 0; j < kk; j++) {
            idx[j] = ci[order[j]];
            sim[j] = cs[order[j]];
        }
        return new Neighbours(1, kk, idx, sim);
    }
}
