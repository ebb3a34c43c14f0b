package org.dino4j.solr;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.apache.solr.client.solrj.SolrClient;
import org.apache.solr.client.solrj.request.AbstractUpdateRequest;
import org.apache.solr.client.solrj.request.UpdateRequest;
import org.apache.solr.cloud.MiniSolrCloudCluster;
import org.dino4j.index.Entry;
import org.dino4j.index.IndexSpec;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * What one Solr core's index takes per vector (docs/solr.md's table): 20,000 random vectors with a little metadata,
 * merged to one segment, the index files summed by kind. Long (3-5 min): run with -Dgroups=long.
 */
@Tag("long")
class SolrIndexSizeTest {
    @TempDir
    Path tmp;

    @Test
    @Timeout(value = 20, unit = TimeUnit.MINUTES)
    void bytesPerVector() throws Exception {
        MiniSolrCloudCluster cluster = new MiniSolrCloudCluster.Builder(1, tmp).build();
        try {
            String url = cluster.getJettySolrRunner(0).getBaseUrl().toString();
            int n = 20_000;
            for (int dim : new int[] {384, 768, 1024}) {
                String name = "size" + dim;
                try (SolrIndex index = SolrIndex.create(url, name, new IndexSpec("m", "p", IndexSpec.CLS, dim), 1, 1);
                     SolrClient client = SolrIndex.connect(url)) {
                    Random r = new Random(dim);
                    List<Entry> entries = new ArrayList<>(n);
                    for (int i = 0; i < n; i++) {
                        float[] v = new float[dim];
                        for (int j = 0; j < dim; j++) v[j] = (float) r.nextGaussian();
                        entries.add(new Entry(String.format("photos/2024/img_%06d.jpg", i), v, Map.of("album", "a" + (i % 50), "year", "2024")));
                    }
                    long t0 = System.nanoTime();
                    SolrBulkLoad.load(index, entries.iterator(), null);
                    long t1 = System.nanoTime();
                    new UpdateRequest().setAction(AbstractUpdateRequest.ACTION.OPTIMIZE, true, true, 1).process(client, name);
                    Map<String, Long> byExt = new TreeMap<>();
                    try (Stream<Path> files = Files.walk(tmp)) {
                        files.filter(p -> p.toString().contains(name) && p.getParent().getFileName().toString().startsWith("index") && Files.isRegularFile(p))
                                .forEach(p -> byExt.merge(ext(p), size(p), Long::sum));
                    }
                    long total = byExt.values().stream().mapToLong(Long::longValue).sum();
                    System.err.printf("dim %d: %d vectors loaded in %.1f s; index %.1f MB, %.0f bytes/vector, %.0f vectors/GB; by kind (bytes/vector): %s%n",
                            dim, n, (t1 - t0) / 1e9, total / 1e6, total / (double) n, 1e9 / (total / (double) n), perVector(byExt, n));
                }
            }
        } finally {
            cluster.shutdown();
        }
    }

    static String ext(Path p) {
        String f = p.getFileName().toString();
        return f.contains(".") ? f.substring(f.lastIndexOf('.') + 1) : f;
    }

    static long size(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            return 0;
        }
    }

    static Map<String, Long> perVector(Map<String, Long> byExt, int n) {
        Map<String, Long> out = new TreeMap<>();
        byExt.forEach((k, v) -> { if (v / n > 0) out.put(k, v / n); });
        return out;
    }
}
