package org.dino4j.spark;

import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.max;
import static org.apache.spark.sql.functions.min;
import static org.apache.spark.sql.functions.struct;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.dino4j.curate.CurateConfig;
import org.dino4j.curate.CurationReport;
import org.dino4j.curate.Curator;
import org.dino4j.curate.Engine;
import org.dino4j.curate.HierarchicalKMeans;
import org.dino4j.curate.HierarchicalSampling;
import org.dino4j.curate.KMeans;
import org.dino4j.curate.VectorSet;
import org.dino4j.data.View;
import org.dino4j.io.Json;

import scala.Tuple2;

/**
 * The curation of {@link Curator} (the paper's §3) as a pipeline of tables on Spark, for pools that do not fit one
 * machine: every stage reads the tables of the stages before it and writes its own under {@code OUT/tables}, the
 * driver holds centroids, counts and a few numbers per set, never a pool's vectors or its per-row arrays. The
 * decisions are the local engine's, so on a pool both can handle the two write the same curated.tsv and removed.tsv
 * (with exact search): self-dedup edges from k-NN lists (one pass per view), components by min-label propagation
 * (root: the smallest row), whole components dropped near an evaluation image, then seed retrieval, k-means clusters
 * holding seeds and the balanced sample of a hierarchical k-means, first reason kept. A rerun skips finished stages.
 */
public final class SparkCurator {
    /** Rows per chunk of the tables the curation writes: a multiple of the local GEMM blocks (256, 4096). */
    static final int CHUNK = 16384;
    static final StructType HITS = new StructType().add("q", DataTypes.LongType, false).add("p", DataTypes.LongType, false)
            .add("s", DataTypes.FloatType, false);
    static final StructType IDS = new StructType().add("row", DataTypes.LongType, false).add("id", DataTypes.StringType, false)
            .add("source", DataTypes.StringType, false);
    static final StructType SELECTED = new StructType().add("krow", DataTypes.LongType, false).add("p1", DataTypes.IntegerType, false)
            .add("p2", DataTypes.LongType, false).add("p3", DataTypes.LongType, false).add("reason", DataTypes.StringType, false);

    /** What a run leaves besides its files: the counts of the report and each stage's time. */
    public record Result(Map<String, Long> counts, Map<String, Object> report, Path curated) {}

    private final SparkSession spark;
    private final JavaSparkContext jsc;
    private final CurateConfig cfg;
    private final Engine.Progress progress;
    private StageLog log;

    public SparkCurator(SparkSession spark, CurateConfig cfg, Engine.Progress progress) {
        this.spark = spark;
        this.jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        this.cfg = cfg;
        this.progress = progress;
    }

    public Result run(Path out) throws IOException {
        // no broadcast joins: Spark SQL would build a table of a million rows on the driver to broadcast it (and at
        // 10M rows under a 512 MB heap it fails there); sort-merge joins keep every table on the executors
        String broadcast = spark.conf().get("spark.sql.autoBroadcastJoinThreshold");
        spark.conf().set("spark.sql.autoBroadcastJoinThreshold", "-1");
        try {
            return curate(out);
        } finally {
            spark.conf().set("spark.sql.autoBroadcastJoinThreshold", broadcast);
        }
    }

