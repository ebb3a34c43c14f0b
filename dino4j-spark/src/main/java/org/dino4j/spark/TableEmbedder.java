package org.dino4j.spark;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.lang.ref.SoftReference;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.apache.spark.api.java.JavaFutureAction;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.util.LongAccumulator;
import org.dino4j.curate.CopyDetectorInput;
import org.dino4j.curate.CurateConfig;
import org.dino4j.curate.Engine;
import org.dino4j.curate.LocalEngine;
import org.dino4j.data.Dataset;
import org.dino4j.data.Datasets;
import org.dino4j.data.ImageDecoder;
import org.dino4j.data.ImageException;
import org.dino4j.data.Preprocess;
import org.dino4j.data.RgbImage;
import org.dino4j.data.Sample;
import org.dino4j.data.View;
import org.dino4j.embed.EmbedDir;
import org.dino4j.embed.FeatureExtractor;
import org.dino4j.embed.Output;
import org.dino4j.embed.PixelRows;
import org.dino4j.eval.Knn;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;
import org.dino4j.train.copydetect.CopyDetector;

/**
 * Embeds images into a {@link VectorTable} on the executors; no vector comes back to the driver. The driver lists the
 * inputs (their ids: O(n) small strings) and cuts them into chunks of consecutive images; each task embeds one chunk,
 * L2-normalises its rows (as {@link org.dino4j.curate.VectorSet#normalized}, row by row) and writes the chunk's file
 * itself, so the table's rows equal {@link LocalEngine#embedLocally} bit for bit. (For the model: chunks hold whole
 * batches and never cross a shard of the local embedder, whose batches they then repeat; but an image that fails to
 * decode shifts the local batches after it in its shard, and a later chunk of that shard then batches differently:
 * where the GEMM's bits depend on the batch size, a row may differ in its last bit.)
 * A task returns counts only; the images that failed to decode it lists in {@code _failed-NNNNN.tsv} beside its
 * chunk (written first), so that a resumed table still knows every failure.
 * <p>Resumable: the table carries a fingerprint of what made it (name, inputs, embedding, number of images, chunk
 * size); a complete table with that fingerprint is returned without a Spark job, an unfinished one
 * ({@code _dino4j.pending}, or chunk files deleted since) gets only its missing chunks, a table made from something
 * else is deleted and rebuilt. Chunks do not depend on the cluster (only on the number of images and the batch size),
 * so a rerun on another cluster resumes the same chunks.
 */
public final class TableEmbedder {
    /** Images per shard of the local engine's embedder: batches restart at each shard, so chunks never cross one. */
    static final int SHARD = 4096;
    /** Chunks aimed at for a small set (a large one has chunks of a whole shard): tasks for the cores of a cluster. */
    static final int TARGET_CHUNKS = 64;
    /** Fewest images per chunk (unless the set is smaller): each task loads the model once. */
    static final int MIN_CHUNK = 256;
    /** Holds the fingerprint of the table being written, until it is sealed. */
    static final String PENDING = "_dino4j.pending";

    private TableEmbedder() {}

    /**
     * Where an image's pixels are, in a form that travels: a file, or an IDX file and the image's index in it; view:
     * applied after loading (mirror image, crop). index: the image's position among the inputs.
     */
    record Item(int index, String id, String file, int idxIndex, View view) implements Serializable {}

    /** Chunk {@code chunk} (file part-chunk): its images, or for kind "embedded" a folder, whose first row is {@code first}. */
    record Part(int chunk, List<Item> items, String folder, long first, long count) implements Serializable {}

    /** What a task sends back: counts, never vectors. */
    record Done(int chunk, long count, long rows, int dim, int failures) implements Serializable {}

    /** A chunk's rows (before normalisation) and its failures, "id\terror". */
    record Out(int dim, List<VectorTable.Rec> rows, List<String> failures) {}

    /** One kind's embedding of a chunk, in a task; inputs: as given, for each row's source. */
    interface Kernel extends Serializable {
        Out embed(Part p, List<String> inputs, LongAccumulator done);
    }

