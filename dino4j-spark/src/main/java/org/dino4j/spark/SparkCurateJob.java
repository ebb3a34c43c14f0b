package org.dino4j.spark;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

import org.apache.spark.sql.SparkSession;
import org.dino4j.curate.CurateConfig;
import org.dino4j.curate.CurationReport;
import org.dino4j.curate.Engine;

/**
 * The curation as a Spark application:
 * <pre>spark-submit --class org.dino4j.spark.SparkCurateJob dino4j-spark.jar --config curate.yaml [--output DIR]</pre>
 * The master is spark-submit's (local[*] when run without one). Writes what {@code dino4j curate} writes
 * (curated.tsv, removed.tsv, report.json, the pictures) and the tables of every stage under OUT/tables (a rerun
 * skips the stages that finished), and prints the counts. Paths in the config must be readable by the driver and
 * the executors alike (a shared file system).
 */
public final class SparkCurateJob {
    private SparkCurateJob() {}

    public static void main(String[] args) {
        int code;
        try {
            code = run(args);
        } catch (IllegalArgumentException | java.io.UncheckedIOException | IOException e) {
            System.err.println("dino4j-spark: " + e.getMessage());
            code = 1;
        }
        if (code != 0) System.exit(code);
    }

    static int run(String[] args) throws IOException {
        Path config = null, output = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--config" -> config = Path.of(value(args, ++i, "--config"));
                case "--output" -> output = Path.of(value(args, ++i, "--output"));
                case "-h", "--help" -> {
                    System.out.println("usage: spark-submit --class " + SparkCurateJob.class.getName()
                            + " dino4j-spark.jar --config curate.yaml [--output DIR]");
                    return 0;
                }
                default -> throw new IllegalArgumentException("unknown argument '" + args[i] + "' (usage: --config curate.yaml [--output DIR])");
            }
        }
        if (config == null) throw new IllegalArgumentException("give --config curate.yaml");
        CurateConfig cfg = CurateConfig.read(config);
        Path out = output != null ? output : cfg.output();
        if (out == null) throw new IllegalArgumentException("give --output or `output:` in " + config);
        System.out.print(curate(null, cfg, out, progress()));
        return 0;
    }

    /**
     * Runs the curation on master (null: spark-submit's, else local[*]; a running session is used and left running)
     * and returns the summary: the counts, one per line, and where the list went. The CLI's {@code curate --spark}.
     */
    public static String curate(String master, CurateConfig cfg, Path out, Engine.Progress progress) throws IOException {
        Files.createDirectories(out);
        boolean existed = SparkEmbedJob.sessionRunning();
        SparkSession spark = SparkEmbedJob.session(master, "dino4j curate");
        try {
            long t0 = System.nanoTime();
            SparkCurator.Result r = new SparkCurator(spark, cfg, progress).run(out);
            double secs = (System.nanoTime() - t0) / 1e9;
            return CurationReport.summary(r.counts(), secs, r.curated());
        } finally {
            if (!existed) spark.stop();
        }
    }

    private static String value(String[] args, int i, String opt) {
        if (i >= args.length || args[i].startsWith("--")) throw new IllegalArgumentException(opt + " needs a value");
        return args[i];
    }

    /** One line per step on stderr, and one per 10% of a long one. */
    static Engine.Progress progress() {
        String[] last = {null};
        long[] shown = {-1};
        return (step, done, total) -> {
            synchronized (last) {
                long tenth = total > 0 ? done * 10 / total : -1;
                if (step.equals(last[0]) && tenth == shown[0]) return;
                last[0] = step;
                shown[0] = tenth;
                System.err.println(total > 0 ? String.format(Locale.ROOT, "%s: %,d/%,d", step, done, total) : step + ": " + done);
            }
        };
    }
}
