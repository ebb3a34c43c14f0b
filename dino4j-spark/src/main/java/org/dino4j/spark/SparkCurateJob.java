package org.dino4j.spark;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;
import org.dino4j.curate.CurateConfig;
import org.dino4j.curate.CurationReport;
import org.dino4j.curate.Curator;
import org.dino4j.curate.Engine;

/**
 * The curation as a Spark application:
 * <pre>spark-submit --class org.dino4j.spark.SparkCurateJob dino4j-spark.jar --config curate.yaml [--output DIR]</pre>
 * The master is spark-submit's (local[*] when run without one). Writes what {@code dino4j curate} writes
 * (curated.tsv, removed.tsv, report.json, the pictures) and prints the counts. Paths in the config must be readable
 * by the driver and the executors alike (a shared file system).
 */
public final class SparkCurateJob {
    private SparkCurateJob() {}

    public static void main(String[] args) {
        int code;
        try {
            code = run(args);
        } catch (IllegalArgumentException | java.io.UncheckedIOException | java.io.IOException e) {
            System.err.println("dino4j-spark: " + e.getMessage());
            code = 1;
        }
        if (code != 0) System.exit(code);
    }

    static int run(String[] args) throws java.io.IOException {
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
        Files.createDirectories(out);

        SparkSession.Builder b = SparkSession.builder().appName("dino4j curate").config("spark.ui.enabled", "false");
        if (!new SparkConf().contains("spark.master")) b.master("local[*]");
        SparkSession spark = b.getOrCreate();
        try (Engine engine = new SparkEngine(spark)) {
            long t0 = System.nanoTime();
            Curator.Curation c = new Curator(cfg, engine, progress()).run(out);
            double secs = (System.nanoTime() - t0) / 1e9;
            CurationReport.write(c, cfg, engine.name(), secs, out, CurationReport.poolImages(cfg));
            System.out.print(CurationReport.summary(c, secs, out));
        } finally {
            spark.stop();
        }
        return 0;
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
