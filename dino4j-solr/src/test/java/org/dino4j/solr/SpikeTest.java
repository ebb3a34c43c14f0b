package org.dino4j.solr;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.apache.solr.cloud.MiniSolrCloudCluster;
import org.dino4j.index.Entry;
import org.dino4j.index.IndexSpec;
import org.junit.jupiter.api.Test;

class SpikeTest {
    @Test
    void spike() throws Exception {
        Path base = Files.createTempDirectory("solr");
        long t0 = System.nanoTime();
        MiniSolrCloudCluster cluster = new MiniSolrCloudCluster.Builder(2, base).build();
        System.err.println("cluster up " + (System.nanoTime() - t0) / 1e9);
        try {
            String url = cluster.getJettySolrRunner(0).getBaseUrl().toString();
            System.err.println("url " + url);
            try (SolrIndex idx = SolrIndex.create(url, "c1", new IndexSpec("m", "p", "cls", 4), 2, 2)) {
                System.err.println("created " + (System.nanoTime() - t0) / 1e9);
                idx.add(List.of(new Entry("a", new float[] {1, 0, 0, 0}, Map.of("k", "x"), new byte[] {1, 2, 3}), new Entry("b", new float[] {1, 1, 0, 0}, Map.of("k", "y"))));
                System.err.println(idx.count() + " " + idx.get("a") + " " + idx.search(new float[] {1, 0, 0, 0}, 5, Map.of()) + idx.search(new float[] {1, 0, 0, 0}, 5, Map.of("k", "y")));
            }
            try (SolrIndex idx = SolrIndex.open(url, "c1")) {
                System.err.println(idx.spec() + " " + idx.count());
            }
        } finally {
            cluster.shutdown();
        }
        System.err.println("done " + (System.nanoTime() - t0) / 1e9);
    }
}
