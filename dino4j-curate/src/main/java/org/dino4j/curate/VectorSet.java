package org.dino4j.curate;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.dino4j.embed.EmbedDir;
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

    /** The {@code key} vectors of {@code dino4j embed} output folders, one after the other (kind "embedded"). */
    public static VectorSet embedded(String name, List<Path> dirs, String key) {
        List<String> ids = new ArrayList<>(), sources = new ArrayList<>();
        List<float[]> parts = new ArrayList<>();
        int d = -1;
        for (Path dir : dirs) {
            EmbedDir.Rows r = EmbedDir.read(dir, key);
            if (d >= 0 && r.dim() != d && r.size() > 0)
                throw new IllegalArgumentException(dir + ": vectors of length " + r.dim() + ", the other inputs' are " + d);
            if (r.size() > 0) d = r.dim();
            ids.addAll(r.ids());
            for (int i = 0; i < r.size(); i++) sources.add(dir.toString());
            parts.add(r.x());
        }
        return normalized(name, ids, sources, concat(parts), Math.max(d, 0));
    }

    private static float[] concat(List<float[]> parts) {
        int n = 0;
        for (float[] p : parts) n += p.length;
        float[] out = new float[n];
        int o = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, o, p.length);
            o += p.length;
        }
        return out;
    }

    public int size() {
        return ids.size();
    }
}
