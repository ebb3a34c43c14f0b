package org.dino4j.solr;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import org.apache.solr.client.solrj.SolrClient;
import org.apache.solr.client.solrj.SolrQuery;
import org.apache.solr.client.solrj.SolrRequest;
import org.apache.solr.client.solrj.SolrServerException;
import org.apache.solr.client.solrj.impl.HttpJdkSolrClient;
import org.apache.solr.client.solrj.request.AbstractUpdateRequest;
import org.apache.solr.client.solrj.request.CollectionAdminRequest;
import org.apache.solr.client.solrj.request.ConfigSetAdminRequest;
import org.apache.solr.client.solrj.request.QueryRequest;
import org.apache.solr.client.solrj.request.UpdateRequest;
import org.apache.solr.client.solrj.response.QueryResponse;
import org.apache.solr.common.SolrDocument;
import org.apache.solr.common.SolrDocumentList;
import org.apache.solr.common.SolrException;
import org.apache.solr.common.SolrInputDocument;
import org.apache.solr.common.params.ModifiableSolrParams;
import org.apache.solr.common.util.ContentStreamBase;
import org.apache.solr.common.util.NamedList;
import org.dino4j.index.Entry;
import org.dino4j.index.Hit;
import org.dino4j.index.IndexSpec;
import org.dino4j.index.LuceneIndex;
import org.dino4j.index.Metadata;
import org.dino4j.index.VectorIndex;
import org.dino4j.io.Json;

/**
 * A {@link VectorIndex} backed by a SolrCloud collection (Solr 9.10's dense-vector field, the same Lucene HNSW as the
 * embedded index). It talks to one node's base URL (e.g. {@code http://solr1:8983/solr}) through SolrJ's JDK-HttpClient
 * client: Solr routes updates to the shard leaders and fans queries out to every shard itself, and no Jetty client is
 * put on the classpath (the server runs Jetty 12; SolrJ's own Http2SolrClient needs Jetty 10).
 * <p>
 * The collection's schema comes from this jar's configset ({@code configset/}, uploaded as {@code dino4j_<collection>}
 * with the index's dimension); the {@link IndexSpec} lives in a reserved document without a vector, which knn
 * searches cannot return and {@link #count()} leaves out. Adds and deletes end with a hard commit, so they are durable
 * and visible when acknowledged. Credentials for Solr's basic auth come from {@link #connect}.
 */
public final class SolrIndex implements VectorIndex {
    /** The id of the document that holds the spec; refused as an entry id. */
    public static final String SPEC_ID = "__dino4j_spec__";
    /** Environment variables read for basic auth when no credentials are given. */
    public static final String ENV_USER = "DINO4J_SOLR_USER", ENV_PASSWORD = "DINO4J_SOLR_PASSWORD";
    /**
     * Neighbours each shard's HNSW search is asked for before the best k are kept (the knn parser's {@code topK},
     * Lucene's k, i.e. efSearch): LuceneIndex's default, so both search alike; k larger than this uses k.
     */
    public static final int DEFAULT_NUM_CANDIDATES = 100;
    /** The largest dimension accepted: LuceneIndex's (Solr 9.10 itself accepts more than Lucene's 1024, with a warning). */
    public static final int MAX_DIM = LuceneIndex.MAX_DIM;

    /** The threads of every client's HTTP exchanges and request-body writers (see {@link #connect}). */
    private static final ExecutorService HTTP_POOL = Executors.newCachedThreadPool(Thread.ofPlatform().name("dino4j-solr-http-", 0).daemon().factory());

    private final SolrClient client;
    private final String baseUrl, collection;
    private final IndexSpec spec;
    private volatile int numCandidates = DEFAULT_NUM_CANDIDATES;

    private SolrIndex(SolrClient client, String baseUrl, String collection, IndexSpec spec) {
        this.client = client;
        this.baseUrl = baseUrl;
        this.collection = collection;
        this.spec = spec;
    }

