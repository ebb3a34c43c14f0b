package org.dino4j.serve;

import static org.dino4j.serve.Fixture.bytes;
import static org.dino4j.serve.Fixture.get;
import static org.dino4j.serve.Fixture.post;
import static org.dino4j.serve.Fixture.postImage;
import static org.dino4j.serve.Fixture.postJson;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each hostile request gets a one-line 4xx JSON error, never a 500 or a stack trace, and the server keeps serving. */
class HostileInputTest {
    static final long MAX_BODY = 1 << 20;

    @TempDir
    static Path dir;
    static Server server;

    @BeforeAll
    static void start() throws IOException {
        Files.createDirectories(dir.resolve("root"));
        server = Fixture.start(Server.Config.defaults().withRoots(List.of(dir.resolve("root"))).withLimits(MAX_BODY, 40_000_000L, 2000, 1024), false);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** The answer is the expected 4xx, a one-line JSON error without a trace; a good request right after is served. */
    static void refused(int status, Fixture.Answer a, String what) {
        assertEquals(status, a.status(), what + ": " + a.text());
        assertTrue(a.header("Content-Type").startsWith("application/json"), what + ": " + a.header("Content-Type"));
        Map<String, Object> j = a.json();
        assertEquals(1, j.size(), what + ": " + a.text());
        String e = (String) j.get("error");
        assertFalse(e.isBlank() || e.contains("\n") || e.contains("\tat ") || e.contains("Exception"), what + ": " + e);
        stillServing();
    }

    static void stillServing() {
        assertEquals(200, get(server, "/health").status());
        assertEquals(200, postImage(server, "/api/embed", bytes("baseline.jpg")).status());
    }

    /** A PNG whose header declares width x height, with a few bytes of image data: tiny on the wire, huge if decoded. */
    static byte[] pngDeclaring(int width, int height) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        ByteArrayOutputStream ihdr = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(ihdr);
        d.writeInt(width);
        d.writeInt(height);
        d.write(new byte[] {8, 2, 0, 0, 0});
        chunk(out, "IHDR", ihdr.toByteArray());
        Deflater z = new Deflater();
        z.setInput(new byte[64 * 1024]);
        z.finish();
        byte[] buf = new byte[1 << 16];
        int n = z.deflate(buf);
        chunk(out, "IDAT", Arrays.copyOf(buf, n));
        chunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    private static void chunk(ByteArrayOutputStream out, String type, byte[] data) throws IOException {
        DataOutputStream d = new DataOutputStream(out);
        d.writeInt(data.length);
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        d.write(t);
        d.write(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        d.writeInt((int) crc.getValue());
    }

    /**
     * An oversized body over a raw socket, its status and JSON error read while the body is still being written: the
     * server answers 413 and closes without reading the rest, and a client that writes the whole body first (the JDK's
     * HttpClient) may then see only the reset ("broken pipe"), never the answer.
     */
    static void refusedRaw(String path, String headers, byte[] body, String what) throws Exception {
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            s.setSoTimeout(20_000);
            OutputStream out = s.getOutputStream();
            out.write(("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + headers + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    for (int i = 0; i < body.length; i += 65536) out.write(body, i, Math.min(65536, body.length - i));
                    out.flush();
                } catch (IOException e) {
                    // the server stopped reading after its answer: expected
                }
            });
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            InputStream in = s.getInputStream();
            byte[] buf = new byte[8192];
            try {
                for (int n; (n = in.read(buf)) > 0; ) got.write(buf, 0, n);
            } catch (IOException e) {
                // reset after the answer arrived: what was read is the answer
            }
            writer.join(20_000);
            String text = got.toString(StandardCharsets.UTF_8);
            assertTrue(text.startsWith("HTTP/1.1 413 "), what + ": " + text.lines().findFirst().orElse("(no answer)"));
            String json = text.substring(text.indexOf("\r\n\r\n") + 4).strip();
            String e = (String) org.dino4j.io.Json.parseObject(json).get("error");
            assertFalse(e == null || e.isBlank() || e.contains("\n") || e.contains("Exception"), what + ": " + json);
        }
        stillServing();
    }

