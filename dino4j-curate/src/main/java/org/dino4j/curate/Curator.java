package org.dino4j.curate;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.dino4j.data.View;

/**
 * The curation pipeline of the paper (§3, appendix A), engine-independent: embed the pool, self-deduplicate
 * (k-NN graph, edges above a cosine threshold, connected components, one image kept per component), drop whole
 * components that come close to an evaluation image, then select: the nearest pool images of each seed image
 * (sample-based retrieval), the images of the k-means clusters that hold enough seed images (cluster-based retrieval),
 * and/or a balanced sample from hierarchical k-means (curation without seeds). With no seeds and no hierarchical
 * sampling the deduplicated pool is the result.
 */
public final class Curator {
    /** One curated image; reason says which rule selected it. */
    public record Entry(int row, String id, String source, String reason) {}

    /**
     * One image dropped by a stage; {@code other} is the image it was too close to (self-dedup: the image kept for its
     * component; "": none), sim the similarity: for a self-duplicate its strongest edge above the threshold, found from
     * either end and through any view (NaN: none, eval-dedup).
     */
    public record Removal(int row, String id, String source, String stage, String reason, String other, float sim) {}

    /**
     * @param nearestSim each pool image's similarity to its nearest other pool image (the histogram of the report)
     * @param groups     removed duplicates grouped under the image kept for them (kept row -> removed rows)
     * @param clusterSizes sizes of the flat k-means clusters (cluster-based retrieval) or of level 1 of the
     *                   hierarchical k-means; empty when no k-means ran
     */
    public record Curation(VectorSet pool, List<Entry> curated, List<Removal> removed, Map<String, Long> counts,
                           float[] nearestSim, Map<Integer, List<Integer>> groups, long[] clusterSizes,
                           double kmeansObjective) {}

    private final CurateConfig cfg;
    private final Engine engine;
    private final Engine.Progress progress;

    public Curator(CurateConfig cfg, Engine engine, Engine.Progress progress) {
        this.cfg = cfg;
        this.engine = engine;
        this.progress = progress;
    }

