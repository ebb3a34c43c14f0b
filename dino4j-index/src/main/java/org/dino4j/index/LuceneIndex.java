package org.dino4j.index;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.lucene.codecs.Codec;
import org.apache.lucene.codecs.KnnVectorsFormat;
import org.apache.lucene.codecs.KnnVectorsReader;
import org.apache.lucene.codecs.KnnVectorsWriter;
import org.apache.lucene.codecs.lucene912.Lucene912Codec;
import org.apache.lucene.codecs.lucene99.Lucene99HnswScalarQuantizedVectorsFormat;
import org.apache.lucene.codecs.lucene99.Lucene99HnswVectorsFormat;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.KnnFloatVectorField;
import org.apache.lucene.document.StoredField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.FloatVectorValues;
import org.apache.lucene.index.IndexNotFoundException;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.ReaderUtil;
import org.apache.lucene.index.SegmentReadState;
import org.apache.lucene.index.SegmentWriteState;
import org.apache.lucene.index.Term;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.KnnFloatVectorQuery;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.SearcherManager;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.util.BytesRef;
import org.dino4j.io.AtomicFile;
import org.dino4j.io.Json;

/**
 * The embedded persistent index: Lucene's HNSW (the Lucene of Solr 9.10.1, so the embedded index and a SolrCloud
 * collection search the same graph) under a folder:
 * <pre>
 * DIR/index.json   spec and options (written atomically, last, at creation)
 * DIR/lucene/      the Lucene index: id (stored string), vector (L2-normalised, dot product), m.KEY (indexed
 *                  metadata, for filters), meta (stored metadata JSON), preview (stored bytes)
 * </pre>
 * {@link #add} and {@link #delete} return after an IndexWriter commit (fsync): concurrent callers share one commit
 * (group commit), so many small adds stay fast. On open, files the last commit does not reference (a segment that was
 * being written when the process died) are removed by the IndexWriter and reported by {@link #recovery()}.
 * <p>
 * Search asks the graph for {@code max(k, numCandidates)} neighbours (Lucene's k is its beam width ef at query time),
 * recomputes their cosines from the stored float vectors (exact even with int7 quantisation, which keeps the floats
 * beside the quantised copy) and returns the best k, ties by id.
 */
public final class LuceneIndex implements VectorIndex {
    static {
        // Lucene 9.12 turns its Vector API scorers off on Java > 22 unless told the version is fine (it is: the
        // measurement in docs/index-bench.md runs on 25); set before any Lucene class looks, unless the user chose
        String key = "org.apache.lucene.vectorization.upperJavaFeatureVersion";
        if (System.getProperty(key) == null) System.setProperty(key, String.valueOf(Runtime.version().feature()));
    }

    /** Lucene's own limit is 1024; ViT-g is 1536 wide and its cls+patchmean 3072. */
    public static final int MAX_DIM = 4096;
    static final String ID = "id", VECTOR = "vector", META = "meta", PREVIEW = "preview", META_PREFIX = "m.";
    private static final java.util.Set<String> ID_AND_META = java.util.Set.of(ID, META);
    private static final String SPEC_FILE = "index.json", LUCENE_DIR = "lucene", FORMAT = "dino4j-index", WRITE_LOCK = "write.lock";

    public enum Quantization {
        /** float32 vectors in the graph. */
        NONE,
        /** Lucene99HnswScalarQuantizedVectorsFormat, 7 bits: the graph is built and searched on bytes; floats kept too. */
        INT7;

        public static Quantization parse(String s) {
            for (Quantization q : values()) if (q.name().equalsIgnoreCase(s)) return q;
            throw new IllegalArgumentException("quantization must be none or int7, got '" + s + "'");
        }
    }

