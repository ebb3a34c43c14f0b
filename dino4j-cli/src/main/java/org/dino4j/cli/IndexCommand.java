package org.dino4j.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.dino4j.index.IndexBuild;
import org.dino4j.index.IndexSpec;
import org.dino4j.index.LuceneIndex;
import org.dino4j.index.VectorIndex;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code dino4j index build|info}: the persistent index that {@code search} and {@code serve} use. */
@Command(name = "index", mixinStandardHelpOptions = true,
        description = {"Builds or describes a persistent image index (a folder, or a SolrCloud collection).",
                "The embedded index is Lucene HNSW under a folder; SolrCloud holds the same in a collection."},
        subcommands = {IndexCommand.Build.class, IndexCommand.Info.class})
final class IndexCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "build", mixinStandardHelpOptions = true,
            description = {"Bulk-loads `dino4j embed` output folders into an index: the embedded one under DIR (created if absent), "
                    + "or a SolrCloud collection (--solr URL --collection NAME, created if absent, loaded by parallel batches).",
                    "Resumable: entries already in the embedded index (by id) are skipped, so a killed build rerun goes on; a Solr load sends everything again (replacing by id)."})
    static final class Build implements Callable<Integer> {
        @Parameters(paramLabel = "DIR", arity = "0..1", description = "The index folder (not with --solr).")
        Path dir;

        @Option(names = "--from", required = true, split = ",", paramLabel = "EMBED_OUTPUT", description = "`dino4j embed` output folder(s).")
        List<Path> from;

        @Option(names = "--vectors", defaultValue = IndexSpec.CLS, description = "cls or cls+patchmean (needs embed --patch-mean) (default: ${DEFAULT-VALUE}).")
        String vectors;

        @Option(names = "--quantization", defaultValue = "none", description = "none (float32) or int7 (4x smaller vectors) (default: ${DEFAULT-VALUE}).")
        String quantization;

        @Option(names = "--m", defaultValue = "16", description = "HNSW neighbours per node (default: ${DEFAULT-VALUE}).")
        int m;

        @Option(names = "--beam-width", defaultValue = "100", description = "HNSW construction beam (default: ${DEFAULT-VALUE}).")
        int beamWidth;

        @Option(names = "--num-candidates", defaultValue = "" + LuceneIndex.Options.DEFAULT_NUM_CANDIDATES,
                description = "HNSW search candidates, recorded with the index (default: ${DEFAULT-VALUE}).")
        int numCandidates;

        @Option(names = "--solr", paramLabel = "URL", description = "A SolrCloud node's base URL, e.g. http://solr1:8983/solr.")
        String solr;

        @Option(names = "--collection", paramLabel = "NAME", description = "The SolrCloud collection (with --solr).")
        String collection;

        @Option(names = "--shards", defaultValue = "2", description = "Shards of a new Solr collection (default: ${DEFAULT-VALUE}).")
        int shards;

        @Option(names = "--replicas", defaultValue = "2", description = "Replicas per shard of a new Solr collection (default: ${DEFAULT-VALUE}).")
        int replicas;

        @Option(names = "--threads", defaultValue = "4", description = "Parallel Solr update requests (default: ${DEFAULT-VALUE}).")
        int threads;

        @Option(names = "--batch", defaultValue = "1000", description = "Entries per commit/update (default: ${DEFAULT-VALUE}).")
        int batch;

        @Override
        public Integer call() {
            if ((dir == null) == (solr == null)) throw new IllegalArgumentException("give the index folder DIR or --solr URL --collection NAME (one of them)");
            IndexSpec spec = IndexBuild.specOf(from.get(0), vectors);
            ProgressBar bar = new ProgressBar("index", "images");
            if (solr != null) return Indexes.buildSolr(solr, collection, spec, shards, replicas, from, threads, batch, bar);
            var opts = new LuceneIndex.Options(m, beamWidth, LuceneIndex.Quantization.parse(quantization), numCandidates);
            try (LuceneIndex ix = LuceneIndex.openOrCreate(dir, spec, opts)) {
                if (!ix.recovery().removed().isEmpty()) System.out.println(ix.recovery().line(dir));
                IndexBuild.Result r = IndexBuild.run(from, ix, batch, (done, total, rate, eta) -> bar.update(done, total, 0, "", eta));
                bar.finish();
                System.out.printf(Locale.ROOT, "%d entries: %d added, %d already there, in %.1f s -> %s (%d entries, %.1f MB)%n",
                        r.total(), r.added(), r.skipped(), r.seconds(), dir, ix.count(), ix.bytesOnDisk() / 1e6);
            }
            return 0;
        }
    }

    @Command(name = "info", mixinStandardHelpOptions = true, description = "What an index holds: its model, vectors, count, size.")
    static final class Info implements Callable<Integer> {
        @picocli.CommandLine.Mixin
        IndexOptions source;

        @Override
        public Integer call() {
            try (VectorIndex ix = source.open()) {
                IndexSpec s = ix.spec();
                System.out.printf(Locale.ROOT, "%s: %d entries of %s vectors (%d values), model %s, preprocess %s%n",
                        source.where(), ix.count(), s.vectors(), s.dim(), s.model(), s.preprocess());
                if (ix instanceof LuceneIndex l)
                    System.out.printf(Locale.ROOT, "  lucene HNSW: %s; %.1f MB on disk%n", l.options(), l.bytesOnDisk() / 1e6);
            }
            return 0;
        }
    }
}
