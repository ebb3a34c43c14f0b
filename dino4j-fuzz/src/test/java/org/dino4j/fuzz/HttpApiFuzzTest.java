package org.dino4j.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.Timeout;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

import org.dino4j.index.Entry;
import org.dino4j.index.ExactIndex;
import org.dino4j.index.IndexSpec;
import org.dino4j.io.Json;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;
import org.dino4j.model.ModelConfig;
import org.dino4j.serve.Heads;
import org.dino4j.serve.Server;

/**
 * The HTTP API of {@code dino4j serve} as a stranger on the network sees it: one input is one request, sent over a
 * raw socket (so that what a client library would refuse still reaches the server), split into three parts:
 * {@code METHOD TARGET} (no space: a GET of it), header lines, body. Unless the headers frame the body themselves
 * (Content-Length, Transfer-Encoding), it gets a Content-Length. The contract (docs/serve-api.md, ApiError,
 * JsonErrorHandler): an answer within {@link #ANSWER_MS}; never 5xx but 503 (queue full, out of memory), 504
 * (model timeout) and Jetty's 505 (a request line of HTTP/0.9 or 2+); every error is a one-line JSON {@code {"error": "..."}}; then /health still answers 200.
 * One server per JVM: a tiny random model with heads (a 3-class segmenter), an exact index of a few entries, a root of two images for
 * path adds, and tight limits.
 */
class HttpApiFuzzTest {
    static final long MAX_BODY = 64 << 10, MAX_PIXELS = 20_000;
    static final int ANSWER_MS = 20_000;
    /** Patch 14, width 32, 4 blocks (the classifier reads the last four), input 28 x 28, as the serve tests' fixture. */
    static final String TINY = "{\"img_size\":28,\"patch_size\":14,\"embed_dim\":32,\"depth\":4,\"num_heads\":2,\"init_values\":1.0}";
    /** The index's entries at the start, restored after each input; what inputs add beyond a few is dropped (bounded memory). */
    static final List<Entry> BASE = new ArrayList<>();
    static ExactIndex index;
    static final Server SERVER = start();

    /** For Jazzer's SSRF detector: connections to the server under test are this target's job, any other is a finding. */
    static boolean ours(String host, int port) {
        return port == SERVER.port() && (host.equals("127.0.0.1") || host.equals("localhost"));
    }