    /**
     * @param m             HNSW neighbours per node (Lucene's maxConn)
     * @param beamWidth     candidates kept while building the graph (Lucene's beamWidth, efConstruction)
     * @param quantization  NONE or INT7
     * @param numCandidates neighbours the graph is asked for at search time (efSearch), at least k
     */
    public record Options(int m, int beamWidth, Quantization quantization, int numCandidates) {
        /** Measured in docs/index-bench.md: recall@10 >= 0.95 on 100k vectors. */
        public static final int DEFAULT_NUM_CANDIDATES = 100;
        public static final Options DEFAULT = new Options(16, 100, Quantization.NONE, DEFAULT_NUM_CANDIDATES);

        public Options {
            if (m < 2 || m > Lucene99HnswVectorsFormat.MAXIMUM_MAX_CONN)
                throw new IllegalArgumentException("HNSW M must be between 2 and " + Lucene99HnswVectorsFormat.MAXIMUM_MAX_CONN + ", got " + m);
            if (beamWidth < 1 || beamWidth > Lucene99HnswVectorsFormat.MAXIMUM_BEAM_WIDTH)
                throw new IllegalArgumentException("beam width must be between 1 and " + Lucene99HnswVectorsFormat.MAXIMUM_BEAM_WIDTH + ", got " + beamWidth);
            if (quantization == null) throw new IllegalArgumentException("no quantization given");
            if (numCandidates < 1 || numCandidates > 10_000)
                throw new IllegalArgumentException("numCandidates must be between 1 and 10000, got " + numCandidates);
        }

        public Options withNumCandidates(int n) {
            return new Options(m, beamWidth, quantization, n);
        }

        public Options withQuantization(Quantization q) {
            return new Options(m, beamWidth, q, numCandidates);
        }

        Map<String, Object> toJson() {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("m", m);
            o.put("beam_width", beamWidth);
            o.put("quantization", quantization.name().toLowerCase(Locale.ROOT));
            o.put("num_candidates", numCandidates);
            return o;
        }

        static Options fromJson(Map<?, ?> o) {
            return new Options(num(o, "m"), num(o, "beam_width"), Quantization.parse(String.valueOf(o.get("quantization"))), num(o, "num_candidates"));
        }

        private static int num(Map<?, ?> o, String key) {
            if (!(o.get(key) instanceof Number n)) throw new IllegalArgumentException("options: no numeric '" + key + "'");
            return n.intValue();
        }
    }

    /** What opening found and removed: files in DIR/lucene that the last commit did not reference. */
    public record Recovery(List<String> removed) {
        public Recovery {
            removed = List.copyOf(removed);
        }

        /** One line for the server's log. */
        public String line(Path dir) {
            return removed.isEmpty() ? "index " + dir + ": clean (no unreferenced files)"
                    : "index " + dir + ": recovered from an interrupted write, removed " + removed.size() + " unreferenced file(s): " + String.join(", ", removed);
        }
    }

    private final Path dir;
    private final IndexSpec spec;
    private final Options options;
    private final Directory directory;
    private final IndexWriter writer;
    private final SearcherManager searchers;
    private final Recovery recovery;
    private volatile int numCandidates;
    private final Object commitLock = new Object(), deleteLock = new Object();
    private long committedSeq = -1; // guarded by commitLock: every writer operation up to this sequence number is on disk
    private final AtomicLong commits = new AtomicLong();

    private LuceneIndex(Path dir, IndexSpec spec, Options options, boolean create) throws IOException {
        this.dir = dir;
        this.spec = spec;
        this.options = options;
        this.numCandidates = options.numCandidates();
        Path lucene = dir.resolve(LUCENE_DIR);
        Files.createDirectories(lucene);
        this.directory = FSDirectory.open(lucene);
        TreeSet<String> before = files(lucene);
        IndexWriterConfig cfg = new IndexWriterConfig()
                .setCodec(codec(options))
                .setOpenMode(create ? IndexWriterConfig.OpenMode.CREATE : IndexWriterConfig.OpenMode.APPEND)
                .setRAMBufferSizeMB(128)
                .setCommitOnClose(false); // every acknowledged change is committed already; close adds nothing
        IndexWriter w;
        try {
            w = new IndexWriter(directory, cfg);
        } catch (IOException | RuntimeException e) {
            directory.close();
            throw e;
        }
        this.writer = w;
        try {
            TreeSet<String> after = files(lucene);
            before.removeAll(after);
            before.remove(WRITE_LOCK);
            this.recovery = new Recovery(create ? List.of() : List.copyOf(before));
            if (create) commits(writer.commit());
            this.searchers = new SearcherManager(writer, null);
        } catch (IOException | RuntimeException e) { // release the write lock: a retry must not find the folder held
            try {
                w.rollback();
            } finally {
                directory.close();
            }
            throw e;
        }
    }

