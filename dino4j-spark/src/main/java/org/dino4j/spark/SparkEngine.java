package org.dino4j.spark;

import java.io.Serializable;
import java.lang.ref.SoftReference;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.spark.api.java.JavaFutureAction;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.LongAccumulator;
import org.dino4j.curate.CopyDetectorInput;
import org.dino4j.curate.CurateConfig;
import org.dino4j.curate.Engine;
import org.dino4j.curate.KMeans;
import org.dino4j.curate.LocalEngine;
import org.dino4j.curate.Neighbours;
import org.dino4j.curate.VectorSet;
import org.dino4j.data.Dataset;
import org.dino4j.data.Datasets;
import org.dino4j.data.ImageDecoder;
import org.dino4j.data.ImageException;
import org.dino4j.data.Preprocess;
import org.dino4j.data.RgbImage;
import org.dino4j.data.Sample;
import org.dino4j.data.View;
import org.dino4j.embed.FeatureExtractor;
import org.dino4j.embed.Output;
import org.dino4j.embed.PixelRows;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;
import org.dino4j.train.copydetect.CopyDetector;

import scala.Tuple2;

/**
 * The curation engine on Apache Spark. What decides (thresholds, components, selection) stays in
 * {@link org.dino4j.curate.Curator} on the driver; what is heavy runs in the executors, with the same kernels as
 * {@link LocalEngine}, so both engines give the same vectors, neighbours and assignments, bit for bit:
 * <ul>
 * <li>embedding: the inputs are listed on the driver, their ids (a file, or an IDX file and an index) go to the
 *     executors in ranges of whole batches that never cross a 4096-image shard of the local embedder (so the batches
 *     are the local engine's), each partition loads the model once and returns (index, vector) rows;</li>
 * <li>k-NN: queries and base in blocks (multiples of the local GEMM's 256 query rows and 4096 base rows, so every
 *     similarity is computed by the same GEMM call shape as locally), the top k of every (query block, base block)
 *     pair, merged per query block keeping the k best by similarity, then lower base index;</li>
 * <li>k-means: the rows in a cached RDD of blocks (multiples of 256 rows, as the local assignment's blocks); a step is
 *     the per-block assignment and partial sums, combined in partition order (deterministic run to run).</li>
 * </ul>
 * The one place where the engines may differ in the last bit is a k-means step's double sums, which Spark adds
 * block by block instead of row by row; the float centroids round the same unless a sum sits within about 1e-16 of a
 * rounding boundary.
 */
public final class SparkEngine implements Engine {
    /** Rows per GEMM block of the local engine's k-NN (queries) and k-means assignment. */
    static final int ROW_ALIGN = 256;
    /** Base rows per GEMM block of the local engine's k-NN. */
    static final int BASE_ALIGN = 4096;
    /** Images per shard of the local engine's embedder: batches restart at each shard. */
    static final int SHARD = 4096;

    private final SparkSession spark;
    private final JavaSparkContext jsc;
    private final boolean owned;
    private final int queryBlock, baseBlock;
    private final List<JavaRDD<?>> cached = new ArrayList<>();
    private long lastFailures;

    /**
     * A session with this master (or the one already running, which is then left running at close).
     * @param master e.g. local[*], spark://host:7077; null: the one spark-submit set, else local[*]
     */
    public SparkEngine(String master, CurateConfig cfg) {
        boolean existed = SparkSession.getActiveSession().isDefined() || SparkSession.getDefaultSession().isDefined();
        SparkSession.Builder b = SparkSession.builder().appName("dino4j curate").config("spark.ui.enabled", "false");
        if (master != null) b.master(master);
        else if (!new org.apache.spark.SparkConf().contains("spark.master")) b.master("local[*]");
        this.spark = b.getOrCreate();
        this.owned = !existed;
        this.jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        this.queryBlock = 0;
        this.baseBlock = 0;
        jsc.setLogLevel("WARN");
    }