    /**
     * @param table       the sealed table
     * @param images      images listed (for kind "embedded": rows)
     * @param failures    the images that failed to decode, "id\terror", in input order
     * @param chunksRun   chunks embedded by this call (0: the table was complete)
     * @param imagesRun   images in those chunks
     */
    public record Result(VectorTable table, long images, List<String> failures, int chunksRun, long imagesRun) {}

    /**
     * The vectors of {@code inputs} as a table at {@code tableDir} (a Hadoop path every executor can write), rows in
     * input order, images that fail to decode left out and listed in {@code workDir/embeddings/<name>/failed.tsv}.
     */
    public static VectorTable embed(JavaSparkContext jsc, String name, List<Path> inputs, CurateConfig.Embedding e,
                                    String tableDir, Path workDir, Engine.Progress progress) {
        Result r = run(jsc, name, inputs, e, tableDir, progress, 0);
        LocalEngine.reportFailures(name, (int) Math.min(Integer.MAX_VALUE, r.images()), r.failures(), workDir);
        return r.table();
    }

    /** What the driver knows before the job: the chunks, the images in all, what goes into the fingerprint. */
    private record Plan(List<Part> parts, long images, String extra) {}

    /** As {@link #embed}, failures returned instead of reported; chunkImages > 0: images per chunk (tests). */
    static Result run(JavaSparkContext jsc, String name, List<Path> inputs, CurateConfig.Embedding e, String dir,
                      Engine.Progress progress, int chunkImages) {
        List<String> in = new ArrayList<>();
        for (Path p : inputs) in.add(p.toString());
        boolean embedded = e.kind().equals("embedded");
        Plan plan = embedded ? embeddedPlan(inputs) : imagePlan(name, inputs, e, chunkImages);
        List<Part> parts = plan.parts();
        long total = plan.images();
        String fp = fingerprint(name + "\n" + in + "\n" + e + "\n" + total + "\n" + plan.extra() + "\n" + weightsStamp(e));
        String step = "embed " + name;
        VectorTable t = VectorTable.open(dir, fp);
        boolean[] written = VectorTable.written(dir, parts.size());
        int missing = 0;
        for (boolean w : written) if (!w) missing++;
        if (t != null && t.chunks() == parts.size() && missing == 0) {
            progress.update(step, total, total);
            return new Result(t, total, failures(dir, parts.size()), 0, 0);
        }
        // the weights checked before an old table is deleted (pixels need a pass over the images: only when chunks run)
        Kernel kernel = switch (e.kind()) {
            case "embedded" -> embeddedKernel(e.key());
            case "pixels" -> null;
            case "copy_detector" -> copyDetectorKernel(e);
            default -> modelKernel(e);
        };
        claim(dir, fp); // a sealed table with chunk files deleted since: its missing chunks are redone, as a killed job's
        written = VectorTable.written(dir, parts.size());
        List<Part> todo = new ArrayList<>();
        long skipped = 0;
        for (Part p : parts) {
            if (written[p.chunk()]) skipped += p.count();
            else todo.add(p);
        }
        long before = skipped;
        progress.update(step, before, total);
        int dim = -1;
        if (!todo.isEmpty()) {
            Kernel k = kernel != null ? kernel : pixelKernel(jsc, parts);
            LongAccumulator acc = jsc.sc().longAccumulator(step);
            List<Done> done = withProgress(jsc.parallelize(todo, todo.size()).mapPartitions(it -> task(it, k, dir, in, acc)).collectAsync(),
                    () -> progress.update(step, before + acc.value(), total));
            dim = dimOf(done, parts);
        }
        if (dim < 0) dim = dimOf(dir, parts.size());
        t = VectorTable.seal(dir, fp, dim, parts.size());
        try {
            VectorTable.fs(dir).delete(new org.apache.hadoop.fs.Path(dir, PENDING), false);
        } catch (IOException ex) {
            throw new UncheckedIOException(dir + ": " + ex.getMessage(), ex);
        }
        progress.update(step, total, total);
        return new Result(t, total, failures(dir, parts.size()), todo.size(), total - skipped);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // driver: chunks, fingerprint, the table folder

    private static Plan imagePlan(String name, List<Path> inputs, CurateConfig.Embedding e, int chunkImages) {
        Dataset ds = Datasets.of(inputs);
        int n = ds.size();
        if (n == 0) throw new IllegalArgumentException(name + ": no images found in " + inputs);
        int batch = Math.max(1, e.batchSize());
        int per = chunkSize(n, batch, chunkImages);
        List<Part> parts = new ArrayList<>();
        for (int s = 0; s < n; s += SHARD) {
            int end = Math.min(n, s + SHARD);
            for (int a = s; a < end; a += per) {
                int b = Math.min(end, a + per);
                List<Item> items = new ArrayList<>(b - a);
                for (int i = a; i < b; i++) items.add(item(i, ds.get(i).id(), ds.get(i).source(), e.view()));
                parts.add(new Part(parts.size(), items, null, a, b - a));
            }
        }
        return new Plan(parts, n, "chunks of " + per); // another chunking (another version) does not reuse chunk files
    }

    /**
     * Images per chunk: whole batches (the local embedder's batches, which start at each shard), a whole shard for a
     * large set, about n / TARGET_CHUNKS (at least MIN_CHUNK) for a smaller one; chunkImages > 0 overrides the target.
     */
    static int chunkSize(int n, int batch, int chunkImages) {
        long want = chunkImages > 0 ? chunkImages : Math.min(SHARD, Math.max(MIN_CHUNK, ((long) n + TARGET_CHUNKS - 1) / TARGET_CHUNKS));
        long whole = (want + batch - 1) / batch * batch;
        return (int) Math.min(whole, Math.max(batch, SHARD));
    }

    /** Kind "embedded": one chunk per folder; its first row counted on the driver from the manifest (status ok). */
    private static Plan embeddedPlan(List<Path> dirs) {
        List<Part> parts = new ArrayList<>();
        StringBuilder extra = new StringBuilder();
        long first = 0;
        for (Path dir : dirs) {
            Path manifest = dir.resolve("manifest.tsv");
            long ok;
            try (var lines = Files.lines(manifest)) {
                ok = lines.skip(1).filter(l -> {
                    String[] f = l.split("\t", -1);
                    return f.length >= 7 && f[6].equals("ok");
                }).count();
                extra.append(Files.getLastModifiedTime(manifest).toMillis()).append(' ');
            } catch (IOException | UncheckedIOException ex) {
                throw new IllegalArgumentException(manifest + ": cannot read (not a `dino4j embed` output?): " + ex.getMessage());
            }
            parts.add(new Part(parts.size(), null, dir.toString(), first, ok));
            first += ok;
        }
        return new Plan(parts, first, extra.toString());
    }

    /** The weights file's size and modification time: a checkpoint overwritten at the same path is another model. */
    static String weightsStamp(CurateConfig.Embedding e) {
        if (e.weights() == null) return "";
        try {
            return java.nio.file.Files.size(e.weights()) + "@" + java.nio.file.Files.getLastModifiedTime(e.weights()).toMillis();
        } catch (java.io.IOException ex) {
            return "unreadable";
        }
    }

    static String fingerprint(String what) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(what.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException ex) {
            throw new IllegalStateException(ex);
        }
    }

