package org.dino4j.curate;

import java.nio.file.Path;
import java.util.List;

/**
 * What differs between running the curation in this process and on Spark: where images are embedded, where the
 * neighbour search and the k-means assignment run. Everything that decides (thresholds, components, selection) is
 * {@link Curator}'s and is shared, so both engines give the same curated list.
 */
public interface Engine extends AutoCloseable {
    /** Progress of a long step: items done of total (total -1 when unknown). */
    interface Progress {
        void update(String step, long done, long total);
    }

    String name();

    /**
     * The vectors of the images of {@code inputs} (files, folders, list files, IDX files; for kind "embedded",
     * {@code dino4j embed} output folders), rows in input order, images that fail to decode left out (and reported
     * through the manifest of the work folder). {@code workDir} keeps what can be resumed.
     */
    default VectorSet embed(String name, List<Path> inputs, CurateConfig.Embedding embedding, Path workDir, Progress progress) {
        return switch (embedding.kind()) { // the one place that reads the kind
            case "embedded" -> VectorSet.embedded(name, inputs, embedding.key());
            case "table" -> throw new IllegalArgumentException(name + ": kind table (a vector table of `embed --spark`) is read by "
                    + "the Spark curation only: run with --spark");
            case "pixels" -> embedPixels(name, inputs, embedding, workDir, progress);
            case "copy_detector" -> embedCopyDetector(name, inputs, embedding, workDir, progress);
            default -> embedModel(name, inputs, embedding, workDir, progress);
        };
    }

    /** Raw pixels (one size, one channel when all gray), as {@link org.dino4j.embed.PixelRows}. */
    VectorSet embedPixels(String name, List<Path> inputs, CurateConfig.Embedding embedding, Path workDir, Progress progress);

    /** Descriptors of the copy detector in {@code embedding.weights()}. */
    VectorSet embedCopyDetector(String name, List<Path> inputs, CurateConfig.Embedding embedding, Path workDir, Progress progress);

    /** CLS vectors of the DINOv2 model in {@code embedding.weights()}, through {@link org.dino4j.embed.FeatureExtractor}. */
    VectorSet embedModel(String name, List<Path> inputs, CurateConfig.Embedding embedding, Path workDir, Progress progress);

    /** For each row of {@code queries}, its k most similar rows of {@code base} (cosine, most similar first). */
    Neighbours knn(VectorSet base, VectorSet queries, int k);

    /** The rows of {@code set} for k-means (local arrays, or partitions of a cluster). */
    KMeans.Data kmeansData(VectorSet set);

    @Override
    default void close() {}
}
