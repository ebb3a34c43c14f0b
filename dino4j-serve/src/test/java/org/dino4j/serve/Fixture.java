package org.dino4j.serve;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import org.dino4j.index.ExactIndex;
import org.dino4j.index.IndexSpec;
import org.dino4j.io.Json;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;
import org.dino4j.model.ModelConfig;

/** A server on an ephemeral loopback port with a random tiny model, an exact index and random heads; an HTTP client for it. */
final class Fixture {
    /** Patch 14, width 32, 4 blocks (the 4-layer classifier reads the last four), input 28 x 28: fast enough for many requests. */
    static final String TINY = "{\"img_size\":28,\"patch_size\":14,\"embed_dim\":32,\"depth\":4,\"num_heads\":2,\"init_values\":1.0}";

    static ModelConfig tinyConfig() {
        return ModelConfig.fromJson(TINY);
    }

    static DinoVisionTransformer tinyModel() {
        return Dinov2.random(tinyConfig(), 7);
    }

    static Server start(Server.Config cfg, boolean heads) {
        DinoVisionTransformer m = tinyModel();
        ExactIndex idx = new ExactIndex(new IndexSpec("tiny", Server.defaultPreprocess(m.config()).toString(), IndexSpec.CLS_PATCH_MEAN, 2 * m.embedDim()));
        return Server.start(cfg.withPort(0), new Server.Backend(m, "tiny", null, idx, "exact", heads ? Heads.random(m, 3) : Heads.NONE));
    }

    static Path fixtures() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("fixtures/official"))) p = p.getParent();
        return p.resolve("fixtures");
    }

    static Path image(String name) {
        return fixtures().resolve("extra/images/" + name);
    }

    static byte[] bytes(String name) {
        try {
            return Files.readAllBytes(image(name));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();

    record Answer(int status, byte[] body, HttpResponse<byte[]> response) {
        String text() {
            return new String(body, java.nio.charset.StandardCharsets.UTF_8);
        }

        Map<String, Object> json() {
            return Json.parseObject(text());
        }

        String header(String name) {
            return response.headers().firstValue(name).orElse(null);
        }
    }

    static Answer send(HttpRequest.Builder b) {
        try {
            HttpResponse<byte[]> r = HTTP.send(b.timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofByteArray());
            return new Answer(r.statusCode(), r.body(), r);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    static URI uri(Server s, String pathAndQuery) {
        return URI.create("http://127.0.0.1:" + s.port() + pathAndQuery);
    }

    static Answer get(Server s, String path) {
        return send(HttpRequest.newBuilder(uri(s, path)).GET());
    }

    static Answer post(Server s, String path, String contentType, byte[] body, String... headers) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(s, path)).header("Content-Type", contentType).POST(HttpRequest.BodyPublishers.ofByteArray(body));
        for (int i = 0; i < headers.length; i += 2) b.header(headers[i], headers[i + 1]);
        return send(b);
    }

    static Answer postImage(Server s, String path, byte[] image, String... headers) {
        return post(s, path, "image/jpeg", image, headers);
    }

    static Answer postJson(Server s, String path, Object body, String... headers) {
        return post(s, path, "application/json", Json.write(body).getBytes(java.nio.charset.StandardCharsets.UTF_8), headers);
    }

    /** A multipart/form-data body of file parts (name, bytes) pairs. */
    static Answer postMultipart(Server s, String path, Object... parts) {
        String boundary = "----dino4jtest" + System.nanoTime();
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (int i = 0; i < parts.length; i += 2) {
            out.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + parts[i] + "\"; filename=\"" + parts[i] + ".jpg\"\r\n"
                    + "Content-Type: application/octet-stream\r\n\r\n").getBytes());
            out.writeBytes((byte[]) parts[i + 1]);
            out.writeBytes("\r\n".getBytes());
        }
        out.writeBytes(("--" + boundary + "--\r\n").getBytes());
        return post(s, path, "multipart/form-data; boundary=" + boundary, out.toByteArray());
    }
}