    public Curation run(Path workDir) {
        Map<String, Long> counts = new LinkedHashMap<>();
        VectorSet pool = engine.embed("pool", cfg.pool(), cfg.embedding(), workDir, progress);
        float[] mean = cfg.embedding().center() ? mean(pool) : null;
        pool = centered(pool, mean);
        int n = pool.size();
        if (n < 2) throw new IllegalArgumentException("pool: " + n + " image(s) embedded; curation needs at least 2");
        counts.put("pool", (long) n);

        // 1. self-deduplication: k-NN graph, edges above the threshold, connected components
        int k = Math.min(cfg.dedup().k(), n - 1);
        List<View> views = cfg.dedup().views();
        long searches = (long) n * (1 + views.size()); // one pass per view: the images themselves, then each view
        progress.update("self-dedup k-NN", 0, searches);
        Neighbours nn = engine.knn(pool, pool, k + 1).withoutSelf();
        progress.update("self-dedup k-NN", n, searches);
        for (int i = 0; i < views.size(); i++) { // a mirrored (cropped) copy is close to the original's mirror image (crop)
            String name = "pool-" + views.get(i).name();
            VectorSet seen = centered(engine.embed(name, cfg.pool(), cfg.embedding().withView(views.get(i)), workDir, progress), mean);
            if (seen.size() != n) throw new IllegalStateException(name + ": " + seen.size() + " images, the pool " + n);
            nn = Neighbours.merge(nn, engine.knn(pool, seen, k + 1).withoutSelf());
            progress.update("self-dedup k-NN", (long) n * (i + 2), searches);
        }
        float[] nearest = new float[n], edge = new float[n]; // edge: each image's strongest edge above the threshold
        Arrays.fill(edge, Float.NaN);
        DisjointSet ds = new DisjointSet(n);
        for (int q = 0; q < n; q++) {
            nearest[q] = nn.similarity(q, 0);
            for (int j = 0; j < nn.k() && nn.similarity(q, j) > cfg.dedup().threshold(); j++) {
                // an edge joins both ends: a crop view of p finding q lies in p's row only, and is q's reason too
                int p = nn.index(q, j);
                float s = nn.similarity(q, j);
                ds.union(q, p);
                if (!(edge[q] >= s)) edge[q] = s;
                if (!(edge[p] >= s)) edge[p] = s;
            }
        }
        boolean[] removed = new boolean[n];
        List<Removal> removals = new ArrayList<>();
        Map<Integer, List<Integer>> groups = new LinkedHashMap<>();
        for (int q = 0; q < n; q++) {
            int root = ds.find(q);
            if (root == q) continue;
            removed[q] = true;
            groups.computeIfAbsent(root, r -> new ArrayList<>()).add(q);
            removals.add(new Removal(q, pool.ids().get(q), pool.sources().get(q), "self-dedup",
                    String.format(Locale.ROOT, "duplicate of %s", pool.ids().get(root)), pool.ids().get(root), edge[q]));
        }
        counts.put("self-dedup removed", (long) removals.size());
        counts.put("after self-dedup", n - (long) removals.size());

        // 2. deduplication against evaluation sets: a component with a member close to an evaluation image goes whole
        if (!cfg.evalSets().isEmpty()) {
            long before = removals.size();
            Map<Integer, String> touched = new LinkedHashMap<>(); // component root -> why
            for (int e = 0; e < cfg.evalSets().size(); e++) {
                VectorSet ev = centered(engine.embed("eval" + e, List.of(cfg.evalSets().get(e)), cfg.embedding(), workDir, progress), mean);
                Neighbours en = engine.knn(ev, pool, 1);
                for (int q = 0; q < n; q++) {
                    float s = en.similarity(q, 0);
                    if (s > cfg.evalThreshold()) {
                        String why = String.format(Locale.ROOT, "%s near evaluation image %s (sim %.3f)", pool.ids().get(q),
                                ev.ids().get(en.index(q, 0)), s);
                        touched.putIfAbsent(ds.find(q), why);
                    }
                }
            }
            for (int q = 0; q < n; q++) {
                String why = touched.get(ds.find(q));
                if (why == null) continue;
                if (removed[q]) { // already a self-duplicate: now its whole component goes
                    continue;
                }
                removed[q] = true;
                removals.add(new Removal(q, pool.ids().get(q), pool.sources().get(q), "eval-dedup", why, "", Float.NaN));
            }
            counts.put("eval-dedup removed", removals.size() - before);
        }
        int[] keptRows = rows(removed, false);
        counts.put("deduplicated pool", (long) keptRows.length);
        VectorSet kept = subset(pool, keptRows, "pool-dedup");

        // 3. selection
        Map<Integer, String> chosen = new LinkedHashMap<>(); // pool row -> first reason
        long[] clusterSizes = new long[0];
        double objective = Double.NaN;
        KMeans.Result flat = null;
        for (CurateConfig.SeedSet s : cfg.seeds()) {
            VectorSet seeds = centered(engine.embed("seeds-" + s.name(), s.inputs(), cfg.embedding(), workDir, progress), mean);
            long before = chosen.size();
            if (s.perImage() > 0) {
                int per = Math.min(s.perImage(), kept.size());
                Neighbours sn = engine.knn(kept, seeds, per);
                for (int q = 0; q < seeds.size(); q++)
                    for (int j = 0; j < per; j++)
                        chosen.putIfAbsent(keptRows[sn.index(q, j)], String.format(Locale.ROOT, "retrieved by %s:%s (rank %d, sim %.3f)",
                                s.name(), seeds.ids().get(q), j + 1, sn.similarity(q, j)));
            } else {
                if (flat == null) {
                    int kc = Math.min(cfg.clusters().k(), kept.size());
                    progress.update("k-means (" + kc + " clusters)", 0, cfg.clusters().iterations());
                    KMeans.Data data = engine.kmeansData(kept);
                    KMeans.Listener l = listener("k-means (" + kc + " clusters)", cfg.clusters().iterations());
                    flat = KMeans.fit(data, KMeans.init(data, kc, cfg.seed(), l), kc, cfg.clusters().iterations(), l);
                    clusterSizes = flat.sizes();
                    objective = flat.objective();
                }
                selectByClusters(s, seeds, flat, kept, keptRows, chosen);
            }
            counts.put("retrieved by " + s.name(), chosen.size() - before);
        }
        if (cfg.hierarchical() != null) {
            CurateConfig.Hierarchical h = cfg.hierarchical();
            List<HierarchicalKMeans.LevelResult> levels = HierarchicalKMeans.fit(engine.kmeansData(kept), h.levels(), h.iterations(),
                    h.closest(), cfg.seed(), listener("hierarchical k-means", h.iterations()));
            int[] pick = HierarchicalSampling.sample(levels, h.target(), h.closest(), cfg.seed());
            HierarchicalKMeans.LevelResult l1 = levels.get(0);
            long before = chosen.size();
            for (int r : pick)
                chosen.putIfAbsent(keptRows[r], "balanced sample (level-1 cluster " + l1.assignment()[r] + ")");
            counts.put("balanced sample", chosen.size() - before);
            if (clusterSizes.length == 0) {
                clusterSizes = new long[l1.k()];
                for (int a : l1.assignment()) clusterSizes[a]++;
            }
        }
        List<Entry> curated = new ArrayList<>();
        if (cfg.seeds().isEmpty() && cfg.hierarchical() == null) {
            for (int r : keptRows) curated.add(new Entry(r, pool.ids().get(r), pool.sources().get(r), "kept (no near duplicate kept before it)"));
        } else {
            int[] order = chosen.keySet().stream().mapToInt(Integer::intValue).sorted().toArray();
            for (int r : order) curated.add(new Entry(r, pool.ids().get(r), pool.sources().get(r), chosen.get(r)));
        }
        counts.put("curated", (long) curated.size());
        return new Curation(pool, curated, removals, counts, nearest, groups, clusterSizes, objective);
    }

