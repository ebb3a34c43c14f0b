package org.dino4j.solr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.apache.solr.cloud.MiniSolrCloudCluster;
import org.dino4j.index.Entry;
import org.dino4j.index.IndexSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A SolrCloud with basic auth (blockUnknown): SolrIndex works with credentials and fails in one line without. */
class SolrAuthTest {
    /** User "solr", password "SolrRocks": the example of Solr's reference guide (salted SHA-256, base64). */
    static final String SECURITY_JSON = """
            {"authentication": {"blockUnknown": true, "class": "solr.BasicAuthPlugin",
              "credentials": {"solr": "IV0EHq1OnNrj6gvRCwvFwTrZ1+z1oBbnQdiVC3otuq0= Ndd7LKvVBAaZIF0QAVi1ekCfAJXr1GGfLtRUXhgrF8c="}},
             "authorization": {"class": "solr.RuleBasedAuthorizationPlugin",
              "permissions": [{"name": "all", "role": "admin"}], "user-role": {"solr": "admin"}}}
            """;

    @TempDir
    Path tmp;

    @Test
    void basicAuth() throws Exception {
        MiniSolrCloudCluster cluster = new MiniSolrCloudCluster.Builder(1, tmp).withSecurityJson(SECURITY_JSON).build();
        try {
            String url = cluster.getJettySolrRunner(0).getBaseUrl().toString();
            IndexSpec spec = new IndexSpec("m", "p", IndexSpec.CLS, 3);
            try (SolrIndex index = SolrIndex.create(SolrIndex.connect(url, "solr", "SolrRocks"), url, "locked", spec, 1, 1)) {
                index.add(List.of(new Entry("a", new float[] {1, 0, 0}, Map.of()), new Entry("b", new float[] {0, 1, 0}, Map.of())));
                assertEquals("a", index.search(new float[] {1, 0.1f, 0}, 1, Map.of()).get(0).id());
            }
            try (SolrIndex index = SolrIndex.open(SolrIndex.connect(url, "solr", "SolrRocks"), url, "locked")) {
                assertEquals(2, index.count());
            }
            var e = assertThrows(IllegalStateException.class, () -> SolrIndex.open(SolrIndex.connect(url, null, null), url, "locked"));
            assertTrue(e.getMessage().endsWith("cannot open: HTTP 401: Solr wants a user and password (set DINO4J_SOLR_USER and DINO4J_SOLR_PASSWORD), or refused the ones given"), e.getMessage());
            e = assertThrows(IllegalStateException.class, () -> SolrIndex.open(SolrIndex.connect(url, "solr", "wrong"), url, "locked"));
            assertTrue(e.getMessage().contains("401"), e.getMessage());
            System.err.println("without credentials: " + e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> SolrIndex.connect(url, "solr", null));
        } finally {
            cluster.shutdown();
        }
    }
}
