package org.dino4j.curate;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

import io.github.jbellis.jvector.graph.GraphIndexBuilder;
import io.github.jbellis.jvector.graph.GraphSearcher;
import io.github.jbellis.jvector.graph.ImmutableGraphIndex;
import io.github.jbellis.jvector.graph.ListRandomAccessVectorValues;
import io.github.jbellis.jvector.graph.SearchResult;
import io.github.jbellis.jvector.util.Bits;
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
    private final VectorSet base;
    private final ListRandomAccessVectorValues ravv;
    private final ImmutableGraphIndex graph;

    private HnswIndex(VectorSet base, ListRandomAccessVectorValues ravv, ImmutableGraphIndex graph) {
        this.base = base;
        this.ravv = ravv;
        this.graph = graph;
    }

    public static HnswIndex build(VectorSet base) {
        int d = base.dim();
        List<VectorFloat<?>> vs = new ArrayList<>(base.size());
        for (int i = 0; i < base.size(); i++) vs.add(vector(base.x(), i * d, d));
        ListRandomAccessVectorValues ravv = new ListRandomAccessVectorValues(vs, d);
        try (GraphIndexBuilder b = new GraphIndexBuilder(ravv, VectorSimilarityFunction.DOT_PRODUCT, 32, 200, 1.2f, 1.2f, true)) {
            return new HnswIndex(base, ravv, b.build(ravv));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static VectorFloat<?> vector(float[] x, int off, int d) {
        float[] v = new float[d];
        System.arraycopy(x, off, v, 0, d);
        return VTS.createFloatVector(v);
    }

    public Neighbours search(VectorSet queries, int k) {
        int n = base.size(), d = base.dim(), m = queries.size();
        if (k < 1 || k > n) throw new IllegalArgumentException("k = " + k + " with " + n + " base rows");
        int[][] idx = new int[m][];
        float[][] sim = new float[m][];
        Parallel.forRange(m, 64, (lo, hi) -> {
            for (int q = lo; q < hi; q++) {
                SearchResult r = GraphSearcher.search(vector(queries.x(), q * d, d), Math.min(n, Math.max(4 * k, 40)), ravv,
                        VectorSimilarityFunction.DOT_PRODUCT, graph, Bits.ALL);
                SearchResult.NodeScore[] nodes = r.getNodes();
                int c = nodes.length;
                int[] ci = new int[c];
                float[] cs = new float[c];
                for (int j = 0; j < c; j++) {
                    ci[j] = nodes[j].node;
                    float s = 0;
                    for (int t = 0, a = q * d, b = ci[j] * d; t < d; t++) s += queries.x()[a + t] * base.x()[b + t];
                    cs[j] = s;
                }
                Integer[] order = new Integer[c];
                for (int j = 0; j < c; j++) order[j] = j;
                java.util.Arrays.sort(order, (a, b) -> cs[a] != cs[b] ? Float.compare(cs[b], cs[a]) : Integer.compare(ci[a], ci[b]));
                int kk = Math.min(k, c);
                idx[q] = new int[k];
                sim[q] = new float[k];
                for (int j = 0; j < k; j++) { // a graph that returns fewer than k pads with its last (never happens on connected graphs)
                    int o = order[Math.min(j, kk - 1)];
                    idx[q][j] = ci[o];
                    sim[q][j] = cs[o];
                }
            }
        });
        return Neighbours.flatten(idx, sim, k);
    }
}