    public static void fuzzerTestOneInput(byte[] data) {
        com.code_intelligence.jazzer.api.BugDetectors.allowNetworkConnections(HttpApiFuzzTest::ours); // reset when fuzzing starts
        List<byte[]> p = Contract.parts(data, 3);
        String line = latin1(p.get(0)).strip();
        int sp = line.indexOf(' ');
        String method = sp < 0 ? "GET" : line.substring(0, sp), target = sp < 0 ? line : line.substring(sp + 1);
        List<String> headers = latin1(p.get(1)).lines().filter(h -> !h.isEmpty()).toList();
        boolean framed = headers.stream().map(h -> h.toLowerCase(Locale.ROOT))
                .anyMatch(h -> h.startsWith("content-length") || h.startsWith("transfer-encoding"));
        ByteArrayOutputStream req = new ByteArrayOutputStream();
        req.writeBytes((method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n").getBytes(StandardCharsets.ISO_8859_1));
        for (String h : headers) req.writeBytes((h + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
        if (!framed) req.writeBytes(("Content-Length: " + p.get(2).length + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
        req.writeBytes("\r\n".getBytes(StandardCharsets.ISO_8859_1));
        req.writeBytes(p.get(2));
        String what = method + " " + clip(target);

        Answer a = send(req.toByteArray(), method.equals("HEAD"));
        if (a == null) {
            // the connection closed without an answer: only for a body framed by the fuzzer and cut short by our end of input
            if (!framed) throw new AssertionError(what + ": the connection closed without an answer");
        } else check(what, method, a);
        Answer health = send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1), false);
        if (health == null || health.status != 200) throw new AssertionError("after " + what + ": /health answers " + health);
        restoreIndex();
    }

    private static void restoreIndex() {
        if (index.count() > 32) {
            List<String> extra = new ArrayList<>();
            float[] any = new float[BASE.getFirst().vector().length];
            java.util.Arrays.fill(any, 1); // not zeros: the index refuses a zero query
            for (var h : index.search(any, org.dino4j.index.VectorIndex.MAX_K, Map.of()))
                if (BASE.stream().noneMatch(e -> e.id().equals(h.id()))) extra.add(h.id());
            index.delete(extra);
        }
        for (Entry e : BASE) if (!index.contains(e.id())) index.add(List.of(e));
    }

    @FuzzTest(maxDuration = "30s")
    @Timeout(60) // in CI, a hang on a kept input fails its test (fuzzing has its own per-input limit)
    void httpApi(byte[] data) {
        fuzzerTestOneInput(data);
    }

    record Answer(int status, Map<String, String> headers, byte[] body) {
        @Override
        public String toString() {
            return status + " " + headers + " " + clip(new String(body, StandardCharsets.UTF_8));
        }
    }

    static void check(String what, String method, Answer a) {
        int s = a.status;
        if (s < 100 || s > 599) throw new AssertionError(what + ": status " + s);
        if (s >= 500 && s != 503 && s != 504 && s != 505) throw new AssertionError(what + ": server error " + a);
        if (method.equals("HEAD")) return; // a HEAD answer has no body
        String ct = a.headers.getOrDefault("content-type", "");
        if (!ct.startsWith("application/json")) {
            if (s >= 400) throw new AssertionError(what + ": error without a JSON body: " + a);
            return;
        }
        String text = new String(a.body, StandardCharsets.UTF_8);
        Map<String, Object> j;
        try {
            j = Json.parseObject(text);
        } catch (IllegalArgumentException e) {
            throw new AssertionError(what + ": answer is not JSON (" + e.getMessage() + "): " + a);
        }
        if (!strictJson(text)) throw new AssertionError(what + ": NaN or Infinity in the JSON (a browser's JSON.parse refuses it): " + a);
        if (s < 400) return;
        if (j.size() != 1 || !(j.get("error") instanceof String m) || m.isBlank() || m.contains("\n") || m.contains("\tat "))
            throw new AssertionError(what + ": error body is not {\"error\": one line}: " + a);
        if (s == 503 && m.toLowerCase(java.util.Locale.ROOT).contains("out of memory")) // the server survived, but a request ran it out
            throw new AssertionError(what + ": a request ran the server out of memory: " + a);
    }

    /** No NaN or Infinity outside strings: RFC 8259 JSON has neither (Json.parse accepts them, as Python's json does). */
    static boolean strictJson(String t) {
        boolean in = false;
        for (int i = 0; i < t.length(); i++) {
            char c = t.charAt(i);
            if (in) {
                if (c == '\\') i++;
                else if (c == '"') in = false;
            } else if (c == '"') in = true;
            else if (c == 'N' || c == 'I') return false;
        }
        return true;
    }

    /**
     * Sends raw bytes, half-closes, reads until the final answer is complete (1xx skipped; by Content-Length or the
     * last chunk, so a connection kept open does not cost the idle timeout): that answer, or null if the server
     * closed without one.
     */
    static Answer send(byte[] request, boolean head) {
        try (Socket s = new Socket("127.0.0.1", SERVER.port())) {
            s.setSoTimeout(ANSWER_MS);
            OutputStream out = s.getOutputStream();
            try {
                out.write(request);
                out.flush();
                s.shutdownOutput();
            } catch (IOException e) {
                // the server may answer and close before it has read everything (e.g. 413 on the headers): read what it said
            }
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            byte[] buf = new byte[1 << 14];
            InputStream in = s.getInputStream();
            while (true) {
                int n;
                try {
                    n = in.read(buf);
                } catch (SocketTimeoutException e) {
                    throw new AssertionError("no answer within " + ANSWER_MS + " ms");
                } catch (IOException e) { // reset after an early answer
                    n = -1;
                }
                if (n > 0) got.write(buf, 0, n);
                Answer a = parse(got.toByteArray(), n < 0, head);
                if (a != INCOMPLETE) return a;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot reach the server on port " + SERVER.port(), e);
        }
    }

    private static final Answer INCOMPLETE = new Answer(-1, Map.of(), new byte[0]);

    /** The final answer in {@code raw}; INCOMPLETE while more may come ({@code eof} false); null for nothing at all. */
    static Answer parse(byte[] raw, boolean eof, boolean head) {
        int from = 0;
        while (true) {
            int end = Contract.indexOf(raw, "\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1), from);
            if (end < 0) {
                if (!eof) return INCOMPLETE;
                if (from == raw.length) return null;
                throw new AssertionError("a truncated answer: " + clip(latin1(java.util.Arrays.copyOfRange(raw, from, raw.length))));
            }
            String[] lines = new String(raw, from, end - from, StandardCharsets.ISO_8859_1).split("\r\n");
            String[] status = lines[0].split(" ", 3);
            if (status.length < 2 || !status[0].startsWith("HTTP/1.")) throw new AssertionError("not an HTTP answer: " + clip(lines[0]));
            int code = Integer.parseInt(status[1]);
            Map<String, String> h = new java.util.LinkedHashMap<>();
            for (int i = 1; i < lines.length; i++) {
                int c = lines[i].indexOf(':');
                if (c > 0) h.put(lines[i].substring(0, c).strip().toLowerCase(Locale.ROOT), lines[i].substring(c + 1).strip());
            }
            from = end + 4;
            if (code >= 100 && code < 200) continue; // 100 Continue: the final answer follows
            byte[] rest = java.util.Arrays.copyOfRange(raw, from, raw.length);
            if (head || code == 204 || code == 304) return new Answer(code, h, new byte[0]);
            byte[] body;
            if ("chunked".equalsIgnoreCase(h.get("transfer-encoding"))) body = unchunk(rest);
            else if (h.containsKey("content-length")) {
                long n = Long.parseLong(h.get("content-length"));
                body = rest.length >= n ? java.util.Arrays.copyOf(rest, (int) n) : null;
            } else body = eof ? rest : null; // delimited by the close
            if (body != null) return new Answer(code, h, body);
            if (!eof) return INCOMPLETE;
            throw new AssertionError("a truncated answer body: " + code + " " + h);
        }
    }

    /** A chunked body decoded, or null while its last chunk has not arrived. */
    static byte[] unchunk(byte[] b) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int i = 0;
        while (true) {
            int eol = Contract.indexOf(b, new byte[] {'\r', '\n'}, i);
            if (eol < 0) return null;
            String size = new String(b, i, eol - i, StandardCharsets.ISO_8859_1);
            int semi = size.indexOf(';');
            int n = Integer.parseInt((semi < 0 ? size : size.substring(0, semi)).strip(), 16);
            if (n == 0) return out.toByteArray();
            if (eol + 2 + n > b.length) return null;
            out.write(b, eol + 2, n);
            i = eol + 2 + n + 2;
        }
    }

    private static Server start() {
        try {
            Path root = Files.createDirectories(Contract.ROOT.resolve("serve-root")); // outside scratch(): kept for the run
            for (String f : List.of("baseline.jpg", "palette.png"))
                Files.copy(RunStateFuzzTest.fixtures().resolve("extra/images").resolve(f), root.resolve(f));
            DinoVisionTransformer m = Dinov2.random(ModelConfig.fromJson(TINY), 7);
            int dim = 2 * m.embedDim();
            ExactIndex idx = index = new ExactIndex(new IndexSpec("tiny", Server.defaultPreprocess(m.config()).toString(), IndexSpec.CLS_PATCH_MEAN, dim));
            Random r = new Random(1);
            List<Entry> entries = new ArrayList<>();
            for (String id : List.of("cat-1", "dog-2", "a/b c.jpg", "unicode-\u00e9")) {
                float[] v = new float[dim];
                for (int i = 0; i < dim; i++) v[i] = (float) r.nextGaussian();
                entries.add(new Entry(id, v, Map.of("kind", id.substring(0, 3))));
            }
            BASE.addAll(entries);
            idx.add(entries);
            Server.Config cfg = Server.Config.defaults().withPort(0).withRoots(List.of(root)).withBatching(4, 2, 8, 10_000)
                    .withLimits(MAX_BODY, MAX_PIXELS, 2_000, 1024);
            Server s = Server.start(cfg, new Server.Backend(m, "tiny", null, idx, "exact", heads(m)));
            Runtime.getRuntime().addShutdownHook(new Thread(s::close));
            return s;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * {@link Heads#random}'s classifier and depth head, and a 3-class segmenter: ADE20K's 150 class maps at full
     * resolution cost seconds a request (the fuzzer would run one input a second), and the classes are not what is fuzzed.
     */
    private static Heads heads(DinoVisionTransformer m) {
        Heads r = Heads.random(m, 3);
        try (var w = org.dino4j.heads.RandomHeads.segmentation(m.embedDim(), 1, 3, 5)) {
            var seg = org.dino4j.heads.Segmenter.of(m, w, 3, org.dino4j.heads.Segmenter.Dataset.ADE20K.name(), null);
            return new Heads(r.classifier(), r.depther(), seg, org.dino4j.heads.Segmenter.Dataset.ADE20K);
        }
    }

    private static String latin1(byte[] b) {
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    private static String clip(String s) {
        return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }

}
