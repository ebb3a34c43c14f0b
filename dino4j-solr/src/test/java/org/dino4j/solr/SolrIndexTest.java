package org.dino4j.solr;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.solr.cloud.MiniSolrCloudCluster;
import org.dino4j.index.Entry;
import org.dino4j.index.ExactIndex;
import org.dino4j.index.Hit;
import org.dino4j.index.IndexSpec;
import org.dino4j.index.LuceneIndex;
import org.dino4j.index.VectorIndex;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * SolrIndex against a real SolrCloud in this JVM: solr-test-framework's MiniSolrCloudCluster (an embedded ZooKeeper
 * and 2 Solr nodes on Jetty 10), a collection of 2 shards with 2 replicas each, 3,000 vectors of 384 values (random,
 * clustered, and exact duplicates for ties). Its neighbours must be the exact search's and the embedded LuceneIndex's
 * on the same data, with and without filters, after deletes.
 * <p>
 * MiniSolrCloudCluster is used directly from JUnit 5 (no SolrCloudTestCase, no randomized runner): on JDK 25 it starts
 * without any system property. What was checked: the test framework installs no SecurityManager outside its JUnit 4
 * rules (JDK 24+ would refuse one), ZkTestServer logs that it widens ZooKeeper's 4-letter-word whitelist (harmless),
 * and Solr logs "Missing Java Option solr.log.dir" (logging to the console only, as wanted here); solr.install.dir
 * is not needed because the configset uses no {@code <lib>}. The nodes need SolrJ's Jetty 10 HTTP/2 client, which the
 * pom excludes from solr-solrj and adds back at test scope.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SolrIndexTest {
    static final int DIM = 384, N = 3000;
    static final IndexSpec SPEC = new IndexSpec("test", "none", IndexSpec.CLS, DIM);
    /** Scores within this are a tie (Lucene's SIMD dot product and the exact loop round differently). */
    static final float TIE = 1e-5f;

    static MiniSolrCloudCluster cluster;
    static String url;
    static SolrIndex solr;
    static ExactIndex exact;
    static LuceneIndex lucene;
    static List<Entry> data;
    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() throws Exception {
        long t0 = System.nanoTime();
        cluster = new MiniSolrCloudCluster.Builder(2, Files.createDirectories(tmp.resolve("solr"))).build();
        url = cluster.getJettySolrRunner(0).getBaseUrl().toString();
        long t1 = System.nanoTime();
        solr = SolrIndex.create(url, "images", SPEC, 2, 2);
        long t2 = System.nanoTime();
        data = data(new Random(21));
        AtomicLong lastProgress = new AtomicLong();
        // 8 threads at once: SolrJ's own HttpJdkSolrClient pool hangs forever from 4 concurrent large updates
        // (SOLR-18312); SolrIndex.connect gives it a cached pool
        long sent = SolrBulkLoad.load(solr, data.iterator(), 8, 250, lastProgress::set);
        long t3 = System.nanoTime();
        assertEquals(N, sent);
        assertEquals(N, lastProgress.get() <= N && lastProgress.get() > 0 ? N : -1, "progress reports the running count");
        exact = new ExactIndex(SPEC);
        exact.add(data);
        lucene = LuceneIndex.create(tmp.resolve("lucene"), SPEC, LuceneIndex.Options.DEFAULT);
        lucene.add(data);
        System.err.printf("cluster %.1f s, create collection %.1f s, bulk load %d x %d %.1f s%n", (t1 - t0) / 1e9, (t2 - t1) / 1e9, N, DIM, (t3 - t2) / 1e9);
    }

    @AfterAll
    static void stop() throws Exception {
        if (solr != null) solr.close();
        if (lucene != null) lucene.close();
        if (cluster != null) cluster.shutdown();
    }

    /** Half random directions, half 30 tight clusters, 5 groups of 4 identical vectors (exact ties, ordered by id). */
    static List<Entry> data(Random r) {
        List<Entry> out = new ArrayList<>();
        float[][] centers = new float[30][];
        for (int c = 0; c < centers.length; c++) centers[c] = gaussian(r, 1);
        for (int i = 0; i < N; i++) {
            float[] v;
            String kind;
            if (i >= N - 20) {
                v = out.get((i - (N - 20)) / 4 * 7).vector().clone(); // 4 copies each of 5 earlier vectors
                kind = "duplicate";
            } else if (i % 2 == 0) {
                v = gaussian(r, 1);
                kind = "random";
            } else {
                v = gaussian(r, 0.35f);
                float[] c = centers[r.nextInt(centers.length)];
                for (int j = 0; j < DIM; j++) v[j] += c[j];
                kind = "clustered";
            }
            Map<String, String> meta = Map.of("group", "g" + (i % 7), "kind", kind, "even", i % 2 == 0 ? "yes" : "no");
            byte[] preview = i % 10 == 0 ? new byte[] {(byte) 0xff, (byte) 0xd8, (byte) i, 0} : null;
            out.add(new Entry(String.format("img-%05d", i), v, meta, preview));
        }
        return out;
    }

    static float[] gaussian(Random r, float scale) {
        float[] v = new float[DIM];
        for (int j = 0; j < DIM; j++) v[j] = (float) r.nextGaussian() * scale;
        return v;
    }

    /**
     * Queries of two kinds. Hard ones, with recall checked: random directions, and random entries slightly moved (whose
     * neighbours after the first are as good as random: cosines ~0.15, a few thousandths apart). Realistic ones, with
     * the exact neighbours required: clustered entries moved, stored clustered entries, duplicates of clustered ones.
     */
    record Query(float[] v, boolean strict) {}

    static List<Query> queries(Random r) {
        List<Query> qs = new ArrayList<>();
        for (int i = 0; i < 10; i++) qs.add(new Query(gaussian(r, 1), false));
        for (int i = 0; i < 30; i++) {
            int row = r.nextInt(N - 20);
            float[] v = data.get(row).vector().clone();
            for (int j = 0; j < DIM; j++) v[j] += (float) r.nextGaussian() * 0.05f;
            qs.add(new Query(i < 15 ? v : data.get(row | 1).vector(), row % 2 == 1 || i >= 15)); // odd rows are clustered
        }
        // the duplicates: 4 copies and the original tie at 1; after them, a random source's neighbours are hard again
        for (int i = 0; i < 5; i++) qs.add(new Query(data.get(N - 20 + 4 * i).vector(), i * 7 % 2 == 1));
        return qs;
    }

    /**
     * The same neighbours in the same order: the scores agree rank by rank, and where the ids differ the two are tied
     * in the truth's own scores (which a missed neighbour would not be).
     */
    static void assertSameNeighbours(float[] q, List<Hit> truth, List<Hit> got, String what) {
        assertEquals(truth.size(), got.size(), what + ": number of hits");
        for (int i = 0; i < truth.size(); i++) {
            Hit t = truth.get(i), g = got.get(i);
            assertEquals(t.score(), g.score(), TIE, what + ": score at rank " + i + " (" + t.id() + " vs " + g.id() + ")");
            if (!t.id().equals(g.id()))
                assertEquals(t.score(), cosine(q, g.id()), TIE, what + ": rank " + i + " is " + g.id() + ", the exact search has " + t.id() + " and scores them apart");
            assertEquals(t.metadata(), g.metadata(), what + ": metadata of " + g.id());
        }
    }

    /** The exact cosine of the query and a stored entry, in double. */
    static float cosine(float[] q, String id) {
        float[] a = VectorIndex.normalized(q, DIM, "q"), b = exact.get(id).orElseThrow().vector();
        double s = 0;
        for (int i = 0; i < DIM; i++) s += (double) a[i] * b[i];
        return (float) s;
    }

    static float[] exactVector(String id) {
        return exact.get(id).orElseThrow().vector();
    }

    /**
     * The three indexes answer alike with k = 10 and the filter: the exact neighbours for the realistic queries, and
     * recall@10 >= 0.85 on the hard ones, HNSW's worst case (measured: Solr 0.995-1, its shards each searching their
     * own graph with 100 candidates; LuceneIndex 0.91-1, one graph of 3,000). Returns {solr, lucene} recall on them.
     */
    static double[] compareAll(Map<String, String> filter, String what) {
        List<Query> qs = queries(new Random(what.hashCode()));
        int[] found = new int[2];
        int wanted = 0, strict = 0;
        for (int i = 0; i < qs.size(); i++) {
            float[] q = qs.get(i).v();
            List<Hit> truth = exact.search(q, 10, filter), s = solr.search(q, 10, filter), l = lucene.search(q, 10, filter);
            for (Hit h : s) assertTrue(ExactIndex.matches(h.metadata(), filter), what + ": " + h.id() + " does not match the filter");
            if (qs.get(i).strict()) {
                assertSameNeighbours(q, truth, s, what + " solr, query " + i);
                assertSameNeighbours(q, truth, l, what + " lucene, query " + i);
                strict++;
            } else {
                wanted += truth.size();
                found[0] += recalled(q, truth, s);
                found[1] += recalled(q, truth, l);
            }
        }
        double[] recall = {found[0] / (double) wanted, found[1] / (double) wanted};
        System.err.printf("%s: %d queries with the exact top 10; recall@10 on %d hard ones: solr %.3f, lucene %.3f%n", what, strict, qs.size() - strict, recall[0], recall[1]);
        assertTrue(strict >= 20, what + ": only " + strict + " realistic queries");
        assertTrue(recall[0] >= 0.85 && recall[1] >= 0.85, what + ": recall@10 solr " + recall[0] + ", lucene " + recall[1]);
        return recall;
    }

    /** How many of the true neighbours the hits hold (a hit tied with the last true one counts). */
    static int recalled(float[] q, List<Hit> truth, List<Hit> got) {
        float last = truth.isEmpty() ? 0 : truth.get(truth.size() - 1).score();
        int n = 0;
        for (Hit g : got) if (truth.stream().anyMatch(t -> t.id().equals(g.id())) || Math.abs(cosine(q, g.id()) - last) <= TIE) n++;
        return Math.min(n, truth.size());
    }

    @Test
    @Order(1)
    void sameNeighboursAsExactAndEmbeddedIndex() {
        long t0 = System.nanoTime();
        compareAll(Map.of(), "no filter");
        System.err.printf("40 queries x 3 indexes: %.2f s%n", (System.nanoTime() - t0) / 1e9);
    }

    @Test
    @Order(2)
    void sameNeighboursWithFilters() {
        compareAll(Map.of("group", "g3"), "group g3");
        compareAll(Map.of("group", "g3", "kind", "clustered"), "group g3 + clustered");
        assertTrue(solr.search(data.get(0).vector(), 10, Map.of("group", "nosuch")).isEmpty());
    }

    @Test
    @Order(3)
    void tiesAreOrderedById() {
        List<Hit> hits = solr.search(data.get(N - 20).vector(), 4, Map.of());
        List<String> ids = hits.stream().map(Hit::id).toList();
        // the 4 copies of data[0] are tied with it at 1.0: img-00000 and three of the copies, by id
        assertEquals(List.of("img-00000", "img-02980", "img-02981", "img-02982"), ids);
        for (Hit h : hits) assertEquals(1f, h.score(), TIE, "the score is the cosine, not Solr's (1 + dot) / 2");
    }

    @Test
    @Order(4)
    void countAndGet() {
        assertEquals(N, solr.count(), "the spec document is not counted");
        Entry want = data.get(10), got = solr.get("img-00010").orElseThrow();
        assertEquals(want.id(), got.id());
        assertEquals(want.metadata(), got.metadata());
        assertArrayEquals(want.preview(), got.preview());
        assertArrayEquals(exactVector(want.id()), got.vector(), 1e-7f, "stored normalised");
        assertTrue(solr.get("img-00011").orElseThrow().preview() == null);
        assertTrue(solr.get("nosuch").isEmpty());
        assertTrue(solr.get(SolrIndex.SPEC_ID).isEmpty());
        try (SolrIndex reopened = SolrIndex.open(url, "images")) {
            assertEquals(SPEC, reopened.spec());
            assertEquals(N, reopened.count());
        }
        try (SolrIndex again = SolrIndex.openOrCreate(SolrIndex.connect(url), url, "images", SPEC, 5, 5)) {
            assertEquals(N, again.count(), "opened, not created");
        }
        var e = assertThrows(IllegalArgumentException.class,
                () -> SolrIndex.openOrCreate(SolrIndex.connect(url), url, "images", new IndexSpec("other", "none", IndexSpec.CLS, DIM), 1, 1));
        assertTrue(e.getMessage().contains("holds {model=test"), e.getMessage());
    }

    @Test
    @Order(5)
    void badInputIsAOneLineError() {
        var e = assertThrows(IllegalArgumentException.class, () -> solr.search(new float[DIM + 1], 10, Map.of()));
        assertTrue(e.getMessage().contains("385 values, the index holds 384"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> solr.search(data.get(0).vector(), VectorIndex.MAX_K + 1, Map.of()));
        assertThrows(IllegalArgumentException.class, () -> solr.search(data.get(0).vector(), 10, Map.of("bad key", "x")));
        assertThrows(IllegalArgumentException.class, () -> solr.add(List.of(new Entry(SolrIndex.SPEC_ID, data.get(0).vector(), Map.of()))));
        assertThrows(IllegalArgumentException.class, () -> solr.add(List.of(new Entry("zero", new float[DIM], Map.of()))));
        e = assertThrows(IllegalArgumentException.class, () -> SolrIndex.open(url, "nosuch"));
        assertTrue(e.getMessage().contains("no such collection"), e.getMessage());
        var wrong = assertThrows(IllegalStateException.class, () -> SolrIndex.open(url + "/nosuch", "images"));
        assertTrue(wrong.getMessage().endsWith("cannot open: HTTP 404 (is the URL a Solr node's base URL, e.g. http://host:8983/solr?)"), wrong.getMessage());
        wrong = assertThrows(IllegalStateException.class, () -> SolrIndex.open("http://127.0.0.1:1/solr", "images"));
        assertEquals("http://127.0.0.1:1/solr collection images: cannot open: cannot connect (is Solr running there? the host and port right?)", wrong.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> SolrIndex.create(url, "images", SPEC, 1, 1));
        assertTrue(e.getMessage().contains("already exists"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> SolrIndex.create(url, "huge", new IndexSpec("m", "p", "cls", 5000), 1, 1));
        assertTrue(e.getMessage().contains("at most 4096"), e.getMessage());
        // a bad entry in a bulk load stops it with the entry's error (the batches before it re-send stored entries)
        List<Entry> mixed = new ArrayList<>(data.subList(0, 10));
        mixed.add(new Entry("bad", new float[DIM + 1], Map.of()));
        e = assertThrows(IllegalArgumentException.class, () -> SolrBulkLoad.load(solr, mixed.iterator(), 2, 5, null));
        assertEquals("bad: vector of 385 values, the index holds 384", e.getMessage());
        solr.commit();
        assertEquals(N, solr.count(), "nothing was written by the refused calls");
    }

    /** ViT-g's 1536 values: more than Lucene's default 1024, which Solr 9.10 accepts (it logs a warning); odd metadata. */
    @Test
    @Order(6)
    void vitGDimensionIsAccepted() {
        IndexSpec wide = new IndexSpec("dinov2_vitg14", "eval 224", IndexSpec.CLS, 1536);
        Random r = new Random(1536);
        ExactIndex truth = new ExactIndex(wide);
        try (SolrIndex index = SolrIndex.create(url, "wide", wide, 1, 1)) {
            List<Entry> entries = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                float[] v = new float[1536];
                for (int j = 0; j < v.length; j++) v[j] = (float) r.nextGaussian();
                // keys may hold '.' and '-' (Entry's rule), which Solr's field names and {!term f=...} take as they are
                entries.add(new Entry("w" + i, v, Map.of("camera.model-x", i % 3 == 0 ? "A 1" : "b,2}")));
            }
            index.add(entries);
            truth.add(entries);
            float[] q = entries.get(7).vector();
            for (Map<String, String> filter : List.of(Map.<String, String>of(), Map.of("camera.model-x", "A 1"), Map.of("camera.model-x", "b,2}")))
                assertEquals(truth.search(q, 5, filter).stream().map(Hit::id).toList(), index.search(q, 5, filter).stream().map(Hit::id).toList(), filter.toString());
        }
    }

    /** SolrIndex runs on dino4j-solr's runtime classpath alone (what the CLI ships), where no Jetty class exists. */
    @Test
    @Order(7)
    void runsOnTheRuntimeClasspathWithoutJetty() throws Exception {
        List<URL> urls = new ArrayList<>();
        urls.add(Path.of("target/classes").toUri().toURL());
        for (String p : Files.readString(Path.of("target/runtime-classpath.txt")).trim().split(java.io.File.pathSeparator))
            urls.add(Path.of(p).toUri().toURL());
        try (URLClassLoader loader = new URLClassLoader(urls.toArray(URL[]::new), ClassLoader.getPlatformClassLoader())) {
            for (String jetty : List.of("org.eclipse.jetty.client.HttpClient", "org.eclipse.jetty.http2.client.HTTP2Client", "org.eclipse.jetty.util.Jetty"))
                assertThrows(ClassNotFoundException.class, () -> loader.loadClass(jetty), jetty + " is on the runtime classpath");
            Class<?> c = loader.loadClass(SolrIndex.class.getName());
            assertTrue(c != SolrIndex.class);
            try (AutoCloseable index = (AutoCloseable) c.getMethod("open", String.class, String.class).invoke(null, url, "images")) {
                assertEquals((long) N, c.getMethod("count").invoke(index));
                List<?> hits = (List<?>) c.getMethod("search", float[].class, int.class, Map.class).invoke(index, data.get(5).vector(), 3, Map.of());
                assertTrue(hits.get(0).toString().startsWith("Hit[id=img-00005,"), hits.toString());
            }
        }
    }

    /** Last: deletes change the answers of all three alike. */
    @Test
    @Order(8)
    void sameNeighboursAfterDeletes() {
        List<String> gone = new ArrayList<>();
        for (int i = 0; i < N; i += 9) gone.add(data.get(i).id());
        gone.add("nosuch");
        gone.add(SolrIndex.SPEC_ID);
        assertEquals(gone.size() - 2, solr.delete(gone), "unknown ids and the spec document are not counted");
        exact.delete(gone);
        lucene.delete(gone);
        assertEquals(exact.count(), solr.count());
        assertFalse(solr.get(data.get(9).id()).isPresent());
        compareAll(Map.of(), "after deletes");
        compareAll(Map.of("even", "yes"), "after deletes, even");
        try (SolrIndex reopened = SolrIndex.open(url, "images")) {
            assertEquals(exact.count(), reopened.count(), "the spec document survives");
        }
    }
}