    private Result curate(Path out) throws IOException {
        long t0 = System.nanoTime();
        Files.createDirectories(out);
        log = new StageLog(out.toAbsolutePath().resolve("tables").toString());
        Map<String, Long> counts = new LinkedHashMap<>();
        Map<String, Object> report = new LinkedHashMap<>();

        if (cfg.hierarchical() != null && !cfg.hierarchical().closest())
            throw new IllegalArgumentException("hierarchical.strategy random: not on Spark yet (use closest)");
        VectorTable poolT = set("pool", cfg.pool(), cfg.embedding());
        float[] mean = cfg.embedding().center() ? mean(poolT) : null;
        Vectors pool = new Vectors(poolT, mean);
        long n = pool.rows();
        if (n < 2) throw new IllegalArgumentException("pool: " + n + " image(s) embedded; curation needs at least 2");
        counts.put("pool", n);
        // the search settings are in every stage's fingerprint: any of them may decide a stage's index
        String fp = poolT.fingerprint() + "|center=" + (mean != null) + "|index=" + cfg.index() + "/" + cfg.hnswAbove() + "/"
                + cfg.ivf() + "/seed=" + cfg.seed();

        // 1. self-deduplication: k-NN lists (one pass per view), edges above the threshold, components
        int k = (int) Math.min(cfg.dedup().k(), n - 1);
        double thr = cfg.dedup().threshold();
        String dedupFp = fp + "|k=" + k + "|thr=" + thr + "|index=" + index(n) + "|" + cfg.ivf() + "|views=" + cfg.dedup().views();
        List<String> passes = new ArrayList<>();
        passes.add(pass("knn-pool", pool, pool, k, thr, dedupFp, report));
        for (View v : cfg.dedup().views()) {
            String name = "pool-" + v.name();
            VectorTable seenT = set(name, cfg.pool(), cfg.embedding().withView(v));
            if (seenT.rows() != n) throw new IllegalStateException(name + ": " + seenT.rows() + " images, the pool " + n);
            sameDim(name, seenT, poolT);
            passes.add(pass("knn-" + name, pool, new Vectors(seenT, mean), k, thr, dedupFp + "|" + seenT.fingerprint(), report));
        }
        Map<String, Object> edges = log.stage("edges", dedupFp, () -> edges(passes, k, thr));
        log.stage("components", dedupFp, () -> {
            Components.labels(spark, spark.read().parquet(log.path("edges")), log.path("components"), log, dedupFp);
            return Map.of();
        });
        Dataset<Row> labels = spark.read().parquet(log.path("components/labels"));

        // 2. deduplication against evaluation sets; the removals
        List<String> evalDirs = new ArrayList<>();
        String evalFp = dedupFp + "|eval=" + cfg.evalThreshold();
        for (int e = 0; e < cfg.evalSets().size(); e++) {
            VectorTable evT = set("eval" + e, List.of(cfg.evalSets().get(e)), cfg.embedding());
            sameDim("eval_sets[" + e + "]", evT, poolT);
            Vectors ev = new Vectors(evT, mean);
            String dir = "evalknn-" + e;
            evalFp += "|" + evT.fingerprint();
            double et = cfg.evalThreshold();
            log.stage(dir, evalFp, () -> {
                JavaRDD<Row> hits = search(ev, pool, 1, false).filter(h -> h.p().length > 0 && h.s()[0] > et)
                        .map(h -> RowFactory.create(h.q(), h.p()[0], h.s()[0]));
                save(spark.createDataFrame(hits, HITS), dir);
                return Map.of();
            });
            evalDirs.add(dir);
        }
        Map<String, Object> rem = log.stage("removed", evalFp, () -> removed(labels, evalDirs));
        long selfRemoved = num(rem, "self"), evalRemoved = num(rem, "eval");
        counts.put("self-dedup removed", selfRemoved);
        counts.put("after self-dedup", n - selfRemoved);
        if (!cfg.evalSets().isEmpty()) counts.put("eval-dedup removed", evalRemoved);

        // the deduplicated pool, as a table of its own (aligned chunks for the k-means)
        String keptFp = evalFp + "|kept";
        log.stage("kept", keptFp, () -> {
            kept(poolT, keptFp);
            return Map.of();
        });
        VectorTable keptT = VectorTable.open(log.path("kept"), keptFp);
        Vectors kept = new Vectors(keptT, mean);
        counts.put("deduplicated pool", kept.rows());

        // 3. selection: each source writes a table of (kept row, priority, reason); the first reason wins
        List<String> selections = new ArrayList<>();
        String selFp = keptFp + "|seed=" + cfg.seed() + "|" + cfg.clusters();
        long[] clusterSizes = new long[0];
        double objective = Double.NaN;
        for (int i = 0; i < cfg.seeds().size(); i++) {
            CurateConfig.SeedSet s = cfg.seeds().get(i);
            VectorTable seedT = set("seeds-" + s.name(), s.inputs(), cfg.embedding());
            sameDim("seeds." + s.name(), seedT, poolT);
            Vectors seeds = new Vectors(seedT, mean);
            selFp += "|" + s + "|" + seedT.fingerprint();
            int si = i;
            if (s.perImage() > 0) {
                log.stage("retrieve-" + s.name(), selFp, () -> retrieve(si, s, seeds, seedT, kept));
            } else {
                int kc = (int) Math.min(cfg.clusters().k(), kept.rows());
                String kmFp = keptFp + "|kmeans=" + kc + "|" + cfg.clusters().iterations() + "|seed=" + cfg.seed();
                Map<String, Object> km = log.stage("kmeans", kmFp, () -> flatKMeans(kept, kc));
                clusterSizes = longs(km.get("sizes"));
                objective = ((Number) km.get("objective")).doubleValue();
                long[] sizes = clusterSizes;
                log.stage("clusters-" + s.name(), selFp + "|" + kmFp + "|" + cfg.clusters(),
                        () -> byClusters(si, s, seeds, kc, sizes, List.copyOf(selections)));
            }
            selections.add("selected-" + i);
        }
        if (cfg.hierarchical() != null) {
            CurateConfig.Hierarchical h = cfg.hierarchical();
            Map<String, Object> hk = log.stage("hierarchical", keptFp + "|" + h + "|seed=" + cfg.seed(), () -> balanced(kept, h));
            if (clusterSizes.length == 0) clusterSizes = longs(hk.get("sizes"));
            selections.add("selected-balanced");
        }
        Map<String, Object> sel = log.stage("curated", selFp + "|" + cfg.hierarchical() + "|" + selections, () -> curated(selections));
        for (int i = 0; i < cfg.seeds().size(); i++) counts.put("retrieved by " + cfg.seeds().get(i).name(), num(sel, "p" + i));
        if (cfg.hierarchical() != null) counts.put("balanced sample", num(sel, "p" + cfg.seeds().size()));
        counts.put("curated", num(sel, "total"));

        // outputs, from the tables
        writeOutputs(out, counts, report, edges, clusterSizes, objective, (System.nanoTime() - t0) / 1e9, poolT);
        return new Result(counts, report, out.resolve("curated.tsv"));
    }

    private static void sameDim(String name, VectorTable t, VectorTable pool) {
        if (t.dim() != pool.dim())
            throw new IllegalArgumentException(name + " (" + t.dir() + "): vectors of dimension " + t.dim() + ", the pool's are " + pool.dim());
    }

    private static long num(Map<String, Object> m, String key) {
        Object v = m.get(key);
        return v == null ? 0 : ((Number) v).longValue();
    }

    private static long[] longs(Object list) {
        List<?> l = (List<?>) list;
        long[] out = new long[l.size()];
        for (int i = 0; i < out.length; i++) out[i] = ((Number) l.get(i)).longValue();
        return out;
    }

