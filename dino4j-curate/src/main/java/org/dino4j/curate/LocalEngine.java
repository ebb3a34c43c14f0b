package org.dino4j.curate;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;

import org.dino4j.data.Dataset;
import org.dino4j.data.Datasets;
import org.dino4j.data.ImageDecoder;
import org.dino4j.data.ImageException;
import org.dino4j.data.Sample;
import org.dino4j.data.View;
import org.dino4j.embed.EmbedDir;
import org.dino4j.embed.Embedder;
import org.dino4j.embed.Output;
import org.dino4j.embed.PixelRows;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;
import org.dino4j.train.copydetect.CopyDetector;

/**
 * In-process engine: images embedded with {@link Embedder} (resumable shards under the work folder), exact neighbour
 * search by blocked GEMM up to {@code hnswAbove} base rows and an HNSW graph (jvector) above that, k-means on arrays.
 */
public final class LocalEngine implements Engine {
    private final String index;
    private final long hnswAbove;

    /** @param index "exact", "hnsw" or "auto" (HNSW when the base has more than hnswAbove rows) */
    public LocalEngine(String index, long hnswAbove) {
        this.index = index;
        this.hnswAbove = hnswAbove;
    }

    @Override
    public String name() {
        return "local";
    }

    /** Shared with engines that embed on the driver for small sets. */
    public static VectorSet embedLocally(String name, List<Path> inputs, CurateConfig.Embedding e, Path workDir, Progress progress) {
        return new LocalEngine("exact", 0).embed(name, inputs, e, workDir, progress);
    }

    @Override
    public VectorSet embedPixels(String name, List<Path> inputs, CurateConfig.Embedding e, Path workDir, Progress progress) {
        Dataset all = dataset(name, inputs, e.view());
        List<Sample> ok = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        ImageDecoder dec = new ImageDecoder();
        for (int i = 0; i < all.size(); i++) {
            Sample smp = all.get(i);
            try { // decoded once and kept: PixelRows reads every image twice (one size? all gray?) and decodes nothing
                ok.add(new Sample(smp.id(), smp.label(), smp.className(), new Sample.PixelSource(smp.source().load(dec))));
            } catch (ImageException ex) {
                failures.add(CopyDetectorInput.failure(all.get(i).id(), ex));
            }
            if ((i + 1) % 4096 == 0 || i + 1 == all.size()) progress.update("decode " + name, i + 1, all.size());
        }
        reportFailures(name, all.size(), failures, workDir);
        Dataset ds = Dataset.of(ok, all.classes());
        PixelRows px = PixelRows.of(ds);
        return VectorSet.normalized(name, ids(ds), sources(ds, inputs), px.x(), px.dim());
    }

    @Override
    public VectorSet embedCopyDetector(String name, List<Path> inputs, CurateConfig.Embedding e, Path workDir, Progress progress) {
        CopyDetector cd = CopyDetector.load(e.weights());
        CopyDetectorInput.Rows r = CopyDetectorInput.rows(dataset(name, inputs, e.view()), cd.side(), cd.channels(),
                "embed " + name, progress);
        reportFailures(name, r.ids().size() + r.failures().size(), r.failures(), workDir);
        List<String> sources = new ArrayList<>();
        for (String id : r.ids()) sources.add(sourceOf(id, inputs));
        float[] z = cd.embed(r.x(), r.ids().size());
        return VectorSet.normalized(name, r.ids(), sources, z, cd.dim()); // as the Spark engine: the same last bits
    }

    /** Resumable shards under {@code workDir/embeddings/<name>}, written by {@link Embedder}. */
    @Override
    public VectorSet embedModel(String name, List<Path> inputs, CurateConfig.Embedding e, Path workDir, Progress progress) {
        Dataset ds = dataset(name, inputs, e.view());
        Path dir = workDir.resolve("embeddings").resolve(name);
        try (DinoVisionTransformer m = Dinov2.load(e.weights(), e.modelConfig())) {
            Embedder emb = new Embedder(m, e.weights().toAbsolutePath().normalize().toString(),
                    new Embedder.Options(EnumSet.of(Output.CLS), EnumSet.of(Embedder.Format.SAFETENSORS),
                            e.batchSize(), 4096, 2, e.preprocess(), ImageDecoder.DEFAULT_MAX_PIXELS));
            Embedder.Result res = emb.run(ds, dir, (done, total, failed) -> progress.update("embed " + name, done, total));
            reportFailures(name, res.inputs(), res.errors().stream().map(x -> x.replaceFirst(": ", "\t")).toList(), workDir);
        } catch (java.io.IOException ex) {
            throw new java.io.UncheckedIOException(dir + ": " + ex.getMessage(), ex);
        }
        EmbedDir.Rows r = EmbedDir.read(dir, "cls");
        List<String> sources = new ArrayList<>();
        for (String id : r.ids()) sources.add(sourceOf(id, inputs));
        return VectorSet.normalized(name, r.ids(), sources, r.x(), r.dim());
    }

    /**
     * Images that failed to decode are left out of a set: listed in {@code workDir/embeddings/<name>/failed.tsv}
     * (id, error) and counted in one line on stderr. Nothing when none failed.
     */
    public static void reportFailures(String name, int total, List<String> failures, Path workDir) {
        if (failures.isEmpty()) return;
        Path f = workDir.resolve("embeddings").resolve(name).resolve("failed.tsv");
        try {
            java.nio.file.Files.createDirectories(f.getParent());
            java.nio.file.Files.writeString(f, "id\terror\n" + String.join("\n", failures) + "\n");
        } catch (java.io.IOException ex) {
            throw new java.io.UncheckedIOException(f + ": " + ex.getMessage(), ex);
        }
        System.err.printf(java.util.Locale.ROOT, "%s: %d of %d image(s) failed to decode and were left out (first: %s; all in %s)%n", name,
                failures.size(), total, failures.get(0).replace('\t', ' '), f);
    }

    static Dataset dataset(String name, List<Path> inputs, View view) {
        Dataset ds = Datasets.of(inputs);
        if (ds.size() == 0) throw new IllegalArgumentException(name + ": no images found in " + inputs);
        return Datasets.view(ds, view);
    }

    static List<String> ids(Dataset ds) {
        List<String> out = new ArrayList<>(ds.size());
        for (int i = 0; i < ds.size(); i++) out.add(ds.get(i).id());
        return out;
    }

    static List<String> sources(Dataset ds, List<Path> inputs) {
        List<String> out = new ArrayList<>(ds.size());
        for (int i = 0; i < ds.size(); i++) out.add(sourceOf(ds.get(i).id(), inputs));
        return out;
    }

    /** The input an id came from: the first input whose path starts the id (a file, a folder, an IDX file#index). */
    public static String sourceOf(String id, List<Path> inputs) {
        for (Path p : inputs) if (id.startsWith(p.toString())) return p.toString();
        return inputs.size() == 1 ? inputs.get(0).toString() : "";
    }

    @Override
    public Neighbours knn(VectorSet base, VectorSet queries, int k) {
        if (index.equals("ivf")) throw new IllegalArgumentException("index: ivf is the Spark curation's (--spark); here use exact, hnsw or auto");
        boolean hnsw = index.equals("hnsw") || (index.equals("auto") && base.size() > hnswAbove);
        if (hnsw) return HnswIndex.build(base).search(queries, k);
        return Neighbours.exact(base.x(), base.size(), queries.x(), queries.size(), base.dim(), k);
    }

    @Override
    public KMeans.Data kmeansData(VectorSet set) {
        return KMeans.local(set.x(), set.size(), set.dim());
    }
}
