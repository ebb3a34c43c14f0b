package org.dino4j.embed;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import org.dino4j.data.Dataset;
import org.dino4j.data.Preprocess;
import org.dino4j.data.Sample;
import org.dino4j.io.DType;
import org.dino4j.io.Json;
import org.dino4j.io.Npy;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorEntry;
import org.dino4j.model.DinoVisionTransformer;

/**
 * Embeds a dataset into shards of {@code shardSize} consecutive inputs. Per shard: {@code shard-NNNNN.safetensors}
 * and/or {@code shard-NNNNN.<output>.npy} (float32 rows of the images that decoded, and {@code index}: their
 * positions in the input list), then {@code shard-NNNNN.tsv}, its manifest rows, written last: a shard is finished
 * exactly when its .tsv exists, and every file is written to a temporary name, flushed and renamed, so a run killed
 * at any moment leaves only finished shards and temporaries. A rerun skips finished shards (after checking that
 * {@code run.json} describes the same inputs and options) and ends by writing {@code manifest.tsv}: one row per
 * input, in input order. Decoding and the transform run on worker threads ahead of the model, at most a couple of
 * batches ahead, so memory stays bounded on any input size: the shards are a sink of {@link FeatureExtractor}.
 */
public final class Embedder {
    public enum Format { SAFETENSORS, NPY }

    public record Options(Set<Output> outputs, Set<Format> formats, int batchSize, int shardSize, int workers,
                          Preprocess preprocess, long maxPixels) {
        public Options {
            outputs = outputs.isEmpty() ? EnumSet.of(Output.CLS) : EnumSet.copyOf(outputs);
            formats = formats.isEmpty() ? EnumSet.of(Format.SAFETENSORS) : EnumSet.copyOf(formats);
            if (batchSize < 1 || shardSize < 1 || workers < 1) throw new IllegalArgumentException("batch size, shard size and workers must be >= 1");
        }
    }

    /** Called after every batch (and once at the start with what was already done). */
    public interface Progress {
        void update(long done, long total, long failed);
    }

    public record Result(int inputs, int embedded, int failed, int shardsSkipped, int shardsWritten, List<String> errors) {}

    private final DinoVisionTransformer model;
    private final String modelId;
    private final Options o;

    /** @param modelId what run.json records as the model (e.g. the weights path): a rerun must use the same one */
    public Embedder(DinoVisionTransformer model, String modelId, Options options) {
        this.model = model;
        this.modelId = modelId;
        this.o = options;
    }

    public static String shardName(int s) {
        return String.format(Locale.ROOT, "shard-%05d", s);
    }

    public Result run(Dataset ds, Path out, Progress progress) throws IOException {
        Files.createDirectories(out);
        checkRunFile(ds, out);
        int n = ds.size(), shards = (n + o.shardSize() - 1) / o.shardSize();
        long done = 0, failed = 0;
        List<Integer> todo = new ArrayList<>();
        int skipped = 0;
        for (int s = 0; s < shards; s++) {
            if (finished(out, s)) {
                skipped++;
                done += Math.min(n, (s + 1) * o.shardSize()) - s * o.shardSize();
                failed += shardRows(out, s, n).stream().filter(l -> !l.endsWith("\tok")).count();
            } else todo.add(s);
        }
        progress.update(done, n, failed);
        var heads = List.<Head>copyOf(o.outputs());
        try (FeatureExtractor fx = new FeatureExtractor(model, new FeatureExtractor.Options(heads, o.preprocess(), o.batchSize(),
                o.workers(), o.maxPixels()))) {
            long[] counts = {done, failed};
            for (int s : todo) shard(ds, out, s, fx, progress, counts, n);
        }
        // the manifest: every shard's rows, in order; errors of skipped shards come back from their .tsv
        StringBuilder m = new StringBuilder("index\tid\tlabel\tclass\tshard\trow\tstatus\n");
        int failedTotal = 0;
        List<String> allErrors = new ArrayList<>();
        for (int s = 0; s < shards; s++) {
            for (String line : shardRows(out, s, n)) {
                m.append(line).append('\n');
                String[] f = line.split("\t", -1);
                if (!f[6].equals("ok")) {
                    failedTotal++;
                    allErrors.add(f[1] + ": " + f[6].replaceFirst("^error: ", ""));
                }
            }
        }
        Files2.text(out.resolve("manifest.tsv"), m.toString());
        return new Result(n, n - failedTotal, failedTotal, skipped, todo.size(), allErrors);
    }

