package org.dino4j.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;

import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;
import org.dino4j.model.Dinov2;
import org.dino4j.model.ModelConfig;
import org.dino4j.model.StateDictSpec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/** Real HTTP on 127.0.0.1: a server serving bytes this test made, with Range, without it, and dropping mid-way. */
class DownloaderTest {
    /** A one-block ViT small enough to serve in a blink (about 360 KB). */
    static final ModelConfig TINY = new ModelConfig(28, 14, 3, 64, 1, 1, 4.0, true, true, true, 1.0, "mlp", 0, false, 0.1, 1e-6);

    @TempDir
    Path dir;
    Server server;
    HubCache cache;
    byte[] data;

    @BeforeEach
    void setUp() throws IOException {
        data = tinyCheckpoint(dir.resolve("src.safetensors"));
        server = new Server(data);
        cache = new HubCache(dir.resolve("cache"), dir.resolve("torch"), dir.resolve("hf"));
    }

    @AfterEach
    void tearDown() {
        server.http.stop(0);
    }

    static byte[] tinyCheckpoint(Path file) throws IOException {
        SplittableRandom rnd = new SplittableRandom(7);
        List<TensorEntry> t = new ArrayList<>();
        for (var e : StateDictSpec.expected(TINY).entrySet()) {
            float[] v = new float[Math.toIntExact(TensorEntry.numel(e.getValue()))];
            for (int i = 0; i < v.length; i++) v[i] = (float) rnd.nextGaussian() * 0.02f;
            t.add(TensorEntry.of(e.getKey(), e.getValue(), v));
        }
        SafeTensors.write(file, t, Map.of());
        return Files.readAllBytes(file);
    }

    HubModel model(Long bytes, String sha) {
        return new HubModel("tiny", server.uri("/m/tiny.safetensors"), "tiny.safetensors", "facebook/none", TINY, bytes, sha);
    }

    HubModel model() {
        return model(null, null);
    }

    /** Serves {@code data}; honours Range unless told not to; the first {@code drops} responses stop after {@code dropAfter} bytes. */
    static final class Server {
        final HttpServer http;
        volatile byte[] data;
        volatile boolean honourRange = true;
        volatile int status = 200;
        volatile long dropAfter = -1;
        final AtomicInteger drops = new AtomicInteger();
        final AtomicInteger requests = new AtomicInteger();
        final List<String> ranges = Collections.synchronizedList(new ArrayList<>());
        final List<Long> served = Collections.synchronizedList(new ArrayList<>());

        Server(byte[] data) throws IOException {
            this.data = data;
            http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            http.createContext("/", this::handle);
            http.start();
        }

        URI uri(String path) {
            return URI.create("http://127.0.0.1:" + http.getAddress().getPort() + path);
        }

        void handle(HttpExchange ex) throws IOException {
            requests.incrementAndGet();
            String range = ex.getRequestHeaders().getFirst("Range");
            ranges.add(String.valueOf(range));
            byte[] d = data;
            if (status != 200) {
                ex.sendResponseHeaders(status, -1);
                ex.close();
                return;
            }
            int from = 0, code = 200;
            if (range != null && honourRange) {
                from = Integer.parseInt(range.substring("bytes=".length(), range.length() - 1));
                if (from >= d.length) {
                    ex.getResponseHeaders().set("Content-Range", "bytes */" + d.length);
                    ex.sendResponseHeaders(416, -1);
                    ex.close();
                    return;
                }
                code = 206;
                ex.getResponseHeaders().set("Content-Range", "bytes " + from + "-" + (d.length - 1) + "/" + d.length);
            }
            int n = d.length - from;
            ex.sendResponseHeaders(code, n);
            OutputStream os = ex.getResponseBody();
            if (dropAfter >= 0 && drops.getAndDecrement() > 0) {
                int k = (int) Math.min(dropAfter, n);
                os.write(d, from, k);
                os.flush();
                served.add((long) k);
                ex.close(); // fewer bytes than announced: the server closes the connection
                return;
            }
            os.write(d, from, n);
            served.add((long) n);
            os.close();
        }
    }

