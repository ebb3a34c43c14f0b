package org.dino4j.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import org.dino4j.index.IndexSpec;
import org.dino4j.index.LuceneIndex;
import org.dino4j.index.VectorIndex;
import org.dino4j.solr.SolrBulkLoad;
import org.dino4j.solr.SolrIndex;

/** Opening the persistent kinds of index (the embedded one under a folder, a SolrCloud collection). */
final class Indexes {
    /** Shards x replicas of a collection that serve creates (index build has options for them). */
    static final int SHARDS = 2, REPLICAS = 2;

    private Indexes() {}

    static VectorIndex open(Path dir) {
        LuceneIndex ix = LuceneIndex.open(dir);
        if (!ix.recovery().removed().isEmpty()) System.out.println(ix.recovery().line(dir));
        return ix;
    }

    /** SolrJ basic auth from DINO4J_SOLR_USER / DINO4J_SOLR_PASSWORD when set. */
    static VectorIndex openSolr(String url, String collection) {
        return SolrIndex.open(SolrIndex.connect(url), url, collection);
    }

    static VectorIndex openOrCreateSolr(String url, String collection, IndexSpec spec) {
        return SolrIndex.openOrCreate(SolrIndex.connect(url), url, collection, spec, SHARDS, REPLICAS);
    }

    /** index build --solr: each embed folder's entries in parallel batches, one commit at the end. */
    static int buildSolr(String url, String collection, IndexSpec spec, int shards, int replicas, List<Path> from, int threads, int batch, ProgressBar bar) {
        try (SolrIndex ix = SolrIndex.openOrCreate(SolrIndex.connect(url), url, collection, spec, shards, replicas)) {
            long t0 = System.nanoTime(), sent = 0;
            long total = 0;
            List<List<org.dino4j.index.Entry>> parts = from.stream().map(d -> SolrBulkLoad.embedEntries(d, spec)).toList();
            for (var p : parts) total += p.size();
            for (var p : parts) {
                long before = sent, all = total;
                sent += SolrBulkLoad.load(ix, p.iterator(), threads, batch, n -> bar.update(before + n, all, 0));
            }
            bar.finish();
            System.out.printf(Locale.ROOT, "%d entries sent in %.1f s -> %s collection %s (%d entries)%n", sent, (System.nanoTime() - t0) / 1e9,
                    url, collection, ix.count());
        }
        return 0;
    }
}