    private void shard(Dataset ds, Path out, int s, FeatureExtractor fx, Progress progress, long[] counts, int n) throws IOException {
        int a = s * o.shardSize(), b = Math.min(n, a + o.shardSize());
        Rows rows = new Rows();
        String[] status = new String[b - a];
        int[] rowOf = new int[b - a];
        int d = model.config().embedDim();
        fx.run(ds, a, b, new FeatureExtractor.Sink() {
            @Override
            public void accept(FeatureExtractor.Item it) {
                int i = it.index() - a;
                if (!it.ok()) {
                    status[i] = "error: " + it.problem();
                    rowOf[i] = -1;
                    counts[1]++;
                    counts[0]++;
                    return;
                }
                status[i] = "ok";
                int k = 0;
                for (Output out : o.outputs()) {
                    float[] row = it.rows()[k++];
                    if (out == Output.PATCH_TOKENS) {
                        int np = row.length / d;
                        if (rows.tokenShape != null && rows.tokenShape[0] != np)
                            throw new IllegalArgumentException("patch tokens need one image size per shard (got "
                                    + rows.tokenShape[0] + " and " + np + " patches): use --crop or a fixed --resolution");
                        rows.tokenShape = new int[] {np, d};
                    }
                    rows.data.computeIfAbsent(out, x -> new ArrayList<>()).add(row);
                }
                rowOf[i] = rows.index.size();
                rows.index.add((long) it.index());
            }

            @Override
            public void batchDone(int images) {
                counts[0] += images;
                progress.update(counts[0], n, counts[1]);
            }
        });
        writeShard(out, s, rows);
        StringBuilder tsv = new StringBuilder();
        for (int i = a; i < b; i++) {
            Sample smp = ds.get(i);
            tsv.append(i).append('\t').append(clean(smp.id())).append('\t').append(smp.label() < 0 ? "" : smp.label())
                    .append('\t').append(clean(smp.className())).append('\t').append(rowOf[i - a] < 0 ? "" : s)
                    .append('\t').append(rowOf[i - a] < 0 ? "" : rowOf[i - a]).append('\t').append(clean(status[i - a])).append('\n');
        }
        Files2.text(out.resolve(shardName(s) + ".tsv"), tsv.toString());
        progress.update(counts[0], n, counts[1]);
    }

    /** Embedding rows of one shard, per output, with the input index of each row. */
    private static final class Rows {
        final Map<Output, List<float[]>> data = new LinkedHashMap<>();
        final List<Long> index = new ArrayList<>();
        int[] tokenShape; // (N, D) of the patch tokens, fixed per shard
    }

    private void writeShard(Path dir, int s, Rows rows) throws IOException {
        int n = rows.index.size(), d = model.config().embedDim(), nr = model.config().numRegisterTokens();
        long[] idx = rows.index.stream().mapToLong(Long::longValue).toArray();
        List<TensorEntry> entries = new ArrayList<>();
        for (Output out : o.outputs()) {
            List<float[]> list = rows.data.getOrDefault(out, List.of());
            long[] shape = switch (out) {
                case CLS, PATCH_MEAN -> new long[] {n, d};
                case REGISTERS -> new long[] {n, nr, d};
                case PATCH_TOKENS -> new long[] {n, rows.tokenShape == null ? 0 : rows.tokenShape[0], d};
            };
            float[] flat = new float[(int) TensorEntry.numel(shape)];
            for (int i = 0; i < list.size(); i++) System.arraycopy(list.get(i), 0, flat, i * list.get(i).length, list.get(i).length);
            if (o.formats().contains(Format.NPY)) Npy.write(outFile(dir, s, out.key), shape, flat);
            entries.add(TensorEntry.of(out.key, shape, flat));
        }
        if (o.formats().contains(Format.NPY)) Npy.write(outFile(dir, s, "index"), new long[] {n}, idx);
        if (o.formats().contains(Format.SAFETENSORS)) {
            java.nio.ByteBuffer bb = java.nio.ByteBuffer.allocate(8 * n).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            for (long v : idx) bb.putLong(v);
            entries.add(TensorEntry.ofBytes("index", DType.I64, new long[] {n}, bb.array()));
            Map<String, String> meta = new LinkedHashMap<>(); // Map.of's order changes from run to run, and the file's bytes with it
            meta.put("shard", String.valueOf(s));
            meta.put("model", modelId);
            SafeTensors.write(dir.resolve(shardName(s) + ".safetensors"), entries, meta);
        }
    }

    private static Path outFile(Path dir, int s, String key) {
        return dir.resolve(shardName(s) + "." + key + ".npy");
    }

    private boolean finished(Path out, int s) {
        if (!Files.exists(out.resolve(shardName(s) + ".tsv"))) return false;
        if (o.formats().contains(Format.SAFETENSORS) && !Files.exists(out.resolve(shardName(s) + ".safetensors"))) return false;
        if (o.formats().contains(Format.NPY) && !Files.exists(outFile(out, s, "index"))) return false;
        return true;
    }

