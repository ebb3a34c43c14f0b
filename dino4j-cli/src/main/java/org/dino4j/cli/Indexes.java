package org.dino4j.cli;

import java.nio.file.Path;
import java.util.List;

import org.dino4j.index.IndexSpec;
import org.dino4j.index.LuceneIndex;
import org.dino4j.index.VectorIndex;

/** Opening the persistent kinds of index (the embedded one under a folder, a SolrCloud collection). */
final class Indexes {
    private Indexes() {}

    static VectorIndex open(Path dir) {
        LuceneIndex ix = LuceneIndex.open(dir);
        if (!ix.recovery().removed().isEmpty()) System.out.println(ix.recovery().line(dir));
        return ix;
    }

    static VectorIndex openSolr(String url, String collection) {
        throw new IllegalArgumentException(url + ": SolrCloud is not wired yet"); // replaced by SolrIndex.open
    }

    static VectorIndex openOrCreateSolr(String url, String collection, IndexSpec spec) {
        throw new IllegalArgumentException(url + ": SolrCloud is not wired yet");
    }

    static int buildSolr(String url, String collection, IndexSpec spec, int shards, int replicas, List<Path> from, int threads, int batch, ProgressBar bar) {
        throw new IllegalArgumentException(url + ": SolrCloud is not wired yet");
    }
}