    /** "exact", "ivf" or "hnsw" (per-partition jvector graphs): auto is exact up to hnsw_above rows, then ivf. */
    String index(long n) {
        return switch (cfg.index()) {
            case "auto" -> n > cfg.hnswAbove() ? "ivf" : "exact";
            default -> cfg.index();
        };
    }

    JavaRDD<TableKnn.Hits> search(Vectors base, Vectors queries, int k, boolean self) {
        return switch (index(Math.max(base.rows(), queries.rows()))) {
            case "ivf" -> TableKnn.ivf(jsc, base, queries, k, cfg.ivf().cells(), cfg.ivf().probe(), cfg.seed(), self);
            case "hnsw" -> HnswKnn.search(jsc, base, queries, k, self);
            default -> TableKnn.exact(jsc, base, queries, k);
        };
    }

    // ---------------------------------------------------------------------------------------------------------------
    // sets

    /** A set's vector table: the given table (kind table) or the images embedded on the executors. */
    VectorTable set(String name, List<Path> inputs, CurateConfig.Embedding e) {
        if (e.kind().equals("table")) {
            if (inputs.size() != 1) throw new IllegalArgumentException(name + ": kind table takes one table folder, got " + inputs);
            VectorTable t = VectorTable.open(inputs.get(0).toAbsolutePath().toString(), null);
            if (t == null) throw new IllegalArgumentException(inputs.get(0) + ": not a complete vector table (no " + VectorTable.META + ")");
            return t;
        }
        return TableEmbedder.embed(jsc, name, inputs, e, log.path("embeddings/" + name), Path.of(log.work()).getParent(), progress);
    }

    /** The pool's mean vector (in double, as the local engine), from per-chunk sums. */
    private float[] mean(VectorTable t) {
        Map<String, Object> r = log.stage("mean", t.fingerprint(), () -> {
            int d = t.dim();
            Vectors v = new Vectors(t, null);
            // per-chunk sums, added in chunk order (in groups of 64 on the executors): the same mean on every run
            List<Tuple2<Integer, double[]>> groups = new ArrayList<>(v.chunks(jsc, false).mapToPair(ch -> {
                double[] s = new double[d];
                for (int i = 0; i < ch.n(); i++) for (int j = 0; j < d; j++) s[j] += ch.x()[i * d + j];
                return new Tuple2<>(chunkOf(t.offsets(), ch.start()) / 64, new Tuple2<>(chunkOf(t.offsets(), ch.start()), s));
            }).groupByKey().mapValues(it -> {
                List<Tuple2<Integer, double[]>> l = new ArrayList<>();
                it.forEach(l::add);
                l.sort((a, b) -> Integer.compare(a._1(), b._1()));
                double[] s = new double[d];
                for (Tuple2<Integer, double[]> x : l) for (int j = 0; j < d; j++) s[j] += x._2()[j];
                return s;
            }).collect());
            groups.sort((a, b) -> Integer.compare(a._1(), b._1()));
            double[] sum = new double[d];
            for (Tuple2<Integer, double[]> g : groups) for (int j = 0; j < d; j++) sum[j] += g._2()[j];
            List<Double> m = new ArrayList<>();
            for (int j = 0; j < d; j++) m.add((double) (float) (sum[j] / Math.max(1, t.rows())));
            return Map.of("mean", m);
        });
        List<?> m = (List<?>) r.get("mean");
        float[] out = new float[m.size()];
        for (int j = 0; j < out.length; j++) out[j] = ((Number) m.get(j)).floatValue();
        return out;
    }

