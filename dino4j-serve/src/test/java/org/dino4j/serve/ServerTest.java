package org.dino4j.serve;

import static org.dino4j.serve.Fixture.bytes;
import static org.dino4j.serve.Fixture.get;
import static org.dino4j.serve.Fixture.postImage;
import static org.dino4j.serve.Fixture.postJson;
import static org.dino4j.serve.Fixture.postMultipart;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import javax.imageio.ImageIO;

import org.dino4j.data.ImageDecoder;
import org.dino4j.embed.FeatureExtractor;
import org.dino4j.embed.Output;
import org.dino4j.model.DinoVisionTransformer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServerTest {
    static final String TOKEN = "s3cret";
    static final String[] PHOTOS = {"baseline.jpg", "rgb.png", "progressive.jpg", "gray.jpg", "cmyk.jpg", "palette.png", "lossy.webp", "image.bmp"};

    @TempDir
    static Path dir;
    static Server server;

    @BeforeAll
    static void start() throws Exception {
        Path root = Files.createDirectories(dir.resolve("root/photos"));
        Files.copy(Fixture.image("baseline.jpg"), root.resolve("a.jpg"));
        Files.copy(Fixture.image("rgb.png"), root.resolve("b.png"));
        Files.writeString(root.resolve("notes.txt"), "not an image");
        Files.writeString(root.resolve("broken.jpg"), "not a jpeg either");
        server = Fixture.start(Server.Config.defaults().withRoots(List.of(dir.resolve("root"))).withToken(TOKEN), true);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static String[] auth() {
        return new String[] {"Authorization", "Bearer " + TOKEN};
    }

    /** The library's features of one encoded image, one at a time: what the server's batches must reproduce. */
    static float[][] libraryRows(byte[] image) {
        try (DinoVisionTransformer m = Fixture.tinyModel();
             FeatureExtractor fx = new FeatureExtractor(m, new FeatureExtractor.Options(List.of(Output.CLS, Output.PATCH_MEAN),
                     Server.defaultPreprocess(m.config()), 1, 1, ImageDecoder.DEFAULT_MAX_PIXELS))) {
            float[][] rows = new float[2][];
            fx.run(FeatureExtractor.encoded(List.of(image)), it -> {
                rows[0] = it.rows()[0];
                rows[1] = it.rows()[1];
            });
            return rows;
        }
    }

    static float[] floats(Object list) {
        List<?> l = (List<?>) list;
        float[] out = new float[l.size()];
        for (int i = 0; i < out.length; i++) out[i] = ((Number) l.get(i)).floatValue();
        return out;
    }

    static void assertClose(float[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-4 + 1e-4 * Math.abs(want[i]), what + "[" + i + "]");
    }

    @Test
    void healthSaysWhatIsLoaded() {
        var a = get(server, "/health");
        assertEquals(200, a.status(), a.text());
        Map<String, Object> j = a.json();
        assertEquals("ok", j.get("status"));
        assertEquals(32L, j.get("dim"));
        assertEquals(List.of("classify", "depth", "segment"), j.get("heads"));
        assertEquals(true, j.get("write_token"));
        assertEquals("exact", ((Map<?, ?>) j.get("index")).get("kind"));
        assertTrue(a.header("Content-Type").startsWith("application/json"));
        assertNull(a.header("Access-Control-Allow-Origin"), "CORS is off unless configured");
    }

    @Test
    void openApiDocumentsEveryRoute() {
        Map<String, Object> doc = get(server, "/openapi.json").json();
        assertEquals("3.1.0", doc.get("openapi"));
        Map<?, ?> paths = (Map<?, ?>) doc.get("paths");
        for (String r : server.routes()) {
            String method = r.substring(0, r.indexOf(' ')).toLowerCase(java.util.Locale.ROOT), path = r.substring(r.indexOf(' ') + 1).replaceAll("<([^>]+)>", "{$1}");
            assertTrue(paths.containsKey(path), "route " + r + " is not in openapi.json");
            assertTrue(((Map<?, ?>) paths.get(path)).containsKey(method), "route " + r + ": no " + method + " in openapi.json");
        }
        assertEquals(22, server.routes().size(), server.routes().toString());
    }

    @Test
    void embedMatchesTheLibraryEvenInConcurrentBatches() throws Exception {
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Fixture.Answer>> fs = new ArrayList<>();
            for (String p : PHOTOS) fs.add(pool.submit(() -> postImage(server, "/api/embed", bytes(p))));
            for (int i = 0; i < PHOTOS.length; i++) {
                var a = fs.get(i).get();
                assertEquals(200, a.status(), a.text());
                float[][] want = libraryRows(bytes(PHOTOS[i]));
                assertClose(want[0], floats(a.json().get("cls")), PHOTOS[i] + " cls");
                assertClose(want[1], floats(a.json().get("patch_mean")), PHOTOS[i] + " patch_mean");
            }
        }
        var a = postImage(server, "/api/embed?outputs=cls,registers,patch_tokens", bytes("baseline.jpg"));
        assertEquals(200, a.status(), a.text());
        Map<?, ?> t = (Map<?, ?>) a.json().get("patch_tokens");
        assertEquals(2L, t.get("rows"));
        assertEquals(2L, t.get("cols"));
        assertEquals(4, ((List<?>) t.get("data")).size());
        assertEquals(32, ((List<?>) ((List<?>) t.get("data")).get(0)).size());
        assertEquals(List.of(), a.json().get("registers"));
        assertFalse(a.json().containsKey("patch_mean"));
        assertEquals(400, postImage(server, "/api/embed?outputs=logits", bytes("baseline.jpg")).status());
    }

    @Test
    void addSearchGetPreviewDelete() throws Exception {
        byte[] jpg = bytes("baseline.jpg"), png = bytes("rgb.png");
        var denied = postImage(server, "/api/images?id=x", jpg);
        assertEquals(401, denied.status(), denied.text());
        assertEquals("Bearer", denied.header("WWW-Authenticate"));
        assertEquals(401, postImage(server, "/api/images?id=x", jpg, "Authorization", "Bearer wrong").status());

        var add = postImage(server, "/api/images?id=up/one&meta.album=trip&meta.year=2024", jpg, auth());
        assertEquals(200, add.status(), add.text());
        assertEquals("up/one", add.json().get("id"));
        assertEquals(401, postMultipart(server, "/api/images?id=up/two&meta.album=home", "image", png).status());
        assertEquals(1L, get(server, "/api/count").json().get("count"));
        var add2 = Fixture.send(HttpRequest.newBuilder(Fixture.uri(server, "/api/images?id=up/two&meta.album=home")).header("Authorization", "Bearer " + TOKEN)
                .header("Content-Type", "image/png").POST(HttpRequest.BodyPublishers.ofByteArray(png)));
        assertEquals(200, add2.status(), add2.text());
        assertEquals(2L, add2.json().get("count"));

        var one = get(server, "/api/images/up/one");
        assertEquals(200, one.status(), one.text());
        assertEquals(Map.of("album", "trip", "year", "2024"), one.json().get("metadata"));
        assertEquals(true, one.json().get("has_preview"));
        var pv = get(server, "/api/images/up/one/preview");
        assertEquals(200, pv.status());
        assertEquals("image/jpeg", pv.header("Content-Type"));
        var im = ImageIO.read(new ByteArrayInputStream(pv.body()));
        assertTrue(im.getWidth() <= 256 && im.getHeight() <= 256);
        // an id that a path cannot carry (an absolute path: its leading '/' makes an empty segment) by ?id=
        var abs = postImage(server, "/api/images?id=%2Fhome%2Fme%2Fa.jpg", jpg, auth());
        assertEquals(200, abs.status(), abs.text());
        var pq = get(server, "/api/preview?id=%2Fhome%2Fme%2Fa.jpg");
        assertEquals(200, pq.status(), pq.text());
        assertArrayEquals(get(server, "/api/preview?id=up/one").body(), pv.body());
        assertEquals(404, get(server, "/api/preview?id=nothing").status());
        assertEquals(400, get(server, "/api/preview").status());
        assertEquals(200, get(server, "/api/search?id=%2Fhome%2Fme%2Fa.jpg&k=1").status());
        var gone = Fixture.send(HttpRequest.newBuilder(Fixture.uri(server, "/api/images?id=%2Fhome%2Fme%2Fa.jpg")).header("Authorization", "Bearer " + TOKEN).DELETE());
        assertEquals(200, gone.status(), gone.text());
        assertEquals(1L, gone.json().get("deleted"));
        assertEquals(404, get(server, "/api/preview?id=%2Fhome%2Fme%2Fa.jpg").status());

        var hits = postImage(server, "/api/search?k=2", jpg);
        assertEquals(200, hits.status(), hits.text());
        List<?> h = (List<?>) hits.json().get("hits");
        assertEquals(2, h.size());
        assertEquals("up/one", ((Map<?, ?>) h.get(0)).get("id"));
        assertEquals(1.0, ((Number) ((Map<?, ?>) h.get(0)).get("score")).doubleValue(), 1e-4);

        var multi = postMultipart(server, "/api/search?k=1", "image", jpg);
        assertEquals("up/one", ((Map<?, ?>) ((List<?>) multi.json().get("hits")).get(0)).get("id"), multi.text());

        var byId = get(server, "/api/search?id=up/one&k=5");
        List<?> h2 = (List<?>) byId.json().get("hits");
        assertEquals(1, h2.size(), byId.text());
        assertEquals("up/two", ((Map<?, ?>) h2.get(0)).get("id"));
        assertEquals(0, ((List<?>) get(server, "/api/search?id=up/one&filter=album:trip").json().get("hits")).size());

        float[] vec = ServerTest.floats(((Map<?, ?>) postImage(server, "/api/embed", png).json()).get("cls"));
        float[] pm = floats(postImage(server, "/api/embed", png).json().get("patch_mean"));
        float[] both = new float[64];
        System.arraycopy(vec, 0, both, 0, 32);
        System.arraycopy(pm, 0, both, 32, 32);
        var byVec = postJson(server, "/api/search/vector", Map.of("vector", toList(both), "k", 1, "filter", Map.of("album", "home")));
        assertEquals(200, byVec.status(), byVec.text());
        assertEquals("up/two", ((Map<?, ?>) ((List<?>) byVec.json().get("hits")).get(0)).get("id"));

        var del = Fixture.send(HttpRequest.newBuilder(Fixture.uri(server, "/api/images/up/two")).DELETE());
        assertEquals(401, del.status());
        del = Fixture.send(HttpRequest.newBuilder(Fixture.uri(server, "/api/images/up/two")).header("Authorization", "Bearer " + TOKEN).DELETE());
        assertEquals(200, del.status(), del.text());
        assertEquals(1L, del.json().get("deleted"));
        assertEquals(404, get(server, "/api/images/up/two").status());
        assertEquals(404, Fixture.send(HttpRequest.newBuilder(Fixture.uri(server, "/api/images/up/two")).header("Authorization", "Bearer " + TOKEN).DELETE()).status());
        del = Fixture.send(HttpRequest.newBuilder(Fixture.uri(server, "/api/images/up/one")).header("Authorization", "Bearer " + TOKEN).DELETE());
        assertEquals(0L, del.json().get("count"));
    }

    static List<Double> toList(float[] v) {
        List<Double> l = new ArrayList<>();
        for (float x : v) l.add((double) x);
        return l;
    }

    @Test
    void serverSidePathsStayInsideTheRoots() throws Exception {
        Path outside = Files.writeString(dir.resolve("secret.jpg"), "x");
        Path link = dir.resolve("root/photos/escape.jpg");
        Files.createSymbolicLink(link, outside);
        Files.createSymbolicLink(dir.resolve("root/linkdir"), dir);
        for (String p : List.of("../../etc/passwd", "/etc/passwd", "../secret.jpg", "photos/escape.jpg", "linkdir/secret.jpg", outside.toString())) {
            var a = postJson(server, "/api/images/paths", Map.of("paths", List.of(p)), auth());
            assertEquals(403, a.status(), p + ": " + a.text());
        }
        assertEquals(404, postJson(server, "/api/images/paths", Map.of("paths", List.of("photos/none.jpg")), auth()).status());
        assertEquals(401, postJson(server, "/api/images/paths", Map.of("paths", List.of("photos"))).status());

        var a = postJson(server, "/api/images/paths", Map.of("paths", List.of("photos"), "metadata", Map.of("src", "disk")), auth());
        assertEquals(200, a.status(), a.text());
        assertEquals(2L, a.json().get("added"), a.text()); // a.jpg, b.png; the symlink out is skipped, broken.jpg fails
        List<?> failed = (List<?>) a.json().get("failed");
        assertEquals(1, failed.size(), a.text());
        assertEquals("photos/broken.jpg", ((Map<?, ?>) failed.get(0)).get("path"));
        var e = get(server, "/api/images/photos/a.jpg");
        assertEquals(200, e.status(), e.text());
        assertEquals("disk", ((Map<?, ?>) e.json().get("metadata")).get("src"));
        var pv = get(server, "/api/images/photos/b.png/preview");
        assertEquals(200, pv.status(), pv.text());
        assertEquals("image/jpeg", pv.header("Content-Type"));
        var m = Fixture.send(HttpRequest.newBuilder(Fixture.uri(server, "/api/match?a_id=photos/a.jpg&b_id=photos/b.png")).POST(HttpRequest.BodyPublishers.noBody()));
        assertEquals(200, m.status(), m.text());
        for (String id : List.of("photos/a.jpg", "photos/b.png"))
            Fixture.send(HttpRequest.newBuilder(Fixture.uri(server, "/api/images/" + id)).header("Authorization", "Bearer " + TOKEN).DELETE());
    }

    @Test
    void matchPcaAndHeads() throws Exception {
        byte[] a = bytes("baseline.jpg"), b = bytes("progressive.jpg");
        var m = postMultipart(server, "/api/match?top=3", "a", a, "b", b);
        assertEquals(200, m.status(), m.text());
        Map<String, Object> j = m.json();
        assertEquals(2L, ((Map<?, ?>) j.get("a")).get("rows"));
        List<?> pairs = (List<?>) j.get("pairs");
        assertTrue(pairs.size() >= 1 && pairs.size() <= 3, m.text());
        var mp = postMultipart(server, "/api/match?format=png", "a", a, "b", b);
        assertEquals("image/png", mp.header("Content-Type"));
        assertTrue(ImageIO.read(new ByteArrayInputStream(mp.body())).getWidth() > 0);
        assertEquals(400, postMultipart(server, "/api/match", "a", a).status());

        var pca = postImage(server, "/api/pca", a);
        assertEquals(200, pca.status(), pca.text());
        var pim = ImageIO.read(new ByteArrayInputStream(pca.body()));
        var src = new ImageDecoder().decode(Fixture.image("baseline.jpg"));
        assertEquals(src.width(), pim.getWidth());
        assertEquals(src.height(), pim.getHeight());

        var c = postImage(server, "/api/classify?top=3", a);
        assertEquals(200, c.status(), c.text());
        List<?> top = (List<?>) c.json().get("top");
        assertEquals(3, top.size());
        assertTrue(((Map<?, ?>) top.get(0)).get("name") instanceof String);

        var d = postImage(server, "/api/depth?format=json", a);
        assertEquals(200, d.status(), d.text());
        assertEquals((long) src.width(), d.json().get("width"));
        double lo = ((Number) d.json().get("min_m")).doubleValue(), hi = ((Number) d.json().get("max_m")).doubleValue();
        assertTrue(lo <= hi && lo >= 0, d.text());
        assertEquals("image/png", postImage(server, "/api/depth", a).header("Content-Type"));

        var s = postImage(server, "/api/segment?format=json", a);
        assertEquals(200, s.status(), s.text());
        double sum = 0;
        for (Object o : (List<?>) s.json().get("classes")) sum += ((Number) ((Map<?, ?>) o).get("fraction")).doubleValue();
        assertEquals(1.0, sum, 1e-9);
        var sp = postImage(server, "/api/segment?overlay=false", a);
        assertEquals("image/png", sp.header("Content-Type"));
        assertEquals(src.width(), ImageIO.read(new ByteArrayInputStream(sp.body())).getWidth());
    }

    @Test
    void withoutHeadsTheirEndpointsSay501AndCorsCanBeOn() {
        try (Server s = Fixture.start(Server.Config.defaults().withCors("http://example.org"), false)) {
            var a = postImage(s, "/api/classify", bytes("baseline.jpg"));
            assertEquals(501, a.status(), a.text());
            assertTrue(((String) a.json().get("error")).contains("--heads"));
            var h = Fixture.send(HttpRequest.newBuilder(Fixture.uri(s, "/health")).header("Origin", "http://example.org").GET());
            assertEquals("http://example.org", h.header("Access-Control-Allow-Origin"));
            assertEquals(List.of(), h.json().get("heads"));
            assertEquals(false, h.json().get("write_token"));
        }
    }

    @Test
    void pageAndStaticFiles() {
        var p = get(server, "/");
        assertEquals(200, p.status());
        assertTrue(p.header("Content-Type").startsWith("text/html"));
        var up = get(server, "/static/../../etc/passwd");
        assertTrue(up.status() == 400 || up.status() == 404, up.status() + " " + up.text());
        assertTrue(up.json().containsKey("error"), up.text());
        assertEquals(404, get(server, "/static/nope.js").status());
        var css = get(server, "/static/probe/dino4j-test-probe.css"); // a test resource: the page's files are found the same way
        assertEquals(200, css.status(), css.text());
        assertEquals("text/css; charset=utf-8", css.header("Content-Type"));
        assertTrue(css.text().contains("#123456"));
        var m = get(server, "/metrics");
        assertEquals(200, m.status());
        assertTrue(m.text().contains("dino4j_http_requests_seconds_count"), m.text());
        assertTrue(m.text().contains("dino4j_queue_depth"));
        assertTrue(m.text().contains("jvm_memory_used_bytes"));
    }

    @Test
    void closeFinishesWhatWasAccepted() throws Exception {
        Server s = Fixture.start(Server.Config.defaults().withBatching(1, 0, 64, 30_000), true);
        byte[] a = bytes("baseline.jpg");
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Fixture.Answer>> fs = new ArrayList<>();
            for (int i = 0; i < 12; i++) fs.add(pool.submit(() -> postImage(s, "/api/depth?format=json", a)));
            Thread.sleep(150);
            s.close();
            int ok = 0;
            for (Future<Fixture.Answer> f : fs) {
                int st = f.get().status();
                assertTrue(st == 200 || st == 503, "accepted requests finish; late ones are refused, not dropped: " + st);
                if (st == 200) ok++;
            }
            assertTrue(ok > 0, "the accepted requests were answered");
        }
    }
}
