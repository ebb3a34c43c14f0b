package org.dino4j.curate;

import java.util.List;

import org.dino4j.eval.Knn;

/**
 * Embedded images of one part of the curation (the pool, a seed set, an evaluation set): ids (paths), the input each
 * came from, and their vectors, L2-normalised so that inner products are cosine similarities.
 */
public record VectorSet(String name, List<String> ids, List<String> sources, float[] x, int dim) {
    public VectorSet {
        if (ids.size() != sources.size() || x.length != (long) ids.size() * dim)
            throw new IllegalArgumentException(name + ": " + ids.size() + " ids, " + sources.size() + " sources, " + x.length
                    + " floats for dimension " + dim);
    }

    /** Normalises x in place (rows of zeros stay zero) and wraps it. */
    public static VectorSet normalized(String name, List<String> ids, List<String> sources, float[] x, int dim) {
        return new VectorSet(name, ids, sources, Knn.normalizeRows(x, ids.size(), dim), dim);
    }

    public int size() {
        return ids.size();
    }
}