    /**
     * Makes dir the table of fingerprint fp: a table (complete or pending) made from something else is deleted; a folder
     * that is no table is refused rather than deleted.
     */
    static void claim(String dir, String fp) {
        org.apache.hadoop.fs.Path d = new org.apache.hadoop.fs.Path(dir), pending = new org.apache.hadoop.fs.Path(dir, PENDING);
        try {
            FileSystem fs = VectorTable.fs(dir);
            if (fs.exists(d)) {
                String old;
                if (fs.exists(new org.apache.hadoop.fs.Path(dir, VectorTable.META))) old = VectorTable.open(dir, null).fingerprint();
                else if (fs.exists(pending)) {
                    try (var s = fs.open(pending)) {
                        old = new String(s.readAllBytes(), StandardCharsets.UTF_8).trim();
                    }
                } else if (fs.listStatus(d).length > 0)
                    throw new IllegalArgumentException(dir + ": not empty and not a dino4j vector table (no " + VectorTable.META
                            + " or " + PENDING + "): remove it or write elsewhere");
                else old = fp;
                if (old.equals(fp)) return;
                VectorTable.delete(dir); // made from other inputs or another embedding: nothing in it is ours
            }
            fs.mkdirs(d);
            try (var s = fs.create(pending, true)) {
                s.write((fp + "\n").getBytes(StandardCharsets.UTF_8));
            }
        } catch (IOException ex) {
            throw new UncheckedIOException(dir + ": " + ex.getMessage(), ex);
        }
    }

