package org.dino4j.index;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.dino4j.embed.EmbedDir;
import org.dino4j.embed.Output;
import org.dino4j.io.Json;

/**
 * Bulk-loads {@code dino4j embed} output folders into any {@link VectorIndex} ({@code dino4j index build DIR --from
 * EMBED_OUTPUT}): ids from the manifest, metadata {@code {"class": name, "label": n}} where the input had them, the
 * vectors the index's spec asks for ({@code cls}, or {@code cls} and {@code patch_mean} combined by
 * {@link IndexSpec#vectorOf}), in batches. Resumable: ids already in the index are skipped, so a build killed and
 * restarted goes on where its last acknowledged batch ended.
 */
public final class IndexBuild {
    public static final int DEFAULT_BATCH = 1000;

    /** Called after every batch, and once at the start. */
    @FunctionalInterface
    public interface Progress {
        /**
         * @param done          entries handled so far (added or skipped as present)
         * @param total         entries in the embed output(s)
         * @param itemsPerSecond additions per second since the start
         * @param etaSeconds    time left at that rate (NaN before the first batch)
         */
        void update(long done, long total, double itemsPerSecond, double etaSeconds);
    }

    public record Result(long total, long added, long skipped, double seconds) {}

    private IndexBuild() {}

    /** The spec of an index for this embed output: its model, transform and width ({@code vectors}: cls or cls+patchmean). */
    public static IndexSpec specOf(Path embedDir, String vectors) {
        Map<String, Object> run = runJson(embedDir);
        int d = ((Number) run.get("embed_dim")).intValue();
        return new IndexSpec(String.valueOf(run.get("model")), String.valueOf(run.get("preprocess")), vectors,
                IndexSpec.dimFor(vectors, d));
    }

    /** Loads every embed folder into the index, checking each against the index's spec first. */
    public static Result run(List<Path> embedDirs, VectorIndex index, int batchSize, Progress progress) {
        if (batchSize < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        IndexSpec spec = index.spec();
        for (Path d : embedDirs) check(d, spec);
        record Source(Path dir, EmbedDir.Rows cls, EmbedDir.Rows mean) {}
        List<Source> sources = new ArrayList<>();
        long total = 0;
        for (Path d : embedDirs) {
            EmbedDir.Rows cls = EmbedDir.read(d, Output.CLS.key);
            EmbedDir.Rows mean = IndexSpec.CLS_PATCH_MEAN.equals(spec.vectors()) ? EmbedDir.read(d, Output.PATCH_MEAN.key) : null;
            sources.add(new Source(d, cls, mean));
            total += cls.size();
        }
        long start = System.nanoTime(), done = 0, added = 0, skipped = 0;
        progress.update(0, total, 0, Double.NaN);
        for (Source s : sources) {
            EmbedDir.Rows r = s.cls();
            int dim = r.dim();
            for (int a = 0; a < r.size(); a += batchSize) {
                int b = Math.min(r.size(), a + batchSize);
                List<Entry> batch = new ArrayList<>(b - a);
                for (int i = a; i < b; i++) {
                    String id = r.ids().get(i);
                    if (index.contains(id)) {
                        skipped++;
                        continue;
                    }
                    batch.add(entry(s.dir(), r, s.mean(), i, spec));
                }
                if (!batch.isEmpty()) index.add(batch);
                added += batch.size();
                done += b - a;
                double secs = (System.nanoTime() - start) / 1e9, rate = added / Math.max(secs, 1e-9);
                progress.update(done, total, rate, added == 0 ? Double.NaN : (total - done) / rate);
            }
        }
        return new Result(total, added, skipped, (System.nanoTime() - start) / 1e9);
    }

    /**
     * Row {@code i} of an embed folder as an entry: id = the input's id, the spec's vector (CLS, or CLS and patch mean),
     * metadata {@code class} and {@code label} where the manifest has them, and {@code file} (its absolute path) where
     * the id is a file here, so that a server whose roots hold it can show its picture.
     */
    public static Entry entry(Path dir, EmbedDir.Rows cls, EmbedDir.Rows mean, int i, IndexSpec spec) {
        String id = cls.ids().get(i);
        int dim = cls.dim();
        float[] c = Arrays.copyOfRange(cls.x(), i * dim, (i + 1) * dim);
        float[] m = mean == null ? null : Arrays.copyOfRange(mean.x(), i * mean.dim(), (i + 1) * mean.dim());
        float[] v;
        try {
            v = spec.vectorOf(c, m);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(dir + ": " + id + ": " + e.getMessage());
        }
        Map<String, String> meta = new LinkedHashMap<>();
        if (!cls.classNames().get(i).isEmpty()) meta.put("class", cls.classNames().get(i));
        if (cls.labels()[i] >= 0) meta.put("label", String.valueOf(cls.labels()[i]));
        try {
            Path f = Path.of(id);
            if (Files.isRegularFile(f)) meta.put("file", f.toAbsolutePath().normalize().toString());
        } catch (java.nio.file.InvalidPathException e) {
            // an id that is no path (file#row of an IDX file): no picture file
        }
        return new Entry(id, v, meta);
    }

    /** The embed run must be of the index's model, hold the vectors it needs, and be as wide as the index. */
    static void check(Path embedDir, IndexSpec spec) {
        Map<String, Object> run = runJson(embedDir);
        Path f = embedDir.resolve("run.json");
        Object model = run.get("model");
        if (!spec.model().equals(String.valueOf(model)))
            throw new IllegalArgumentException(f + ": embedded with model " + model + ", the index holds " + spec.model());
        if (!(run.get("embed_dim") instanceof Number ed)) throw new IllegalArgumentException(f + ": no numeric 'embed_dim'");
        int want = IndexSpec.dimFor(spec.vectors(), ed.intValue());
        if (want != spec.dim())
            throw new IllegalArgumentException(f + ": " + spec.vectors() + " vectors of " + want + " values, the index holds " + spec.dim());
        List<?> outputs = run.get("outputs") instanceof List<?> l ? l : List.of();
        List<String> need = IndexSpec.CLS.equals(spec.vectors()) ? List.of(Output.CLS.key) : List.of(Output.CLS.key, Output.PATCH_MEAN.key);
        for (String k : need)
            if (!outputs.contains(k))
                throw new IllegalArgumentException(f + ": the run has no '" + k + "' output (the index holds " + spec.vectors() + "; embed with "
                        + (k.equals(Output.PATCH_MEAN.key) ? "--patch-mean" : "the cls output") + ")");
    }

    static Map<String, Object> runJson(Path embedDir) {
        Path f = embedDir.resolve("run.json");
        try {
            Map<String, Object> run = Json.parseObject(Files.readString(f, StandardCharsets.UTF_8));
            if (!(run.get("embed_dim") instanceof Number)) throw new IllegalArgumentException("no numeric 'embed_dim'");
            return run;
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(embedDir + ": not a `dino4j embed` output (no run.json)");
        } catch (IOException e) {
            throw new IllegalArgumentException(f + ": cannot read: " + e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(f + ": corrupt: " + e.getMessage());
        }
    }
}
