package org.dino4j.serve;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Stand-in for the real server while it is being written: serves the page from the classpath and answers the
 * page's endpoints with canned JSON and pictures made from the stored photos (no model). Only the page's tests use it.
 */
final class FakeServer implements AutoCloseable {
    private final HttpServer http;
    private final Map<String, byte[]> images = new LinkedHashMap<>();

    FakeServer() throws IOException {
        http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        http.createContext("/", this::handle);
        http.start();
    }

    String base() { return "http://127.0.0.1:" + http.getAddress().getPort(); }

    @Override public void close() { http.stop(0); }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getPath();
            Map<String, String> q = query(ex.getRequestURI().getRawQuery());
            String method = ex.getRequestMethod();
            if (path.equals("/")) staticFile(ex, "index.html");
            else if (path.startsWith("/static/")) staticFile(ex, path.substring(8));
            else if (path.equals("/health"))
                json(ex, 200, "{\"status\":\"ok\",\"model\":\"fake\",\"dim\":8,\"index\":{\"kind\":\"exact\",\"count\":" + images.size() + "},\"heads\":[]}");
            else if (path.equals("/api/count")) json(ex, 200, "{\"count\":" + images.size() + "}");
            else if (path.equals("/api/images") && method.equals("POST")) {
                byte[] body = upload(ex);
                if (decode(body) == null) { json(ex, 400, "{\"error\":\"not an image\"}"); return; }
                images.put(q.get("id"), body);
                json(ex, 200, "{\"id\":\"" + q.get("id") + "\",\"count\":" + images.size() + "}");
            } else if (path.startsWith("/api/images/") && path.endsWith("/preview")) {
                String id = URLDecoder.decode(path.substring(12, path.length() - 8), StandardCharsets.UTF_8);
                byte[] img = images.get(id);
                if (img == null) { json(ex, 404, "{\"error\":\"no image " + id + "\"}"); return; }
                picture(ex, scaled(decode(img), 256), "jpeg");
            } else if (path.equals("/api/search") && method.equals("POST")) {
                byte[] body = upload(ex);
                if (decode(body) == null) { json(ex, 400, "{\"error\":\"not an image (no decoder for its bytes)\"}"); return; }
                StringBuilder hits = new StringBuilder();
                int rank = 0, k = Integer.parseInt(q.getOrDefault("k", "10"));
                // the query's own entry first, then the rest in insertion order with falling scores
                for (var e : images.entrySet()) {
                    if (rank == k) break;
                    boolean self = Arrays.equals(e.getValue(), body);
                    String hit = "{\"id\":\"" + e.getKey() + "\",\"score\":" + (self ? 1.0 : 0.9 - 0.05 * rank) + ",\"metadata\":{\"source\":\"fake\"}}";
                    if (self) hits.insert(0, hit + (hits.isEmpty() ? "" : ",")); else hits.append(hits.isEmpty() ? "" : ",").append(hit);
                    rank++;
                }
                json(ex, 200, "{\"hits\":[" + hits + "],\"took_ms\":1.5}");
            } else if (path.equals("/api/match")) {
                BufferedImage a = decode(upload(ex)), b = decode(images.get(q.get("b_id")));
                if (q.getOrDefault("format", "json").equals("json"))
                    json(ex, 200, "{\"a\":{\"rows\":16,\"cols\":16},\"b\":{\"rows\":16,\"cols\":16},\"pairs\":[{\"a\":[1,2],\"b\":[3,4],\"score\":0.8}]}");
                else {
                    BufferedImage sa = scaled(a, 400), sb = scaled(b, 400);
                    BufferedImage out = new BufferedImage(sa.getWidth() + sb.getWidth(), Math.max(sa.getHeight(), sb.getHeight()), BufferedImage.TYPE_INT_RGB);
                    Graphics2D g = out.createGraphics();
                    g.drawImage(sa, 0, 0, null);
                    g.drawImage(sb, sa.getWidth(), 0, null);
                    g.setColor(Color.YELLOW);
                    for (int i = 0; i < 10; i++) g.drawLine(20 + 30 * i, 40 + 20 * i, sa.getWidth() + 30 + 25 * i, 30 + 22 * i);
                    g.dispose();
                    picture(ex, out, "png");
                }
            } else if (path.equals("/api/pca")) {
                BufferedImage img = scaled(decode(upload(ex)), 448);
                for (int y = 0; y < img.getHeight(); y++)
                    for (int x = 0; x < img.getWidth(); x++) img.setRGB(x, y, ~img.getRGB(x, y) & 0xffffff);
                picture(ex, img, "png");
            } else json(ex, 404, "{\"error\":\"no route " + path + "\"}");
        }
    }

    private static void staticFile(HttpExchange ex, String name) throws IOException {
        try (InputStream in = FakeServer.class.getResourceAsStream("/static/" + name)) {
            if (in == null) { json(ex, 404, "{\"error\":\"no file " + name + "\"}"); return; }
            String type = name.endsWith(".html") ? "text/html" : name.endsWith(".js") ? "text/javascript" : "text/css";
            send(ex, 200, type + "; charset=utf-8", in.readAllBytes());
        }
    }

    private static byte[] upload(HttpExchange ex) throws IOException {
        byte[] body = ex.getRequestBody().readAllBytes();
        String type = ex.getRequestHeaders().getFirst("Content-Type");
        if (type == null || !type.startsWith("multipart/")) return body;
        // the first part's content: after the first blank line, up to the closing boundary
        String boundary = "\r\n--" + type.substring(type.indexOf("boundary=") + 9);
        int start = indexOf(body, "\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1), 0) + 4;
        int end = indexOf(body, boundary.getBytes(StandardCharsets.ISO_8859_1), start);
        return Arrays.copyOfRange(body, start, end);
    }

    private static int indexOf(byte[] hay, byte[] needle, int from) {
        outer:
        for (int i = from; i <= hay.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
            return i;
        }
        return -1;
    }

    private static BufferedImage decode(byte[] bytes) throws IOException {
        return bytes == null ? null : ImageIO.read(new ByteArrayInputStream(bytes));
    }

    private static BufferedImage scaled(BufferedImage img, int max) {
        double s = Math.min(1, (double) max / Math.max(img.getWidth(), img.getHeight()));
        int w = (int) Math.round(img.getWidth() * s), h = (int) Math.round(img.getHeight() * s);
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.drawImage(img.getScaledInstance(w, h, java.awt.Image.SCALE_SMOOTH), 0, 0, null);
        g.dispose();
        return out;
    }

    private static void picture(HttpExchange ex, BufferedImage img, String format) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, format, out);
        send(ex, 200, "image/" + format, out.toByteArray());
    }

    private static void json(HttpExchange ex, int status, String body) throws IOException {
        send(ex, status, "application/json; charset=utf-8", body.getBytes(StandardCharsets.UTF_8));
    }

    private static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, body.length);
        ex.getResponseBody().write(body);
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> q = new LinkedHashMap<>();
        if (raw == null) return q;
        for (String kv : raw.split("&")) {
            int at = kv.indexOf('=');
            if (at > 0) q.put(URLDecoder.decode(kv.substring(0, at), StandardCharsets.UTF_8), URLDecoder.decode(kv.substring(at + 1), StandardCharsets.UTF_8));
        }
        return q;
    }
}
