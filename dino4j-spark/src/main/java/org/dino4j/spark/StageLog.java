package org.dino4j.spark;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.dino4j.io.Json;

/**
 * The stages of a table pipeline: each writes its tables under the work folder and, when it has finished, a small
 * {@code stages/<name>.json} with the fingerprint of what it was computed from, its time and its few numbers. A rerun
 * skips every stage whose file is there with the same fingerprint and reads its tables; a killed job redoes only the
 * stage it was in (from its own checkpoints where it has them). Times go to stderr and into the report.
 */
public final class StageLog {
    private final String work;
    private final Map<String, Object> stages = new LinkedHashMap<>();
    private final long t0 = System.nanoTime();

    public StageLog(String work) {
        this.work = work;
    }

    public String work() {
        return work;
    }

    public String path(String name) {
        return work + "/" + name;
    }

    /** Every stage so far: name → {seconds, skipped, and its numbers}. */
    public Map<String, Object> stages() {
        return stages;
    }

    /** Whether Spark finished writing the table at dir (its _SUCCESS file). */
    public static boolean complete(String dir) {
        try {
            return VectorTable.fs(dir).exists(new Path(dir, "_SUCCESS"));
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": " + e.getMessage(), e);
        }
    }

    public void line(String msg) {
        System.err.printf(Locale.ROOT, "[%7.1f s] %s%n", (System.nanoTime() - t0) / 1e9, msg);
    }

    /**
     * Runs a stage unless it has finished before from the same inputs (then its saved numbers are returned).
     * @param body computes the stage (its tables) and returns its numbers (JSON values: numbers, strings, lists, maps)
     */
    @SuppressWarnings("unchecked")
    public Map<String, Object> stage(String name, String fingerprint, Supplier<Map<String, Object>> body) {
        Path file = new Path(work + "/stages/" + name + ".json");
        try {
            FileSystem fs = VectorTable.fs(work);
            if (fs.exists(file)) {
                Map<String, Object> saved;
                try (var in = fs.open(file)) {
                    saved = Json.parseObject(new String(in.readAllBytes(), StandardCharsets.UTF_8));
                }
                if (fingerprint.equals(saved.get("fingerprint"))) {
                    Map<String, Object> r = (Map<String, Object>) saved.get("result");
                    stages.put(name, Map.of("seconds", saved.get("seconds"), "skipped", true));
                    line(name + ": done before, skipped");
                    return r;
                }
            }
            line(name + " ...");
            long t = System.nanoTime();
            Map<String, Object> r = body.get();
            // Spark deletes a stage's shuffle files once their RDDs are collected: at scale they are the size of the
            // pool, and the next stage writes as much again
            System.gc();
            double secs = Math.round((System.nanoTime() - t) / 1e8) / 10.0;
            Map<String, Object> saved = new LinkedHashMap<>();
            saved.put("fingerprint", fingerprint);
            saved.put("seconds", secs);
            saved.put("result", r);
            Path tmp = new Path(work + "/stages/." + name + ".json.tmp");
            try (var out = fs.create(tmp, true)) {
                out.write((Json.write(saved) + "\n").getBytes(StandardCharsets.UTF_8));
            }
            fs.delete(file, false);
            fs.rename(tmp, file);
            stages.put(name, Map.of("seconds", secs, "skipped", false));
            line(String.format(Locale.ROOT, "%s: %.1f s", name, secs));
            return r;
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
    }
}