    @Test
    void oversizedBodies() throws Exception {
        byte[] big = new byte[(int) MAX_BODY + 1000];
        refusedRaw("/api/embed", "Content-Type: image/jpeg\r\nContent-Length: " + big.length + "\r\n", big, "body over the limit");
        ByteArrayOutputStream chunks = new ByteArrayOutputStream();
        for (int i = 0; i < big.length; i += 16384) {
            int n = Math.min(16384, big.length - i);
            chunks.write((Integer.toHexString(n) + "\r\n").getBytes(StandardCharsets.US_ASCII));
            chunks.write(big, i, n);
            chunks.write("\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        chunks.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        refusedRaw("/api/embed", "Content-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n", chunks.toByteArray(), "chunked body over the limit");
        byte[] json = org.dino4j.io.Json.write(Map.of("vector", List.of(new String(new char[(int) MAX_BODY])))).getBytes(StandardCharsets.UTF_8);
        refusedRaw("/api/search/vector", "Content-Type: application/json\r\nContent-Length: " + json.length + "\r\n", json, "JSON over the limit");
    }

    @Test
    void decompressionBomb() throws IOException {
        byte[] bomb = pngDeclaring(50_000, 50_000);
        assertTrue(bomb.length < 1000);
        refused(413, post(server, "/api/embed", "image/png", bomb), "50000 x 50000 PNG");
        refused(413, Fixture.postMultipart(server, "/api/search", "image", bomb), "bomb as multipart");
    }

    @Test
    void notImagesAndTruncatedImages() {
        refused(415, postImage(server, "/api/embed", "GET / HTTP/1.0 hello".getBytes()), "text bytes as an image");
        refused(415, postImage(server, "/api/embed", new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9}), "random bytes");
        refused(415, post(server, "/api/search", "application/json", "{}".getBytes()), "JSON to an image endpoint");
        refused(400, postImage(server, "/api/embed", new byte[0]), "empty body");
        byte[] jpg = bytes("baseline.jpg"), png = bytes("rgb.png");
        refused(400, postImage(server, "/api/embed", Arrays.copyOf(jpg, jpg.length / 2)), "truncated JPEG");
        refused(400, post(server, "/api/embed", "image/png", Arrays.copyOf(png, png.length / 2)), "truncated PNG");
        refused(400, Fixture.postMultipart(server, "/api/embed", "wrong", jpg), "multipart without the image part");
        refused(400, post(server, "/api/embed", "multipart/form-data; boundary=xyz", "--xyz\r\nnonsense".getBytes()), "malformed multipart");
    }

    @Test
    void badParametersAndJson() {
        refused(400, postJson(server, "/api/search/vector", Map.of("vector", List.of(1, 2), "k", 1_000_000_000L)), "k = 10^9 in JSON");
        refused(400, postImage(server, "/api/search?k=1000000000", bytes("baseline.jpg")), "k = 10^9");
        refused(400, get(server, "/api/search?id=x&k=99999999999999999999"), "k beyond long");
        refused(400, get(server, "/api/search?id=x&k=ten"), "k not a number");
        refused(400, post(server, "/api/search/vector", "application/json", "{\"vector\": [1, 2".getBytes()), "malformed JSON");
        refused(400, post(server, "/api/search/vector", "application/json", "[".repeat(100_000).getBytes()), "deeply nested JSON");
        refused(400, postJson(server, "/api/search/vector", Map.of("vector", List.of(1, 2, 3))), "vector of the wrong dimension");
        refused(400, postJson(server, "/api/search/vector", Map.of("vector", List.of("a"))), "vector of strings");
        refused(400, postImage(server, "/api/search?filter=nocolon", bytes("baseline.jpg")), "bad filter");
        refused(400, postImage(server, "/api/match?format=gif", bytes("baseline.jpg")), "bad format");
        refused(404, get(server, "/api/images/no-such-id"), "unknown id");
        refused(404, get(server, "/api/search?id=no-such-id"), "search by unknown id");
        refused(404, get(server, "/api/no-such-endpoint"), "unknown endpoint");
        refused(501, postImage(server, "/api/depth", bytes("baseline.jpg")), "head not loaded");
    }

    @Test
    void pathTraversal() throws IOException {
        Path outside = Files.writeString(dir.resolve("secret.jpg"), "x");
        Files.createSymbolicLink(dir.resolve("root/link.jpg"), outside);
        for (String p : List.of("../../etc/passwd", "/etc/passwd", "../secret.jpg", "link.jpg", "..", "/"))
            refused(403, postJson(server, "/api/images/paths", Map.of("paths", List.of(p))), p);
        refused(400, postJson(server, "/api/images/paths", Map.of("paths", List.of("a\u0000b"))), "NUL in a path");
    }

    @Test
    void slowBodyIsCutOffWhileOthersAreServed() throws Exception {
        long t0 = System.nanoTime();
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            s.setSoTimeout(30_000);
            OutputStream out = s.getOutputStream();
            out.write(("POST /api/embed HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    for (int i = 0; i < 60; i++) {
                        out.write(0xff);
                        out.flush();
                        Thread.sleep(1000);
                    }
                } catch (IOException | InterruptedException e) {
                    // the server closed the connection: what we wanted
                }
            });
            Thread.sleep(1500);
            long g = System.nanoTime();
            stillServing(); // not blocked by the slow client
            assertTrue((System.nanoTime() - g) / 1e9 < 5, "good requests are served promptly beside a slow one");
            InputStream in = s.getInputStream();
            byte[] answer = new byte[4096];
            int n;
            try {
                n = in.readNBytes(answer, 0, answer.length);
            } catch (SocketTimeoutException e) {
                throw new AssertionError("the server did not cut off a body arriving at one byte a second within 30 s");
            } catch (IOException e) {
                n = 0; // reset by the server
            }
            String head = new String(answer, 0, n, StandardCharsets.ISO_8859_1);
            assertTrue(n == 0 || head.startsWith("HTTP/1.1 4"), head);
            assertFalse(head.contains("\tat "), head);
            writer.interrupt();
        }
        assertTrue((System.nanoTime() - t0) / 1e9 < 30);
        stillServing();
    }

    /** A request written raw, Connection: close, and the whole answer (HttpClient refuses to send such requests). */
    static String rawAnswer(String request) throws IOException {
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            s.setSoTimeout(20_000);
            s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** HttpApiFuzzTest finding: Jetty wrote its error bodies only for GET, POST and HEAD; an OPTIONS * or a DELETE it refused got an empty 4xx. */
    @Test
    void jettyErrorsOnOptionsAndDeleteAreJson() throws IOException {
        for (String line : List.of("OPTIONS * HTTP/1.1|404", "DELETE /api/images/a%2 HTTP/1.1|400", "PUT /api/images/%ff%fe HTTP/1.1|400")) {
            String status = line.substring(line.indexOf('|') + 1);
            line = line.substring(0, line.indexOf('|'));
            String a = rawAnswer(line + "\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
            assertTrue(a.startsWith("HTTP/1.1 " + status + " "), line + ": " + a);
            assertTrue(a.toLowerCase(java.util.Locale.ROOT).contains("content-type: application/json"), line + ": " + a);
            String body = a.substring(a.indexOf("\r\n\r\n") + 4);
            Map<String, Object> j = org.dino4j.io.Json.parseObject(body);
            assertEquals(1, j.size(), line + ": " + body);
            assertFalse(((String) j.get("error")).isBlank(), line + ": " + body);
        }
        stillServing();
    }

    /** HttpApiFuzzTest finding: Javalin threw IndexOutOfBoundsException (a 500) on a charset parameter without "=". */
    @Test
    void contentTypeCharsetWithoutAValueIsA400NotA500() throws IOException {
        String a = rawAnswer("POST /api/images?id=x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                + "Content-Type: charsetpeg\r\nContent-Length: 3\r\n\r\nabc");
        assertTrue(a.startsWith("HTTP/1.1 400 "), a);
        String body = a.substring(a.indexOf("\r\n\r\n") + 4);
        assertEquals("Content-Type 'charsetpeg': a charset parameter without a value", org.dino4j.io.Json.parseObject(body).get("error"), body);
        stillServing();
    }
}