    /** A client for one Solr node's base URL; user and password (both or neither) for Solr's basic auth. */
    public static SolrClient connect(String baseUrl, String user, String password) {
        if (baseUrl == null || !baseUrl.matches("https?://.+")) throw new IllegalArgumentException("--solr must be a node's base URL such as http://localhost:8983/solr, got '" + baseUrl + "'");
        if ((user == null) != (password == null)) throw new IllegalArgumentException("Solr basic auth needs both a user and a password");
        var b = new HttpJdkSolrClient.Builder(stripSlash(baseUrl))
                // SolrJ 9.10's own pool (4 threads, then a queue) serves both the threads that write request bodies
                // into a pipe and the HttpClient that reads them: 4 concurrent updates fill it with writers and hang
                // forever (SOLR-18312, fixed after 9.10). A cached pool never runs out. Not virtual threads: a
                // PipedInputStream fails its writer ("Read end dead") once the thread that last read has ended,
                // which a thread per task soon does; pooled threads live on (60 s idle, daemon: no shutdown needed).
                .withExecutor(HTTP_POOL)
                // plain http: HTTP/1.1, as the JDK client's h2c upgrade costs a HEAD request before each new POST
                // target (which Solr logs as an error); https negotiates HTTP/2 through ALPN
                .useHttp1_1(baseUrl.startsWith("http:"))
                .withConnectionTimeout(10, TimeUnit.SECONDS)
                .withRequestTimeout(10, TimeUnit.MINUTES);
        if (user != null) b.withBasicAuthCredentials(user, password);
        return b.build();
    }

    /** {@link #connect} with the credentials of {@value #ENV_USER} / {@value #ENV_PASSWORD}, if set. */
    public static SolrClient connect(String baseUrl) {
        return connect(baseUrl, System.getenv(ENV_USER), System.getenv(ENV_PASSWORD));
    }

    /** Creates the collection (and its configset) on the cluster at {@code baseUrl} and opens it. */
    public static SolrIndex create(String baseUrl, String collection, IndexSpec spec, int shards, int replicas) {
        return create(connect(baseUrl), baseUrl, collection, spec, shards, replicas);
    }

    /**
     * Creates the collection with {@code shards} shards of {@code replicas} NRT replicas each, its schema for
     * {@code spec.dim()}; the index takes over the client (closed with it).
     */
    public static SolrIndex create(SolrClient client, String baseUrl, String collection, IndexSpec spec, int shards, int replicas) {
        checkCollectionName(collection);
        if (spec.dim() > MAX_DIM) throw new IllegalArgumentException("vectors of " + spec.dim() + " values: a dino4j Solr collection holds at most " + MAX_DIM);
        if (shards < 1 || replicas < 1) throw new IllegalArgumentException("shards and replicas must be >= 1, got " + shards + " and " + replicas);
        String where = stripSlash(baseUrl) + " collection " + collection;
        try {
            List<String> existing = CollectionAdminRequest.listCollections(client);
            if (existing.contains(collection)) throw new IllegalArgumentException(where + ": already exists (open it instead, or delete it first)");
            String configName = configSetName(collection);
            var upload = new ConfigSetAdminRequest.Upload().setConfigSetName(configName).setOverwrite(true).setCleanup(true)
                    .setUploadStream(new ContentStreamBase.ByteArrayStream(configSetZip(spec.dim()), configName + ".zip", "application/zip"));
            try {
                upload.process(client);
            } catch (SolrException e) {
                // a cluster started with -Dconfigset.upload.enabled=false: an admin may have uploaded it (docs/solr.md)
                if (!new ConfigSetAdminRequest.List().process(client).getConfigSets().contains(configName))
                    throw new IllegalStateException(where + ": cannot upload the configset " + configName + " (" + oneLine(e) + "); upload it with `bin/solr zk upconfig` as docs/solr.md says, then run this again", e);
            }
            var createRequest = CollectionAdminRequest.createCollection(collection, configName, shards, replicas);
            createRequest.setWaitForFinalState(true);
            createRequest.process(client);
            SolrIndex index = new SolrIndex(client, baseUrl, collection, spec);
            SolrInputDocument doc = new SolrInputDocument();
            doc.addField("id", SPEC_ID);
            doc.addField("spec", Json.write(spec.toJson()));
            index.update(new UpdateRequest().add(doc), true);
            return index;
        } catch (SolrServerException | IOException | SolrException e) {
            closeQuietly(client);
            throw new IllegalStateException(where + ": cannot create: " + oneLine(e), e);
        } catch (RuntimeException e) {
            closeQuietly(client);
            throw e;
        }
    }

    /** Opens an existing dino4j collection: its spec is read back from the reserved document. */
    public static SolrIndex open(String baseUrl, String collection) {
        return open(connect(baseUrl), baseUrl, collection);
    }

