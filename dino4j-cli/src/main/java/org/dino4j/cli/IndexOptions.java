package org.dino4j.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.dino4j.data.Preprocess;
import org.dino4j.index.IndexBuild;
import org.dino4j.index.ExactIndex;
import org.dino4j.index.IndexSpec;
import org.dino4j.index.VectorIndex;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;

import picocli.CommandLine.Option;

/**
 * Which index a command searches: the embedded persistent index under a folder ({@code --index}), an {@code embed}
 * output searched exactly in memory ({@code --embeddings}), or a SolrCloud collection ({@code --solr --collection}).
 */
final class IndexOptions {
    @Option(names = "--index", paramLabel = "DIR", description = "A `dino4j index` folder (the embedded HNSW index).")
    Path index;

    @Option(names = "--embeddings", paramLabel = "DIR", description = "A `dino4j embed` output folder, searched exactly in memory.")
    Path embeddings;

    @Option(names = "--solr", paramLabel = "URL", description = "A SolrCloud node's base URL (e.g. http://solr1:8983/solr); with --collection.")
    String solr;

    @Option(names = "--collection", paramLabel = "NAME", description = "The SolrCloud collection (with --solr).")
    String collection;

    @Option(names = "--filter", paramLabel = "KEY:VALUE", split = ",", description = "Only entries whose metadata has these values (repeatable).")
    List<String> filter = new ArrayList<>();

    /** Where the index is, for messages. */
    String where() {
        return index != null ? index.toString() : embeddings != null ? embeddings.toString() : solr + " collection " + collection;
    }

    private void checkOne() {
        int n = (index != null ? 1 : 0) + (embeddings != null ? 1 : 0) + (solr != null ? 1 : 0);
        if (n != 1) throw new IllegalArgumentException("give exactly one of --index DIR, --embeddings DIR, --solr URL --collection NAME");
        if (solr != null && collection == null) throw new IllegalArgumentException("--solr needs --collection NAME");
    }

    /** The existing index. */
    VectorIndex open() {
        checkOne();
        if (embeddings != null) return embeddings(embeddings);
        if (index != null) return Indexes.open(index);
        return Indexes.openSolr(solr, collection);
    }

    /** The filter as a map ("class:shirt" -> {class=shirt}). */
    Map<String, String> filterMap() {
        return parseFilter(filter);
    }

    static Map<String, String> parseFilter(List<String> pairs) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String p : pairs) {
            int c = p.indexOf(':');
            if (c <= 0) throw new IllegalArgumentException("--filter: expected KEY:VALUE, got '" + p + "'");
            m.put(p.substring(0, c), p.substring(c + 1));
        }
        return m;
    }

    /** An embed output's CLS rows in an exact in-memory index, with the class (and label) as metadata. */
    static VectorIndex embeddings(Path dir) {
        ExactIndex x = new ExactIndex(IndexBuild.specOf(dir, IndexSpec.CLS));
        IndexBuild.run(List.of(dir), x, IndexBuild.DEFAULT_BATCH, (done, total, rate, eta) -> {});
        if (x.count() == 0) throw new IllegalArgumentException(dir + ": no embedded images (manifest.tsv has no ok rows)");
        return x;
    }

    /** The index's preprocessing. */
    static Preprocess preprocess(IndexSpec spec, String where) {
        try {
            return Preprocess.parse(spec.preprocess());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": no preprocessing recorded (\"" + spec.preprocess() + "\")");
        }
    }

    /** The model options given, or else the weights file the index's vectors were made with (and --config if given). */
    static DinoVisionTransformer model(ModelOptions model, IndexSpec spec, String where) {
        if (model.weights != null || model.model != null || model.randomSeed != null) return model.load();
        Path w = Path.of(spec.model());
        if (!Files.exists(w))
            throw new IllegalArgumentException(where + ": the index was embedded with " + spec.model()
                    + ", which is no file here: give --weights (or --model/--random-weights as embed had them)");
        return Dinov2.load(w, model.configOrNull());
    }
}
