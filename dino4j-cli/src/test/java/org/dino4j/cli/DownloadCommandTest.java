package org.dino4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import org.dino4j.cli.CliTest.Result;
import org.dino4j.hub.HubCache;
import org.dino4j.hub.HubModel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.sun.net.httpserver.HttpServer;

class DownloadCommandTest {
    @TempDir
    Path dir;
    HubCache cache;
    HttpServer server;
    final List<String> requested = Collections.synchronizedList(new ArrayList<>());

    @BeforeEach
    void fakeCaches() {
        cache = new HubCache(dir.resolve("dino4j/checkpoints"), dir.resolve("torch/hub/checkpoints"), dir.resolve("hf/hub"));
        DownloadCommand.cacheOverride = cache;
    }

    @AfterEach
    void restore() {
        DownloadCommand.cacheOverride = null;
        if (server != null) server.stop(0);
    }

    /** Serves {@code body} at every path on 127.0.0.1; returns the base URL. */
    String serve(byte[] body) throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", ex -> {
            requested.add(ex.getRequestURI().getPath());
            ex.sendResponseHeaders(200, body.length);
            try (var os = ex.getResponseBody()) {
                os.write(body);
            }
        });
        server.start();
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/mirror";
    }

    Path inTorchCache(String file) throws IOException {
        Path p = Files.createDirectories(cache.torchCheckpoints()).resolve(file);
        Files.writeString(p, "weights");
        return p;
    }

    @Test
    void helpAndModels() throws IOException {
        assertEquals(0, CliTest.run("download", "--help").code());
        assertTrue(CliTest.run("download", "--help").out().contains("Usage: dino4j download"));
        Path cached = inTorchCache("dinov2_vits14_pretrain.pth");
        Path head = inTorchCache("dinov2_vitb14_ade20k_ms_head.pth");
        Result r = CliTest.run("models");
        assertEquals(0, r.code(), r.err());
        String[] tables = r.out().strip().split("\n\n");
        assertEquals(2, tables.length, r.out());
        String[] lines = tables[0].split("\n");
        assertEquals(9, lines.length, r.out());
        assertTrue(lines[0].contains("url") && lines[0].contains("size") && lines[0].contains("cached"), lines[0]);
        assertTrue(lines[1].startsWith("dinov2_vits14 "), lines[1]);
        assertTrue(lines[1].contains("~88 MB"), lines[1]);
        assertTrue(lines[1].contains("https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/dinov2_vits14_pretrain.pth"), lines[1]);
        assertTrue(lines[1].endsWith(cached.toString()), lines[1]);
        assertTrue(lines[8].startsWith("dinov2_vitg14_reg "), lines[8]);
        assertTrue(lines[8].contains("dinov2_vitg14/dinov2_vitg14_reg4_pretrain.pth"), lines[8]);
        assertTrue(lines[8].endsWith(" -"), lines[8]);

        String[] heads = tables[1].split("\n");
        assertEquals(1 + 56, heads.length, tables[1]);
        assertTrue(heads[0].startsWith("head ") && heads[0].contains("backbone") && heads[0].contains("cached"), heads[0]);
        assertTrue(heads[1].startsWith("dinov2_vits14_linear ") && heads[1].contains(" dinov2_vits14 ")
                && heads[1].contains("classification") && heads[1].contains("imagenet1k") && heads[1].contains("~3 MB")
                && heads[1].contains("https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/dinov2_vits14_linear_head.pth")
                && heads[1].endsWith(" -"), heads[1]);
        String ms = java.util.Arrays.stream(heads).filter(l -> l.startsWith("dinov2_vitb14_ade20k_ms ")).findFirst().orElseThrow();
        assertTrue(ms.contains("segmentation") && ms.endsWith(head + " (config not cached)"), ms);
        assertTrue(java.util.Arrays.stream(heads).anyMatch(l -> l.startsWith("dinov2_vitg14_reg4_linear4 ") && l.contains("dinov2_vitg14_reg ")));
    }

    /** Serves {@code bodies} by the last part of the path (the file name); 404 for others. */
    String serve(java.util.Map<String, byte[]> bodies) throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", ex -> {
            String path = ex.getRequestURI().getPath();
            requested.add(path);
            byte[] body = bodies.get(path.substring(path.lastIndexOf('/') + 1));
            if (body == null) {
                ex.sendResponseHeaders(404, -1);
                ex.close();
                return;
            }
            ex.sendResponseHeaders(200, body.length);
            try (var os = ex.getResponseBody()) {
                os.write(body);
            }
        });
        server.start();
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/mirror";
    }

    @Test
    void headsDownloadIntoTheSameCache() throws IOException {
        float[] w = new float[1000 * 5 * 384];
        Path src = dir.resolve("src.pth");
        org.dino4j.io.TorchPthWriter.write(src, List.of(org.dino4j.io.TensorEntry.of("weight", new long[] {1000, 5 * 384}, w),
                org.dino4j.io.TensorEntry.of("bias", new long[] {1000}, new float[1000])));
        byte[] cls = Files.readAllBytes(src);
        byte[] seg = Files.readAllBytes(CliTest.fixtures().resolve("official/official_vit_tiny.pth"));
        byte[] cfg = "model = dict(type='EncoderDecoder')\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        String base = serve(java.util.Map.of("dinov2_vits14_linear4_head.pth", cls, "dinov2_vits14_voc2012_linear_head.pth", seg,
                "dinov2_vits14_voc2012_linear_config.py", cfg, "dinov2_vitb14_linear4_head.pth", cls));
        Result r = CliTest.run("download", "--base-url", base, "dinov2_vits14_lc", "dinov2_vits14_voc2012_linear");
        assertEquals(0, r.code(), r.err());
        Path d = cache.dir();
        assertEquals("dinov2_vits14_lc: " + d.resolve("dinov2_vits14_linear4_head.pth") + "\n"
                + "dinov2_vits14_voc2012_linear config: " + d.resolve("dinov2_vits14_voc2012_linear_config.py") + "\n"
                + "dinov2_vits14_voc2012_linear: " + d.resolve("dinov2_vits14_voc2012_linear_head.pth"), r.out().strip());
        assertEquals(List.of("/mirror/dinov2_vits14/dinov2_vits14_linear4_head.pth", "/mirror/dinov2_vits14/dinov2_vits14_voc2012_linear_config.py",
                "/mirror/dinov2_vits14/dinov2_vits14_voc2012_linear_head.pth"), requested);
        assertTrue(r.err().contains("dinov2_vits14_linear4: downloading 7.7 MB from " + base + "/dinov2_vits14/dinov2_vits14_linear4_head.pth"), r.err());
        assertTrue(java.util.Arrays.equals(cls, Files.readAllBytes(d.resolve("dinov2_vits14_linear4_head.pth"))));

        Result again = CliTest.run("download", "--base-url", base, "dinov2_vits14_linear4");
        assertEquals("dinov2_vits14_linear4: " + d.resolve("dinov2_vits14_linear4_head.pth") + " (already cached)", again.out().strip());
        assertEquals(3, requested.size());

        Result wrong = CliTest.run("download", "--base-url", base, "dinov2_vits14_linear"); // 404
        assertEquals(1, wrong.code());
        assertTrue(wrong.err().contains("dino4j download: error: " + base + "/dinov2_vits14/dinov2_vits14_linear_head.pth: HTTP 404"), wrong.err());
        Result shape = CliTest.run("download", "--base-url", base, "dinov2_vitb14_lc"); // served the ViT-S/14 head
        assertEquals(1, shape.code());
        assertTrue(shape.err().contains("dino4j download: error: " + base + "/dinov2_vitb14/dinov2_vitb14_linear4_head.pth: not a usable "
                + "dinov2_vitb14_linear4 head: expected weight [1000, 3840] and bias [1000], got bias [1000], weight [1000, 1920] "
                + "(the download was removed)"), shape.err());
        assertFalse(shape.err().contains("\tat "), shape.err());
        assertFalse(Files.exists(d.resolve("dinov2_vitb14_linear4_head.pth")));
        assertFalse(Files.exists(d.resolve("dinov2_vitb14_linear4_head.pth.part")));
    }

    @Test
    void aCachedModelIsNotDownloadedAgain() throws IOException {
        Path cached = inTorchCache("dinov2_vitb14_reg4_pretrain.pth");
        String base = serve(new byte[0]);
        Result r = CliTest.run("download", "--base-url", base, "dinov2_vitb14_reg");
        assertEquals(0, r.code(), r.err());
        assertEquals("dinov2_vitb14_reg: " + cached + " (already cached)", r.out().strip());
        assertEquals(List.of(), requested);
    }

    @Test
    void aFileThatIsNotTheModelIsAOneLineErrorAndLeavesNothing() throws IOException {
        byte[] tinyPth = Files.readAllBytes(CliTest.fixtures().resolve("official/official_vit_tiny.pth"));
        String base = serve(tinyPth);
        Result r = CliTest.run("download", "--base-url", base, "dinov2_vits14");
        assertEquals(1, r.code(), r.out() + r.err());
        assertEquals(List.of("/mirror/dinov2_vits14/dinov2_vits14_pretrain.pth"), requested);
        String err = r.err();
        assertTrue(err.contains("dinov2_vits14: downloading 0.5 MB from " + base), err);
        assertTrue(err.contains("dino4j download: error: " + base + "/dinov2_vits14/dinov2_vits14_pretrain.pth: not a usable dinov2_vits14 checkpoint: checkpoint does not match the model"), err);
        assertFalse(err.contains("\tat "), err);
        assertTrue(Files.isDirectory(cache.dir()));
        try (var s = Files.list(cache.dir())) {
            assertEquals(0, s.count(), "no final file and no part");
        }

        Result sha = CliTest.run("download", "--base-url", base, "--sha256", "ab".repeat(32), "dinov2_vits14");
        assertEquals(1, sha.code());
        assertTrue(sha.err().contains("sha256 mismatch"), sha.err());
        assertFalse(Files.exists(cache.dir().resolve("dinov2_vits14_pretrain.pth")));
    }

    @Test
    void badArgumentsAreOneLineErrors() {
        Result u = CliTest.run("download", "dinov2_vitx14");
        assertEquals(1, u.code());
        assertTrue(u.err().contains("dino4j download: error: unknown model 'dinov2_vitx14'; known: dinov2_vits14"), u.err());
        assertTrue(u.err().contains("and the heads `dino4j models` lists"), u.err());
        Result h = CliTest.run("download", "--sha256", "xyz", "dinov2_vits14");
        assertEquals(1, h.code());
        assertTrue(h.err().contains("sha256 must be 64 hex digits"), h.err());
        Result two = CliTest.run("download", "--sha256", "ab".repeat(32), "dinov2_vits14", "dinov2_vitb14");
        assertEquals(1, two.code());
        assertTrue(two.err().contains("--sha256 applies to one NAME"), two.err());
    }

    @Test
    void weightsByHubName() throws IOException {
        Result r = CliTest.run("features", "--weights", "dinov2_vits14", "--input", "in.safetensors", "--output", dir.resolve("o").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("--weights dinov2_vits14: no such file, and no cache holds it (looked in "
                + cache.dir().resolve("dinov2_vits14_pretrain.pth")), r.err());
        assertTrue(r.err().contains("run `dino4j download dinov2_vits14`"), r.err());

        ModelOptions o = new ModelOptions();
        o.weights = Path.of("dinov2_vits14");
        Path torch = inTorchCache("dinov2_vits14_pretrain.pth");
        assertEquals(torch, o.resolveWeights());
        Path own = Files.createDirectories(cache.dir()).resolve("dinov2_vits14_pretrain.pth");
        Files.writeString(own, "w");
        assertEquals(own, o.resolveWeights());

        o.weights = Path.of("dinov2_vitl14_reg");
        Path snap = Files.createDirectories(cache.hfHub().resolve("models--facebook--dinov2-with-registers-large/snapshots/abc"));
        Files.writeString(snap.resolve("config.json"), "{}");
        Files.writeString(snap.resolve("model.safetensors"), "w");
        assertEquals(snap, o.resolveWeights());

        o.weights = dir.resolve("missing.pth"); // not a hub name: left for the loader to report
        assertEquals(dir.resolve("missing.pth"), o.resolveWeights());
    }

    @Test
    void progressIsThrottledAndShowsRateAndEta() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        AtomicLong now = new AtomicLong();
        var p = new DownloadCommand.Progress(new PrintStream(buf, true), now::get, 250_000_000L, false);
        HubModel m = HubModel.of("dinov2_vits14", "http://127.0.0.1:9");
        p.started(m, 10_000_000, 110_000_000);
        for (int i = 1; i <= 100; i++) { // 1 MB every 10 ms: 100 MB/s for 1 s
            now.addAndGet(10_000_000L);
            p.progress(10_000_000L + i * 1_000_000L, 110_000_000);
        }
        p.finish();
        String[] lines = buf.toString().strip().split("\n");
        assertEquals("dinov2_vits14: resuming at 10.0 MB of 110.0 MB from http://127.0.0.1:9/dinov2_vits14/dinov2_vits14_pretrain.pth", lines[0]);
        assertEquals(5, lines.length, buf.toString()); // at 0.25, 0.5, 0.75, 1.0 s
        assertEquals("dinov2_vits14: 35.0 MB / 110.0 MB (32%)  100.0 MB/s  ETA 0:01", lines[1]);
        assertEquals("dinov2_vits14: 110.0 MB / 110.0 MB (100%)  100.0 MB/s  ETA 0:00", lines[4]);

        ByteArrayOutputStream tty = new ByteArrayOutputStream();
        var q = new DownloadCommand.Progress(new PrintStream(tty, true), now::get, 250_000_000L, true);
        q.started(m, 0, -1);
        now.addAndGet(300_000_000L);
        q.progress(3_000_000, -1);
        q.progress(4_000_000, -1); // held back, shown by finish
        q.finish();
        assertEquals("dinov2_vits14: downloading ? MB from " + m.url() + "\n\rdinov2_vits14: 3.0 MB  10.0 MB/s"
                + "\rdinov2_vits14: 4.0 MB  13.3 MB/s\n", tty.toString());
    }
}