    /** {@link #open(String, String)} through the given client, which the index takes over. */
    public static SolrIndex open(SolrClient client, String baseUrl, String collection) {
        checkCollectionName(collection);
        String where = stripSlash(baseUrl) + " collection " + collection;
        try {
            if (!CollectionAdminRequest.listCollections(client).contains(collection))
                throw new IllegalArgumentException(where + ": no such collection (create it with `dino4j index build --solr`)");
            SolrIndex probe = new SolrIndex(client, baseUrl, collection, null);
            SolrDocumentList docs = probe.realTimeGet(List.of(SPEC_ID));
            if (docs.isEmpty()) throw new IllegalArgumentException(where + ": not a dino4j collection (no '" + SPEC_ID + "' document with the index spec)");
            Object json = docs.get(0).getFirstValue("spec");
            IndexSpec spec;
            try {
                spec = IndexSpec.fromJson(Json.parseObject(String.valueOf(json)));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(where + ": the spec document is unreadable: " + e.getMessage());
            }
            return new SolrIndex(client, baseUrl, collection, spec);
        } catch (SolrServerException | IOException | SolrException e) {
            closeQuietly(client);
            throw new IllegalStateException(where + ": cannot open: " + oneLine(e), e);
        } catch (RuntimeException e) {
            closeQuietly(client);
            throw e;
        }
    }

    /**
     * The collection if it exists (its spec must equal {@code spec}: a bulk load of other vectors into it is refused),
     * else a new one of {@code shards} x {@code replicas} ({@code index build --solr}); the index takes over the client.
     */
    public static SolrIndex openOrCreate(SolrClient client, String baseUrl, String collection, IndexSpec spec, int shards, int replicas) {
        boolean exists;
        try {
            exists = CollectionAdminRequest.listCollections(client).contains(collection);
        } catch (SolrServerException | IOException | SolrException e) {
            closeQuietly(client);
            throw new IllegalStateException(stripSlash(baseUrl) + ": cannot list collections: " + oneLine(e), e);
        }
        if (!exists) return create(client, baseUrl, collection, spec, shards, replicas);
        SolrIndex index = open(client, baseUrl, collection);
        if (!index.spec().equals(spec)) {
            index.close();
            throw new IllegalArgumentException(index + " holds " + index.spec().toJson() + ", these vectors are " + spec.toJson());
        }
        return index;
    }

    /** Deletes the collection and its configset (tests, and `index build --solr --replace`). */
    public static void deleteCollection(SolrClient client, String collection) throws SolrServerException, IOException {
        if (CollectionAdminRequest.listCollections(client).contains(collection)) CollectionAdminRequest.deleteCollection(collection).process(client);
        new ConfigSetAdminRequest.Delete().setConfigSetName(configSetName(collection)).process(client);
    }

    public String collection() {
        return collection;
    }

    public String baseUrl() {
        return baseUrl;
    }

    /** Sets efSearch of later searches (see {@link #DEFAULT_NUM_CANDIDATES}). */
    public void numCandidates(int n) {
        if (n < 1) throw new IllegalArgumentException("numCandidates must be >= 1, got " + n);
        numCandidates = n;
    }

    @Override
    public IndexSpec spec() {
        return spec;
    }

    @Override
    public void add(List<Entry> entries) {
        index(entries, true);
    }

    /**
     * Sends the entries (checked and normalised first, so a bad one sends nothing); with {@code commit} false they
     * become durable and visible at the next {@link #commit()} (the bulk loader's batches).
     */
    public void index(List<Entry> entries, boolean commit) {
        List<SolrInputDocument> docs = new ArrayList<>(entries.size());
        for (Entry e : entries) docs.add(document(e));
        if (docs.isEmpty() && !commit) return;
        UpdateRequest req = new UpdateRequest();
        if (!docs.isEmpty()) req.add(docs);
        update(req, commit);
    }

    /** A hard commit: what was sent is on disk and searchable. */
    public void commit() {
        update(new UpdateRequest(), true);
    }

    @Override
    public int delete(List<String> ids) {
        List<String> present = new ArrayList<>();
        for (SolrDocument d : realTimeGet(ids.stream().filter(id -> !SPEC_ID.equals(id)).distinct().toList())) present.add((String) d.getFirstValue("id"));
        if (present.isEmpty()) return 0;
        update(new UpdateRequest().deleteById(present), true);
        return present.size();
    }

    @Override
    public long count() {
        SolrQuery q = new SolrQuery("*:*");
        q.addFilterQuery("-id:" + SPEC_ID);
        q.setRows(0);
        return query(q).getResults().getNumFound();
    }