    /** On an existing session (spark-submit, tests); close leaves it running. */
    public SparkEngine(SparkSession spark) {
        this(spark, 0, 0);
    }

    /**
     * With fixed k-NN block sizes (0: from the sizes and the parallelism). Multiples of 256 query rows and 4096 base
     * rows keep the similarities bit-identical to the local engine's; other sizes give the same neighbours up to
     * the last bit of a similarity.
     */
    public SparkEngine(SparkSession spark, int queryBlock, int baseBlock) {
        if (queryBlock < 0 || baseBlock < 0) throw new IllegalArgumentException("block sizes must be >= 0");
        this.spark = spark;
        this.owned = false;
        this.jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        this.queryBlock = queryBlock;
        this.baseBlock = baseBlock;
        jsc.setLogLevel("WARN");
    }

    @Override
    public String name() {
        return "spark " + jsc.master();
    }

    public SparkSession session() {
        return spark;
    }

    /** Images of the last {@link #embed} that failed to decode (left out of its vectors). */
    public long lastFailures() {
        return lastFailures;
    }

    private int parallelism() {
        return Math.max(1, jsc.defaultParallelism());
    }

    @Override
    public void close() {
        for (JavaRDD<?> r : cached) {
            try {
                r.unpersist(false);
            } catch (RuntimeException ignored) {
                // the context may be gone already
            }
        }
        cached.clear();
        if (owned) spark.stop();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // embedding

    /**
     * Where an image's pixels are, in a form that travels: a file, or an IDX file and the image's index in it;
     * view: applied after loading (mirror image, crop).
     */
    record Item(int index, String file, int idxIndex, View view) implements Serializable {}

    /** One image's vector (null with an error when it did not decode). */
    record Row(int index, float[] v, String error) implements Serializable {}

    /** What the pixel features need to know of a partition before they can be built. */
    record PixelInfo(int first, int len, boolean gray, int badIndex, int badW, int badH, int firstW, int firstH)
            implements Serializable {}

    @Override
    public VectorSet embed(String name, List<Path> inputs, CurateConfig.Embedding e, Path workDir, Progress progress) {
        lastFailures = 0;
        return Engine.super.embed(name, inputs, e, workDir, progress);
    }

    /** What the executors sent back for a set: one row per input, and the vectors' length. */
    private record Collected(List<Row> rows, int dim) {}

    /** The executors' part of an embedding, given the inputs as items and an accumulator of images done. */
    private interface Job {
        Collected run(Dataset ds, List<Item> items, LongAccumulator done, String step, Progress progress);
    }

    @Override
    public VectorSet embedPixels(String name, List<Path> inputs, CurateConfig.Embedding e, Path workDir, Progress progress) {
        return onExecutors(name, inputs, e, workDir, progress, (ds, items, done, step, p) -> {
            JavaRDD<Item> rdd = jsc.parallelize(items, Math.max(1, Math.min(items.size(), parallelism() * 2)));
            // pass 1: which images decode, one size, all gray? (as PixelRows decides it, over the images that decode)
            List<PixelInfo> infos = rdd.mapPartitions(SparkEngine::pixelInfo).collect();
            PixelInfo all = mergeInfo(infos);
            if (all.badIndex() >= 0)
                throw new IllegalArgumentException(ds.get(all.badIndex()).id() + ": " + all.badW() + "x" + all.badH()
                        + " differs from the first image's size (" + all.firstW() + "x" + all.firstH()
                        + "); raw-pixel features need one size");
            int stepPx = all.gray() ? 3 : 1;
            int dim = all.len() < 0 ? 0 : all.len() / stepPx;
            return new Collected(withProgress(rdd.mapPartitions(it -> pixelRows(it, stepPx, done)).collectAsync(), done, step,
                    items.size(), p), dim);
        });
    }

    @Override
    public VectorSet embedCopyDetector(String name, List<Path> inputs, CurateConfig.Embedding e, Path workDir, Progress progress) {
        String weights = e.weights().toAbsolutePath().normalize().toString();
        int dim = CopyDetector.load(Path.of(weights)).dim(); // on the driver too: a bad file fails here, with its name
        return onExecutors(name, inputs, e, workDir, progress, (ds, items, done, step, p) -> {
            JavaRDD<Item> rdd = jsc.parallelize(items, Math.max(1, Math.min(items.size(), parallelism() * 2)));
            return new Collected(withProgress(rdd.mapPartitions(it -> copyDetectorRows(it, weights, done)).collectAsync(), done, step,
                    items.size(), p), dim);
        });
    }

    @Override
    public VectorSet embedModel(String name, List<Path> inputs, CurateConfig.Embedding e, Path workDir, Progress progress) {
        int batch = Math.max(1, e.batchSize());
        String weights = e.weights().toAbsolutePath().normalize().toString();
        String model = e.model();
        int res = e.resolution(), resize = e.resize();
        return onExecutors(name, inputs, e, workDir, progress, (ds, items, done, step, p) -> {
            List<List<Item>> chunks = chunks(items, batch, parallelism() * 2);
            JavaRDD<List<Item>> rdd = jsc.parallelize(chunks, chunks.size());
            List<Row> rows = withProgress(rdd.mapPartitions(it -> modelRows(it, weights, model, res, resize, batch, done)).collectAsync(),
                    done, step, items.size(), p);
            int dim = -1;
            for (Row r : rows) if (r.v() != null) { dim = r.v().length; break; }
            return new Collected(rows, Math.max(dim, 0));
        });
    }

    /** Lists the inputs on the driver, runs the job, and puts its rows in input order, failures reported. */
    private VectorSet onExecutors(String name, List<Path> inputs, CurateConfig.Embedding e, Path workDir, Progress progress, Job job) {
        Dataset ds = Datasets.of(inputs);
        int n = ds.size();
        if (n == 0) throw new IllegalArgumentException(name + ": no images found in " + inputs);
        List<Item> items = new ArrayList<>(n);
        for (int i = 0; i < n; i++) items.add(item(i, ds.get(i).id(), ds.get(i).source(), e.view()));
        String step = "embed " + name;
        progress.update(step, 0, n);
        Collected c = job.run(ds, items, jsc.sc().longAccumulator("embedded " + name), step, progress);
        int dim = c.dim();
        List<Row> rows = new ArrayList<>(c.rows());
        rows.sort((a, b) -> Integer.compare(a.index(), b.index()));
        List<String> ids = new ArrayList<>(), sources = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        int ok = 0;
        for (Row r : rows) if (r.v() != null) ok++;
        float[] x = new float[Math.multiplyExact(ok, dim)];
        int o = 0;
        for (Row r : rows) {
            String id = ds.get(r.index()).id();
            if (r.v() == null) {
                failures.add(id + "\t" + r.error().replace('\t', ' ').replace('\n', ' '));
                continue;
            }
            ids.add(id);
            sources.add(LocalEngine.sourceOf(id, inputs));
            System.arraycopy(r.v(), 0, x, o * dim, dim);
            o++;
        }
        lastFailures = failures.size();
        progress.update(step, n, n);
        LocalEngine.reportFailures(name, n, failures, workDir);
        return VectorSet.normalized(name, ids, sources, x, dim);
    }

    private static Item item(int i, String id, Sample.Source source, View view) {
        return switch (source) {
            case Sample.FileSource f -> new Item(i, f.file().toString(), -1, view);
            case Sample.BytesSource b -> throw new IllegalArgumentException(id + ": in-memory bytes, not a file the executors can read");
            case Sample.PixelSource p -> {
                int hash = id.lastIndexOf('#');
                if (hash < 0) throw new IllegalArgumentException(id + ": in-memory pixels without a file#index id");
                yield new Item(i, id.substring(0, hash), Integer.parseInt(id.substring(hash + 1)), view);
            }
            case Sample.ViewSource v -> {
                if (!view.identity()) throw new IllegalArgumentException(id + ": a view of a view");
                yield item(i, id, v.inner(), v.view());
            }
        };
    }

    /** Runs a collect with the accumulator's count as progress. */
    private static <T> List<T> withProgress(JavaFutureAction<List<T>> job, LongAccumulator done, String step, long total,
                                            Progress progress) {
        try {
            while (true) {
                try {
                    return job.get(250, TimeUnit.MILLISECONDS);
                } catch (TimeoutException t) {
                    progress.update(step, done.value(), total);
                }
            }
        } catch (InterruptedException ex) {
            job.cancel(true);
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted");
        } catch (ExecutionException ex) {
            Throwable c = ex.getCause();
            if (c instanceof RuntimeException r) throw r;
            throw new IllegalStateException(String.valueOf(c), c);
        }
    }

    /**
     * Consecutive items in chunks of whole batches that never cross a shard of the local embedder (4096 images): each
     * chunk is one partition, and its batches are the ones {@link org.dino4j.embed.Embedder} forms (when all decode).
     */
    static List<List<Item>> chunks(List<Item> items, int batch, int target) {
        int n = items.size();
        int per = (int) Math.min(SHARD, Math.max(1, ((long) n + target - 1) / target));
        per = (int) Math.min(Math.max(batch, ((long) per + batch - 1) / batch * batch), Math.max(batch, SHARD));
        List<List<Item>> out = new ArrayList<>();
        for (int s = 0; s < n; s += SHARD) {
            int end = Math.min(n, s + SHARD);
            for (int a = s; a < end; a += per) out.add(new ArrayList<>(items.subList(a, Math.min(end, a + per))));
        }
        return out;
    }

    /** The JVM's opened IDX files (the executors read them once, not once per partition). */
    private static final Map<String, SoftReference<Dataset>> IDX = new HashMap<>();

    static RgbImage load(Item it, ImageDecoder dec) {
        RgbImage im = loadPlain(it, dec);
        return it.view().apply(im);
    }

    private static RgbImage loadPlain(Item it, ImageDecoder dec) {
        if (it.idxIndex() < 0) return dec.decode(Path.of(it.file()));
        return idx(it.file()).get(it.idxIndex()).source().load(dec);
    }

    private static Dataset idx(String file) {
        synchronized (IDX) {
            SoftReference<Dataset> ref = IDX.get(file);
            Dataset ds = ref == null ? null : ref.get();
            if (ds == null) {
                ds = Datasets.open(Path.of(file));
                IDX.put(file, new SoftReference<>(ds));
            }
            return ds;
        }
    }

    private static String problem(RuntimeException ex) {
        return ex instanceof ImageException ie ? ie.problem() : String.valueOf(ex.getMessage());
    }

    private static Iterator<PixelInfo> pixelInfo(Iterator<Item> it) {
        ImageDecoder dec = new ImageDecoder();
        int first = -1, len = -1, fw = 0, fh = 0, bad = -1, bw = 0, bh = 0;
        boolean gray = true;
        while (it.hasNext()) {
            Item item = it.next();
            RgbImage im;
            try {
                im = load(item, dec);
            } catch (RuntimeException ex) {
                continue; // left out, reported by the second pass
            }
            byte[] px = im.rgb();
            if (first < 0) {
                first = item.index();
                len = px.length;
                fw = im.width();
                fh = im.height();
            } else if (px.length != len && bad < 0) {
                bad = item.index();
                bw = im.width();
                bh = im.height();
            }
            gray = gray && PixelRows.gray(px);
        }
        return List.of(new PixelInfo(first, len, gray, bad, bw, bh, fw, fh)).iterator();
    }

    /** The partitions' findings in input order: the first decoded image sets the size. */
    static PixelInfo mergeInfo(List<PixelInfo> infos) {
        PixelInfo acc = null;
        for (PixelInfo p : infos) {
            if (p.first() < 0) continue;
            if (acc == null) {
                acc = p;
                continue;
            }
            int bad = acc.badIndex(), bw = acc.badW(), bh = acc.badH();
            if (bad < 0 && p.len() != acc.len()) {
                bad = p.first();
                bw = p.firstW();
                bh = p.firstH();
            } else if (bad < 0 && p.badIndex() >= 0) {
                bad = p.badIndex();
                bw = p.badW();
                bh = p.badH();
            }
            acc = new PixelInfo(acc.first(), acc.len(), acc.gray() && p.gray(), bad, bw, bh, acc.firstW(), acc.firstH());
        }
        return acc != null ? acc : new PixelInfo(-1, -1, true, -1, 0, 0, 0, 0);
    }

    /** Raw pixels as {@link PixelRows} makes them: byte / 255, every step-th byte (3: gray, one channel). */
    private static Iterator<Row> pixelRows(Iterator<Item> it, int step, LongAccumulator done) {
        ImageDecoder dec = new ImageDecoder();
        List<Row> out = new ArrayList<>();
        while (it.hasNext()) {
            Item item = it.next();
            try {
                out.add(new Row(item.index(), PixelRows.row(load(item, dec).rgb(), step), null));
            } catch (RuntimeException ex) {
                out.add(new Row(item.index(), null, problem(ex)));
            }
            done.add(1);
        }
        return out.iterator();
    }

    /** A partition's copy-detection descriptors: the detector loaded once, the images that decode embedded together. */
    private static Iterator<Row> copyDetectorRows(Iterator<Item> it, String weights, LongAccumulator done) {
        CopyDetector cd = CopyDetector.load(Path.of(weights));
        ImageDecoder dec = new ImageDecoder();
        int in = cd.inputSize();
        List<Row> out = new ArrayList<>();
        List<Integer> okIndex = new ArrayList<>();
        float[] x = new float[0];
        while (it.hasNext()) {
            Item item = it.next();
            try {
                RgbImage im = load(item, dec);
                if (x.length < (okIndex.size() + 1) * in) x = Arrays.copyOf(x, Math.max(in, 2 * x.length));
                CopyDetectorInput.row(im, cd.side(), cd.channels(), x, okIndex.size() * in);
                okIndex.add(item.index());
            } catch (RuntimeException ex) {
                out.add(new Row(item.index(), null, problem(ex)));
            }
            done.add(1);
        }
        float[] z = cd.embed(Arrays.copyOf(x, okIndex.size() * in), okIndex.size());
        for (int i = 0; i < okIndex.size(); i++) out.add(new Row(okIndex.get(i), Arrays.copyOfRange(z, i * cd.dim(), (i + 1) * cd.dim()), null));
        return out.iterator();
    }

    /** A chunk's items as samples, for the feature pipeline (ids are the items' positions in the input). */
    private static Dataset samples(List<Item> chunk) {
        List<Sample> out = new ArrayList<>(chunk.size());
        for (Item it : chunk) {
            Sample.Source src = it.idxIndex() < 0 ? new Sample.FileSource(Path.of(it.file())) : idx(it.file()).get(it.idxIndex()).source();
            out.add(new Sample(Integer.toString(it.index()), -1, "", it.view().identity() ? src : new Sample.ViewSource(src, it.view())));
        }
        return Dataset.of(out, List.of());
    }

    /**
     * The CLS vectors of a chunk: the model loaded once, the chunk through {@link FeatureExtractor} as the local
     * embedder sends a shard (chunks never cross a shard and hold whole batches, so the batches are the same).
     */
    private static Iterator<Row> modelRows(Iterator<List<Item>> chunks, String weights, String model, int resolution, int resize,
                                           int batchSize, LongAccumulator done) {
        List<Row> out = new ArrayList<>();
        if (!chunks.hasNext()) return out.iterator();
        var opts = new FeatureExtractor.Options(List.of(Output.CLS), new Preprocess(resize, resolution, 0), batchSize, 1,
                ImageDecoder.DEFAULT_MAX_PIXELS);
        try (DinoVisionTransformer m = Dinov2.load(Path.of(weights), CurateConfig.Embedding.modelConfig(model));
             FeatureExtractor fx = new FeatureExtractor(m, opts)) {
            while (chunks.hasNext()) {
                List<Item> chunk = chunks.next();
                fx.run(samples(chunk), it -> {
                    int index = chunk.get(it.index()).index();
                    out.add(it.ok() ? new Row(index, it.rows()[0], null) : new Row(index, null, it.problem()));
                    done.add(1);
                });
            }
        }
        return out.iterator();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // k-NN

    /** Rows [start, start + rows) of a set. */
    record Block(int start, int rows, float[] x) implements Serializable {}

    /** The best k (or fewer) base rows of each of a block's query rows, most similar first, lower index on ties. */
    record TopK(int rows, int k, int[] idx, float[] sim) implements Serializable {}

    @Override
    public Neighbours knn(VectorSet base, VectorSet queries, int k) {
        int n = base.size(), m = queries.size(), d = base.dim();
        if (k < 1 || k > n) throw new IllegalArgumentException("k = " + k + " with " + n + " base rows");
        if (queries.dim() != d) throw new IllegalArgumentException("queries of dimension " + queries.dim() + ", base of " + d);
        if (m == 0) return new Neighbours(0, k, new int[0], new float[0]);
        int p = parallelism();
        int qb = queryBlock > 0 ? queryBlock : roundUp(ceilDiv(m, 2 * p), ROW_ALIGN);
        int bb = baseBlock > 0 ? baseBlock : roundUp(ceilDiv(n, p), BASE_ALIGN);
        List<Block> qBlocks = blocks(queries.x(), m, d, qb), bBlocks = blocks(base.x(), n, d, bb);
        JavaRDD<Block> qr = jsc.parallelize(qBlocks, qBlocks.size()), br = jsc.parallelize(bBlocks, bBlocks.size());
        JavaPairRDD<Integer, TopK> parts = qr.cartesian(br).mapToPair(pair -> {
            Block q = pair._1(), b = pair._2();
            int kk = Math.min(k, b.rows());
            Neighbours nb = Neighbours.exact(b.x(), b.rows(), q.x(), q.rows(), d, kk);
            int[] idx = nb.idx();
            for (int i = 0; i < idx.length; i++) idx[i] += b.start();
            return new Tuple2<>(q.start(), new TopK(q.rows(), kk, idx, nb.sim()));
        });
        List<Tuple2<Integer, TopK>> merged = parts.reduceByKey((a, b) -> merge(a, b, k), Math.max(1, qBlocks.size())).collect();
        int[] idx = new int[m * k];
        float[] sim = new float[m * k];
        for (Tuple2<Integer, TopK> t : merged) {
            TopK r = t._2();
            if (r.k() != k) throw new IllegalStateException("merged " + r.k() + " neighbours, want " + k);
            System.arraycopy(r.idx(), 0, idx, t._1() * k, r.rows() * k);
            System.arraycopy(r.sim(), 0, sim, t._1() * k, r.rows() * k);
        }
        return new Neighbours(m, k, idx, sim);
    }

    /** Per row, the k best of both lists: higher similarity first, then lower base index (the lists share no index). */
    static TopK merge(TopK a, TopK b, int k) {
        int kk = Math.min(k, a.k() + b.k());
        int[] idx = new int[a.rows() * kk];
        float[] sim = new float[a.rows() * kk];
        for (int r = 0; r < a.rows(); r++) {
            int i = 0, j = 0;
            for (int o = 0; o < kk; o++) {
                boolean takeA;
                if (i >= a.k()) takeA = false;
                else if (j >= b.k()) takeA = true;
                else {
                    float sa = a.sim()[r * a.k() + i], sb = b.sim()[r * b.k() + j];
                    takeA = sa > sb || (!(sb > sa) && a.idx()[r * a.k() + i] < b.idx()[r * b.k() + j]);
                }
                if (takeA) {
                    idx[r * kk + o] = a.idx()[r * a.k() + i];
                    sim[r * kk + o] = a.sim()[r * a.k() + i];
                    i++;
                } else {
                    idx[r * kk + o] = b.idx()[r * b.k() + j];
                    sim[r * kk + o] = b.sim()[r * b.k() + j];
                    j++;
                }
            }
        }
        return new TopK(a.rows(), kk, idx, sim);
    }

    static List<Block> blocks(float[] x, int n, int d, int rows) {
        List<Block> out = new ArrayList<>();
        for (int s = 0; s < n; s += rows) {
            int r = Math.min(rows, n - s);
            out.add(new Block(s, r, Arrays.copyOfRange(x, s * d, (s + r) * d)));
        }
        return out;
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    private static int roundUp(int v, int multiple) {
        return Math.max(multiple, ceilDiv(v, multiple) * multiple);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // k-means

    @Override
    public KMeans.Data kmeansData(VectorSet set) {
        int n = set.size(), d = set.dim();
        int rows = roundUp(ceilDiv(n, 2 * parallelism()), ROW_ALIGN);
        List<Block> blocks = blocks(set.x(), n, d, rows);
        JavaRDD<Block> rdd = jsc.parallelize(blocks, Math.max(1, blocks.size())).persist(StorageLevel.MEMORY_AND_DISK());
        // cut the lineage once the blocks sit in the executors: otherwise every step's tasks carry their rows again
        // (the partitions of a parallelized collection hold the data)
        rdd.rdd().localCheckpoint();
        rdd.count();
        cached.add(rdd);
        return new SparkKMeansData(jsc, rdd, n, d);
    }

    /** A k-means step's sums over some blocks (part: the first partition they cover, for the order of the merge). */
    record Partial(int part, double[] sums, long[] counts, double objective) implements Serializable {
        Partial plus(Partial o) {
            double[] s = sums.clone();
            for (int i = 0; i < s.length; i++) s[i] += o.sums[i];
            long[] c = counts.clone();
            for (int i = 0; i < c.length; i++) c[i] += o.counts[i];
            return new Partial(Math.min(part, o.part), s, c, objective + o.objective);
        }
    }

    record Assigned(int start, int[] cluster, float[] dist2) implements Serializable {}

    record Picked(int[] at, float[] rows) implements Serializable {}

    /** Rows in a cached RDD of blocks; the driver knows n and d. */
    static final class SparkKMeansData implements KMeans.Data {
        /** Partials merged on the driver at most this many at a time; more are first merged in groups, in order. */
        private static final int FAN_IN = 16;
        private final JavaSparkContext jsc;
        private final JavaRDD<Block> blocks;
        private final long n;
        private final int d;

        SparkKMeansData(JavaSparkContext jsc, JavaRDD<Block> blocks, long n, int d) {
            this.jsc = jsc;
            this.blocks = blocks;
            this.n = n;
            this.d = d;
        }

        @Override
        public long n() {
            return n;
        }

        @Override
        public int d() {
            return d;
        }

        @Override
        public KMeans.Step step(float[] centroids, int k) {
            Broadcast<float[]> bc = jsc.broadcast(centroids);
            int dd = d;
            try {
                JavaRDD<Partial> parts = blocks.mapPartitionsWithIndex((pi, it) -> {
                    float[] c = bc.value();
                    Partial acc = new Partial(pi, new double[k * dd], new long[k], 0);
                    while (it.hasNext()) {
                        Block b = it.next();
                        int[] a = new int[b.rows()];
                        float[] dist = new float[b.rows()];
                        KMeans.assign(b.x(), b.rows(), dd, c, k, a, dist);
                        KMeans.Step s = KMeans.accumulate(b.x(), b.rows(), dd, new KMeans.Assignment(a, dist), k);
                        acc = acc.plus(new Partial(pi, s.sums(), s.counts(), s.objective()));
                    }
                    return List.of(acc).iterator();
                }, true);
                // a fixed merge order (partition order, in groups of FAN_IN): the same sums on every run
                while (parts.getNumPartitions() > FAN_IN) {
                    int groups = ceilDiv(parts.getNumPartitions(), FAN_IN);
                    parts = parts.mapToPair(p -> new Tuple2<>(p.part() / FAN_IN, p)).groupByKey(groups).map(g -> {
                        List<Partial> l = new ArrayList<>();
                        g._2().forEach(l::add);
                        l.sort((x, y) -> Integer.compare(x.part(), y.part()));
                        Partial acc = l.get(0);
                        for (int i = 1; i < l.size(); i++) acc = acc.plus(l.get(i));
                        return new Partial(g._1(), acc.sums(), acc.counts(), acc.objective());
                    });
                }
                List<Partial> l = new ArrayList<>(parts.collect());
                l.sort((x, y) -> Integer.compare(x.part(), y.part()));
                Partial acc = l.get(0);
                for (int i = 1; i < l.size(); i++) acc = acc.plus(l.get(i));
                return new KMeans.Step(acc.sums(), acc.counts(), acc.objective());
            } finally {
                bc.destroy();
            }
        }

        @Override
        public KMeans.Assignment assign(float[] centroids, int k) {
            Broadcast<float[]> bc = jsc.broadcast(centroids);
            int dd = d;
            try {
                List<Assigned> parts = blocks.map(b -> {
                    int[] a = new int[b.rows()];
                    float[] dist = new float[b.rows()];
                    KMeans.assign(b.x(), b.rows(), dd, bc.value(), k, a, dist);
                    return new Assigned(b.start(), a, dist);
                }).collect();
                int[] cluster = new int[Math.toIntExact(n)];
                float[] dist2 = new float[cluster.length];
                for (Assigned a : parts) {
                    System.arraycopy(a.cluster(), 0, cluster, a.start(), a.cluster().length);
                    System.arraycopy(a.dist2(), 0, dist2, a.start(), a.dist2().length);
                }
                return new KMeans.Assignment(cluster, dist2);
            } finally {
                bc.destroy();
            }
        }

        @Override
        public float[] rows(int[] indices) {
            for (int i : indices) if (i < 0 || i >= n) throw new IndexOutOfBoundsException("row " + i + " of " + n);
            Broadcast<int[]> bi = jsc.broadcast(indices);
            int dd = d;
            try {
                List<Picked> parts = blocks.map(b -> {
                    int[] want = bi.value();
                    int c = 0;
                    for (int i : want) if (i >= b.start() && i < b.start() + b.rows()) c++;
                    int[] at = new int[c];
                    float[] rows = new float[c * dd];
                    for (int q = 0, o = 0; q < want.length; q++) {
                        int i = want[q] - b.start();
                        if (i < 0 || i >= b.rows()) continue;
                        at[o] = q;
                        System.arraycopy(b.x(), i * dd, rows, o * dd, dd);
                        o++;
                    }
                    return new Picked(at, rows);
                }).filter(p -> p.at().length > 0).collect();
                float[] out = new float[indices.length * d];
                for (Picked p : parts)
                    for (int o = 0; o < p.at().length; o++) System.arraycopy(p.rows(), o * d, out, p.at()[o] * d, d);
                return out;
            } finally {
                bi.destroy();
            }
        }
    }
}