    /** The vectors' length from the tasks; for kind "embedded" every folder's must agree. */
    private static int dimOf(List<Done> done, List<Part> parts) {
        int dim = -1;
        for (Done d : done) {
            if (d.rows() == 0) continue;
            if (dim >= 0 && d.dim() != dim)
                throw new IllegalArgumentException(parts.get(d.chunk()).folder() + ": vectors of length " + d.dim()
                        + ", the other inputs' are " + dim);
            dim = d.dim();
        }
        if (dim < 0) for (Done d : done) dim = Math.max(dim, d.dim());
        return dim;
    }

    /** The vectors' length read from the first chunk file with a row (a resumed table whose chunks were all written). */
    static int dimOf(String dir, int chunks) {
        Configuration conf = new Configuration();
        conf.set("parquet.read.schema", VectorTable.VECTORS_ONLY);
        for (int c = 0; c < chunks; c++) {
            org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(dir, VectorTable.chunkName(c));
            try (ParquetReader<Group> r = ParquetReader.builder(new GroupReadSupport(), p).withConf(conf).build()) {
                Group g = r.read();
                if (g != null) return g.getBinary("vector", 0).length() / 4;
            } catch (IOException ex) {
                throw new UncheckedIOException(p + ": " + ex.getMessage(), ex);
            }
        }
        return 0;
    }

    static String failedName(int chunk) {
        return String.format(Locale.ROOT, "_failed-%05d.tsv", chunk);
    }

    /** Every chunk's failures, in chunk order (input order). */
    static List<String> failures(String dir, int chunks) {
        List<String> out = new ArrayList<>();
        try {
            FileSystem fs = VectorTable.fs(dir);
            for (int c = 0; c < chunks; c++) {
                org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(dir, failedName(c));
                if (!fs.exists(p)) continue;
                try (var s = fs.open(p)) {
                    new String(s.readAllBytes(), StandardCharsets.UTF_8).lines().filter(l -> !l.isEmpty()).forEach(out::add);
                }
            }
        } catch (IOException ex) {
            throw new UncheckedIOException(dir + ": " + ex.getMessage(), ex);
        }
        return out;
    }

    /** Runs a job with the accumulator's count as progress, every 250 ms. */
    private static <T> List<T> withProgress(JavaFutureAction<List<T>> job, Runnable poll) {
        try {
            while (true) {
                try {
                    return job.get(250, TimeUnit.MILLISECONDS);
                } catch (TimeoutException t) {
                    poll.run();
                }
            }
        } catch (InterruptedException ex) {
            job.cancel(true);
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted");
        } catch (ExecutionException ex) {
            Throwable c = ex.getCause();
            if (c instanceof RuntimeException r) throw r;
            throw new IllegalStateException(taskFailure(String.valueOf(c.getMessage())), c);
        }
    }

    private static final java.util.regex.Pattern LOST_TASK = java.util.regex.Pattern.compile("\\(TID \\d+\\) \\([^)]*\\): (?:[\\w.$]+(?:Exception|Error): )?(.*)");