    @Override
    public Optional<Entry> get(String id) {
        if (id == null || SPEC_ID.equals(id)) return Optional.empty();
        SolrDocumentList docs = realTimeGet(List.of(id));
        return docs.isEmpty() ? Optional.empty() : Optional.of(entryOf(docs.get(0)));
    }

    @Override
    public List<Hit> search(float[] query, int k, Map<String, String> filter) {
        VectorIndex.checkK(k);
        float[] q = VectorIndex.normalized(query, spec.dim(), "query");
        StringBuilder knn = new StringBuilder("{!knn f=vector topK=").append(Math.max(k, numCandidates)).append("}[");
        for (int i = 0; i < q.length; i++) knn.append(i == 0 ? "" : ",").append(q[i]);
        SolrQuery sq = new SolrQuery(knn.append(']').toString());
        sq.setRows(k);
        sq.setFields("id", "metadata", "score");
        sq.addSort("score", SolrQuery.ORDER.desc).addSort("id", SolrQuery.ORDER.asc);
        int n = 0;
        // every fq is a knn pre-filter (Solr >= 9.1): the top k among the matching entries, not matches among the top k
        if (filter != null) for (var f : filter.entrySet()) {
            Metadata.checkKey(f.getKey(), "filter");
            String param = "dino4j.fv" + n++;
            sq.addFilterQuery("{!term f=m_" + f.getKey() + " v=$" + param + "}");
            sq.set(param, f.getValue());
        }
        List<Hit> hits = new ArrayList<>(k);
        for (SolrDocument d : query(sq).getResults()) {
            // Lucene's DOT_PRODUCT score is (1 + dot) / 2
            float cosine = 2 * ((Number) d.getFirstValue("score")).floatValue() - 1;
            hits.add(new Hit((String) d.getFirstValue("id"), cosine, metadataOf(d)));
        }
        hits.sort(Comparator.comparingDouble(Hit::score).reversed().thenComparing(Hit::id));
        return hits;
    }

    @Override
    public void close() {
        closeQuietly(client);
    }

    @Override
    public String toString() {
        return "solr " + baseUrl + " collection " + collection;
    }

    // ---- documents

    private SolrInputDocument document(Entry e) {
        if (SPEC_ID.equals(e.id())) throw new IllegalArgumentException(e.id() + ": this id is reserved for the index's spec document");
        float[] v = VectorIndex.normalized(e.vector(), spec.dim(), e.id());
        SolrInputDocument doc = new SolrInputDocument();
        doc.addField("id", e.id());
        List<Float> values = new ArrayList<>(v.length);
        for (float x : v) values.add(x);
        doc.addField("vector", values);
        ByteBuffer packed = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        packed.asFloatBuffer().put(v);
        doc.addField("vector_f32", packed.array());
        doc.addField("metadata", Metadata.toJson(e.metadata()));
        Metadata.checkValues(e);
        for (var m : e.metadata().entrySet()) doc.addField("m_" + m.getKey(), m.getValue());
        if (e.preview() != null) doc.addField("preview", e.preview());
        return doc;
    }

    private static Entry entryOf(SolrDocument d) {
        byte[] packed = bytes(d.getFirstValue("vector_f32"));
        float[] v = new float[packed == null ? 0 : packed.length / 4];
        if (packed != null) ByteBuffer.wrap(packed).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
        return new Entry((String) d.getFirstValue("id"), v, metadataOf(d), bytes(d.getFirstValue("preview")));
    }

    /** A binary field's value (javabin gives byte[] or ByteBuffer). */
    private static byte[] bytes(Object value) {
        if (value instanceof byte[] b) return b;
        if (value instanceof ByteBuffer bb) {
            byte[] out = new byte[bb.remaining()];
            bb.duplicate().get(out);
            return out;
        }
        return null;
    }

    private static Map<String, String> metadataOf(SolrDocument d) {
        return Metadata.fromJson((String) d.getFirstValue("metadata"));
    }

    // ---- requests

    private void update(UpdateRequest req, boolean commit) {
        if (commit) req.setAction(AbstractUpdateRequest.ACTION.COMMIT, true, true);
        try {
            req.process(client, collection);
        } catch (SolrServerException | IOException | SolrException e) {
            throw failure("update", e);
        }
    }

