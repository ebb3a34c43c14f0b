package org.dino4j.cli;

import java.nio.file.Path;

import org.dino4j.index.VectorIndex;

/** Opening the persistent kinds of index (the embedded one under a folder, a SolrCloud collection). */
final class Indexes {
    private Indexes() {}

    static VectorIndex open(Path dir) {
        throw new IllegalArgumentException(dir + ": the embedded index is not wired yet"); // replaced by LuceneIndex.open when dino4j-index lands
    }

    static VectorIndex openSolr(String url, String collection) {
        throw new IllegalArgumentException(url + ": SolrCloud is not wired yet"); // replaced by SolrIndex.open
    }
}