    @Test
    void fullDownloadIsVerifiedAndLoads() throws IOException {
        List<String> events = new ArrayList<>();
        Downloader dl = new Downloader(cache, new Downloader.Listener() {
            @Override
            public void started(HubFile m, long from, long total) {
                events.add("start " + from + "/" + total);
            }

            @Override
            public void progress(long done, long total) {
                events.add("p " + done);
            }
        }, 1);
        Path p = dl.download(model((long) data.length, sha(data)));
        assertEquals(cache.dir().resolve("tiny.safetensors"), p);
        assertArrayEquals(data, Files.readAllBytes(p));
        assertFalse(Files.exists(cache.partial(model())));
        assertEquals("start 0/" + data.length, events.get(0));
        assertEquals("p " + data.length, events.get(events.size() - 1));
        assertEquals(List.of("null"), server.ranges);
        try (var m = Dinov2.load(p, TINY)) {
            assertEquals(64, m.config().embedDim());
        }
        // fetch finds it now, without asking the server
        assertEquals(p, dl.fetch(model()));
        assertEquals(1, server.requests.get());
    }

    @Test
    void resumesAPartialFileWithRange() throws IOException {
        int k = 100_000;
        Files.createDirectories(cache.dir());
        Files.write(cache.partial(model()), Arrays.copyOf(data, k));
        Path p = new Downloader(cache, Downloader.Listener.NONE, 1).download(model());
        assertArrayEquals(data, Files.readAllBytes(p));
        assertEquals(List.of("bytes=" + k + "-"), server.ranges);
        assertEquals(List.of((long) data.length - k), server.served); // only the rest travelled
    }

    @Test
    void aDroppedConnectionKeepsThePartAndTheNextCallResumes() throws IOException {
        server.dropAfter = 150_000;
        server.drops.set(1);
        Downloader once = new Downloader(cache, Downloader.Listener.NONE, 1);
        var e = assertThrows(DownloadException.class, () -> once.download(model()));
        assertTrue(e.getMessage().contains("run the download again to resume"), e.getMessage());
        assertTrue(e.getMessage().startsWith(model().url().toString()), e.getMessage());
        assertFalse(Files.exists(cache.target(model())));
        long kept = Files.size(cache.partial(model()));
        assertTrue(kept > 0 && kept <= 150_000, "kept " + kept);

        Path p = once.download(model());
        assertArrayEquals(data, Files.readAllBytes(p));
        assertEquals(List.of("null", "bytes=" + kept + "-"), server.ranges);
        assertFalse(Files.exists(cache.partial(model())));
    }

    @Test
    void aDroppedConnectionIsResumedAtOnceWhenRetriesAreAllowed() throws IOException {
        server.dropAfter = 120_000;
        server.drops.set(2);
        Path p = new Downloader(cache, Downloader.Listener.NONE, 3).download(model());
        assertArrayEquals(data, Files.readAllBytes(p));
        assertEquals(3, server.requests.get());
    }

    @Test
    void aServerIgnoringRangeRestartsFromZero() throws IOException {
        server.honourRange = false;
        Files.createDirectories(cache.dir());
        byte[] junk = new byte[50_000];
        Arrays.fill(junk, (byte) 0x55);
        Files.write(cache.partial(model()), junk);
        Path p = new Downloader(cache).download(model());
        assertArrayEquals(data, Files.readAllBytes(p));
        assertEquals(List.of("bytes=50000-"), server.ranges);
        assertEquals(List.of((long) data.length), server.served);
    }

    @Test
    void aPartReachingTheEndIsVerifiedWithoutATransfer() throws IOException {
        Files.createDirectories(cache.dir());
        Files.write(cache.partial(model()), data);
        Path p = new Downloader(cache).download(model());
        assertArrayEquals(data, Files.readAllBytes(p));
        assertEquals(List.of(), server.served); // 416 with the same total
    }

    @Test
    void sizeMismatchLeavesNoFile() {
        var e = assertThrows(DownloadException.class, () -> new Downloader(cache).download(model((long) data.length + 1, null)));
        assertTrue(e.getMessage().contains("the server offers " + data.length + " bytes, expected " + (data.length + 1)), e.getMessage());
        assertNoFiles();
    }

    @Test
    void shaMismatchLeavesNoFile() {
        String wrong = "0".repeat(64);
        var e = assertThrows(DownloadException.class, () -> new Downloader(cache).download(model(null, wrong)));
        assertTrue(e.getMessage().contains("sha256 mismatch: got " + sha(data) + ", expected " + wrong), e.getMessage());
        assertTrue(e.getMessage().contains("removed"), e.getMessage());
        assertNoFiles();
    }

