package org.dino4j.index;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import io.github.jbellis.jvector.graph.GraphIndexBuilder;
import io.github.jbellis.jvector.graph.GraphSearcher;
import io.github.jbellis.jvector.graph.ImmutableGraphIndex;
import io.github.jbellis.jvector.graph.ListRandomAccessVectorValues;
import io.github.jbellis.jvector.graph.SearchResult;
import io.github.jbellis.jvector.util.Bits;
import io.github.jbellis.jvector.vector.VectorizationProvider;
import io.github.jbellis.jvector.vector.types.VectorFloat;
import org.dino4j.data.Dataset;
import org.dino4j.data.Datasets;
import org.dino4j.data.ImageDecoder;
import org.dino4j.data.Preprocess;
import org.dino4j.embed.EmbedDir;
import org.dino4j.embed.Embedder;
import org.dino4j.embed.Output;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;
import org.dino4j.model.ModelConfig;

/**
 * The measurement behind the embedded index's engine and defaults (docs/index-bench.md): on sets of at least 100,000
 * vectors, recall@10 against exact search, queries/s on 1 and 2 threads, build time and bytes on disk per vector, for
 * jvector in memory (as dino4j-curate's HnswIndex), Lucene HNSW float32 and Lucene HNSW int7 (through {@link LuceneIndex}).
 * Not a test: a main class, run by hand on a quiet machine (the command is in the doc).
 * <p>
 * Sets: {@code fmnist} (Fashion-MNIST's 60,000 training images embedded by a random-weight ViT-S/14 at 56 px, plus
 * random vectors up to the size; queries: the first test images), {@code random} (Gaussian vectors), {@code clustered}
 * (Gaussian clusters).
 */
public final class IndexBench {
    static final int K = 10;

    record Set(String name, int dim, float[] base, int n, float[] queries, int nq, String note) {}

    record Row(String set, String engine, double buildS, double mergeS, double bytesPerVector, double hotBytes, int ef, double recall, double qps1, double qps2) {}