    /**
     * One line from Spark's "Job aborted due to stage failure: ... Lost task 0.0 in stage 0.0 (TID 0) (host executor
     * 1): org.dino4j.io.CheckpointException: w.pth: file not found" and the stack trace under it: "a Spark task failed:
     * w.pth: file not found".
     */
    static String taskFailure(String message) {
        String first = message.lines().findFirst().orElse(message);
        java.util.regex.Matcher m = LOST_TASK.matcher(first);
        return "a Spark task failed: " + (m.find() ? m.group(1) : first);
    }

    private static Item item(int i, String id, Sample.Source source, View view) {
        return switch (source) {
            case Sample.FileSource f -> new Item(i, id, f.file().toString(), -1, view);
            case Sample.BytesSource b -> throw new IllegalArgumentException(id + ": in-memory bytes, not a file the executors can read");
            case Sample.PixelSource p -> {
                int hash = id.lastIndexOf('#');
                if (hash < 0) throw new IllegalArgumentException(id + ": in-memory pixels without a file#index id");
                yield new Item(i, id, id.substring(0, hash), Integer.parseInt(id.substring(hash + 1)), view);
            }
            case Sample.ViewSource v -> {
                if (!view.identity()) throw new IllegalArgumentException(id + ": a view of a view");
                yield item(i, id, v.inner(), v.view());
            }
        };
    }

    // ---------------------------------------------------------------------------------------------------------------
    // executors

    /** A task: each of its chunks embedded, normalised row by row, its failures and then its file written. */
    static Iterator<Done> task(Iterator<Part> parts, Kernel k, String dir, List<String> inputs, LongAccumulator acc) {
        List<Done> out = new ArrayList<>();
        while (parts.hasNext()) {
            Part p = parts.next();
            Out o = k.embed(p, inputs, acc);
            for (VectorTable.Rec r : o.rows()) Knn.normalizeRows(r.v(), 1, o.dim());
            writeFailures(dir, p.chunk(), o.failures());
            long n = VectorTable.writeChunk(dir, p.chunk(), o.dim(), o.rows().iterator());
            out.add(new Done(p.chunk(), p.count(), n, o.dim(), o.failures().size()));
        }
        return out.iterator();
    }

    /** Before the chunk's file: a chunk that is there has its failures there too (or had none). */
    private static void writeFailures(String dir, int chunk, List<String> failures) {
        org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(dir, failedName(chunk));
        try {
            FileSystem fs = VectorTable.fs(dir);
            if (failures.isEmpty()) {
                fs.delete(p, false); // a stale list from an earlier run of this chunk
                return;
            }
            try (var s = fs.create(p, true)) {
                s.write((String.join("\n", failures) + "\n").getBytes(StandardCharsets.UTF_8));
            }
        } catch (IOException ex) {
            throw new UncheckedIOException(p + ": " + ex.getMessage(), ex);
        }
    }