    /** Progress of k-means: its k-means++ start (centres chosen), then its iterations. */
    private KMeans.Listener listener(String step, int iterations) {
        return new KMeans.Listener() {
            public void iteration(int iter, double objective) {
                progress.update(step + " iterations", iter + 1, iterations);
            }

            public void initProgress(int done, int k) {
                progress.update(step + ": k-means++ centres", done, k);
            }
        };
    }

    /** Paper: clusters holding more than minSeeds seed images give up to perCluster images each; at most cap per set. */
    private void selectByClusters(CurateConfig.SeedSet s, VectorSet seeds, KMeans.Result flat, VectorSet kept, int[] keptRows,
                                  Map<Integer, String> chosen) {
        int kc = flat.k();
        KMeans.Assignment sa = KMeans.local(seeds.x(), seeds.size(), seeds.dim()).assign(flat.centroids(), kc);
        int[] seedCount = new int[kc];
        for (int c : sa.cluster()) seedCount[c]++;
        int[][] members = HierarchicalKMeans.members(flat.assignment(), flat.dist2(), kc, null); // closest to centroid first
        long taken = 0;
        for (int c = 0; c < kc && taken < cfg.clusters().cap(); c++) {
            if (seedCount[c] <= cfg.clusters().minSeeds()) continue;
            int[] m = members[c];
            for (int i = 0; i < Math.min(m.length, cfg.clusters().perCluster()) && taken < cfg.clusters().cap(); i++) {
                if (chosen.putIfAbsent(keptRows[m[i]], String.format(Locale.ROOT, "cluster %d holds %d images of %s", c, seedCount[c],
                        s.name())) == null) taken++;
            }
        }
    }

    /** The mean of the rows (in double). */
    static float[] mean(VectorSet s) {
        int d = s.dim(), n = s.size();
        double[] acc = new double[d];
        for (int i = 0; i < n; i++) for (int t = 0; t < d; t++) acc[t] += s.x()[i * d + t];
        float[] m = new float[d];
        for (int t = 0; t < d; t++) m[t] = (float) (acc[t] / Math.max(1, n));
        return m;
    }

    /** s minus mean, L2-normalised again (s itself when mean is null). */
    static VectorSet centered(VectorSet s, float[] mean) {
        if (mean == null) return s;
        int d = s.dim();
        float[] x = s.x().clone();
        for (int i = 0; i < s.size(); i++) for (int t = 0; t < d; t++) x[i * d + t] -= mean[t];
        return VectorSet.normalized(s.name(), s.ids(), s.sources(), x, d);
    }

    static int[] rows(boolean[] removed, boolean value) {
        int c = 0;
        for (boolean b : removed) if (b == value) c++;
        int[] out = new int[c];
        for (int i = 0, o = 0; i < removed.length; i++) if (removed[i] == value) out[o++] = i;
        return out;
    }

    static VectorSet subset(VectorSet s, int[] rows, String name) {
        int d = s.dim();
        float[] x = new float[rows.length * d];
        List<String> ids = new ArrayList<>(rows.length), src = new ArrayList<>(rows.length);
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(s.x(), rows[i] * d, x, i * d, d);
            ids.add(s.ids().get(rows[i]));
            src.add(s.sources().get(rows[i]));
        }
        return new VectorSet(name, ids, src, x, d);
    }

}
