package org.dino4j.index;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LuceneIndexTest {
    static final int DIM = 24;
    static final IndexSpec SPEC = new IndexSpec("random-test", "none", IndexSpec.CLS, DIM);
    /** Near-exact graph search on a few thousand vectors, so top-10 lists can be compared id for id. */
    static final LuceneIndex.Options WIDE = LuceneIndex.Options.DEFAULT.withNumCandidates(1000);

    static float[] gaussian(Random r, int d) {
        float[] v = new float[d];
        for (int i = 0; i < d; i++) v[i] = (float) r.nextGaussian();
        return v;
    }

    static Map<String, String> meta(int i) {
        return Map.of("class", String.valueOf(i % 5), "parity", i % 2 == 0 ? "even" : "odd");
    }

    /** The reference: a plain brute force in double over the entries as given (this test's own normalisation). */
    static final class Reference {
        final Map<String, double[]> vectors = new LinkedHashMap<>();
        final Map<String, Map<String, String>> metadata = new HashMap<>();

        void put(String id, float[] v, Map<String, String> m) {
            double ss = 0;
            for (float x : v) ss += (double) x * x;
            double[] u = new double[v.length];
            for (int i = 0; i < v.length; i++) u[i] = v[i] / Math.sqrt(ss);
            vectors.put(id, u);
            metadata.put(id, m);
        }

        void remove(String id) {
            vectors.remove(id);
            metadata.remove(id);
        }

        /** The top k ids and the (k+1)-th score, or null when the k-th and (k+1)-th are closer than ties allow. */
        List<String> top(float[] q, int k, Map<String, String> filter) {
            record S(String id, double s) {}
            double qs = 0;
            for (float x : q) qs += (double) x * x;
            List<S> all = new ArrayList<>();
            for (var e : vectors.entrySet()) {
                if (!ExactIndex.matches(metadata.get(e.getKey()), filter)) continue;
                double s = 0;
                for (int i = 0; i < q.length; i++) s += q[i] * e.getValue()[i];
                all.add(new S(e.getKey(), s / Math.sqrt(qs)));
            }
            all.sort(Comparator.comparingDouble((S x) -> -x.s));
            for (int i = 1; i < Math.min(all.size(), k + 1); i++) if (all.get(i - 1).s - all.get(i).s < 1e-5) return null; // ties excluded
            return all.subList(0, Math.min(k, all.size())).stream().map(S::id).toList();
        }
    }

    /** Compares top-10 ids with the reference on queries; returns how many were compared (ties excluded). */
    static int compare(VectorIndex ix, Reference ref, Random r, Map<String, String> filter) {
        int compared = 0;
        for (int q = 0; q < 40; q++) {
            float[] query = gaussian(r, DIM);
            List<String> want = ref.top(query, 10, filter);
            if (want == null) continue;
            List<Hit> hits = ix.search(query, 10, filter);
            assertEquals(want, hits.stream().map(Hit::id).toList(), "query " + q + " filter " + filter);
            for (Hit h : hits) {
                assertTrue(ExactIndex.matches(h.metadata(), filter), h.toString());
                assertEquals(ref.metadata.get(h.id()), h.metadata());
            }
            compared++;
        }
        assertTrue(compared >= 30, "too many ties: " + compared);
        return compared;
    }

    @Test
    void topTenEqualsBruteForceWithFiltersDeletesReplacesAndAfterReopen(@TempDir Path dir) {
        Random r = new Random(1);
        Reference ref = new Reference();
        Path ixDir = dir.resolve("ix");
        try (LuceneIndex ix = LuceneIndex.create(ixDir, SPEC, WIDE)) {
            List<Entry> batch = new ArrayList<>();
            for (int i = 0; i < 3000; i++) {
                float[] v = gaussian(r, DIM);
                batch.add(new Entry("e" + i, v, meta(i), i % 100 == 0 ? new byte[] {1, 2, (byte) i} : null));
                ref.put("e" + i, v, meta(i));
                if (batch.size() == 700) { // several segments, each its own graph
                    ix.add(batch);
                    batch.clear();
                }
            }
            ix.add(batch);
            assertEquals(3000, ix.count());
            compare(ix, ref, r, Map.of());
            compare(ix, ref, r, Map.of("class", "2"));
            compare(ix, ref, r, Map.of("class", "3", "parity", "odd"));
            assertEquals(List.of(), ix.search(gaussian(r, DIM), 10, Map.of("class", "nope")));

            // deletes (unknown ids skipped) and replaces
            List<String> gone = new ArrayList<>();
            for (int i = 0; i < 3000; i += 7) gone.add("e" + i);
            gone.add("never-added");
            assertEquals(gone.size() - 1, ix.delete(gone));
            gone.forEach(ref::remove);
            List<Entry> replaced = new ArrayList<>();
            for (int i = 1; i < 3000; i += 7) {
                float[] v = gaussian(r, DIM);
                Map<String, String> m = Map.of("class", "9");
                replaced.add(new Entry("e" + i, v, m));
                ref.put("e" + i, v, m);
            }
            ix.add(replaced);
            assertEquals(ref.vectors.size(), ix.count());
            compare(ix, ref, r, Map.of());
            compare(ix, ref, r, Map.of("class", "9"));
            assertEquals(0, ix.delete(List.of("e0")));
        }
        try (LuceneIndex ix = LuceneIndex.open(ixDir)) {
            assertEquals(List.of(), ix.recovery().removed());
            assertEquals(ref.vectors.size(), ix.count());
            compare(ix, ref, r, Map.of());
            compare(ix, ref, r, Map.of("parity", "even"));
            Entry e = ix.get("e100").orElseThrow();
            assertArrayEquals(new byte[] {1, 2, 100}, e.preview());
            assertEquals(meta(100), e.metadata());
            double[] want = ref.vectors.get("e100");
            for (int i = 0; i < DIM; i++) assertEquals(want[i], e.vector()[i], 1e-6);
            assertTrue(ix.get("e0").isEmpty());
            assertEquals(null, ix.get("e2").orElseThrow().preview());
        }
    }

    @Test
    void hitScoresAreCosinesAndTiesGoByIdLikeExactIndex(@TempDir Path dir) {
        Random r = new Random(2);
        try (LuceneIndex ix = LuceneIndex.create(dir.resolve("ix"), SPEC, LuceneIndex.Options.DEFAULT);
             ExactIndex ex = new ExactIndex(SPEC)) {
            List<Entry> es = new ArrayList<>();
            float[] same = gaussian(r, DIM);
            for (int i = 0; i < 200; i++) es.add(new Entry("x" + i, gaussian(r, DIM), Map.of()));
            for (String id : List.of("dup-c", "dup-a", "dup-b")) es.add(new Entry(id, same.clone(), Map.of())); // exact ties
            float[] scaled = same.clone();
            for (int i = 0; i < DIM; i++) scaled[i] *= 4; // a power of two: the same unit vector, bit for bit
            es.add(new Entry("dup-0", scaled, Map.of()));
            ix.add(es);
            ex.add(es);
            List<Hit> a = ix.search(same, 10, Map.of()), b = ex.search(same, 10, Map.of());
            assertEquals(List.of("dup-0", "dup-a", "dup-b", "dup-c"), a.subList(0, 4).stream().map(Hit::id).toList());
            assertEquals(b.stream().map(Hit::id).toList(), a.stream().map(Hit::id).toList());
            for (int i = 0; i < a.size(); i++) assertEquals(b.get(i).score(), a.get(i).score(), 1e-6);
            assertEquals(1.0, a.get(0).score(), 1e-6);
            float[] opposite = same.clone();
            for (int i = 0; i < DIM; i++) opposite[i] = -opposite[i];
            List<Hit> far = ix.search(opposite, 1000, Map.of()); // k above the count: every entry, worst last
            assertEquals(204, far.size());
            assertEquals(-1.0, far.get(far.size() - 1).score(), 1e-6);
        }
    }

    @Test
    void int7QuantisedIndexFindsNearlyAllExactNeighboursWithExactScores(@TempDir Path dir) {
        Random r = new Random(3);
        var opts = LuceneIndex.Options.DEFAULT.withQuantization(LuceneIndex.Quantization.INT7).withNumCandidates(200);
        try (LuceneIndex ix = LuceneIndex.create(dir.resolve("ix"), SPEC, opts); ExactIndex ex = new ExactIndex(SPEC)) {
            List<Entry> es = new ArrayList<>();
            for (int i = 0; i < 3000; i++) es.add(new Entry("q" + i, gaussian(r, DIM), Map.of()));
            ix.add(es);
            ex.add(es);
            int found = 0;
            for (int q = 0; q < 50; q++) {
                float[] query = gaussian(r, DIM);
                List<Hit> want = ex.search(query, 10, Map.of()), got = ix.search(query, 10, Map.of());
                var wantIds = want.stream().map(Hit::id).toList();
                for (Hit h : got) if (wantIds.contains(h.id())) found++;
                for (Hit h : got) { // the score is the exact cosine, whatever the graph compared
                    float[] v = ix.get(h.id()).orElseThrow().vector(), u = VectorIndex.normalized(query, DIM, "q");
                    assertEquals(LuceneIndex.dot(u, v), h.score(), 1e-6);
                }
            }
            assertTrue(found >= 0.95 * 500, "recall@10 " + found / 500.0);
        }
        try (LuceneIndex ix = LuceneIndex.open(dir.resolve("ix"))) {
            assertEquals(LuceneIndex.Quantization.INT7, ix.options().quantization());
            assertEquals(3000, ix.count());
        }
    }

    @Test
    void wideVectorsUpTo4096Values(@TempDir Path dir) {
        var spec = new IndexSpec("vitg", "none", IndexSpec.CLS_PATCH_MEAN, 3072);
        Random r = new Random(4);
        try (LuceneIndex ix = LuceneIndex.create(dir.resolve("ix"), spec, LuceneIndex.Options.DEFAULT)) {
            float[] v = gaussian(r, 3072);
            ix.add(List.of(new Entry("a", v, Map.of()), new Entry("b", gaussian(r, 3072), Map.of())));
            assertEquals("a", ix.search(v, 1, Map.of()).get(0).id());
        }
        var tooWide = new IndexSpec("x", "none", IndexSpec.CLS, 4097);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LuceneIndex.create(dir.resolve("wide"), tooWide, LuceneIndex.Options.DEFAULT));
        assertTrue(e.getMessage().contains("at most 4096"), e.getMessage());
    }

    @Test
    void badInputsAreOneLineErrorsAndWriteNothing(@TempDir Path dir) {
        try (LuceneIndex ix = LuceneIndex.create(dir.resolve("ix"), SPEC, LuceneIndex.Options.DEFAULT)) {
            Random r = new Random(5);
            float[] nan = gaussian(r, DIM);
            nan[3] = Float.NaN;
            var good = new Entry("good", gaussian(r, DIM), Map.of());
            assertMessage(() -> ix.add(List.of(good, new Entry("short", new float[DIM - 1], Map.of()))), "short: vector of 23 values, the index holds 24");
            assertMessage(() -> ix.add(List.of(good, new Entry("nan", nan, Map.of()))), "nan: vector has a non-finite value");
            assertMessage(() -> ix.add(List.of(new Entry("zero", new float[DIM], Map.of()))), "zero: vector is all zeros");
            assertEquals(0, ix.count()); // the good entry of a refused batch was not written either
            ix.add(List.of(good));
            assertMessage(() -> ix.search(gaussian(r, DIM), 1_000_000_000, Map.of()), "k must be between 1 and 1000, got 1000000000");
            assertMessage(() -> ix.search(gaussian(r, DIM), 0, Map.of()), "k must be between 1 and 1000, got 0");
            assertMessage(() -> ix.search(new float[5], 10, Map.of()), "query: vector of 5 values, the index holds 24");
            assertMessage(() -> ix.add(List.of(new Entry("m", gaussian(r, DIM), Map.of("bad key!", "x")))), "m: metadata key 'bad key!' is not [A-Za-z0-9_.-]{1,64}");
            assertMessage(() -> LuceneIndex.create(dir.resolve("ix"), SPEC, LuceneIndex.Options.DEFAULT), dir.resolve("ix") + ": already holds an index (index.json)");
            assertEquals(1, ix.count());
        }
        assertMessage(() -> new LuceneIndex.Options(16, 100, LuceneIndex.Quantization.NONE, 0), "numCandidates must be between 1 and 10000, got 0");
        var other = new IndexSpec("other-model", "none", IndexSpec.CLS, DIM);
        assertMessage(() -> LuceneIndex.openOrCreate(dir.resolve("ix"), other, LuceneIndex.Options.DEFAULT),
                dir.resolve("ix") + ": holds an index of random-test cls (24 values, none), asked for other-model cls (24 values, none)");
    }

    static void assertMessage(org.junit.jupiter.api.function.Executable run, String message) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, run);
        assertEquals(message, e.getMessage());
    }

    @Test
    void concurrentSmallAddsShareCommits(@TempDir Path dir) throws Exception {
        try (LuceneIndex ix = LuceneIndex.create(dir.resolve("ix"), SPEC, LuceneIndex.Options.DEFAULT)) {
            long before = ix.commits();
            int threads = 16, each = 25;
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int tt = t;
                fs.add(pool.submit(() -> {
                    Random r = new Random(tt);
                    for (int i = 0; i < each; i++) {
                        String id = "t" + tt + "-" + i;
                        ix.add(List.of(new Entry(id, gaussian(r, DIM), Map.of())));
                        assertTrue(ix.get(id).isPresent(), id); // acknowledged: visible to searches
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) f.get();
            pool.shutdown();
            assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
            long commits = ix.commits() - before;
            assertEquals(threads * each, ix.count());
            assertTrue(commits < threads * each, commits + " commits for " + threads * each + " adds");
            System.out.println("group commit: " + threads * each + " adds, " + commits + " commits");
        }
    }

    /** The child of {@link #acknowledgedAddsSurviveKillMinus9}: adds one entry at a time, printing ACK after each returns. */
    public static final class AddForever {
        public static void main(String[] args) {
            try (LuceneIndex ix = LuceneIndex.openOrCreate(Path.of(args[0]), SPEC, LuceneIndex.Options.DEFAULT)) {
                Random r = new Random(7);
                for (int i = 0; ; i++) {
                    String id = "k" + i;
                    ix.add(List.of(new Entry(id, gaussian(r, DIM), Map.of("n", String.valueOf(i)))));
                    System.out.println("ACK " + id);
                    System.out.flush();
                }
            }
        }
    }

    @Test
    void acknowledgedAddsSurviveKillMinus9(@TempDir Path dir) throws Exception {
        Path ix = dir.resolve("ix");
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), AddForever.class.getName(), ix.toString()));
        Process p = new ProcessBuilder(cmd).redirectError(dir.resolve("child.err").toFile()).start();
        List<String> acked = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; acked.size() < 60 && (line = in.readLine()) != null; )
                if (line.startsWith("ACK ")) acked.add(line.substring(4));
            p.destroyForcibly().waitFor(); // SIGKILL in the middle of the next add
        }
        assertEquals(60, acked.size(), () -> {
            try {
                return Files.readString(dir.resolve("child.err"));
            } catch (java.io.IOException e) {
                return e.toString();
            }
        });
        try (LuceneIndex reopened = LuceneIndex.open(ix)) {
            for (String id : acked) assertTrue(reopened.get(id).isPresent(), id + " was acknowledged but is gone");
            assertTrue(reopened.count() >= acked.size());
            System.out.println("kill -9 after " + acked.size() + " ACKs: " + reopened.count() + " entries; " + reopened.recovery().line(ix));
        }
    }

    @Test
    void halfWrittenSegmentIsRemovedOnOpenAndReported(@TempDir Path dir) throws Exception {
        Path ixDir = dir.resolve("ix");
        Random r = new Random(8);
        try (LuceneIndex ix = LuceneIndex.create(ixDir, SPEC, LuceneIndex.Options.DEFAULT)) {
            for (int i = 0; i < 3; i++) ix.add(List.of(new Entry("h" + i, gaussian(r, DIM), Map.of())));
        }
        Path lucene = ixDir.resolve("lucene");
        String lastGen;
        try (var s = Files.list(lucene)) {
            lastGen = s.map(f -> f.getFileName().toString()).filter(n -> n.startsWith("segments_")).findFirst().orElseThrow().substring("segments_".length());
        }
        long next = Long.parseLong(lastGen, Character.MAX_RADIX) + 1;
        String pending = "pending_segments_" + Long.toString(next, Character.MAX_RADIX);
        Files.write(lucene.resolve("_zz.cfs"), new byte[] {0x3f, 0x6c, 0x17, 0x71, 0, 0, 9});
        Files.write(lucene.resolve("_zz.si"), new byte[] {1, 2, 3});
        Files.write(lucene.resolve(pending), new byte[] {0x3f, 0x6c, 0x17});
        try (LuceneIndex ix = LuceneIndex.open(ixDir)) {
            assertEquals(List.of("_zz.cfs", "_zz.si", pending), ix.recovery().removed());
            assertTrue(ix.recovery().line(ixDir).contains("removed 3 unreferenced file(s): _zz.cfs, _zz.si, " + pending), ix.recovery().line(ixDir));
            assertEquals(3, ix.count());
            assertFalse(Files.exists(lucene.resolve("_zz.cfs")));
            ix.add(List.of(new Entry("h3", gaussian(r, DIM), Map.of())));
            assertEquals(4, ix.count());
        }
        try (LuceneIndex ix = LuceneIndex.open(ixDir)) {
            assertEquals(List.of(), ix.recovery().removed());
            assertEquals("index " + ixDir + ": clean (no unreferenced files)", ix.recovery().line(ixDir));
        }
    }

    @Test
    void corruptOrMissingFilesNameTheFolderAndTheProblem(@TempDir Path dir) throws Exception {
        assertMessage(() -> LuceneIndex.open(dir.resolve("none")), dir.resolve("none") + ": not an index folder (no index.json)");
        Path ixDir = dir.resolve("ix");
        LuceneIndex.create(ixDir, SPEC, LuceneIndex.Options.DEFAULT).close();
        String json = Files.readString(ixDir.resolve("index.json"));
        Files.writeString(ixDir.resolve("index.json"), json.substring(0, json.length() / 2));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LuceneIndex.open(ixDir));
        assertTrue(e.getMessage().startsWith(ixDir.resolve("index.json") + ": corrupt: JSON: "), e.getMessage());
        Files.writeString(ixDir.resolve("index.json"), json);

        Path lucene = ixDir.resolve("lucene");
        Path segments;
        try (var s = Files.list(lucene)) {
            segments = s.filter(f -> f.getFileName().toString().startsWith("segments_")).findFirst().orElseThrow();
        }
        byte[] good = Files.readAllBytes(segments);
        byte[] bad = good.clone();
        bad[bad.length / 2] ^= 0x55;
        Files.write(segments, bad);
        e = assertThrows(IllegalArgumentException.class, () -> LuceneIndex.open(ixDir));
        assertTrue(e.getMessage().startsWith(lucene + ": damaged Lucene index ("), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        Files.delete(segments);
        assertMessage(() -> LuceneIndex.open(ixDir), lucene + ": no Lucene commit (segments_N file missing)");
        Files.write(segments, good);
        try (LuceneIndex ix = LuceneIndex.open(ixDir)) {
            assertEquals(0, ix.count());
            assertMessage(() -> LuceneIndex.open(ixDir), ixDir + ": in use by another index writer (a running `dino4j serve` or build holds lucene/write.lock)");
        }
    }
}