    /** A chunk's result from a vector (null where it failed) and an error per item, in item order. */
    private static Out out(int dim, List<Item> items, float[][] v, String[] error, List<String> inputs) {
        List<Path> in = new ArrayList<>();
        for (String s : inputs) in.add(Path.of(s));
        List<VectorTable.Rec> rows = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < items.size(); i++) {
            Item it = items.get(i);
            if (v[i] != null) rows.add(new VectorTable.Rec(it.index(), it.id(), LocalEngine.sourceOf(it.id(), in), v[i]));
            else failures.add(it.id() + "\t" + String.valueOf(error[i]).replace('\t', ' ').replace('\n', ' '));
        }
        return new Out(dim, rows, failures);
    }

    /**
     * The CLS vectors of a chunk: the model loaded once, the chunk through {@link FeatureExtractor} as the local
     * embedder sends a shard (chunks never cross a shard and hold whole batches, so the batches are the same).
     */
    static Kernel modelKernel(CurateConfig.Embedding e) {
        String weights = e.weights().toAbsolutePath().normalize().toString(), model = e.model();
        if (!Files.exists(Path.of(weights))) throw new IllegalArgumentException(weights + ": no such file or folder");
        int res = e.resolution(), resize = e.resize(), batch = Math.max(1, e.batchSize());
        return (p, inputs, done) -> {
            List<Item> items = p.items();
            float[][] v = new float[items.size()][];
            String[] error = new String[items.size()];
            var opts = new FeatureExtractor.Options(List.of(Output.CLS), new Preprocess(resize, res, 0), batch, 1,
                    ImageDecoder.DEFAULT_MAX_PIXELS);
            try (DinoVisionTransformer m = Dinov2.load(Path.of(weights), CurateConfig.Embedding.modelConfig(model));
                 FeatureExtractor fx = new FeatureExtractor(m, opts)) {
                fx.run(samples(items), it -> {
                    if (it.ok()) v[it.index()] = it.rows()[0];
                    else error[it.index()] = it.problem();
                    done.add(1);
                });
                return out(m.config().embedDim(), items, v, error, inputs);
            }
        };
    }

    /** A chunk's copy-detection descriptors: the detector loaded once, the images that decode embedded together. */
    static Kernel copyDetectorKernel(CurateConfig.Embedding e) {
        String weights = e.weights().toAbsolutePath().normalize().toString();
        CopyDetector.load(Path.of(weights)); // on the driver too: a bad file fails here, with its name
        return (p, inputs, done) -> {
            CopyDetector cd = CopyDetector.load(Path.of(weights));
            ImageDecoder dec = new ImageDecoder();
            List<Item> items = p.items();
            int in = cd.inputSize();
            float[][] v = new float[items.size()][];
            String[] error = new String[items.size()];
            int[] ok = new int[items.size()];
            int n = 0;
            float[] x = new float[0];
            for (int i = 0; i < items.size(); i++) {
                try {
                    RgbImage im = load(items.get(i), dec);
                    if (x.length < (n + 1) * in) x = Arrays.copyOf(x, Math.max(in, 2 * x.length));
                    CopyDetectorInput.row(im, cd.side(), cd.channels(), x, n * in);
                    ok[n++] = i;
                } catch (RuntimeException ex) {
                    error[i] = problem(ex);
                }
                done.add(1);
            }
            float[] z = cd.embed(Arrays.copyOf(x, n * in), n);
            for (int j = 0; j < n; j++) v[ok[j]] = Arrays.copyOfRange(z, j * cd.dim(), (j + 1) * cd.dim());
            return out(cd.dim(), items, v, error, inputs);
        };
    }

    /**
     * Raw pixels as {@link PixelRows} makes them: pass 1 over every chunk (one size? all gray? over the images that
     * decode; only these small findings come back), then byte / 255 of every step-th byte (3: gray, one channel).
     */
    static Kernel pixelKernel(JavaSparkContext jsc, List<Part> parts) {
        PixelInfo all = mergeInfo(jsc.parallelize(parts, parts.size()).mapPartitions(TableEmbedder::pixelInfo).collect());
        if (all.badIndex() >= 0)
            throw new IllegalArgumentException(all.badId() + ": " + all.badW() + "x" + all.badH() + " differs from the first image's size ("
                    + all.firstW() + "x" + all.firstH() + "); raw-pixel features need one size");
        int step = all.gray() ? 3 : 1;
        int dim = all.len() < 0 ? 0 : all.len() / step;
        return (p, inputs, done) -> {
            ImageDecoder dec = new ImageDecoder();
            List<Item> items = p.items();
            float[][] v = new float[items.size()][];
            String[] error = new String[items.size()];
            for (int i = 0; i < items.size(); i++) {
                try {
                    v[i] = PixelRows.row(load(items.get(i), dec).rgb(), step);
                } catch (RuntimeException ex) {
                    error[i] = problem(ex);
                }
                done.add(1);
            }
            return out(dim, items, v, error, inputs);
        };
    }

    /** Kind "embedded": a {@code dino4j embed} folder's vectors, read in the task (as VectorSet.embedded reads them). */
    static Kernel embeddedKernel(String key) {
        return (p, inputs, done) -> {
            EmbedDir.Rows r = EmbedDir.read(Path.of(p.folder()), key);
            if (r.size() != p.count())
                throw new IllegalStateException(p.folder() + ": " + r.size() + " rows, the driver counted " + p.count() + " (changed meanwhile?)");
            List<VectorTable.Rec> rows = new ArrayList<>(r.size());
            for (int i = 0; i < r.size(); i++)
                rows.add(new VectorTable.Rec(p.first() + i, r.ids().get(i), p.folder(),
                        Arrays.copyOfRange(r.x(), i * r.dim(), (i + 1) * r.dim())));
            done.add(r.size());
            return new Out(r.dim(), rows, List.of());
        };
    }

    /** A chunk's items as samples, for the feature pipeline (ids are the items' positions in the chunk's list). */
    private static Dataset samples(List<Item> chunk) {
        List<Sample> out = new ArrayList<>(chunk.size());
        for (Item it : chunk) {
            Sample.Source src = it.idxIndex() < 0 ? new Sample.FileSource(Path.of(it.file())) : idx(it.file()).get(it.idxIndex()).source();
            out.add(new Sample(Integer.toString(it.index()), -1, "", it.view().identity() ? src : new Sample.ViewSource(src, it.view())));
        }
        return Dataset.of(out, List.of());
    }

    /** The JVM's opened IDX files (the executors read them once, not once per chunk). */
    private static final Map<String, SoftReference<Dataset>> IDX = new HashMap<>();

    static RgbImage load(Item it, ImageDecoder dec) {
        RgbImage im = it.idxIndex() < 0 ? dec.decode(Path.of(it.file())) : idx(it.file()).get(it.idxIndex()).source().load(dec);
        return it.view().apply(im);
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

    /** What the pixel features need to know of a chunk before they can be built (first: its first decoded image). */
    record PixelInfo(int first, String firstId, int len, boolean gray, int badIndex, String badId, int badW, int badH, int firstW, int firstH)
            implements Serializable {}

    private static Iterator<PixelInfo> pixelInfo(Iterator<Part> parts) {
        ImageDecoder dec = new ImageDecoder();
        List<PixelInfo> out = new ArrayList<>();
        while (parts.hasNext()) {
            int first = -1, len = -1, fw = 0, fh = 0, bad = -1, bw = 0, bh = 0;
            String firstId = null, badId = null;
            boolean gray = true;
            for (Item item : parts.next().items()) {
                RgbImage im;
                try {
                    im = load(item, dec);
                } catch (RuntimeException ex) {
                    continue; // left out, reported by the second pass
                }
                byte[] px = im.rgb();
                if (first < 0) {
                    first = item.index();
                    firstId = item.id();
                    len = px.length;
                    fw = im.width();
                    fh = im.height();
                } else if (px.length != len && bad < 0) {
                    bad = item.index();
                    badId = item.id();
                    bw = im.width();
                    bh = im.height();
                }
                gray = gray && PixelRows.gray(px);
            }
            out.add(new PixelInfo(first, firstId, len, gray, bad, badId, bw, bh, fw, fh));
        }
        return out.iterator();
    }

    /** The chunks' findings in input order: the first decoded image sets the size. */
    static PixelInfo mergeInfo(List<PixelInfo> infos) {
        PixelInfo acc = null;
        for (PixelInfo p : infos) {
            if (p.first() < 0) continue;
            if (acc == null) {
                acc = p;
                continue;
            }
            int bad = acc.badIndex(), bw = acc.badW(), bh = acc.badH();
            String badId = acc.badId();
            if (bad < 0 && p.len() != acc.len()) {
                bad = p.first();
                badId = p.firstId();
                bw = p.firstW();
                bh = p.firstH();
            } else if (bad < 0 && p.badIndex() >= 0) {
                bad = p.badIndex();
                badId = p.badId();
                bw = p.badW();
                bh = p.badH();
            }
            acc = new PixelInfo(acc.first(), acc.firstId(), acc.len(), acc.gray() && p.gray(), bad, badId, bw, bh, acc.firstW(), acc.firstH());
        }
        return acc != null ? acc : new PixelInfo(-1, null, -1, true, -1, null, 0, 0, 0, 0);
    }
}