    @Test
    void aFileThatIsNotTheModelLeavesNoFile() {
        server.data = Arrays.copyOf(data, data.length - 1000); // truncated tensors
        var e = assertThrows(DownloadException.class, () -> new Downloader(cache).download(model()));
        assertTrue(e.getMessage().contains("not a usable tiny checkpoint"), e.getMessage());
        assertNoFiles();
        HubModel wrongShape = new HubModel("tiny", model().url(), "tiny.safetensors", "facebook/none",
                new ModelConfig(28, 14, 3, 128, 1, 2, 4.0, true, true, true, 1.0, "mlp", 0, false, 0.1, 1e-6), null, null);
        server.data = data;
        var s = assertThrows(DownloadException.class, () -> new Downloader(cache).download(wrongShape));
        assertTrue(s.getMessage().contains("checkpoint does not match the model"), s.getMessage());
        assertNoFiles();
    }

    @Test
    void aPthIsCheckedThroughTheTorchReader() throws IOException {
        Path fx = fixtures().resolve("official/official_vit_tiny.pth");
        ModelConfig cfg;
        try (TensorStore s = SafeTensors.read(fixtures().resolve("official/official_vit_tiny.safetensors"))) {
            cfg = ModelConfig.fromJson(s.metadata().get("config"));
        }
        server.data = Files.readAllBytes(fx);
        HubModel pth = new HubModel("vit_tiny", server.uri("/x/official_vit_tiny.pth"), "official_vit_tiny.pth", "none/none", cfg, null, null);
        Path p = new Downloader(cache).download(pth);
        assertArrayEquals(server.data, Files.readAllBytes(p));
    }

    @Test
    void httpErrorsAndRefusedConnectionsAreOneLine() throws IOException {
        server.status = 404;
        var e = assertThrows(DownloadException.class, () -> new Downloader(cache).download(model()));
        assertEquals(model().url() + ": HTTP 404 Not Found", e.getMessage());
        assertNoFiles();
        server.http.stop(0);
        var r = assertThrows(DownloadException.class, () -> new Downloader(cache).download(model()));
        assertTrue(r.getMessage().startsWith(model().url() + ": "), r.getMessage());
        assertNoFiles();
    }

    @Test
    void aSecondDownloadOfTheSameFileIsRefusedWhileOneRuns() throws IOException {
        Files.createDirectories(cache.dir());
        try (FileChannel ch = FileChannel.open(cache.partial(model()), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ch.lock();
            var e = assertThrows(DownloadException.class, () -> new Downloader(cache).download(model()));
            assertTrue(e.getMessage().contains("another download of tiny"), e.getMessage());
        }
        assertEquals(0, server.requests.get());
    }

    @Test
    void fetchChecksAKnownShaOfACachedFile() throws IOException {
        Path torch = Files.createDirectories(cache.torchCheckpoints()).resolve("tiny.safetensors");
        Files.write(torch, data);
        assertEquals(torch, new Downloader(cache).fetch(model(null, sha(data))));
        var e = assertThrows(DownloadException.class, () -> new Downloader(cache).fetch(model(null, "1".repeat(64))));
        assertTrue(e.getMessage().startsWith(torch + ": sha256 mismatch"), e.getMessage());
        assertEquals(0, server.requests.get());
    }

    @Test
    void contentRangeParsing() {
        assertArrayEquals(new long[] {5, 9, 10}, Downloader.contentRange("bytes 5-9/10"));
        assertArrayEquals(new long[] {-1, -1, 10}, Downloader.contentRange("bytes */10"));
        assertArrayEquals(new long[] {5, 9, -1}, Downloader.contentRange("bytes 5-9/*"));
        assertEquals(null, Downloader.contentRange("items 1-2/3"));
        assertEquals(null, Downloader.contentRange(null));
    }

    void assertNoFiles() {
        assertFalse(Files.exists(cache.target(model())), "final file");
        assertFalse(Files.exists(cache.partial(model())), "part file");
    }

    static String sha(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    static Path fixtures() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("fixtures/official"))) p = p.getParent();
        return p.resolve("fixtures");
    }
}
