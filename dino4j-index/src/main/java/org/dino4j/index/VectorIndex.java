package org.dino4j.index;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A searchable collection of image vectors with ids and metadata: the embedded persistent index ({@code LuceneIndex},
 * under a folder), exact search over vectors in memory ({@link ExactIndex}), or a SolrCloud collection
 * ({@code org.dino4j.solr.SolrIndex}). The server, {@code dino4j search} and {@code dino4j index build} see only this.
 * <p>
 * Vectors are compared by cosine: every implementation L2-normalises what it stores and what it is asked, and
 * {@link Hit#score()} is the cosine itself (in [-1, 1]), whatever the engine reports internally. Implementations are
 * safe for concurrent use.
 */
public interface VectorIndex extends AutoCloseable {
    /** What the vectors are (model, preprocessing, kind, dimension), fixed when the index was created. */
    IndexSpec spec();

    /**
     * Adds the entries, replacing any with the same id. Durable when it returns: a persistent index has them on disk,
     * so a kill right after loses nothing. Throws {@link IllegalArgumentException} (naming the entry) for a vector of
     * the wrong dimension, a non-finite or zero vector, or an id or metadata key that the index cannot hold.
     */
    void add(List<Entry> entries);

    /** Removes the entries with these ids (unknown ids are skipped); durable when it returns; how many were removed. */
    int delete(List<String> ids);

    /** How many entries the index holds. */
    long count();

    /** The stored entry (vector as stored, i.e. normalised; metadata; preview), if the id is present. */
    Optional<Entry> get(String id);

    /** Whether an entry with this id is present (bulk loads skip those, so a restarted load goes on). */
    default boolean contains(String id) {
        return get(id).isPresent();
    }

    /**
     * The {@code k} entries most similar to {@code query} (best first; ties by id), among those whose metadata holds
     * every key/value pair of {@code filter} (empty: all). {@code k} is capped at {@link #MAX_K}; an approximate index
     * may miss some true neighbours (see its recall figures).
     */
    List<Hit> search(float[] query, int k, Map<String, String> filter);

    /** Larger k are refused with IllegalArgumentException (a client asking for 10^9 neighbours gets a clear error). */
    int MAX_K = 1000;

    @Override
    void close();

    /** Checks a query or stored vector against the spec and returns it L2-normalised (a new array). */
    static float[] normalized(float[] v, int dim, String what) {
        if (v == null) throw new IllegalArgumentException(what + ": no vector");
        if (v.length != dim) throw new IllegalArgumentException(what + ": vector of " + v.length + " values, the index holds " + dim);
        double ss = 0;
        for (float x : v) {
            if (!Float.isFinite(x)) throw new IllegalArgumentException(what + ": vector has a non-finite value");
            ss += (double) x * x;
        }
        if (ss == 0) throw new IllegalArgumentException(what + ": vector is all zeros");
        float inv = (float) (1 / Math.sqrt(ss));
        float[] out = new float[dim];
        for (int i = 0; i < dim; i++) out[i] = v[i] * inv;
        return out;
    }

    /** Checks k against the index's limit. */
    static void checkK(int k) {
        if (k < 1 || k > MAX_K) throw new IllegalArgumentException("k must be between 1 and " + MAX_K + ", got " + k);
    }
}
