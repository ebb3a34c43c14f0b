package org.dino4j.curate;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import org.dino4j.data.Preprocess;
import org.dino4j.data.View;
import org.dino4j.model.ModelConfig;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * {@code curate.yaml}: what to embed, the pool, the seed and evaluation sets, and each stage's parameters (the
 * paper's values are the defaults). Unknown keys are errors, so a typo does not silently run the defaults.
 */
public record CurateConfig(Path output, Embedding embedding, List<Path> pool, List<SeedSet> seeds, List<Path> evalSets,
                           Dedup dedup, double evalThreshold, Clusters clusters, Hierarchical hierarchical,
                           String index, long hnswAbove, long seed, Ivf ivf) {

    /**
     * The approximate k-NN of the Spark curation at scale (index: ivf): the base split into {@code cells} k-means
     * cells (faiss's inverted lists), each query searched exactly in its {@code probe} nearest cells; recall against
     * exact search measured on {@code recallSample} queries and written in the report.
     */
    public record Ivf(int cells, int probe, int recallSample) {}

    /**
     * How images become vectors. kind: "model" (embed with weights, optionally a hub preset or config.json as model),
     * "pixels" (raw pixels: the baseline, all images one size); "copy_detector" (weights from `dino4j copy-detector`); resolution is the model's input side (centre crop),
     * resize the shorter side before it (default resolution·8/7, as the official evaluation transform); "embedded" (the inputs are {@code dino4j embed}
     * output folders; key picks the vector, cls by default). center: subtract the pool's mean vector before the
     * cosine (every set, with the pool's mean): a component shared by all images (the dark background of every
     * Fashion-MNIST image, say) otherwise makes unrelated images look alike.
     */
    public record Embedding(String kind, Path weights, String model, int resolution, int resize, int batchSize, String key,
                            boolean center, View view) {
        /** The same embedding of the images seen through a view (dedup.flip, dedup.crop). */
        public Embedding withView(View v) {
            if (kind.equals("embedded") || kind.equals("table"))
                throw new IllegalArgumentException("dedup.flip and dedup.crop need images: kind " + kind + " has only vectors");
            return new Embedding(kind, weights, model, resolution, resize, batchSize, key, center, v);
        }

        /** The model's config (a preset name or a config.json; null: read from the weights). */
        public ModelConfig modelConfig() {
            return modelConfig(model);
        }

        /** For executors, which get the model as a string. */
        public static ModelConfig modelConfig(String model) {
            return model == null ? null : model.endsWith(".json") ? ModelConfig.read(Path.of(model)) : ModelConfig.preset(model);
        }

        /** The transform before the model: shorter side to resize, centre crop to resolution, no padding. */
        public Preprocess preprocess() {
            return new Preprocess(resize, resolution, 0);
        }
    }

    /** A curated seed set; perImage > 0: sample-based retrieval (its nearest pool images); else cluster-based. */
    public record SeedSet(String name, List<Path> inputs, int perImage) {}

    /**
     * flip: also search with every image mirrored, so that a mirrored copy is found whatever the embedding. crops: also
     * search with every image's centred crop (that fraction of each side kept) resized back, once per fraction, so
     * that a cropped-and-rescaled copy is found at a threshold that still keeps distinct images apart. cropCorners: the
     * crops also at the four corners (five views per fraction), for copies cut from one side.
     */
    public record Dedup(int k, double threshold, boolean flip, List<Double> crops, boolean cropCorners) {
        public Dedup {
            crops = List.copyOf(crops);
        }

        /** The views searched besides the images themselves. */
        public List<View> views() {
            List<View> out = new ArrayList<>();
            if (flip) out.add(new View(1, true));
            for (double c : crops)
                for (View.Anchor a : View.Anchor.values())
                    if (a == View.Anchor.CENTER || cropCorners) out.add(new View(c, a, false));
            return out;
        }
    }

    /** Cluster-based retrieval (paper: 100k clusters, > 3 seeds, 10k images per cluster, 1M per set). */
    public record Clusters(int k, int minSeeds, int perCluster, int cap, int iterations) {}

    /** ssl-data-curation's hierarchical k-means and balanced sampling: curation without seeds. */
    public record Hierarchical(List<HierarchicalKMeans.Level> levels, long target, boolean closest, int iterations) {}

    public static CurateConfig read(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read: " + e.getMessage());
        }
        Object root;
        try {
            root = new Yaml(new SafeConstructor(new LoaderOptions())).load(text);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": not valid YAML: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (!(root instanceof Map<?, ?> m)) throw new IllegalArgumentException(file + ": expected a mapping at the top");
        try {
            return parse(m, file.toAbsolutePath().getParent());
        } catch (IllegalArgumentException | ClassCastException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage());
        }
    }

    /** Relative paths are taken relative to {@code base} (the config file's folder). */
    static CurateConfig parse(Map<?, ?> m, Path base) {
        Node r = new Node("", m);
        r.allow("output", "embedding", "pool", "seeds", "eval_sets", "dedup", "eval_dedup", "clusters", "hierarchical", "index",
                "hnsw_above", "seed", "ivf");
        Node e = r.child("embedding");
        e.allow("kind", "weights", "model", "resolution", "resize", "batch_size", "key", "center");
        String kind = e.str("kind", "model").toLowerCase(Locale.ROOT);
        if (!Set.of("model", "pixels", "embedded", "copy_detector", "table").contains(kind))
            throw new IllegalArgumentException("embedding.kind: " + kind + " (use model, pixels, copy_detector, embedded or table)");
        Path weights = e.has("weights") ? base.resolve(e.str("weights", null)) : null;
        if ((kind.equals("model") || kind.equals("copy_detector")) && weights == null)
            throw new IllegalArgumentException("embedding.weights is required for kind " + kind);
        String model = e.str("model", null);
        if (model != null && model.endsWith(".json")) model = base.resolve(model).toString();
        int res = e.integer("resolution", 224);
        Embedding emb = new Embedding(kind, weights, model, res, e.integer("resize", Math.round(res * 8f / 7f)), e.integer("batch_size", 8),
                e.str("key", "cls"), e.bool("center", false), View.NONE);
        List<Path> pool = r.paths("pool", base);
        if (pool.isEmpty()) throw new IllegalArgumentException("pool: give at least one input");
        List<SeedSet> seeds = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (Node s : r.list("seeds")) {
            s.allow("name", "inputs", "per_image");
            String name = s.str("name", "seeds" + seeds.size());
            if (!names.add(name) || name.equals("pool") || name.startsWith("eval"))
                throw new IllegalArgumentException("seeds: the name '" + name + "' is taken");
            List<Path> in = s.paths("inputs", base);
            if (in.isEmpty()) throw new IllegalArgumentException("seeds." + name + ".inputs: give at least one input");
            seeds.add(new SeedSet(name, in, s.integer("per_image", 4)));
        }
        Node d = r.child("dedup");
        d.allow("k", "threshold", "flip", "crop", "crop_corners");
        List<Double> crops = d.numbers("crop");
        for (double cr : crops)
            if (!(cr > 0 && cr < 1)) throw new IllegalArgumentException("dedup.crop: each value is the kept fraction of a side, in (0, 1); got " + cr);
        Dedup dedup = new Dedup(d.integer("k", 64), d.dbl("threshold", 0.6), d.bool("flip", false), crops, d.bool("crop_corners", false));
        if (!dedup.views().isEmpty() && (kind.equals("embedded") || kind.equals("table")))
            throw new IllegalArgumentException("dedup.flip and dedup.crop need images: kind " + kind + " has only vectors");
        Node ed = r.child("eval_dedup");
        ed.allow("threshold");
        Node c = r.child("clusters");
        c.allow("k", "min_seeds", "per_cluster", "cap", "iterations");
        Clusters cl = new Clusters(c.integer("k", 100_000), c.integer("min_seeds", 3), c.integer("per_cluster", 10_000),
                c.integer("cap", 1_000_000), c.integer("iterations", 50));
        Hierarchical h = null;
        if (r.has("hierarchical")) {
            Node hn = r.child("hierarchical");
            hn.allow("levels", "target", "strategy", "iterations");
            List<HierarchicalKMeans.Level> levels = new ArrayList<>();
            for (Node l : hn.list("levels")) {
                l.allow("clusters", "resamples", "sample_size");
                levels.add(new HierarchicalKMeans.Level(l.integer("clusters", -1), l.integer("resamples", 10), l.integer("sample_size", 1)));
                if (levels.getLast().clusters() < 1) throw new IllegalArgumentException("hierarchical.levels: each level needs clusters >= 1");
            }
            if (levels.isEmpty()) throw new IllegalArgumentException("hierarchical.levels: give at least one level");
            String strat = hn.str("strategy", "closest");
            if (!strat.equals("closest") && !strat.equals("random"))
                throw new IllegalArgumentException("hierarchical.strategy: " + strat + " (closest or random)");
            long target = hn.integer("target", -1);
            if (target < 1) throw new IllegalArgumentException("hierarchical.target: the number of images to keep is required");
            h = new Hierarchical(levels, target, strat.equals("closest"), hn.integer("iterations", 50));
        }
        String index = r.str("index", "auto");
        if (!Set.of("auto", "exact", "hnsw", "ivf").contains(index))
            throw new IllegalArgumentException("index: " + index + " (auto, exact, hnsw or ivf)");
        Node iv = r.child("ivf");
        iv.allow("cells", "probe", "recall_sample");
        Ivf ivf = new Ivf(iv.integer("cells", 4096), iv.integer("probe", 2), iv.integer("recall_sample", 1000));
        if (ivf.cells() < 1 || ivf.probe() < 1 || ivf.probe() > ivf.cells() || ivf.recallSample() < 0)
            throw new IllegalArgumentException("ivf: cells >= 1, 1 <= probe <= cells, recall_sample >= 0; got " + ivf);
        if (dedup.k() < 1) throw new IllegalArgumentException("dedup.k must be >= 1");
        Path out = r.has("output") ? base.resolve(r.str("output", null)) : null;
        return new CurateConfig(out, emb, pool, seeds, r.paths("eval_sets", base), dedup, ed.dbl("threshold", 0.45), cl, h, index,
                r.integer("hnsw_above", 2_000_000), r.integer("seed", 0), ivf);
    }

    /** A YAML mapping with the path of keys that led to it, for error messages. */
    private record Node(String path, Map<?, ?> map) {
        void allow(String... keys) {
            Set<String> ok = Set.of(keys);
            for (Object k : map.keySet())
                if (!ok.contains(String.valueOf(k)))
                    throw new IllegalArgumentException("unknown key '" + where(String.valueOf(k)) + "' (known here: " + String.join(", ", keys) + ")");
        }

        String where(String key) {
            return path.isEmpty() ? key : path + "." + key;
        }

        boolean has(String key) {
            return map.containsKey(key) && map.get(key) != null;
        }

        Node child(String key) {
            Object v = map.get(key);
            if (v == null) return new Node(where(key), new LinkedHashMap<>());
            if (!(v instanceof Map<?, ?> c)) throw new IllegalArgumentException(where(key) + ": expected a mapping");
            return new Node(where(key), c);
        }

        List<Node> list(String key) {
            Object v = map.get(key);
            List<Node> out = new ArrayList<>();
            if (v == null) return out;
            if (!(v instanceof List<?> l)) throw new IllegalArgumentException(where(key) + ": expected a list");
            for (int i = 0; i < l.size(); i++) {
                if (!(l.get(i) instanceof Map<?, ?> c)) throw new IllegalArgumentException(where(key) + "[" + i + "]: expected a mapping");
                out.add(new Node(where(key) + "[" + i + "]", c));
            }
            return out;
        }

        String str(String key, String def) {
            return has(key) ? String.valueOf(map.get(key)) : def;
        }

        int integer(String key, int def) {
            if (!has(key)) return def;
            if (map.get(key) instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())) return n.intValue();
            throw new IllegalArgumentException(where(key) + ": expected an integer, got " + map.get(key));
        }

        boolean bool(String key, boolean def) {
            if (!has(key)) return def;
            if (map.get(key) instanceof Boolean b) return b;
            throw new IllegalArgumentException(where(key) + ": expected true or false, got " + map.get(key));
        }

        double dbl(String key, double def) {
            if (!has(key)) return def;
            if (map.get(key) instanceof Number n) return n.doubleValue();
            throw new IllegalArgumentException(where(key) + ": expected a number, got " + map.get(key));
        }

        /** One number or a list of them (empty when absent). */
        List<Double> numbers(String key) {
            Object v = map.get(key);
            List<Double> out = new ArrayList<>();
            if (v == null) return out;
            for (Object o : v instanceof List<?> l ? l : List.of(v)) {
                if (!(o instanceof Number n)) throw new IllegalArgumentException(where(key) + ": expected a number or a list of numbers, got " + o);
                out.add(n.doubleValue());
            }
            return out;
        }

        List<Path> paths(String key, Path base) {
            Object v = map.get(key);
            List<Path> out = new ArrayList<>();
            if (v == null) return out;
            List<?> l = v instanceof List<?> ll ? ll : List.of(v);
            for (Object o : l) out.add(base.resolve(String.valueOf(o)));
            return out;
        }
    }
}
