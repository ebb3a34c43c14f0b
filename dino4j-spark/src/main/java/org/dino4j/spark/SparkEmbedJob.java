package org.dino4j.spark;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.dino4j.curate.CurateConfig;
import org.dino4j.curate.Engine;

/**
 * {@code dino4j embed --spark MASTER}: the images embedded on the executors into a Parquet table,
 * {@code OUTPUT/vectors} (see {@link VectorTable}), resumable chunk by chunk; the images that failed to decode in
 * {@code OUTPUT/failed.tsv}. The CLI loads this class by name, so that its jar does not carry Spark.
 */
public final class SparkEmbedJob {
    private SparkEmbedJob() {}

    /**
     * Embeds {@code inputs} with {@code e} (any kind of the curation's embedding) and prints a summary.
     * @param master e.g. local[*], spark://host:7077; null: the one spark-submit set, else local[*]. A session already
     *               running is used (and left running).
     * @return the number of images that failed to decode
     */
    public static long run(String master, List<Path> inputs, CurateConfig.Embedding e, Path output, Engine.Progress progress) {
        boolean existed = sessionRunning();
        SparkSession spark = session(master, "dino4j embed");
        try {
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            jsc.setLogLevel("WARN");
            Path table = output.toAbsolutePath().normalize().resolve("vectors");
            long t0 = System.nanoTime();
            TableEmbedder.Result r = TableEmbedder.run(jsc, "embed", inputs, e, table.toUri().toString(), progress, 0);
            double secs = (System.nanoTime() - t0) / 1e9;
            Path failed = output.resolve("failed.tsv");
            try {
                if (r.failures().isEmpty()) Files.deleteIfExists(failed);
                else Files.writeString(failed, "id\terror\n" + String.join("\n", r.failures()) + "\n");
            } catch (IOException ex) {
                throw new UncheckedIOException(failed + ": " + ex.getMessage(), ex);
            }
            int chunks = r.table().chunks();
            System.out.printf(Locale.ROOT, "%d inputs: %d embedded, %d failed; %d chunk(s) written, %d already done -> %s%n",
                    r.images(), r.table().rows(), r.failures().size(), r.chunksRun(), chunks - r.chunksRun(), table);
            if (r.imagesRun() > 0)
                System.out.printf(Locale.ROOT, "%d image(s) embedded in %.1f s (%.1f images/s) on %s%n", r.imagesRun(), secs,
                        r.imagesRun() / secs, jsc.master());
            if (!r.failures().isEmpty()) {
                System.out.println("failed inputs (all in " + failed + "):");
                r.failures().stream().limit(50).forEach(x -> System.out.println("  " + x.replace('\t', ' ')));
                if (r.failures().size() > 50) System.out.println("  ... and " + (r.failures().size() - 50) + " more");
            }
            return r.failures().size();
        } finally {
            if (!existed) spark.stop();
        }
    }

    static boolean sessionRunning() {
        return SparkSession.getActiveSession().isDefined() || SparkSession.getDefaultSession().isDefined();
    }

    /** The running session, or one on master (null: spark-submit's, else local[*]). */
    static SparkSession session(String master, String app) {
        SparkSession.Builder b = SparkSession.builder().appName(app).config("spark.ui.enabled", "false");
        if (master != null) b.master(master);
        else if (!new SparkConf().contains("spark.master")) b.master("local[*]");
        SparkSession spark = b.getOrCreate();
        spark.sparkContext().setLogLevel("WARN");
        return spark;
    }
}