    private Dataset<Row> save(Dataset<Row> df, String name) {
        String dir = log.path(name);
        df.write().mode(SaveMode.Overwrite).parquet(dir);
        return spark.read().parquet(dir);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // self-dedup

    /**
     * One k-NN pass of the self-dedup: each query row's k + 1 neighbours without itself, kept as the entries above
     * the threshold (q, p, s) plus one (q, −1, nearest) row for the histogram.
     */
    private String pass(String name, Vectors base, Vectors queries, int k, double thr, String fp, Map<String, Object> report) {
        Map<String, Object> r = log.stage(name, fp, () -> {
            JavaRDD<TableKnn.Hits> hits = search(base, queries, k + 1, base == queries).map(h -> h.withoutSelf(k));
            hits = hits.persist(org.apache.spark.storage.StorageLevel.MEMORY_AND_DISK_SER());
            JavaRDD<Row> rows = hits.flatMap(h -> {
                List<Row> out = new ArrayList<>();
                if (h.p().length > 0) out.add(RowFactory.create(h.q(), -1L, h.s()[0])); // an empty list (a lone IVF cell): no row
                for (int j = 0; j < h.p().length && h.s()[j] > thr; j++) out.add(RowFactory.create(h.q(), h.p()[j], h.s()[j]));
                return out.iterator();
            });
            save(spark.createDataFrame(rows, HITS), name);
            Map<String, Object> m = new LinkedHashMap<>();
            if (!index(Math.max(base.rows(), queries.rows())).equals("exact") && cfg.ivf().recallSample() > 0) {
                // every pass drops the query's own row (the image, or the image its view was made from)
                TableKnn.Recall rc = TableKnn.recall(jsc, base, queries, hits, k, true, thr, cfg.ivf().recallSample(), cfg.seed());
                m.put("recall_queries", rc.queries());
                m.put("recall_at_k", rc.recallAtK());
                m.put("exact_edges_in_sample", rc.edges());
                m.put("edges_found", rc.edgesFound());
                log.line(String.format(Locale.ROOT, "%s: recall@%d %.4f on %d queries; %d of %d duplicate edges found", name, k,
                        rc.recallAtK(), rc.queries(), rc.edgesFound(), rc.edges()));
            }
            hits.unpersist();
            return m;
        });
        if (!r.isEmpty()) report.put("knn_recall_" + name, r);
        return name;
    }

    /** The passes merged per query (best similarity per base row, the k best), edges above the threshold. */
    private Map<String, Object> edges(List<String> passes, int k, double thr) {
        Dataset<Row> all = null;
        for (String p : passes) all = all == null ? spark.read().parquet(log.path(p)) : all.union(spark.read().parquet(log.path(p)));
        Dataset<Row> best = all.filter(col("p").geq(0)).groupBy("q", "p").agg(max("s").as("s"));
        Dataset<Row> e = best.withColumn("r", functions.row_number().over(Window.partitionBy("q").orderBy(col("s").desc(), col("p"))))
                .filter(col("r").leq(k)).drop("r");
        long edges = save(e, "edges").count();
        // the histogram of each image's nearest similarity: counts per bin, computed where the rows are
        Dataset<Row> nearest = all.filter(col("p").lt(0)).groupBy("q").agg(max("s").as("s"));
        double t = thr;
        Map<Integer, Long> bins = nearest.javaRDD().filter(r -> !Float.isNaN(r.getFloat(1)))
                .map(r -> CurationReport.histogramBin(r.getFloat(1), t)).countByValue();
        List<Long> h = new ArrayList<>();
        for (int b = 0; b < CurationReport.histogramBins(thr); b++) h.add(bins.getOrDefault(b, 0L));
        return Map.of("edges", edges, "histogram", h);
    }

    /**
     * Self-duplicates (nodes whose component label is not themselves: the image kept is the label, the similarity the
     * node's strongest edge from either end) and evaluation duplicates (the components, roots included, with a member
     * near an evaluation image: the first set, then the lowest row, gives the reason).
     */
    private Map<String, Object> removed(Dataset<Row> labels, List<String> evalDirs) {
        Dataset<Row> edges = spark.read().parquet(log.path("edges"));
        Dataset<Row> strongest = edges.select(col("q").as("node"), col("s")).union(edges.select(col("p").as("node"), col("s")))
                .groupBy("node").agg(max("s").as("sim"));
        Dataset<Row> self = labels.filter(col("label").notEqual(col("node"))).join(strongest, "node")
                .select(col("node").as("row"), lit(0).as("stage"), col("label").as("other"), col("sim"),
                        lit(-1).as("e"), lit(-1L).as("q"), lit(-1L).as("ev"), lit(Float.NaN).as("es"));
        long selfN = save(self, "removed-self").count();
        long evalN = 0;
        if (!evalDirs.isEmpty()) {
            Dataset<Row> hits = null;
            for (int e = 0; e < evalDirs.size(); e++) {
                Dataset<Row> h = spark.read().parquet(log.path(evalDirs.get(e))).withColumn("e", lit(e));
                hits = hits == null ? h : hits.union(h);
            }
            Dataset<Row> withComp = hits.join(labels, hits.col("q").equalTo(labels.col("node")), "left")
                    .select(coalesce(labels.col("label"), hits.col("q")).as("comp"), col("e"), col("q"), col("p").as("ev"), col("s"));
            Dataset<Row> touched = withComp.groupBy("comp").agg(min(struct("e", "q", "ev", "s")).as("m"));
            Dataset<Row> ev = touched.select(col("comp").as("row"), lit(1).as("stage"), lit(-1L).as("other"), lit(Float.NaN).as("sim"),
                    col("m.e").as("e"), col("m.q").as("q"), col("m.ev").as("ev"), col("m.s").as("es"));
            evalN = save(ev, "removed-eval").count();
        } else {
            save(self.limit(0), "removed-eval");
        }
        return Map.of("self", selfN, "eval", evalN);
    }

    /** A piece of the deduplicated pool bound for one chunk of the kept table. */
    record Piece(long krow, long[] item, String[] id, String[] source, float[] x) implements java.io.Serializable {}

    /** The pool without the removed rows, as a table of CHUNK-row chunks (item: the pool row). */
    private void kept(VectorTable poolT, String fingerprint) {
        String dir = log.path("kept");
        VectorTable.delete(dir);
        long[] off = poolT.offsets();
        Broadcast<long[]> bo = jsc.broadcast(off);
        Dataset<Row> removed = spark.read().parquet(log.path("removed-self")).select("row")
                .union(spark.read().parquet(log.path("removed-eval")).select("row"));
        // removed rows per pool chunk (the driver gets one count per chunk)
        Map<Integer, Long> perChunk = removed.javaRDD().map(r -> chunkOf(bo.value(), r.getLong(0))).countByValue();
        long[] keptOff = new long[off.length + 1];
        for (int c = 0; c < off.length; c++) keptOff[c + 1] = keptOff[c] + poolT.chunkRows()[c] - perChunk.getOrDefault(c, 0L);
        long total = keptOff[off.length];
        Broadcast<long[]> bk = jsc.broadcast(keptOff);
        List<Integer> cs = new ArrayList<>();
        for (int c = 0; c < off.length; c++) cs.add(c);
        var removedByChunk = removed.javaRDD().mapToPair(r -> new Tuple2<>(chunkOf(bo.value(), r.getLong(0)), r.getLong(0))).groupByKey();
        var chunks = jsc.parallelize(cs, Math.max(1, cs.size())).mapToPair(c -> new Tuple2<>(c, c));
        int d = poolT.dim();
        int outChunks = (int) Math.max(1, (total + CHUNK - 1) / CHUNK);
        chunks.leftOuterJoin(removedByChunk, Math.max(1, cs.size())).flatMapToPair(t -> {
            int c = t._1();
            java.util.Set<Long> gone = new java.util.HashSet<>();
            if (t._2()._2().isPresent()) t._2()._2().get().forEach(gone::add);
            VectorTable.Chunk ch = poolT.read(c, true);
            long krow = bk.value()[c];
            List<Tuple2<Integer, Piece>> out = new ArrayList<>();
            List<Integer> keep = new ArrayList<>();
            for (int i = 0; i < ch.n(); i++) if (!gone.contains(ch.start() + i)) keep.add(i);
            for (int a = 0; a < keep.size(); ) { // cut where the kept rows cross a chunk of the kept table
                long kr = krow + a;
                int len = (int) Math.min(keep.size() - a, (kr / CHUNK + 1) * CHUNK - kr);
                long[] item = new long[len];
                String[] id = new String[len], src = new String[len];
                float[] x = new float[len * d];
                for (int j = 0; j < len; j++) {
                    int i = keep.get(a + j);
                    item[j] = ch.start() + i;
                    id[j] = ch.id()[i];
                    src[j] = ch.source()[i];
                    System.arraycopy(ch.x(), i * d, x, j * d, d);
                }
                out.add(new Tuple2<>((int) (kr / CHUNK), new Piece(kr, item, id, src, x)));
                a += len;
            }
            return out.iterator();
        }).groupByKey(outChunks).foreach(g -> {
            List<Piece> ps = new ArrayList<>();
            g._2().forEach(ps::add);
            ps.sort((a, b) -> Long.compare(a.krow(), b.krow()));
            Iterator<VectorTable.Rec> recs = ps.stream().flatMap(p -> java.util.stream.IntStream.range(0, p.item().length)
                    .mapToObj(j -> new VectorTable.Rec(p.item()[j], p.id()[j], p.source()[j], Arrays.copyOfRange(p.x(), j * d, (j + 1) * d)))).iterator();
            VectorTable.writeChunk(dir, g._1(), d, recs);
        });
        for (int j = 0; j < outChunks; j++) // a kept table with no rows at all still has its one (empty) chunk
            if (!VectorTable.chunkDone(dir, j)) VectorTable.writeChunk(dir, j, d, java.util.Collections.emptyIterator());
        bo.destroy();
        bk.destroy();
        VectorTable.seal(dir, fingerprint, d, outChunks);
    }

    static int chunkOf(long[] offsets, long row) {
        int i = Arrays.binarySearch(offsets, row);
        if (i >= 0) {
            while (i + 1 < offsets.length && offsets[i + 1] == row) i++; // skip empty chunks
            return i;
        }
        return -i - 2;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // selection

    /** Rows of a set with their ids (row, id, source). */
    private Dataset<Row> ids(VectorTable t) {
        Vectors v = new Vectors(t, null);
        JavaRDD<Row> rows = v.chunks(jsc, true).flatMap(ch -> {
            List<Row> out = new ArrayList<>(ch.n());
            for (int i = 0; i < ch.n(); i++) out.add(RowFactory.create(ch.start() + i, ch.id()[i], ch.source()[i]));
            return out.iterator();
        });
        return spark.createDataFrame(rows, IDS);
    }

    /** Sample-based retrieval: the per_image nearest kept rows of every seed image. */
    private Map<String, Object> retrieve(int si, CurateConfig.SeedSet s, Vectors seeds, VectorTable seedT, Vectors kept) {
        int per = (int) Math.min(s.perImage(), kept.rows());
        String name = s.name();
        JavaRDD<Row> rows = search(kept, seeds, per, false).flatMap(h -> {
            List<Row> out = new ArrayList<>();
            for (int j = 0; j < h.p().length; j++) out.add(RowFactory.create(h.q(), h.p()[j], h.s()[j], j));
            return out.iterator();
        });
        StructType st = new StructType().add("q", DataTypes.LongType).add("krow", DataTypes.LongType).add("s", DataTypes.FloatType)
                .add("j", DataTypes.IntegerType);
        Dataset<Row> hits = spark.createDataFrame(rows, st);
        Dataset<Row> ids = ids(seedT);
        JavaRDD<Row> sel = hits.join(ids, hits.col("q").equalTo(ids.col("row"))).javaRDD().map(r -> RowFactory.create(
                r.getLong(r.fieldIndex("krow")), si, r.getLong(r.fieldIndex("q")), (long) r.getInt(r.fieldIndex("j")),
                String.format(Locale.ROOT, "retrieved by %s:%s (rank %d, sim %.3f)", name, r.getString(r.fieldIndex("id")),
                        r.getInt(r.fieldIndex("j")) + 1, r.getFloat(r.fieldIndex("s")))));
        save(spark.createDataFrame(sel, SELECTED), "selected-" + si);
        return Map.of();
    }

    /** The flat k-means of cluster-based retrieval: centroids (a file), the assignment table, sizes, objective. */
    private Map<String, Object> flatKMeans(Vectors kept, int kc) {
        String step = "k-means (" + kc + " clusters)";
        KMeans.Listener l = new KMeans.Listener() {
            public void iteration(int iter, double objective) {
                progress.update(step + " iterations", iter + 1, cfg.clusters().iterations());
            }
        };
        float[] init = TableKMeans.init(jsc, kept, kc, cfg.seed());
        JavaRDD<Vectors.Block> blocks = TableKMeans.cached(jsc, kept);
        float[] c = KMeans.iterate(new TableKMeans.Data(jsc, blocks, kept.rows(), kept.dim()), init, kc, cfg.clusters().iterations(), l).centroids();
        writeFloats(log.path("kmeans/centroids.f32"), c);
        Dataset<Row> a = TableKMeans.assign(spark, blocks, kept.dim(), c, kc, log.path("kmeans/assign"));
        blocks.unpersist();
        long[] sizes = TableKMeans.sizes(a, kc);
        double obj = a.agg(functions.sum(col("dist2").cast(DataTypes.DoubleType))).first().getDouble(0);
        List<Long> s = new ArrayList<>();
        for (long v : sizes) s.add(v);
        return Map.of("sizes", s, "objective", obj);
    }

    /**
     * Cluster-based retrieval: clusters holding more than min_seeds seed images give their per_cluster rows closest
     * to the centroid, clusters in order, until cap new rows (rows chosen before do not count, as in the local loop).
     */
    private Map<String, Object> byClusters(int si, CurateConfig.SeedSet s, Vectors seeds, int kc, long[] sizes, List<String> before) {
        float[] c = readFloats(log.path("kmeans/centroids.f32"));
        long[] seedCount = TableKMeans.sizes(TableKMeans.assign(spark, seeds, c, kc, log.path("kmeans/seeds-" + s.name())), kc);
        CurateConfig.Clusters cc = cfg.clusters();
        Dataset<Row> ranked = TableKMeans.ranked(spark.read().parquet(log.path("kmeans/assign"))).filter(col("rank").lt(cc.perCluster()));
        List<Integer> eligible = new ArrayList<>();
        for (int j = 0; j < kc; j++) if (seedCount[j] > cc.minSeeds()) eligible.add(j);
        ranked = ranked.filter(col("cluster").isin(eligible.toArray()));
        Dataset<Row> chosen = null;
        for (String b : before) {
            Dataset<Row> x = spark.read().parquet(log.path(b)).select(col("krow").as("ck"));
            chosen = chosen == null ? x : chosen.union(x);
        }
        Dataset<Row> flagged = chosen == null ? ranked.withColumn("isnew", lit(true))
                : ranked.join(chosen.distinct(), ranked.col("row").equalTo(col("ck")), "left").withColumn("isnew", col("ck").isNull()).drop("ck");
        flagged = save(flagged, "clusters-" + s.name() + "-members");
        Map<Integer, Long> fresh = new java.util.HashMap<>();
        for (Row r : flagged.filter(col("isnew")).groupBy("cluster").count().collectAsList()) fresh.put(r.getInt(0), r.getLong(1));
        long taken = 0;
        int last = -1;
        long need = Long.MAX_VALUE;
        List<Integer> whole = new ArrayList<>();
        for (int j : eligible) {
            if (taken >= cc.cap()) break;
            long f = fresh.getOrDefault(j, 0L);
            if (taken + f <= cc.cap()) {
                whole.add(j);
                taken += f;
            } else {
                last = j;
                need = cc.cap() - taken;
                taken = cc.cap();
            }
        }
        Dataset<Row> pickedRows = flagged.filter(col("cluster").isin(whole.toArray()));
        if (last >= 0) {
            Dataset<Row> lastC = flagged.filter(col("cluster").equalTo(last))
                    .withColumn("nr", functions.row_number().over(Window.partitionBy("cluster", "isnew").orderBy("rank")).minus(1));
            pickedRows = pickedRows.union(lastC.filter(col("isnew").equalTo(false).or(col("nr").lt(need))).drop("nr"));
        }
        String name = s.name();
        Broadcast<long[]> bs = jsc.broadcast(seedCount);
        JavaRDD<Row> sel = pickedRows.javaRDD().map(r -> {
            int cl = r.getInt(r.fieldIndex("cluster"));
            return RowFactory.create(r.getLong(r.fieldIndex("row")), si, (long) cl, (long) r.getInt(r.fieldIndex("rank")),
                    String.format(Locale.ROOT, "cluster %d holds %d images of %s", cl, bs.value()[cl], name));
        });
        save(spark.createDataFrame(sel, SELECTED), "selected-" + si);
        return Map.of();
    }

    /** Hierarchical k-means with resampling and its balanced sample (strategy closest). */
    private Map<String, Object> balanced(Vectors kept, CurateConfig.Hierarchical h) {
        KMeans.Listener l = new KMeans.Listener() {
            public void iteration(int iter, double objective) {
                progress.update("hierarchical k-means iterations", iter + 1, h.iterations());
            }
        };
        TableKMeans.Hierarchy hy = TableKMeans.hierarchical(spark, kept, h.levels(), h.iterations(), cfg.seed(), log.path("hierarchical"), l);
        long[] t0 = HierarchicalSampling.levelOneTargets(hy.levelOneSizes(), hy.levels(), h.target(), cfg.seed());
        Broadcast<long[]> bt = jsc.broadcast(t0);
        int p = cfg.seeds().size();
        JavaRDD<Row> sel = TableKMeans.ranked(hy.levelOne()).javaRDD().filter(r -> r.getInt(r.fieldIndex("rank")) < bt.value()[r.getInt(r.fieldIndex("cluster"))])
                .map(r -> RowFactory.create(r.getLong(r.fieldIndex("row")), p, 0L, 0L,
                        "balanced sample (level-1 cluster " + r.getInt(r.fieldIndex("cluster")) + ")"));
        long taken = save(spark.createDataFrame(sel, SELECTED), "selected-balanced").count();
        List<Long> s = new ArrayList<>();
        for (long v : hy.levelOneSizes()) s.add(v);
        return Map.of("sizes", s, "sampled", taken);
    }

    /** The first reason of every chosen row (or every kept row when nothing selects), as pool rows. */
    private Map<String, Object> curated(List<String> selections) {
        Vectors kv = new Vectors(VectorTable.open(log.path("kept"), null), null);
        JavaRDD<Row> map = kv.chunks(jsc, false).flatMap(ch -> {
            List<Row> out = new ArrayList<>(ch.n());
            for (int i = 0; i < ch.n(); i++) out.add(RowFactory.create(ch.start() + i, ch.item()[i]));
            return out.iterator();
        });
        Dataset<Row> k2p = spark.createDataFrame(map, new StructType().add("krow", DataTypes.LongType).add("row", DataTypes.LongType));
        Dataset<Row> cur;
        Map<String, Object> counts = new LinkedHashMap<>();
        if (selections.isEmpty()) {
            cur = k2p.select(col("row"), lit("kept (no near duplicate kept before it)").as("reason"));
        } else {
            Dataset<Row> all = null;
            for (int i = 0; i < selections.size(); i++) { // the first priority is the table's place: seed sets in order, then the sample
                Dataset<Row> x = spark.read().parquet(log.path(selections.get(i))).withColumn("p1", lit(i));
                all = all == null ? x : all.union(x);
            }
            Dataset<Row> first = all.groupBy("krow").agg(min(struct("p1", "p2", "p3", "reason")).as("m"));
            first = first.join(k2p, "krow").select(col("row"), col("m.p1").as("p1"), col("m.reason").as("reason"));
            first = save(first, "curated-first");
            for (Row r : first.groupBy("p1").count().collectAsList()) counts.put("p" + r.getInt(0), r.getLong(1));
            cur = first.select("row", "reason");
        }
        counts.put("total", save(cur, "curated").count());
        return counts;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // outputs

    private void writeOutputs(Path out, Map<String, Long> counts, Map<String, Object> report, Map<String, Object> edges,
                              long[] clusterSizes, double objective, double seconds, VectorTable poolT) throws IOException {
        Dataset<Row> ids = save(ids(poolT), "pool-ids");
        Dataset<Row> cur = spark.read().parquet(log.path("curated")).join(ids, "row").orderBy("row");
        writeTsv(out.resolve("curated.tsv"), "path\tsource\treason", cur.select("id", "source", "reason").toLocalIterator(),
                r -> tsv(r.getString(0)) + "\t" + tsv(r.getString(1)) + "\t" + tsv(r.getString(2)));
        Dataset<Row> self = spark.read().parquet(log.path("removed-self")), ev = spark.read().parquet(log.path("removed-eval"));
        Dataset<Row> rem = self.union(ev);
        Dataset<Row> a = ids.select(col("row").as("r1"), col("id").as("id1"), col("source").as("src1"));
        Dataset<Row> o = ids.select(col("row").as("r2"), col("id").as("id2"));
        Dataset<Row> qid = ids.select(col("row").as("r3"), col("id").as("qid"));
        Dataset<Row> named = rem.join(a, rem.col("row").equalTo(a.col("r1")))
                .join(o, rem.col("other").equalTo(o.col("r2")), "left").join(qid, rem.col("q").equalTo(qid.col("r3")), "left");
        // evaluation image ids, per set
        Dataset<Row> evIds = null;
        for (int e = 0; e < cfg.evalSets().size(); e++) {
            VectorTable evT = VectorTable.open(log.path("embeddings/eval" + e), null);
            if (evT == null) evT = set("eval" + e, List.of(cfg.evalSets().get(e)), cfg.embedding());
            Dataset<Row> x = ids(evT).select(lit(e).as("e4"), col("row").as("r4"), col("id").as("evid"));
            evIds = evIds == null ? x : evIds.union(x);
        }
        if (evIds != null) named = named.join(evIds, named.col("e").equalTo(evIds.col("e4")).and(named.col("ev").equalTo(evIds.col("r4"))), "left");
        else named = named.withColumn("evid", lit(null).cast(DataTypes.StringType));
        named = named.orderBy("stage", "row");
        writeTsv(out.resolve("removed.tsv"), "path\tsource\tstage\treason\tsimilarity",
                named.select("id1", "src1", "stage", "id2", "sim", "qid", "evid", "es").toLocalIterator(), r -> {
                    boolean selfDup = r.getInt(2) == 0;
                    String reason = selfDup ? String.format(Locale.ROOT, "duplicate of %s", r.getString(3))
                            : String.format(Locale.ROOT, "%s near evaluation image %s (sim %.3f)", r.getString(5), r.getString(6), r.getFloat(7));
                    return tsv(r.getString(0)) + "\t" + tsv(r.getString(1)) + "\t" + (selfDup ? "self-dedup" : "eval-dedup") + "\t" + tsv(reason)
                            + "\t" + (selfDup ? String.format(Locale.ROOT, "%.4f", r.getFloat(4)) : "");
                });

        report.put("engine", "spark " + jsc.master());
        report.put("seconds", Math.round(seconds * 10) / 10.0);
        report.put("embedding", cfg.embedding().kind() + (cfg.embedding().weights() != null ? " " + cfg.embedding().weights() : ""));
        report.put("dimension", poolT.dim());
        report.put("counts", new LinkedHashMap<>(counts));
        Map<String, Object> params = new LinkedHashMap<>();
        params.put("dedup_k", cfg.dedup().k());
        params.put("dedup_threshold", cfg.dedup().threshold());
        params.put("dedup_views", cfg.dedup().views().stream().map(View::name).toList());
        params.put("center", cfg.embedding().center());
        params.put("eval_threshold", cfg.evalThreshold());
        params.put("index", index(poolT.rows()));
        report.put("parameters", params);
        if (clusterSizes.length > 0) {
            report.put("clusters", clusterSizes.length);
            if (!Double.isNaN(objective)) report.put("kmeans_objective", objective);
        }
        report.put("stages", log.stages());
        report.put("tables", log.work());
        Files.writeString(out.resolve("report.json"), Json.write(report) + "\n");
        long[] h = longs(edges.get("histogram"));
        CurationReport.similarityHistogram(h, Arrays.stream(h).sum(), cfg.dedup().threshold(), out.resolve("similarity_histogram.png"));
        if (clusterSizes.length > 0) CurationReport.clusterSizeHistogram(clusterSizes, out.resolve("cluster_sizes.png"));
        contactSheet(out, self, ids);
    }

    /**
     * The contact sheet of the local report, drawn from the twelve groups it shows (the six largest, six of the
     * smallest): only those groups' rows come to the driver.
     */
    private void contactSheet(Path out, Dataset<Row> self, Dataset<Row> ids) throws IOException {
        Dataset<Row> groupSizes = self.groupBy(col("other").as("root")).count();
        List<Row> big = groupSizes.orderBy(col("count").desc(), col("root")).limit(6).collectAsList();
        if (big.isEmpty()) return;
        List<Long> roots = new ArrayList<>();
        for (Row r : big) roots.add(r.getLong(0));
        List<Row> small = groupSizes.filter(functions.not(col("root").isin(roots.toArray()))).orderBy(col("count"), col("root")).limit(6).collectAsList();
        for (Row r : small) roots.add(r.getLong(0));
        // at most the 7 members a row of the sheet shows (its lowest rows), with the group's size for its "+N more"
        List<Row> members = self.filter(col("other").isin(roots.toArray()))
                .withColumn("n", functions.row_number().over(Window.partitionBy("other").orderBy("row")))
                .filter(col("n").leq(7)).select("row", "other", "sim").orderBy("row").collectAsList();
        Map<Long, Long> size = new java.util.HashMap<>();
        for (Row r : big) size.put(r.getLong(0), r.getLong(1));
        for (Row r : small) size.put(r.getLong(0), r.getLong(1));
        // a small Curation over these rows only, renumbered 0.. in pool order (the sheet breaks ties by row)
        java.util.TreeSet<Long> rows = new java.util.TreeSet<>(roots);
        for (Row m : members) rows.add(m.getLong(0));
        Map<Long, Integer> local = new LinkedHashMap<>();
        for (long r : rows) local.put(r, local.size());
        Map<Long, String> idOf = new java.util.HashMap<>();
        for (Row r : ids.filter(col("row").isin(local.keySet().toArray())).collectAsList()) idOf.put(r.getLong(0), r.getString(1));
        List<String> idList = new ArrayList<>();
        for (long r : local.keySet()) idList.add(idOf.get(r));
        Map<Integer, List<Integer>> groups = new LinkedHashMap<>();
        List<Curator.Removal> removals = new ArrayList<>();
        for (Row m : members) {
            int row = local.get(m.getLong(0)), root = local.get(m.getLong(1));
            groups.computeIfAbsent(root, x -> new ArrayList<>()).add(row);
            removals.add(new Curator.Removal(row, idList.get(row), "", "self-dedup", "", idList.get(root), m.getFloat(2)));
        }
        Map<Integer, Long> sizes = new java.util.HashMap<>();
        for (var e : size.entrySet()) sizes.put(local.get(e.getKey()), e.getValue());
        VectorSet names = new VectorSet("shown", idList, java.util.Collections.nCopies(idList.size(), ""), new float[0], 0);
        Curator.Curation c = new Curator.Curation(names, List.of(), removals, Map.of(), new float[0], groups, new long[0], Double.NaN);
        CurationReport.contactSheet(c, cfg.embedding().kind().equals("table") ? null : SparkCurator::image, sizes, out.resolve("duplicates.png"));
    }

    /** An image by its id (a file, or an IDX file#index); null when it cannot be read (a grey tile). */
    static org.dino4j.data.RgbImage image(String id) {
        try {
            int hash = id.lastIndexOf('#');
            org.dino4j.data.ImageDecoder dec = new org.dino4j.data.ImageDecoder();
            if (hash > 0 && Files.isRegularFile(Path.of(id.substring(0, hash))))
                return org.dino4j.data.Datasets.open(Path.of(id.substring(0, hash))).get(Integer.parseInt(id.substring(hash + 1))).source().load(dec);
            return dec.decode(Path.of(id));
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static String tsv(String s) {
        return s == null ? "" : s.replace('\t', ' ').replace('\n', ' ');
    }

    private static void writeTsv(Path file, String header, Iterator<Row> rows, java.util.function.Function<Row, String> line) throws IOException {
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
        try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
            w.write(header);
            w.write('\n');
            while (rows.hasNext()) {
                w.write(line.apply(rows.next()));
                w.write('\n');
            }
        }
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    static void writeFloats(String file, float[] v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        try (var out = VectorTable.fs(file).create(new org.apache.hadoop.fs.Path(file), true)) {
            out.write(b.array());
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
    }

    static float[] readFloats(String file) {
        try (var in = VectorTable.fs(file).open(new org.apache.hadoop.fs.Path(file))) {
            byte[] bytes = in.readAllBytes();
            float[] v = new float[bytes.length / 4];
            ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
            return v;
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
    }
}
