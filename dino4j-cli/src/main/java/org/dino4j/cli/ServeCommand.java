package org.dino4j.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import org.dino4j.data.ClassNames;
import org.dino4j.heads.Classifier;
import org.dino4j.heads.Depther;
import org.dino4j.heads.HeadWeights;
import org.dino4j.heads.Segmenter;
import org.dino4j.hub.HubHead;
import org.dino4j.index.ExactIndex;
import org.dino4j.index.IndexSpec;
import org.dino4j.index.LuceneIndex;
import org.dino4j.index.VectorIndex;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.serve.Heads;
import org.dino4j.serve.Server;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"An HTTP service: image search, embeddings and the DINOv2 demos, with a web page.",
                "Endpoints: embed, search (by image, id or vector), add/delete images, patch matches, PCA and, with the heads, "
                + "classify/depth/segment; the page at /, the API at /openapi.json (docs/serve-api.md), metrics at /metrics.",
                "Concurrent requests are batched on one model (--max-batch, --max-wait-ms); a full queue answers 503 with Retry-After.",
                "Binds to 127.0.0.1 unless --host says otherwise; add/delete need --token when one is set. Ctrl-C stops it gracefully."})
final class ServeCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Mixin
    ThreadsOption threads;

    @Option(names = "--index", paramLabel = "DIR", description = {"The index folder (created if missing; one made by `dino4j index build` "
            + "is served with its own preprocessing and vectors). Without it (and without --solr) the index lives in memory only."})
    Path indexDir;

    @Option(names = "--solr", paramLabel = "URL", description = "Serve a SolrCloud collection instead (a node's base URL, e.g. http://solr1:8983/solr).")
    String solr;

    @Option(names = "--collection", paramLabel = "NAME", description = "The SolrCloud collection (created with 2 shards x 2 replicas if missing).")
    String collection;

    @Option(names = "--add", paramLabel = "DIR", split = ",", description = {"Index the images under these folders after start (in the background, "
            + "with progress; images already indexed are skipped, so a restart goes on). The folders are added to --roots."})
    List<Path> add = new ArrayList<>();

    @Option(names = "--vectors", defaultValue = IndexSpec.CLS, paramLabel = "cls|cls+patchmean",
            description = "What a new index stores per image: the CLS token, or CLS and patch-token mean (default: ${DEFAULT-VALUE}).")
    String vectors;

    @Option(names = "--port", defaultValue = "8080", description = "Port (0: any free one; default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to bind (default: ${DEFAULT-VALUE}; 0.0.0.0 for every interface).")
    String host;

    @Option(names = "--max-batch", defaultValue = "8", description = "Images per forward at most (default: ${DEFAULT-VALUE}).")
    int maxBatch;

    @Option(names = "--max-wait-ms", defaultValue = "5", description = "How long a batch waits to fill (default: ${DEFAULT-VALUE}).")
    long maxWaitMs;

    @Option(names = "--queue", defaultValue = "64", description = "Requests waiting for the model at most; beyond, 503 (default: ${DEFAULT-VALUE}).")
    int queue;

    @Option(names = "--timeout-ms", defaultValue = "30000", description = "A request waiting longer for the model gets 504 (default: ${DEFAULT-VALUE}).")
    long timeoutMs;

    @Option(names = "--max-body-mb", defaultValue = "32", description = "Larger request bodies get 413 (default: ${DEFAULT-VALUE}).")
    long maxBodyMb;

    @Option(names = "--max-pixels", defaultValue = "40000000", description = "Larger images get 413, checked before decoding (default: ${DEFAULT-VALUE}).")
    long maxPixels;

    @Option(names = "--roots", split = ",", paramLabel = "DIR", description = "Folders whose images POST /api/images/paths may add (default: none, path adds off).")
    List<Path> roots = new ArrayList<>();

    @Option(names = "--token", paramLabel = "T", description = "Bearer token that add/delete need (default: the DINO4J_TOKEN variable; none: open).")
    String token;

    @Option(names = "--cors", paramLabel = "ORIGIN", description = "Let pages from this origin (or *) call the API (default: CORS off).")
    String cors;

    @Option(names = "--heads", description = "Load the released heads of the --model backbone from the caches (classify, depth, segment).")
    boolean heads;

    @Option(names = "--random-heads", paramLabel = "SEED", description = "Heads of the released shapes with random weights (for trying the endpoints).")
    Long randomHeads;

    /** The running server, and the latch that ends the command (tests stop it through these). */
    volatile Server server;
    final CountDownLatch stop = new CountDownLatch(1);

    @Override
    public Integer call() throws Exception {
        if (heads && randomHeads != null) throw new IllegalArgumentException("give --heads or --random-heads, not both");
        if (maxBodyMb < 1) throw new IllegalArgumentException("--max-body-mb must be >= 1, got " + maxBodyMb);
        if (token == null) token = System.getenv("DINO4J_TOKEN");
        for (Path a : add) {
            if (!Files.isDirectory(a)) throw new IllegalArgumentException("--add " + a + ": not a folder");
            roots.add(a);
        }
        Server.Config cfg = new Server.Config(port, host, maxBatch, maxWaitMs, queue, timeoutMs, maxBodyMb << 20, maxPixels, roots, token, cors,
                Server.Config.defaults().idleTimeoutMs(), Server.Config.defaults().minBodyBytesPerSec());
        threads.apply();
        DinoVisionTransformer model = modelOptions.load();
        VectorIndex index = null;
        Heads h;
        String indexKind;
        org.dino4j.data.Preprocess pre;
        try {
            String name = modelName();
            int d = model.embedDim();
            IndexSpec spec = new IndexSpec(name, Server.defaultPreprocess(model.config()).toString(), vectors, IndexSpec.dimFor(vectors, d));
            if (indexDir != null && solr != null) throw new IllegalArgumentException("give --index DIR or --solr URL, not both");
            if (indexDir != null) {
                // an index made by `index build` keeps its own transform and vectors: queries must be embedded as its entries were
                LuceneIndex ix = Files.exists(indexDir.resolve("index.json")) ? LuceneIndex.open(indexDir) : LuceneIndex.create(indexDir, spec, LuceneIndex.Options.DEFAULT);
                index = ix;
                System.out.println(ix.recovery().line(indexDir));
                indexKind = "lucene";
            } else if (solr != null) {
                index = Indexes.openOrCreateSolr(solr, collection, spec);
                indexKind = "solr";
            } else {
                index = new ExactIndex(spec);
                indexKind = "memory";
            }
            IndexSpec is = index.spec();
            int want = IndexSpec.dimFor(is.vectors(), d);
            if (is.dim() != want)
                throw new IllegalArgumentException((indexDir != null ? indexDir : solr + " " + collection) + ": the index holds " + is.vectors() + " vectors of "
                        + is.dim() + " values, this model's are " + want + ": serve it with the model it was built with (" + is.model() + ")");
            if (!is.model().equals(name)) System.err.println("note: the index was built with " + is.model() + ", serving it with " + name);
            pre = IndexOptions.preprocess(is, String.valueOf(indexDir != null ? indexDir : collection));
            h = randomHeads != null ? Heads.random(model, randomHeads) : heads ? releasedHeads(model) : Heads.NONE;
        } catch (RuntimeException e) {
            if (index != null) index.close();
            model.close();
            throw e;
        }
        server = Server.start(cfg, new Server.Backend(model, modelName(), pre, index, indexKind, h)); // owns index and model from here, also on failure
        Server s = server;
        Thread hook = new Thread(() -> {
            System.err.println("dino4j serve: stopping (finishing the accepted requests)");
            s.close();
            stop.countDown();
        }, "dino4j-serve-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        System.out.printf("dino4j serve: http://%s:%d/ (model %s; %s index; heads: %s)%n", host.contains(":") ? "[" + host + "]" : host, s.port(),
                modelName(), index.spec().vectors(), h.names().isEmpty() ? "none" : String.join(", ", h.names()));
        System.out.flush();
        if (!add.isEmpty()) Thread.ofPlatform().daemon().name("dino4j-serve-add").start(() -> addFolders(s));
        stop.await();
        s.close();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is already stopping: the hook did the closing
        }
        return 0;
    }

    /** --add: every image under the folders through the server's own queue, with progress; present ids skipped. */
    private void addFolders(Server s) {
        try {
            List<Path> files = new ArrayList<>();
            for (Path a : add) files.addAll(s.imagesUnder(a.toRealPath(), Integer.MAX_VALUE - 1));
            ProgressBar bar = new ProgressBar("add", "images");
            Server.Added r = s.addFiles(files, java.util.Map.of(), true, n -> bar.update(n, files.size(), 0));
            bar.finish();
            System.out.printf("dino4j serve: --add: %d added, %d already indexed, %d failed%n", r.added(), r.skipped(), r.failed().size());
            r.failed().stream().limit(20).forEach(f -> System.out.println("  " + f.get("path") + ": " + f.get("error")));
        } catch (Exception e) {
            System.err.println("dino4j serve: --add stopped: " + e.getMessage());
        }
    }

    /** For /health and the index spec: the hub name, the weights file, or the random model's config. */
    private String modelName() {
        String hub = modelOptions.hubName();
        if (hub != null) return hub + (modelOptions.randomSeed != null ? " (random weights " + modelOptions.randomSeed + ")" : "");
        if (modelOptions.weights != null) return modelOptions.weights.getFileName().toString();
        return "random weights " + modelOptions.randomSeed + (modelOptions.config != null ? " (" + modelOptions.config.getFileName() + ")" : "");
    }

    /** The released heads of the --model backbone found in the caches; those not downloaded are left out with a note. */
    private Heads releasedHeads(DinoVisionTransformer model) {
        String hub = modelOptions.hubName();
        if (hub == null) throw new IllegalArgumentException("--heads needs --model NAME (a hub backbone whose released heads are downloaded)");
        Classifier c = null;
        Depther d = null;
        Segmenter s = null;
        String cName = hub.replaceFirst("_reg$", "_reg4") + "_linear4", dName = hub + "_nyu_dpt", sName = hub + "_ade20k_linear";
        try (HeadWeights w = cached(cName)) {
            if (w != null) c = Classifier.of(model, w, ClassNames.imagenet1k());
        }
        try (HeadWeights w = cached(dName)) {
            if (w != null) d = Depther.of(model, w, Depther.Dataset.NYU);
        }
        try (HeadWeights w = cached(sName)) {
            if (w != null) s = Segmenter.of(model, w, Segmenter.Dataset.ADE20K.classes, Segmenter.Dataset.ADE20K.name(), null);
        }
        if (c == null && d == null && s == null)
            throw new IllegalArgumentException("--heads: none of " + cName + ", " + dName + ", " + sName + " is downloaded (`dino4j download NAME`)");
        return new Heads(c, d, s, Segmenter.Dataset.ADE20K);
    }

    /** A released head from the caches, or null (with a note) when it is not downloaded or not released for this backbone. */
    private static HeadWeights cached(String name) {
        if (!HubHead.isHeadName(name)) {
            System.err.println("note: no released head " + name + " for this backbone; its endpoint answers 501");
            return null;
        }
        HubHead h = HubHead.of(name);
        var found = DownloadCommand.cache().find(h);
        if (found.isEmpty() || !Files.exists(found.get())) {
            System.err.println("note: " + name + " is not downloaded (`dino4j download " + name + "`); its endpoint answers 501");
            return null;
        }
        return HeadWeights.open(found.get());
    }
}