    /**
     * The manifest rows of finished shard {@code s} of {@code n} inputs, checked: a .tsv that a bad disk or a hand
     * edit changed is refused by name (so the user can delete it and have the shard embedded again), never half read.
     */
    private List<String> shardRows(Path out, int s, int n) throws IOException {
        Path tsv = out.resolve(shardName(s) + ".tsv");
        int a = s * o.shardSize(), b = Math.min(n, a + o.shardSize());
        String redo = "; delete it to embed this shard again";
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(tsv))).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new IllegalArgumentException(tsv + ": not UTF-8 text" + redo);
        }
        List<String> lines = text.isEmpty() ? List.of() : List.of(text.split("\n", -1));
        if (!lines.isEmpty() && lines.getLast().isEmpty()) lines = lines.subList(0, lines.size() - 1);
        if (lines.size() != b - a)
            throw new IllegalArgumentException(tsv + ": " + lines.size() + " rows for the shard's " + (b - a) + " inputs" + redo);
        long ok = lines.stream().filter(l -> l.endsWith("\tok")).count();
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (int i = 0; i < lines.size(); i++) {
            String[] f = lines.get(i).split("\t", -1);
            // an ok row points at its own row of this shard (each once, rows 0..ok-1); a failed one at none
            boolean good = f.length == 7 && f[0].equals(String.valueOf(a + i)) && !f[6].isEmpty()
                    && (f[6].equals("ok") ? f[4].equals(String.valueOf(s)) && f[5].matches("\\d{1,9}") && Long.parseLong(f[5]) < ok
                            && seen.add(f[5]) : f[4].isEmpty() && f[5].isEmpty());
            if (!good) throw new IllegalArgumentException(tsv + ":" + (i + 1) + ": not the manifest row of input " + (a + i) + redo);
        }
        return lines;
    }

    /** run.json pins the inputs (count and a hash of ids and labels) and the options a rerun must share. */
    private void checkRunFile(Dataset ds, Path out) throws IOException {
        Map<String, Object> run = new LinkedHashMap<>();
        run.put("inputs", ds.size());
        run.put("inputs_sha256", inputsHash(ds));
        run.put("model", modelId);
        run.put("embed_dim", model.config().embedDim());
        run.put("shard_size", o.shardSize());
        run.put("outputs", o.outputs().stream().map(x -> x.key).toList());
        run.put("formats", o.formats().stream().map(x -> x.name().toLowerCase(Locale.ROOT)).toList());
        run.put("preprocess", o.preprocess().toString());
        String want = Json.write(run);
        Path f = out.resolve("run.json");
        if (Files.exists(f)) {
            String have = new String(Files.readAllBytes(f), StandardCharsets.UTF_8).strip(); // bytes not UTF-8 differ too: no decoding error
            if (!have.equals(want))
                throw new IllegalArgumentException(f + ": this folder holds a run with other inputs or options (" + differences(have, run)
                        + "); use another --output or delete it");
            return;
        }
        Files2.text(f, want + "\n");
    }

    /** The `dino4j embed` option behind each run.json entry, so that a refused rerun names what to change. */
    private static final Map<String, String> OPTION_OF = Map.of("inputs", "INPUT (number of images)",
            "inputs_sha256", "INPUT (names or labels of the images)", "model", "--weights", "embed_dim", "--weights (embed_dim)",
            "shard_size", "--shard-size", "outputs", "--patch-mean/--registers/--patch-tokens", "formats", "--format",
            "preprocess", "--resolution/--resize/--crop/--pad");

    /** "--format: ["npy"] in run.json, ["safetensors"] now; ..." for the entries that differ. */
    static String differences(String have, Map<String, Object> now) {
        Map<String, Object> was;
        try {
            was = Json.parseObject(have);
        } catch (RuntimeException e) {
            return "run.json is not valid JSON";
        }
        List<String> out = new ArrayList<>();
        Set<String> keys = new java.util.LinkedHashSet<>(now.keySet());
        keys.addAll(was.keySet());
        for (String k : keys) {
            String a = was.containsKey(k) ? Json.write(was.get(k)) : "nothing", b = now.containsKey(k) ? Json.write(now.get(k)) : "nothing";
            if (!a.equals(b)) out.add(OPTION_OF.getOrDefault(k, k) + ": " + a + " in run.json, " + b + " now");
        }
        return out.isEmpty() ? "run.json is written differently" : String.join("; ", out);
    }

    private static String inputsHash(Dataset ds) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (int i = 0; i < ds.size(); i++) {
                Sample s = ds.get(i);
                md.update((s.id() + "\t" + s.label() + "\n").getBytes(StandardCharsets.UTF_8));
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String clean(String s) {
        return s.replace('\t', ' ').replace('\n', ' ').replace('\r', ' ');
    }
}