    public static void main(String[] args) throws Exception {
        Path out = Path.of("target/index-bench");
        int size = 100_000, nq = 1000;
        List<String> sets = List.of("fmnist", "random", "clustered"), engines = List.of("jvector", "lucene-f32", "lucene-int7");
        int[] efs = {10, 20, 40, 100, 200};
        Path fashion = Path.of("/usr/share/datasets/fashion-mnist");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--out" -> out = Path.of(args[++i]);
                case "--size" -> size = Integer.parseInt(args[++i]);
                case "--queries" -> nq = Integer.parseInt(args[++i]);
                case "--sets" -> sets = List.of(args[++i].split(","));
                case "--engines" -> engines = List.of(args[++i].split(","));
                case "--ef" -> efs = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--fashion" -> fashion = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]
                        + " (--out DIR --size N --queries N --sets fmnist,random,clustered --engines jvector,lucene-f32,lucene-int7 --ef 10,20,... --fashion DIR)");
            }
        }
        Files.createDirectories(out);
        List<Row> rows = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        for (String s : sets) {
            Set set = switch (s) {
                case "fmnist" -> fmnist(fashion, out, size, nq);
                case "random" -> random(size, nq, 384, 11);
                case "clustered" -> clustered(size, nq, 384, 12);
                default -> throw new IllegalArgumentException("unknown set " + s);
            };
            notes.add(set.name() + ": " + set.note());
            System.out.println("# " + set.name() + ": " + set.n() + " x " + set.dim() + ", " + set.nq() + " queries; " + set.note());
            long t0 = System.nanoTime();
            int[][] truth = exact(set);
            System.out.printf(Locale.ROOT, "# exact search: %.1f s%n", (System.nanoTime() - t0) / 1e9);
            for (String e : engines) {
                List<Row> r = switch (e) {
                    case "jvector" -> jvector(set, truth, efs);
                    case "lucene-f32" -> lucene(set, truth, efs, LuceneIndex.Quantization.NONE, out);
                    case "lucene-int7" -> lucene(set, truth, efs, LuceneIndex.Quantization.INT7, out);
                    case "none" -> List.<Row>of(); // only make the set (e.g. embed Fashion-MNIST ahead of a quiet moment)
                    default -> throw new IllegalArgumentException("unknown engine " + e);
                };
                rows.addAll(r);
                Files.writeString(out.resolve("results.md"), table(rows, notes));
            }
        }
        System.out.println(table(rows, notes));
    }

    static String table(List<Row> rows, List<String> notes) {
        StringBuilder sb = new StringBuilder();
        sb.append("Date ").append(LocalDate.now(ZoneOffset.UTC)).append(", ").append(cpu()).append(", ")
                .append(Runtime.getRuntime().availableProcessors()).append(" cores, Java ").append(Runtime.version())
                .append(", Lucene ").append(org.apache.lucene.util.Version.LATEST).append(", jvector ")
                .append(VectorizationProvider.getInstance().getClass().getSimpleName()).append("\n\n");
        for (String n : notes) sb.append("- ").append(n).append('\n');
        sb.append("\n| set | engine | build s (+ merge s) | bytes/vector on disk | searched bytes/vector (graph + vectors it compares) | ef (numCandidates) | recall@10 | q/s 1 thread | q/s 2 threads |\n");
        sb.append("|---|---|---|---|---|---|---|---|---|\n");
        for (Row r : rows)
            sb.append(String.format(Locale.ROOT, "| %s | %s | %.1f%s | %s | %s | %d | %.4f | %.0f | %.0f |%n", r.set(), r.engine(), r.buildS(),
                    r.mergeS() > 0 ? String.format(Locale.ROOT, " + %.1f", r.mergeS()) : "",
                    r.bytesPerVector() > 0 ? String.format(Locale.ROOT, "%.0f", r.bytesPerVector()) : "in memory",
                    r.hotBytes() > 0 ? String.format(Locale.ROOT, "%.0f", r.hotBytes()) : "", r.ef(), r.recall(), r.qps1(), r.qps2()));
        return sb.toString();
    }

    static String cpu() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/cpuinfo")))
                if (l.startsWith("model name")) return l.substring(l.indexOf(':') + 1).strip();
        } catch (IOException ignored) {
            // not Linux
        }
        return System.getProperty("os.arch");
    }

    // ---- the sets ----

    /** Fashion-MNIST through a random ViT-S/14 at 56 px (cached under out/ by the Embedder, which resumes), plus random rows. */
    static Set fmnist(Path fashion, Path out, int size, int nq) throws IOException {
        Path train = embed(fashion.resolve("train-images-idx3-ubyte.gz"), out.resolve("embed-train"), Integer.MAX_VALUE);
        Path test = embed(fashion.resolve("t10k-images-idx3-ubyte.gz"), out.resolve("embed-test"), nq);
        EmbedDir.Rows tr = EmbedDir.read(train, "cls"), te = EmbedDir.read(test, "cls");
        int d = tr.dim(), nImg = Math.min(tr.size(), size);
        float[] base = new float[size * d];
        System.arraycopy(tr.x(), 0, base, 0, nImg * d);
        Random r = new Random(10);
        for (int i = nImg * d; i < base.length; i++) base[i] = (float) r.nextGaussian();
        normalizeRows(base, d);
        float[] q = Arrays.copyOf(te.x(), nq * d);
        normalizeRows(q, d);
        // degeneracy check: the cosines of random pairs of image features
        double sum = 0, min = 1;
        Random p = new Random(1);
        for (int t = 0; t < 2000; t++) {
            int a = p.nextInt(nImg), b = p.nextInt(nImg);
            double c = dot(base, a * d, base, b * d, d);
            sum += c;
            min = Math.min(min, c);
        }
        return new Set("fmnist", d, base, size, q, nq, String.format(Locale.ROOT,
                "%d Fashion-MNIST training images (random-weight ViT-S/14, 56 px, CLS) + %d Gaussian rows; queries: %d test images; "
                        + "cosine of random image pairs: mean %.4f, min %.4f", nImg, size - nImg, nq, sum / 2000, min));
    }

    static Path embed(Path idx, Path dir, int limit) throws IOException {
        Dataset all = Datasets.open(idx);
        Dataset ds = limit >= all.size() ? all : Dataset.of(new ArrayList<>(java.util.stream.IntStream.range(0, limit).mapToObj(all::get).toList()), all.classes());
        var opts = new Embedder.Options(EnumSet.of(Output.CLS), EnumSet.of(Embedder.Format.SAFETENSORS), 64, 5000, 2,
                new Preprocess(56, 56, 0), ImageDecoder.DEFAULT_MAX_PIXELS);
        try (DinoVisionTransformer m = Dinov2.random(ModelConfig.fromJson("{\"embed_dim\": 384, \"depth\": 12, \"num_heads\": 6, "
                + "\"patch_size\": 14, \"img_size\": 56, \"init_values\": 1.0}"), 0)) {
            long t0 = System.nanoTime();
            new Embedder(m, "random-vits14-seed0", opts).run(ds, dir, (done, total, failed) -> {
                if (done % 5000 < 64 || done == total) System.out.printf(Locale.ROOT, "# embed %s: %d/%d (%.0f s)%n", dir.getFileName(), done, total, (System.nanoTime() - t0) / 1e9);
            });
        }
        return dir;
    }

    static Set random(int n, int nq, int d, long seed) {
        Random r = new Random(seed);
        float[] base = new float[n * d], q = new float[nq * d];
        for (int i = 0; i < base.length; i++) base[i] = (float) r.nextGaussian();
        for (int i = 0; i < q.length; i++) q[i] = (float) r.nextGaussian();
        normalizeRows(base, d);
        normalizeRows(q, d);
        return new Set("random", d, base, n, q, nq, "Gaussian vectors (the hardest case: no structure)");
    }

    /** 1000 Gaussian centres; each row a centre plus Gaussian noise of 0.7 per coordinate; queries drawn the same way. */
    static Set clustered(int n, int nq, int d, long seed) {
        Random r = new Random(seed);
        int c = 1000;
        float[] centres = new float[c * d];
        for (int i = 0; i < centres.length; i++) centres[i] = (float) r.nextGaussian();
        float[] base = new float[n * d], q = new float[nq * d];
        for (float[] x : List.of(base, q))
            for (int i = 0; i < x.length / d; i++) {
                int k = r.nextInt(c);
                for (int j = 0; j < d; j++) x[i * d + j] = centres[k * d + j] + 0.7f * (float) r.nextGaussian();
            }
        normalizeRows(base, d);
        normalizeRows(q, d);
        return new Set("clustered", d, base, n, q, nq, "1000 Gaussian clusters, noise 0.7 per coordinate around unit-variance centres");
    }

    static void normalizeRows(float[] x, int d) {
        for (int i = 0; i < x.length / d; i++) {
            double ss = 0;
            for (int j = 0; j < d; j++) ss += (double) x[i * d + j] * x[i * d + j];
            float inv = (float) (1 / Math.sqrt(ss));
            for (int j = 0; j < d; j++) x[i * d + j] *= inv;
        }
    }

    static double dot(float[] a, int ao, float[] b, int bo, int d) {
        double s = 0;
        for (int j = 0; j < d; j++) s += a[ao + j] * b[bo + j];
        return s;
    }

    // ---- exact search and recall ----

    /** The true top-10 of every query: every base row scored (float dot, as the indexes compute it), in parallel. */
    static int[][] exact(Set s) throws Exception {
        int[][] top = new int[s.nq()][];
        int threads = Runtime.getRuntime().availableProcessors();
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int tt = t;
                fs.add(pool.submit(() -> {
                    float[] best = new float[K];
                    int[] idx = new int[K];
                    for (int q = tt; q < s.nq(); q += threads) {
                        Arrays.fill(best, Float.NEGATIVE_INFINITY);
                        Arrays.fill(idx, -1);
                        for (int i = 0; i < s.n(); i++) {
                            float v = 0;
                            for (int j = 0, a = q * s.dim(), b = i * s.dim(); j < s.dim(); j++) v += s.queries()[a + j] * s.base()[b + j];
                            if (v <= best[K - 1]) continue;
                            int p = K - 1;
                            while (p > 0 && best[p - 1] < v) {
                                best[p] = best[p - 1];
                                idx[p] = idx[p - 1];
                                p--;
                            }
                            best[p] = v;
                            idx[p] = i;
                        }
                        top[q] = idx.clone();
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) f.get();
        }
        return top;
    }

    static double recall(int[][] truth, int[][] got) {
        long hit = 0;
        for (int q = 0; q < truth.length; q++)
            for (int id : got[q]) for (int t : truth[q]) if (id == t) {
                hit++;
                break;
            }
        return hit / (double) (truth.length * K);
    }

    interface Searcher {
        int[] search(int q);
    }

    /** Queries/s over all queries split across {@code threads} (after one warm-up pass), and the answers. */
    static double qps(int nq, int threads, Searcher s, int[][] answers) throws Exception {
        for (int q = 0; q < Math.min(nq, 300); q++) s.search(q);
        long t0 = System.nanoTime();
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int tt = t;
                fs.add(pool.submit(() -> {
                    for (int q = tt; q < nq; q += threads) answers[q] = s.search(q);
                    return null;
                }));
            }
            for (Future<?> f : fs) f.get();
        }
        return nq / ((System.nanoTime() - t0) / 1e9);
    }

    // ---- the engines ----

    static List<Row> jvector(Set s, int[][] truth, int[] efs) throws Exception {
        var vts = VectorizationProvider.getInstance().getVectorTypeSupport();
        int d = s.dim();
        List<VectorFloat<?>> vs = new ArrayList<>(s.n());
        for (int i = 0; i < s.n(); i++) vs.add(vts.createFloatVector(Arrays.copyOfRange(s.base(), i * d, (i + 1) * d)));
        List<VectorFloat<?>> qs = new ArrayList<>(s.nq());
        for (int i = 0; i < s.nq(); i++) qs.add(vts.createFloatVector(Arrays.copyOfRange(s.queries(), i * d, (i + 1) * d)));
        var ravv = new ListRandomAccessVectorValues(vs, d);
        long t0 = System.nanoTime();
        ImmutableGraphIndex graph;
        // degree 32 = Lucene's 2M on its bottom layer at M 16; beam 100 as Lucene's
        try (GraphIndexBuilder b = new GraphIndexBuilder(ravv, io.github.jbellis.jvector.vector.VectorSimilarityFunction.DOT_PRODUCT, 32, 100, 1.2f, 1.2f, true)) {
            graph = b.build(ravv);
        }
        double build = (System.nanoTime() - t0) / 1e9;
        System.out.printf(Locale.ROOT, "# jvector build %.1f s%n", build);
        List<Row> rows = new ArrayList<>();
        for (int ef : efs) {
            Searcher se = q -> {
                SearchResult r = GraphSearcher.search(qs.get(q), K, Math.max(K, ef), ravv,
                        io.github.jbellis.jvector.vector.VectorSimilarityFunction.DOT_PRODUCT, graph, Bits.ALL);
                return Arrays.stream(r.getNodes()).mapToInt(n -> n.node).toArray();
            };
            int[][] got = new int[s.nq()][];
            double q1 = qps(s.nq(), 1, se, got), q2 = qps(s.nq(), 2, se, got);
            rows.add(print(new Row(s.name(), "jvector (degree 32, beam 100)", build, 0, 0, 0, ef, recall(truth, got), q1, q2)));
        }
        return rows;
    }

    static List<Row> lucene(Set s, int[][] truth, int[] efs, LuceneIndex.Quantization quant, Path out) throws Exception {
        Path dir = out.resolve("lucene-" + s.name() + "-" + quant.name().toLowerCase(Locale.ROOT));
        deleteTree(dir);
        int d = s.dim();
        IndexSpec spec = new IndexSpec("bench", "none", IndexSpec.CLS, d);
        List<Row> rows = new ArrayList<>();
        try (LuceneIndex ix = LuceneIndex.create(dir, spec, LuceneIndex.Options.DEFAULT.withQuantization(quant))) {
            long t0 = System.nanoTime();
            for (int a = 0; a < s.n(); a += IndexBuild.DEFAULT_BATCH) { // as IndexBuild loads: durable batches of 1000
                List<Entry> batch = new ArrayList<>();
                for (int i = a; i < Math.min(s.n(), a + IndexBuild.DEFAULT_BATCH); i++)
                    batch.add(new Entry(String.valueOf(i), Arrays.copyOfRange(s.base(), i * d, (i + 1) * d), Map.of()));
                ix.add(batch);
            }
            double build = (System.nanoTime() - t0) / 1e9;
            t0 = System.nanoTime();
            ix.optimize();
            double merge = (System.nanoTime() - t0) / 1e9;
            double bytes = ix.bytesOnDisk() / (double) s.n();
            // the graph (.vex) and the vectors it compares: .veq (int7) or .vec (float32); a compound .cfs hides them
            Map<String, Long> ext = new java.util.TreeMap<>();
            try (var st = Files.list(dir.resolve("lucene"))) {
                for (Path f : st.toList()) {
                    String n = f.getFileName().toString();
                    ext.merge(n.substring(n.lastIndexOf('.') + 1), Files.size(f), Long::sum);
                }
            }
            double hot = (ext.getOrDefault("vex", 0L) + ext.getOrDefault(quant == LuceneIndex.Quantization.NONE ? "vec" : "veq", 0L)) / (double) s.n();
            System.out.printf(Locale.ROOT, "# lucene %s: adds %.1f s, merge to one segment %.1f s, %.0f bytes/vector; files by extension %s%n", quant, build, merge, bytes, ext);
            for (int ef : efs) {
                ix.numCandidates(ef);
                Searcher se = q -> ix.search(Arrays.copyOfRange(s.queries(), q * d, (q + 1) * d), K, Map.of()).stream()
                        .mapToInt(h -> Integer.parseInt(h.id())).toArray();
                int[][] got = new int[s.nq()][];
                double q1 = qps(s.nq(), 1, se, got), q2 = qps(s.nq(), 2, se, got);
                rows.add(print(new Row(s.name(), "lucene " + (quant == LuceneIndex.Quantization.NONE ? "float32" : "int7") + " (M 16, beam 100)",
                        build, merge, bytes, hot, ef, recall(truth, got), q1, q2)));
            }
        }
        deleteTree(dir);
        return rows;
    }

    static Row print(Row r) {
        System.out.println(r);
        return r;
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (var st = Files.walk(p)) {
            for (Path f : st.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(f);
        }
    }
}