    private QueryResponse query(SolrQuery q) {
        try {
            // POST: a 1024-d query vector is ~12 KB of text, too long for some proxies' URL limits
            return new QueryRequest(q, SolrRequest.METHOD.POST).process(client, collection);
        } catch (SolrServerException | IOException | SolrException e) {
            throw failure("query", e);
        }
    }

    /** Solr's real-time get (/get): sees what was sent, committed or not. One {@code id} parameter per id (the
     * {@code ids} form splits on commas); one id is answered as "doc", several as "response". */
    private SolrDocumentList realTimeGet(List<String> ids) {
        SolrDocumentList out = new SolrDocumentList();
        for (int from = 0; from < ids.size(); from += 500) {
            ModifiableSolrParams p = new ModifiableSolrParams();
            for (String id : ids.subList(from, Math.min(ids.size(), from + 500))) p.add("id", id);
            QueryRequest req = new QueryRequest(p, SolrRequest.METHOD.POST);
            req.setPath("/get");
            try {
                NamedList<Object> rsp = client.request(req, collection);
                if (rsp.get("response") instanceof SolrDocumentList docs) out.addAll(docs);
                else if (rsp.get("doc") instanceof SolrDocument doc) out.add(doc);
            } catch (SolrServerException | IOException | SolrException e) {
                throw failure("get", e);
            }
        }
        return out;
    }

    private RuntimeException failure(String what, Exception e) {
        String msg = this + ": " + what + " failed: " + oneLine(e);
        return e instanceof IOException io ? new UncheckedIOException(msg, io) : new IllegalStateException(msg, e);
    }

    // ---- configset

    static String configSetName(String collection) {
        return "dino4j_" + collection;
    }

    /** The configset ZIP for vectors of {@code dim} values: this jar's configset/ with the dimension filled in. */
    static byte[] configSetZip(int dim) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            for (String name : List.of("solrconfig.xml", "schema.xml")) {
                String text = configSetFile(name).replace("@DIM@", Integer.toString(dim));
                zip.putNextEntry(new ZipEntry(name));
                zip.write(text.getBytes(StandardCharsets.UTF_8));
                zip.closeEntry();
            }
        }
        return bytes.toByteArray();
    }

    /** One file of the configset, as in the jar. */
    public static String configSetFile(String name) throws IOException {
        try (InputStream in = SolrIndex.class.getResourceAsStream("configset/" + name)) {
            if (in == null) throw new IOException("configset/" + name + " is missing from the dino4j-solr jar");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    // ---- checks and messages

    private static void checkCollectionName(String collection) {
        // Solr's own rule for collection names
        if (collection == null || !collection.matches("[A-Za-z0-9_][A-Za-z0-9._-]*"))
            throw new IllegalArgumentException("collection name must be letters, digits, '.', '_' and '-' (not starting with '-' or '.'), got '" + collection + "'");
    }

    private static String stripSlash(String url) {
        return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    }

    /**
     * The exception's first message line (Solr's remote errors carry the server's message, not a stack trace); for
     * refused credentials, a wrong URL and error pages (HTML), what to do instead of SolrJ's mime-type complaint.
     */
    static String oneLine(Throwable e) {
        if (e instanceof SolrException se && se.code() == 401)
            return "HTTP 401: Solr wants a user and password (set " + ENV_USER + " and " + ENV_PASSWORD + "), or refused the ones given";
        if (e instanceof SolrException se && se.code() == 403) return "HTTP 403: the Solr user may not do this (" + firstLine(e) + ")";
        if (e instanceof SolrException se && se.code() == 404)
            return "HTTP 404 (is the URL a Solr node's base URL, e.g. http://host:8983/solr?)";
        if (e instanceof SolrException se && String.valueOf(e.getMessage()).contains("Expected mime type"))
            return "HTTP " + se.code() + " with an error page instead of Solr's answer (the Solr node's log says why)";
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.net.ConnectException) return "cannot connect (is Solr running there? the host and port right?)";
            if (t instanceof java.net.http.HttpTimeoutException) return "no answer in time (" + firstLine(t) + ")";
        }
        return firstLine(e);
    }

    private static String firstLine(Throwable e) {
        Throwable t = e;
        while (t.getMessage() == null && t.getCause() != null) t = t.getCause();
        String m = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }

    private static void closeQuietly(SolrClient client) {
        try {
            client.close();
        } catch (IOException | RuntimeException ignored) {
            // closing a JDK HttpClient-based client does not fail in practice; nothing to recover
        }
    }
}
