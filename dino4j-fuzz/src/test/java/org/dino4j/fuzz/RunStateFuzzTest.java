package org.dino4j.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.Timeout;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;

import org.dino4j.data.Dataset;
import org.dino4j.data.ImageDecoder;
import org.dino4j.data.Preprocess;
import org.dino4j.data.Sample;
import org.dino4j.embed.EmbedDir;
import org.dino4j.embed.Embedder;
import org.dino4j.embed.Output;
import org.dino4j.io.CheckpointException;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;
import org.dino4j.model.ModelConfig;

/**
 * What a resumed {@code dino4j embed} reads back from its output folder, as a crash or a bad disk may have left it:
 * {@code run.json}, each shard's {@code .tsv} and {@code .safetensors}, and {@code manifest.tsv} (one input, 6 parts;
 * an empty part is a missing file). First the folder as found is read as eval, curate and the Solr loader read one
 * ({@link EmbedDir#read}), then the real resume ({@link Embedder#run}) runs on it and its result is read again. Each may
 * refuse with an IllegalArgumentException or CheckpointException that names a file of the folder.
 */
class RunStateFuzzTest {
    static final String DIR = "embed-out";
    static final List<String> FILES = List.of("run.json", "shard-00000.tsv", "shard-00000.safetensors", "shard-00001.tsv", "shard-00001.safetensors",
            "manifest.tsv");
    /** Two inputs, one per shard: a resume reads two finished shards and needs no forward unless a file is missing. */
    static final Dataset INPUTS = Dataset.of(List.of(sample("baseline.jpg", 0), sample("palette.png", 1)), List.of("a", "b"));
    static final Embedder.Options OPTIONS = new Embedder.Options(EnumSet.of(Output.CLS), EnumSet.of(Embedder.Format.SAFETENSORS),
            2, 1, 1, new Preprocess(32, 28, 0), ImageDecoder.DEFAULT_MAX_PIXELS);
    static final DinoVisionTransformer MODEL = Dinov2.random(ModelConfig.fromJson(
            "{\"img_size\":28,\"patch_size\":14,\"embed_dim\":16,\"depth\":1,\"num_heads\":2,\"init_values\":1.0}"), 7);
    static final String MODEL_ID = "random tiny, seed 7";

    public static void fuzzerTestOneInput(byte[] data) {
        List<byte[]> p = Contract.parts(data, FILES.size());
        Path dir = Contract.scratch(DIR);
        for (int i = 0; i < FILES.size(); i++) if (p.get(i).length > 0) Contract.write(dir.resolve(FILES.get(i)), p.get(i));
        Contract.holds(DIR, () -> rows(dir), IllegalArgumentException.class, CheckpointException.class);
        Contract.holds(DIR, () -> {
            Embedder.Result r = new Embedder(MODEL, MODEL_ID, OPTIONS).run(INPUTS, dir, (d, t, f) -> {});
            if (r.inputs() != 2 || r.embedded() + r.failed() != 2) throw new AssertionError("resume result " + r);
            rows(dir);
        }, IllegalArgumentException.class, CheckpointException.class);
    }

    private static void rows(Path dir) {
        EmbedDir.Rows rows = EmbedDir.read(dir, "cls");
        if (rows.x().length != (long) rows.size() * rows.dim() || rows.labels().length != rows.size() || rows.classNames().size() != rows.size())
            throw new AssertionError(rows.size() + " rows of " + rows.dim() + " in " + rows.x().length + " values");
    }

    @FuzzTest(maxDuration = "30s")
    @Timeout(30) // in CI, a hang on a kept input fails its test (fuzzing has its own per-input limit)
    void runState(byte[] data) {
        fuzzerTestOneInput(data);
    }

    /** A fixture image's bytes, the id its name: run.json hashes ids and labels, so the seeds' folder matches on any machine. */
    private static Sample sample(String name, int label) {
        Path f = fixtures().resolve("extra/images").resolve(name);
        try {
            return new Sample(name, label, label == 0 ? "a" : "b", new Sample.BytesSource(name, Files.readAllBytes(f)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The repository's fixtures folder: -Ddino4j.fixtures, else the nearest one above the working folder. */
    static Path fixtures() {
        String s = System.getProperty("dino4j.fixtures");
        if (s != null) return Path.of(s);
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent())
            if (Files.isDirectory(p.resolve("fixtures/extra/images"))) return p.resolve("fixtures");
        throw new IllegalStateException("no fixtures/extra/images above " + Path.of("").toAbsolutePath() + ": set -Ddino4j.fixtures");
    }
}