    /** Creates an empty index in {@code dir} (which must not hold one). */
    public static LuceneIndex create(Path dir, IndexSpec spec, Options opts) {
        if (spec.dim() > MAX_DIM) throw new IllegalArgumentException(dir + ": vectors of " + spec.dim() + " values, the index holds at most " + MAX_DIM);
        if (Files.exists(dir.resolve(SPEC_FILE))) throw new IllegalArgumentException(dir + ": already holds an index (" + SPEC_FILE + ")");
        try {
            LuceneIndex ix = new LuceneIndex(dir, spec, opts, true);
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("format", FORMAT);
            json.put("version", 1);
            json.put("engine", "lucene " + org.apache.lucene.util.Version.LATEST);
            json.put("spec", spec.toJson());
            json.put("options", opts.toJson());
            // written last: a folder with index.json always has a committed (possibly empty) Lucene index
            try {
                AtomicFile.write(dir.resolve(SPEC_FILE), out -> out.write((Json.write(json) + "\n").getBytes(StandardCharsets.UTF_8)));
            } catch (IOException | RuntimeException e) {
                ix.close(); // the write lock goes with it
                throw e;
            }
            return ix;
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot create the index: " + e.getMessage(), e);
        }
    }

    /** Opens the index in {@code dir}, removing files an interrupted write left (see {@link #recovery()}). */
    public static LuceneIndex open(Path dir) {
        Path file = dir.resolve(SPEC_FILE);
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(dir + ": not an index folder (no " + SPEC_FILE + ")");
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read: " + e.getMessage());
        }
        IndexSpec spec;
        Options opts;
        try {
            Map<String, Object> json = Json.parseObject(text);
            if (!FORMAT.equals(json.get("format"))) throw new IllegalArgumentException("not a " + FORMAT + " file");
            if (!(json.get("spec") instanceof Map<?, ?> s) || !(json.get("options") instanceof Map<?, ?> o))
                throw new IllegalArgumentException("no 'spec' or 'options' object");
            @SuppressWarnings("unchecked") Map<String, Object> sm = (Map<String, Object>) s;
            spec = IndexSpec.fromJson(sm);
            opts = Options.fromJson(o);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": corrupt: " + e.getMessage());
        }
        Path lucene = dir.resolve(LUCENE_DIR);
        try {
            if (!Files.isDirectory(lucene)) throw new IllegalArgumentException(dir + ": " + SPEC_FILE + " but no " + LUCENE_DIR + "/ folder");
            return new LuceneIndex(dir, spec, opts, false);
        } catch (IndexNotFoundException e) {
            throw new IllegalArgumentException(lucene + ": no Lucene commit (segments_N file missing)");
        } catch (org.apache.lucene.store.LockObtainFailedException e) {
            throw new IllegalArgumentException(dir + ": in use by another index writer (a running `dino4j serve` or build holds " + LUCENE_DIR + "/" + WRITE_LOCK + ")");
        } catch (IOException e) {
            throw new IllegalArgumentException(lucene + ": damaged Lucene index (" + oneLine(e) + ")");
        }
    }

    /** Opens the index in {@code dir} if it holds one (checking that its spec is {@code spec}), else creates it. */
    public static LuceneIndex openOrCreate(Path dir, IndexSpec spec, Options opts) {
        if (!Files.exists(dir.resolve(SPEC_FILE))) return create(dir, spec, opts);
        LuceneIndex ix = open(dir);
        if (!ix.spec.equals(spec)) {
            ix.close();
            throw new IllegalArgumentException(dir + ": holds an index of " + describe(ix.spec) + ", asked for " + describe(spec));
        }
        return ix;
    }

    static String describe(IndexSpec s) {
        return s.model() + " " + s.vectors() + " (" + s.dim() + " values, " + s.preprocess() + ")";
    }

    private static String oneLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return m.replace('\n', ' ');
    }

    private static TreeSet<String> files(Path p) throws IOException {
        try (var s = Files.list(p)) {
            return new TreeSet<>(s.map(f -> f.getFileName().toString()).toList());
        }
    }

    /** Lucene's codec with our HNSW parameters on the vector field, allowing up to {@link #MAX_DIM} dimensions. */
    static Codec codec(Options o) {
        KnnVectorsFormat hnsw = switch (o.quantization()) {
            case NONE -> new Lucene99HnswVectorsFormat(o.m(), o.beamWidth());
            case INT7 -> new Lucene99HnswScalarQuantizedVectorsFormat(o.m(), o.beamWidth(), 1, 7, false, null, null);
        };
        KnnVectorsFormat wide = new WideFormat(hnsw);
        return new Lucene912Codec() {
            @Override
            public KnnVectorsFormat getKnnVectorsFormatForField(String field) {
                return wide;
            }
        };
    }

    /**
     * The format under its own name, so readers find it through Lucene's SPI (the files are exactly the delegate's),
     * with a larger dimension limit (as Solr's codec factory does).
     */
    private static final class WideFormat extends KnnVectorsFormat {
        private final KnnVectorsFormat delegate;

        WideFormat(KnnVectorsFormat delegate) {
            super(delegate.getName());
            this.delegate = delegate;
        }

        @Override
        public KnnVectorsWriter fieldsWriter(SegmentWriteState state) throws IOException {
            return delegate.fieldsWriter(state);
        }

        @Override
        public KnnVectorsReader fieldsReader(SegmentReadState state) throws IOException {
            return delegate.fieldsReader(state);
        }

        @Override
        public int getMaxDimensions(String fieldName) {
            return MAX_DIM;
        }
    }

    @Override
    public IndexSpec spec() {
        return spec;
    }

    public Options options() {
        return options.withNumCandidates(numCandidates);
    }

    /** Changes efSearch for this process (index.json keeps the creation value). */
    public void numCandidates(int n) {
        options.withNumCandidates(n); // validates
        numCandidates = n;
    }

    public Path dir() {
        return dir;
    }

    /** The files the last open found unreferenced and removed. */
    public Recovery recovery() {
        return recovery;
    }

    /** Commits made so far (group commit: fewer than the adds when callers overlap). */
    public long commits() {
        return commits.get();
    }

    @Override
    public void add(List<Entry> entries) {
        List<Document> docs = new ArrayList<>(entries.size());
        for (Entry e : entries) docs.add(document(e)); // checks all before writing any
        long seq = -1;
        try {
            for (int i = 0; i < docs.size(); i++) seq = writer.updateDocument(new Term(ID, entries.get(i).id()), docs.get(i));
            if (seq >= 0) durable(seq);
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot write: " + e.getMessage(), e);
        }
    }

    private Document document(Entry e) {
        float[] v = VectorIndex.normalized(e.vector(), spec.dim(), e.id());
        Document d = new Document();
        d.add(new StringField(ID, e.id(), Field.Store.YES));
        d.add(new KnnFloatVectorField(VECTOR, v, VectorSimilarityFunction.DOT_PRODUCT));
        Metadata.checkValues(e);
        for (var m : e.metadata().entrySet()) d.add(new StringField(META_PREFIX + m.getKey(), m.getValue(), Field.Store.NO));
        if (!e.metadata().isEmpty()) d.add(new StoredField(META, Metadata.toJson(e.metadata())));
        if (e.preview() != null) d.add(new StoredField(PREVIEW, e.preview()));
        return d;
    }

    /**
     * Returns once a commit holds every writer operation up to {@code seq}. Callers queue on the lock; the one that gets
     * it commits everything written so far, so those behind it usually find their change committed and return at once.
     */
    private void durable(long seq) throws IOException {
        synchronized (commitLock) {
            if (committedSeq >= seq) return;
            commitNow();
        }
    }

    private void commitNow() throws IOException {
        synchronized (commitLock) {
            commits(writer.commit());
            searchers.maybeRefreshBlocking(); // searches see what was acknowledged
        }
    }

    private void commits(long seq) {
        commits.incrementAndGet();
        synchronized (commitLock) {
            committedSeq = Math.max(committedSeq, seq);
        }
    }

    @Override
    public int delete(List<String> ids) {
        synchronized (deleteLock) { // the count is of entries present just before, so deletes do not interleave
            try {
                searchers.maybeRefreshBlocking();
                int n = 0;
                IndexSearcher s = searchers.acquire();
                try {
                    for (String id : new TreeSet<>(ids)) if (s.count(new TermQuery(new Term(ID, id))) > 0) n++;
                } finally {
                    searchers.release(s);
                }
                if (ids.isEmpty()) return 0;
                long seq = writer.deleteDocuments(ids.stream().map(id -> new Term(ID, id)).toArray(Term[]::new));
                durable(seq);
                return n;
            } catch (IOException e) {
                throw new UncheckedIOException(dir + ": cannot delete: " + e.getMessage(), e);
            }
        }
    }

    @Override
    public long count() {
        try {
            IndexSearcher s = searchers.acquire();
            try {
                return s.getIndexReader().numDocs();
            } finally {
                searchers.release(s);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public Optional<Entry> get(String id) {
        try {
            IndexSearcher s = searchers.acquire();
            try {
                TopDocs td = s.search(new TermQuery(new Term(ID, id)), 1);
                if (td.scoreDocs.length == 0) return Optional.empty();
                int doc = td.scoreDocs[0].doc;
                LeafReaderContext leaf = s.getIndexReader().leaves().get(ReaderUtil.subIndex(doc, s.getIndexReader().leaves()));
                Document d = leaf.reader().storedFields().document(doc - leaf.docBase);
                float[] v = vectors(leaf, new int[] {doc - leaf.docBase})[0];
                BytesRef p = d.getBinaryValue(PREVIEW);
                return Optional.of(new Entry(id, v, metadata(d), p == null ? null : Arrays.copyOfRange(p.bytes, p.offset, p.offset + p.length)));
            } finally {
                searchers.release(s);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public boolean contains(String id) {
        try {
            IndexSearcher s = searchers.acquire();
            try {
                return s.count(new TermQuery(new Term(ID, id))) > 0;
            } finally {
                searchers.release(s);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Map<String, String> metadata(Document d) {
        return Metadata.fromJson(d.get(META));
    }

    /** The stored float vectors of these (ascending) documents of one segment. */
    private static float[][] vectors(LeafReaderContext leaf, int[] docs) throws IOException {
        FloatVectorValues fv = leaf.reader().getFloatVectorValues(VECTOR);
        float[][] out = new float[docs.length][];
        for (int i = 0; i < docs.length; i++) {
            if (fv.docID() < docs[i]) fv.advance(docs[i]);
            if (fv.docID() != docs[i]) throw new IllegalStateException("document " + docs[i] + " has no vector");
            out[i] = fv.vectorValue().clone();
        }
        return out;
    }

    @Override
    public List<Hit> search(float[] query, int k, Map<String, String> filter) {
        VectorIndex.checkK(k);
        float[] q = VectorIndex.normalized(query, spec.dim(), "query");
        Query f = null;
        if (filter != null && !filter.isEmpty()) {
            BooleanQuery.Builder b = new BooleanQuery.Builder();
            for (var e : filter.entrySet()) b.add(new TermQuery(new Term(META_PREFIX + e.getKey(), e.getValue())), BooleanClause.Occur.FILTER);
            f = b.build();
        }
        try {
            IndexSearcher s = searchers.acquire();
            try {
                TopDocs td = s.search(new KnnFloatVectorQuery(VECTOR, q, Math.max(k, numCandidates), f), Math.max(k, numCandidates));
                return rescore(s, td.scoreDocs, q, k);
            } finally {
                searchers.release(s);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Exact cosines of the graph's candidates from the stored floats; the best k, ties by id. Stored fields (id,
     * metadata) are read only for the best k and for any candidate tied with the k-th, not for every candidate.
     */
    private static List<Hit> rescore(IndexSearcher s, ScoreDoc[] sd, float[] q, int k) throws IOException {
        ScoreDoc[] byDoc = sd.clone();
        Arrays.sort(byDoc, Comparator.comparingInt(x -> x.doc));
        List<LeafReaderContext> leaves = s.getIndexReader().leaves();
        float[] score = new float[byDoc.length];
        int i = 0;
        while (i < byDoc.length) {
            LeafReaderContext leaf = leaves.get(ReaderUtil.subIndex(byDoc[i].doc, leaves));
            int j = i;
            while (j < byDoc.length && byDoc[j].doc < leaf.docBase + leaf.reader().maxDoc()) j++;
            int[] docs = new int[j - i];
            for (int t = i; t < j; t++) docs[t - i] = byDoc[t].doc - leaf.docBase;
            float[][] v = vectors(leaf, docs);
            for (int t = 0; t < docs.length; t++) score[i + t] = dot(q, v[t]);
            i = j;
        }
        Integer[] order = new Integer[byDoc.length];
        for (int t = 0; t < order.length; t++) order[t] = t;
        Arrays.sort(order, (a, b) -> Float.compare(score[b], score[a]));
        int keep = Math.min(k, order.length);
        while (keep < order.length && score[order[keep]] == score[order[keep - 1]]) keep++; // ties with the k-th: the id decides
        List<Hit> hits = new ArrayList<>(keep);
        for (int t = 0; t < keep; t++) {
            int doc = byDoc[order[t]].doc;
            LeafReaderContext leaf = leaves.get(ReaderUtil.subIndex(doc, leaves));
            Document d = leaf.reader().storedFields().document(doc - leaf.docBase, ID_AND_META);
            hits.add(new Hit(d.get(ID), score[order[t]], metadata(d)));
        }
        hits.sort(Comparator.comparingDouble((Hit h) -> -h.score()).thenComparing(Hit::id));
        return List.copyOf(hits.subList(0, Math.min(k, hits.size())));
    }

    /** The cosine of two unit vectors, summed in the order ExactIndex sums, so equal vectors give equal scores. */
    static float dot(float[] a, float[] b) {
        float s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    /** Merges the index into one segment (one graph): the fastest search after a bulk load; slow on large indexes. */
    public void optimize() {
        try {
            writer.forceMerge(1);
            commitNow();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Bytes of the Lucene index on disk (last commit and any files not yet deleted). */
    public long bytesOnDisk() {
        try (var st = Files.walk(dir.resolve(LUCENE_DIR))) {
            return st.filter(Files::isRegularFile).mapToLong(p -> {
                try {
                    return Files.size(p);
                } catch (IOException e) {
                    return 0;
                }
            }).sum();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        try {
            searchers.close();
            writer.close();
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot close: " + e.getMessage(), e);
        } finally {
            try {
                directory.close();
            } catch (IOException ignored) {
                // the writer's own close error, if any, is the one to report
            }
        }
    }
}
