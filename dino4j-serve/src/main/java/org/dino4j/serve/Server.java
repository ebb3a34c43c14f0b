package org.dino4j.serve;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.javalin.Javalin;
import io.javalin.config.SizeUnit;
import io.javalin.http.Context;
import io.javalin.http.HandlerType;
import io.javalin.http.HttpResponseException;
import io.javalin.http.UploadedFile;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import org.dino4j.data.PilResize;
import org.dino4j.data.Preprocess;
import org.dino4j.data.RgbImage;
import org.dino4j.embed.FeatureExtractor;
import org.dino4j.embed.Output;
import org.dino4j.embed.Sides;
import org.dino4j.heads.Classifier;
import org.dino4j.heads.Segmenter;
import org.dino4j.index.Entry;
import org.dino4j.index.Hit;
import org.dino4j.index.IndexSpec;
import org.dino4j.index.VectorIndex;
import org.dino4j.io.Json;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.ModelConfig;
import org.dino4j.nn.Resize;
import org.dino4j.tensor.Tensor;
import org.dino4j.viz.DepthPictures;
import org.dino4j.viz.FeaturePictures;
import org.dino4j.viz.PatchFeatures;
import org.dino4j.viz.PatchMatch;
import org.dino4j.viz.SegmentationPictures;

import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.ServerConnector;

/**
 * dino4j as an HTTP service (docs/serve-api.md): Javalin on Jetty 12 with virtual threads; request threads decode
 * and preprocess, the {@link Batcher}'s one model thread runs the model. Every failure is a one-line JSON error.
 * <pre>{@code
 * try (Server s = Server.start(Server.Config.defaults().withPort(0), new Server.Backend(model, "dinov2_vits14", pre, index, "exact", Heads.NONE))) {
 *     System.out.println("http://127.0.0.1:" + s.port());
 * }
 * }</pre>
 */
public final class Server implements AutoCloseable {
    /**
     * @param port               0: an ephemeral port (tests)
     * @param host               the address to bind (loopback by default)
     * @param maxBatch           images per forward at most
     * @param maxWaitMs          how long the model thread waits for a batch to fill
     * @param queue              jobs waiting for the model at most; beyond, 503 with Retry-After
     * @param timeoutMs          a request waiting longer for the model gets 504
     * @param maxBodyBytes       larger request bodies get 413
     * @param maxPixels          larger images (by their header) get 413 before any pixel is decoded
     * @param roots              the folders server-side paths are confined to (none: path adds are off)
     * @param token              the bearer token write endpoints need, or null
     * @param corsOrigin         the origin allowed to call from a browser, or null (CORS off)
     * @param idleTimeoutMs      a connection silent this long is closed (slow bodies included)
     * @param minBodyBytesPerSec a body arriving slower than this on average is cut off (slowloris)
     */
    public record Config(int port, String host, int maxBatch, long maxWaitMs, int queue, long timeoutMs, long maxBodyBytes,
                         long maxPixels, List<Path> roots, String token, String corsOrigin, long idleTimeoutMs, long minBodyBytesPerSec) {
        public Config {
            if (port < 0 || port > 65535) throw new IllegalArgumentException("port must be in 0..65535, got " + port);
            if (maxBatch < 1 || queue < 1 || timeoutMs < 1 || maxBodyBytes < 1 || maxPixels < 1 || idleTimeoutMs < 1 || maxWaitMs < 0 || minBodyBytesPerSec < 0)
                throw new IllegalArgumentException("max batch, queue, timeout, body and pixel limits and idle timeout must be >= 1, max wait and body rate >= 0");
            roots = List.copyOf(roots);
            Objects.requireNonNull(host, "host");
            if (token != null && token.isBlank()) token = null;
        }

        public static Config defaults() {
            return new Config(8080, "127.0.0.1", 8, 5, 64, 30_000, 32L << 20, 40_000_000L, List.of(), null, null, 30_000, 1024);
        }

        public Config withPort(int p) {
            return new Config(p, host, maxBatch, maxWaitMs, queue, timeoutMs, maxBodyBytes, maxPixels, roots, token, corsOrigin, idleTimeoutMs, minBodyBytesPerSec);
        }

        public Config withHost(String h) {
            return new Config(port, h, maxBatch, maxWaitMs, queue, timeoutMs, maxBodyBytes, maxPixels, roots, token, corsOrigin, idleTimeoutMs, minBodyBytesPerSec);
        }

        public Config withBatching(int batch, long waitMs, int q, long timeout) {
            return new Config(port, host, batch, waitMs, q, timeout, maxBodyBytes, maxPixels, roots, token, corsOrigin, idleTimeoutMs, minBodyBytesPerSec);
        }

        public Config withLimits(long bodyBytes, long pixels, long idleMs, long minRate) {
            return new Config(port, host, maxBatch, maxWaitMs, queue, timeoutMs, bodyBytes, pixels, roots, token, corsOrigin, idleMs, minRate);
        }

        public Config withRoots(List<Path> r) {
            return new Config(port, host, maxBatch, maxWaitMs, queue, timeoutMs, maxBodyBytes, maxPixels, r, token, corsOrigin, idleTimeoutMs, minBodyBytesPerSec);
        }

        public Config withToken(String t) {
            return new Config(port, host, maxBatch, maxWaitMs, queue, timeoutMs, maxBodyBytes, maxPixels, roots, t, corsOrigin, idleTimeoutMs, minBodyBytesPerSec);
        }

        public Config withCors(String origin) {
            return new Config(port, host, maxBatch, maxWaitMs, queue, timeoutMs, maxBodyBytes, maxPixels, roots, token, origin, idleTimeoutMs, minBodyBytesPerSec);
        }
    }

    /**
     * What the server serves; it owns and closes them.
     *
     * @param modelName  for /health (a hub name or a weights file's name)
     * @param preprocess the transform for embedding, search and classify (see {@link #defaultPreprocess})
     * @param indexKind  for /health ("lucene", "exact", "solr")
     */
    public record Backend(DinoVisionTransformer model, String modelName, Preprocess preprocess, VectorIndex index, String indexKind, Heads heads) {
        public Backend {
            Objects.requireNonNull(model, "model");
            Objects.requireNonNull(index, "index");
            if (heads == null) heads = Heads.NONE;
            if (preprocess == null) preprocess = defaultPreprocess(model.config());
            int d = model.embedDim(), want = IndexSpec.dimFor(index.spec().vectors(), d);
            if (index.spec().dim() != want)
                throw new IllegalArgumentException("the index holds " + index.spec().dim() + "-value vectors (" + index.spec().vectors()
                        + "), the model makes " + want);
        }
    }

    /** Depth and segmentation work on the photo scaled to at most this side; their pictures come back at that size. */
    static final int DENSE_MAX_SIDE = 1024;
    /** Files one path request may add at most. */
    static final int MAX_FILES = 10_000;

    /** The eval transform (resize 256, crop 224) for the hub backbones; a model's own side for others. */
    public static Preprocess defaultPreprocess(ModelConfig cfg) {
        return Sides.evalTransform(cfg);
    }

    static {
        // slf4j-simple (Javalin insists on a logger): warnings and errors only, unless the user says otherwise; before any logger exists
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    }

    private final Config cfg;
    private final Backend be;
    private final DinoVisionTransformer model;
    private final VectorIndex index;
    private final Heads heads;
    private final Images images;
    private final Roots roots;
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final JvmGcMetrics gcMetrics = new JvmGcMetrics();
    private final Batcher batcher;
    private final java.util.concurrent.Semaphore decoders = new java.util.concurrent.Semaphore(Math.max(2, Runtime.getRuntime().availableProcessors()));
    private final Javalin app;
    private final List<String> routes = new ArrayList<>();
    private final AtomicInteger inFlight = new AtomicInteger();
    private volatile boolean closing;
    private boolean closed;

    private Server(Config cfg, Backend be) {
        this.cfg = cfg;
        this.be = be;
        this.model = be.model();
        this.index = be.index();
        this.heads = be.heads();
        this.images = new Images(cfg.maxPixels());
        this.roots = new Roots(cfg.roots());
        if (System.getProperty("java.awt.headless") == null) System.setProperty("java.awt.headless", "true");
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        gcMetrics.bindTo(registry);
        this.batcher = new Batcher(model, cfg.maxBatch(), cfg.maxWaitMs(), cfg.queue(), cfg.timeoutMs(), registry);
        this.app = Javalin.create(c -> {
            c.startup.showJavalinBanner = false;
            c.concurrency.useVirtualThreads = true;
            c.http.maxRequestSize = cfg.maxBodyBytes();
            c.jetty.multipartConfig.maxTotalRequestSize(cfg.maxBodyBytes(), SizeUnit.BYTES);
            c.jetty.multipartConfig.maxFileSize(cfg.maxBodyBytes(), SizeUnit.BYTES);
            c.jetty.multipartConfig.maxInMemoryFileSize((int) Math.min(cfg.maxBodyBytes(), Integer.MAX_VALUE), SizeUnit.BYTES);
            c.jetty.modifyHttpConfiguration(h -> {
                h.setIdleTimeout(cfg.idleTimeoutMs());
                h.setMinRequestDataRate(cfg.minBodyBytesPerSec());
                h.setSendServerVersion(false);
            });
            c.jetty.modifyServer(server -> server.setErrorHandler(new JsonErrorHandler()));
            c.jetty.addConnector((server, http) -> {
                ServerConnector sc = new ServerConnector(server, new HttpConnectionFactory(http));
                sc.setHost(cfg.host());
                sc.setPort(cfg.port());
                sc.setIdleTimeout(cfg.idleTimeoutMs());
                return sc;
            });
            if (cfg.corsOrigin() != null)
                c.bundledPlugins.enableCors(cors -> cors.addRule(r -> {
                    if (cfg.corsOrigin().equals("*")) r.anyHost();
                    else r.allowHost(cfg.corsOrigin());
                }));
            // Javalin's own 404/405 (no such route) as JSON; the API's own 404s (unknown id) are already answered
            c.routes.error(404, ctx -> {
                if (ctx.attribute(ANSWERED) == null) json(ctx, 404, error("no such endpoint: " + ctx.method() + " " + ctx.path()));
            });
            c.routes.error(405, ctx -> {
                if (ctx.attribute(ANSWERED) == null) json(ctx, 405, error("method not allowed: " + ctx.method() + " " + ctx.path()));
            });
            c.routes.exception(Exception.class, (e, ctx) -> fail(ctx, e));
            register(c.routes);
        });
    }

    /** Starts a server; it owns the backend from here on (closing the server closes them). */
    public static Server start(Config cfg, Backend backend) {
        Server s;
        try {
            s = new Server(cfg, backend);
        } catch (RuntimeException e) {
            try {
                backend.index().close();
            } finally {
                backend.model().close();
            }
            throw e;
        }
        try {
            s.app.start();
        } catch (RuntimeException e) {
            s.close();
            throw new IllegalStateException("cannot listen on " + cfg.host() + ":" + cfg.port() + ": " + e.getMessage(), e);
        }
        return s;
    }

    /** The port it listens on (the ephemeral one when asked for 0). */
    public int port() {
        return app.port();
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** The routes as "METHOD /path", in registration order (the OpenAPI test checks each is documented). */
    public List<String> routes() {
        return List.copyOf(routes);
    }

    /**
     * Graceful: new requests get 503 at once, the accepted ones finish (at most the request timeout), then the
     * listener, the model thread, the index and the model are closed.
     */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        closing = true;
        long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(cfg.timeoutMs());
        while (inFlight.get() > 0 && System.nanoTime() < until) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        try {
            app.stop();
        } finally {
            batcher.close();
            gcMetrics.close();
            try {
                index.close();
            } finally {
                model.close();
            }
        }
    }

    // ---- routing, errors, metrics

    @FunctionalInterface
    private interface Handler {
        void handle(Context ctx) throws Exception;
    }

    private void register(io.javalin.config.RoutesConfig r) {
        route(r, HandlerType.GET, "/", false, this::page);
        route(r, HandlerType.GET, "/static/<path>", false, this::staticFile);
        route(r, HandlerType.GET, "/health", false, this::health);
        route(r, HandlerType.GET, "/metrics", false, ctx -> ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(registry.scrape()));
        route(r, HandlerType.GET, "/openapi.json", false, ctx -> ctx.contentType("application/json; charset=utf-8").result(resource("openapi.json")));
        route(r, HandlerType.POST, "/api/embed", false, this::embed);
        route(r, HandlerType.POST, "/api/search", false, this::searchImage);
        route(r, HandlerType.GET, "/api/search", false, this::searchId);
        route(r, HandlerType.POST, "/api/search/vector", false, this::searchVector);
        route(r, HandlerType.POST, "/api/images", true, this::addImage);
        route(r, HandlerType.POST, "/api/images/paths", true, this::addPaths);
        route(r, HandlerType.GET, "/api/images/<id>/preview", false, this::preview);
        route(r, HandlerType.GET, "/api/preview", false, this::previewById);
        route(r, HandlerType.GET, "/api/images/<id>", false, this::getImage);
        route(r, HandlerType.DELETE, "/api/images/<id>", true, this::deleteImage);
        route(r, HandlerType.DELETE, "/api/images", true, this::deleteImage);
        route(r, HandlerType.GET, "/api/count", false, ctx -> json(ctx, 200, Map.of("count", index.count())));
        route(r, HandlerType.POST, "/api/match", false, this::match);
        route(r, HandlerType.POST, "/api/pca", false, this::pca);
        route(r, HandlerType.POST, "/api/classify", false, this::classify);
        route(r, HandlerType.POST, "/api/depth", false, this::depth);
        route(r, HandlerType.POST, "/api/segment", false, this::segment);
    }

    private void route(io.javalin.config.RoutesConfig r, HandlerType method, String path, boolean write, Handler h) {
        routes.add(method + " " + path);
        r.addHttpHandler(method, path, ctx -> handle(ctx, method, path, write, h));
    }

    private void handle(Context ctx, HandlerType method, String route, boolean write, Handler h) {
        long t0 = System.nanoTime();
        inFlight.incrementAndGet();
        try {
            if (closing) throw new ApiError(503, "the server is shutting down", "5");
            if (write) checkToken(ctx);
            if (ctx.req().getContentLengthLong() > cfg.maxBodyBytes())
                throw new ApiError(413, "request body of " + ctx.req().getContentLengthLong() + " bytes is over the limit of " + cfg.maxBodyBytes());
            checkCharset(ctx.header("Content-Type"));
            h.handle(ctx);
        } catch (Exception | OutOfMemoryError | StackOverflowError e) {
            fail(ctx, e);
        } finally {
            inFlight.decrementAndGet();
            Timer.builder("dino4j.http.requests").description("HTTP requests by route and status")
                    .tag("method", method.name()).tag("route", route).tag("status", String.valueOf(ctx.statusCode()))
                    .register(registry).record(System.nanoTime() - t0, TimeUnit.NANOSECONDS);
        }
    }

    /**
     * Javalin reads the charset of a Content-Type as the text after "charset=" of any parameter starting with
     * "charset", and throws IndexOutOfBoundsException (a 500) on one without "=" ({@code Content-Type: charsetpeg},
     * found by fuzzing): such a header is the client's mistake, answered 400 before Javalin parses it.
     */
    static void checkCharset(String contentType) {
        if (contentType == null) return;
        for (String p : contentType.split(";"))
            if (p.strip().regionMatches(true, 0, "charset", 0, 7) && p.indexOf('=') < 0)
                throw new ApiError(400, "Content-Type '" + ApiError.oneLine(contentType) + "': a charset parameter without a value");
    }

    /** Any failure as its JSON answer: a reason the client can act on, never a stack trace. */
    private static void fail(Context ctx, Throwable e) {
        switch (e) {
            case ApiError a -> {
                if (a.retryAfter() != null) ctx.header("Retry-After", a.retryAfter());
                if (a.status() == 401) ctx.header("WWW-Authenticate", "Bearer");
                json(ctx, a.status(), error(a.getMessage()));
            }
            case HttpResponseException h -> json(ctx, h.getStatus(), error(h.getMessage()));
            case org.eclipse.jetty.http.HttpException h when h.getCode() >= 400 && h.getCode() < 500 -> // e.g. a body too slow (408)
                    json(ctx, h.getCode(), error(Objects.requireNonNullElse(h.getReason(), "bad request")));
            case IllegalArgumentException i -> json(ctx, 400, error(i.getMessage()));
            case OutOfMemoryError o -> json(ctx, 503, error("out of memory on this request; try a smaller image"));
            default -> {
                System.err.println("dino4j serve: " + ctx.method() + " " + ctx.path() + ": " + e);
                json(ctx, 500, error("internal error: " + e.getClass().getSimpleName()));
            }
        }
    }

    private void checkToken(Context ctx) {
        if (cfg.token() == null) return;
        String h = ctx.header("Authorization");
        byte[] want = ("Bearer " + cfg.token()).getBytes(StandardCharsets.UTF_8);
        if (h == null || !MessageDigest.isEqual(h.strip().getBytes(StandardCharsets.UTF_8), want))
            throw new ApiError(401, h == null ? "this endpoint needs 'Authorization: Bearer TOKEN'" : "wrong bearer token");
    }

    static Map<String, Object> error(String message) {
        return Map.of("error", ApiError.oneLine(message));
    }

    private static final String ANSWERED = "dino4j.answered";

    static void json(Context ctx, int status, Object body) {
        ctx.attribute(ANSWERED, true);
        ctx.status(status).contentType("application/json; charset=utf-8").result(Json.write(body));
    }

    // ---- request parts

    /** The request body, at most maxBodyBytes (chunked bodies too). */
    private byte[] body(Context ctx) {
        try (InputStream in = ctx.req().getInputStream()) {
            return readLimited(in, cfg.maxBodyBytes());
        } catch (IOException | UncheckedIOException e) {
            throw new ApiError(400, "could not read the request body: " + e.getMessage());
        }
    }

    static byte[] readLimited(InputStream in, long max) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[1 << 16];
        long n = 0;
        for (int r; (r = in.read(buf)) > 0; ) {
            n += r;
            if (n > max) throw new ApiError(413, "request body over the limit of " + max + " bytes");
            out.write(buf, 0, r);
        }
        return out.toByteArray();
    }

    /** An uploaded image: the raw body, or the multipart part {@code part}; null when a multipart form lacks it and it is optional. */
    private byte[] imageBytes(Context ctx, String part, boolean required) {
        String ct = Objects.requireNonNullElse(ctx.contentType(), "").toLowerCase(Locale.ROOT);
        if (ct.startsWith("multipart/")) {
            UploadedFile f;
            try {
                f = ctx.uploadedFile(part);
            } catch (Exception e) { // Javalin rethrows the servlet's checked exceptions unchecked
                throw multipartError(e);
            }
            if (f == null) {
                if (required) throw new ApiError(400, "no file part named '" + part + "' in the form");
                return null;
            }
            try (InputStream in = f.content()) {
                byte[] b = readLimited(in, cfg.maxBodyBytes());
                if (b.length == 0) throw new ApiError(400, "part '" + part + "' is empty");
                return b;
            } catch (IOException e) {
                throw new ApiError(400, "could not read part '" + part + "': " + e.getMessage());
            }
        }
        if (!required) return null;
        if (ct.startsWith("application/json") || ct.startsWith("text/") || ct.startsWith("application/x-www-form-urlencoded"))
            throw new ApiError(415, "send the image's bytes (image/jpeg, image/png, ...) or multipart/form-data with a part named '" + part + "', not " + ct);
        byte[] b = body(ctx);
        if (b.length == 0) throw new ApiError(400, "empty body: send an image");
        return b;
    }

    /** Why a multipart body did not parse: 413 over the size limits, else 400 with the parser's reason. */
    private ApiError multipartError(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = String.valueOf(t.getMessage()).toLowerCase(Locale.ROOT);
            if (m.contains("size") || m.contains("too large") || t instanceof org.eclipse.jetty.http.HttpException h && h.getCode() == 413)
                return new ApiError(413, "multipart body over the limit of " + cfg.maxBodyBytes() + " bytes");
            if (t instanceof org.eclipse.jetty.http.HttpException h && h.getReason() != null) return new ApiError(400, "malformed multipart body: " + h.getReason());
        }
        return new ApiError(400, "malformed multipart body");
    }

    private byte[] uploaded(Context ctx) {
        return imageBytes(ctx, "image", true);
    }

    /**
     * Decoding (the big transient: up to maxPixels x 3 bytes and more) runs on at most as many requests at once as
     * there are cores, and not at all while the model's queue is full: memory stays bounded when clients outpace the model.
     */
    private <T> T decoding(java.util.function.Supplier<T> work) {
        if (batcher.full()) throw batcher.reject();
        boolean got;
        try {
            got = decoders.tryAcquire(cfg.timeoutMs(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ApiError(503, "interrupted", "1");
        }
        if (!got) throw batcher.reject();
        try {
            return work.get();
        } finally {
            decoders.release();
        }
    }

    /** One image ready for the model: the transformed pixels (3, h, w), its size, and a preview JPEG when asked. */
    private record Prepared(float[] chw, int h, int w, int width, int height, byte[] preview) {}

    private Prepared prepare(String what, byte[] bytes, boolean preview) {
        return decoding(() -> {
            RgbImage im = images.decode(what, bytes);
            Preprocess pre = be.preprocess();
            int[] hw = pre.outputSize(im.width(), im.height());
            int p = model.config().patchSize();
            if (hw[0] % p != 0 || hw[1] % p != 0)
                throw new ApiError(400, "model input " + hw[1] + "x" + hw[0] + " is not a multiple of the patch size " + p);
            return new Prepared(pre.chw(im), hw[0], hw[1], im.width(), im.height(), preview ? Images.preview(im) : null);
        });
    }

    /** The decoded image scaled to at most {@code max} px on its longer side (the demos' pictures). */
    private RgbImage decodeFit(String what, byte[] bytes, int max) {
        return decoding(() -> PilResize.fit(images.decode(what, bytes), max));
    }

    private Map<String, Object> jsonBody(Context ctx) {
        String text = new String(body(ctx), StandardCharsets.UTF_8);
        try {
            return Json.parseObject(text);
        } catch (IllegalArgumentException e) {
            throw new ApiError(400, "malformed JSON: " + e.getMessage());
        } catch (StackOverflowError e) {
            throw new ApiError(400, "malformed JSON: nested too deeply");
        }
    }

    static int intParam(Context ctx, String name, int dflt, int min, int max) {
        String v = ctx.queryParam(name);
        if (v == null || v.isBlank()) return dflt;
        long x;
        try {
            x = Long.parseLong(v.strip());
        } catch (NumberFormatException e) {
            throw new ApiError(400, name + " must be an integer, got '" + clip(v) + "'");
        }
        if (x < min || x > max) throw new ApiError(400, name + " must be between " + min + " and " + max + ", got " + x);
        return (int) x;
    }

    private static int k(Context ctx) {
        return intParam(ctx, "k", 10, 1, VectorIndex.MAX_K);
    }

    /** A float as its shortest decimal (Json writes a Float's double value, with float noise digits). */
    static double clean(float f) {
        return Double.parseDouble(Float.toString(f));
    }

    static String clip(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }

    /** {@code key:value,key2:value2}: every pair must match. */
    static Map<String, String> filter(String text) {
        Map<String, String> f = new LinkedHashMap<>();
        if (text == null || text.isBlank()) return f;
        for (String pair : text.split(",")) {
            int c = pair.indexOf(':');
            if (c < 1) throw new ApiError(400, "filter must be key:value[,key:value...], got '" + clip(text) + "'");
            f.put(pair.substring(0, c).strip(), pair.substring(c + 1).strip());
        }
        return f;
    }

    @SuppressWarnings("unchecked")
    static Map<String, String> stringMap(Object o, String what) {
        if (o == null) return Map.of();
        if (!(o instanceof Map<?, ?> m)) throw new ApiError(400, what + " must be an object of strings");
        Map<String, String> out = new LinkedHashMap<>();
        for (var e : ((Map<String, Object>) m).entrySet()) {
            if (!(e.getValue() instanceof String s)) throw new ApiError(400, what + "." + e.getKey() + " must be a string");
            out.put(e.getKey(), s);
        }
        return out;
    }

    // ---- embedding and search

    private float[] indexVector(Prepared im) {
        float[][] r = batcher.embed(im.chw(), im.h(), im.w(), List.of(Output.CLS, Output.PATCH_MEAN));
        return index.spec().vectorOf(r[0], r[1]);
    }

    private void embed(Context ctx) {
        List<Output> outs = new ArrayList<>();
        String asked = Objects.requireNonNullElse(ctx.queryParam("outputs"), "cls,patch_mean");
        for (String k : asked.split(",")) {
            Output o = null;
            for (Output c : Output.values()) if (c.key.equals(k.strip())) o = c;
            if (o == null) throw new ApiError(400, "unknown output '" + clip(k) + "' (cls, patch_mean, registers, patch_tokens)");
            if (!outs.contains(o)) outs.add(o);
        }
        Prepared im = prepare("image", uploaded(ctx), false);
        float[][] rows = batcher.embed(im.chw(), im.h(), im.w(), outs);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("width", im.width());
        m.put("height", im.height());
        int d = model.embedDim(), p = model.config().patchSize();
        int[] hw = {im.h(), im.w()};
        for (int i = 0; i < outs.size(); i++) {
            float[] r = rows[i];
            switch (outs.get(i)) {
                case CLS, PATCH_MEAN -> m.put(outs.get(i).key, r);
                case REGISTERS -> m.put("registers", split(r, d));
                case PATCH_TOKENS -> {
                    Map<String, Object> t = new LinkedHashMap<>();
                    t.put("rows", hw[0] / p);
                    t.put("cols", hw[1] / p);
                    t.put("dim", d);
                    t.put("data", split(r, d));
                    m.put("patch_tokens", t);
                }
            }
        }
        json(ctx, 200, m);
    }

    private static List<float[]> split(float[] r, int d) {
        List<float[]> out = new ArrayList<>();
        for (int i = 0; i + d <= r.length; i += d) out.add(java.util.Arrays.copyOfRange(r, i, i + d));
        return out;
    }

    private void answerHits(Context ctx, List<Hit> hits, long t0) {
        List<Object> list = new ArrayList<>();
        for (Hit h : hits) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", h.id());
            m.put("score", clean(h.score()));
            m.put("metadata", h.metadata());
            list.add(m);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("hits", list);
        out.put("took_ms", Math.round((System.nanoTime() - t0) / 1e4) / 100.0);
        json(ctx, 200, out);
    }

    private void searchImage(Context ctx) {
        long t0 = System.nanoTime();
        int k = k(ctx);
        Map<String, String> f = filter(ctx.queryParam("filter"));
        answerHits(ctx, index.search(indexVector(prepare("image", uploaded(ctx), false)), k, f), t0);
    }

    private void searchId(Context ctx) {
        long t0 = System.nanoTime();
        String id = ctx.queryParam("id");
        if (id == null || id.isEmpty()) throw new ApiError(400, "GET /api/search needs ?id=ID (or POST an image)");
        int k = k(ctx);
        Map<String, String> f = filter(ctx.queryParam("filter"));
        Entry e = index.get(id).orElseThrow(() -> new ApiError(404, "no entry with id '" + clip(id) + "'"));
        List<Hit> hits = new ArrayList<>(index.search(e.vector(), Math.min(k + 1, VectorIndex.MAX_K), f));
        hits.removeIf(h -> h.id().equals(id));
        answerHits(ctx, hits.size() > k ? hits.subList(0, k) : hits, t0);
    }

    private void searchVector(Context ctx) {
        long t0 = System.nanoTime();
        Map<String, Object> j = jsonBody(ctx);
        if (!(j.get("vector") instanceof List<?> l)) throw new ApiError(400, "the body needs \"vector\": [numbers]");
        float[] v = new float[l.size()];
        for (int i = 0; i < v.length; i++) {
            if (!(l.get(i) instanceof Number n)) throw new ApiError(400, "vector[" + i + "] is not a number");
            v[i] = n.floatValue();
        }
        Object kk = j.getOrDefault("k", 10L);
        if (!(kk instanceof Long k) || k < 1 || k > VectorIndex.MAX_K)
            throw new ApiError(400, "k must be an integer between 1 and " + VectorIndex.MAX_K + ", got " + kk);
        answerHits(ctx, index.search(v, k.intValue(), stringMap(j.get("filter"), "filter")), t0);
    }

    // ---- the index

    private void addImage(Context ctx) {
        byte[] bytes = imageBytes(ctx, "image", true);
        String id = ctx.queryParam("id");
        if (id == null || id.isBlank()) {
            try {
                id = "sha256-" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes), 0, 8);
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
        Map<String, String> meta = new LinkedHashMap<>();
        for (var e : ctx.queryParamMap().entrySet())
            if (e.getKey().startsWith("meta.") && !e.getValue().isEmpty()) meta.put(e.getKey().substring(5), e.getValue().getFirst());
        Prepared im = prepare("image", bytes, true);
        Entry entry = new Entry(id, indexVector(im), meta, im.preview());
        index.add(List.of(entry));
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("id", id);
        out.put("count", index.count());
        json(ctx, 200, out);
    }

    private void addPaths(Context ctx) throws Exception {
        Map<String, Object> j = jsonBody(ctx);
        if (!(j.get("paths") instanceof List<?> given) || given.isEmpty()) throw new ApiError(400, "the body needs \"paths\": [\"folder or file\", ...]");
        Map<String, String> meta = stringMap(j.get("metadata"), "metadata");
        List<Path> files = new ArrayList<>();
        for (Object o : given) {
            if (!(o instanceof String s)) throw new ApiError(400, "paths must be strings");
            files.addAll(roots.images(roots.resolve(s), MAX_FILES));
            if (files.size() > MAX_FILES) throw new ApiError(413, "more than " + MAX_FILES + " images in one request");
        }
        Added r = addFiles(files, meta, false, n -> {});
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("added", r.added());
        out.put("failed", r.failed());
        out.put("count", index.count());
        json(ctx, 200, out);
    }

    /** What {@link #addFiles} did: entries added, entries skipped as already present, files that failed (path, error). */
    public record Added(int added, int skipped, List<Map<String, Object>> failed) {}

    /**
     * Adds server-side image files (inside the roots) through the model's queue, a batch of files in flight at a time
     * so that they share forwards; ids are the paths under their root. With {@code skipPresent} files whose id is
     * already indexed are not embedded again (a restarted {@code serve --add} goes on where it stopped);
     * {@code progress} hears the count of files handled after each batch.
     */
    public Added addFiles(List<Path> files, Map<String, String> meta, boolean skipPresent, java.util.function.IntConsumer progress) {
        List<Map<String, Object>> failed = new ArrayList<>();
        int added = 0, skipped = 0;
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int from = 0; from < files.size(); from += cfg.maxBatch()) {
                List<Path> chunk = files.subList(from, Math.min(files.size(), from + cfg.maxBatch()));
                List<Future<Entry>> fs = new ArrayList<>();
                for (Path f : chunk) {
                    if (skipPresent && index.contains(roots.idOf(f))) {
                        fs.add(null);
                        skipped++;
                    } else fs.add(pool.submit(() -> pathEntry(f, meta)));
                }
                List<Entry> entries = new ArrayList<>();
                for (int i = 0; i < chunk.size(); i++) {
                    if (fs.get(i) == null) continue;
                    try {
                        entries.add(fs.get(i).get());
                    } catch (java.util.concurrent.ExecutionException e) {
                        Map<String, Object> m = new LinkedHashMap<>();
                        m.put("path", roots.idOf(chunk.get(i)));
                        m.put("error", ApiError.oneLine(e.getCause().getMessage()));
                        failed.add(m);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return new Added(added, skipped, failed);
                    }
                }
                if (!entries.isEmpty()) index.add(entries);
                added += entries.size();
                progress.accept(from + chunk.size());
            }
        }
        return new Added(added, skipped, failed);
    }

    /** The image files under a path inside the roots (a file, or a folder walked), at most {@code max}. */
    public List<Path> imagesUnder(Path path, int max) {
        return roots.images(roots.resolve(path.toString()), max);
    }

    /** A server-side file's entry: id = its path under its root, metadata "file" = where to read it for previews. */
    private Entry pathEntry(Path f, Map<String, String> meta) throws IOException, InterruptedException {
        Path real = f.toRealPath();
        if (!roots.allows(real)) throw new ApiError(403, "outside the allowed roots");
        String id = roots.idOf(real);
        byte[] bytes = readImageFile(real);
        float[] v = null;
        for (int attempt = 0; v == null; attempt++) {
            try {
                v = indexVector(prepare(id, bytes, false));
            } catch (ApiError e) { // queue full: this request waits its turn instead of failing its files
                if (e.status() != 503 || closing || attempt > 100) throw e;
                Thread.sleep(50);
            }
        }
        Map<String, String> m = new LinkedHashMap<>(meta);
        m.put("file", real.toString());
        return new Entry(id, v, m);
    }

    private Entry entry(Context ctx) {
        String id = ctx.pathParam("id");
        return index.get(id).orElseThrow(() -> new ApiError(404, "no entry with id '" + clip(id) + "'"));
    }

    private void getImage(Context ctx) {
        Entry e = entry(ctx);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("id", e.id());
        out.put("metadata", e.metadata());
        out.put("has_preview", e.preview() != null || e.metadata().containsKey("file"));
        json(ctx, 200, out);
    }

    private void deleteImage(Context ctx) {
        String id = ctx.pathParamMap().containsKey("id") ? ctx.pathParam("id") : ctx.queryParam("id"); // ?id= for ids a path cannot carry
        if (id == null || id.isEmpty()) throw new ApiError(400, "give the id: DELETE /api/images/{id} or /api/images?id=ID");
        int n = index.delete(List.of(id));
        if (n == 0) throw new ApiError(404, "no entry with id '" + clip(id) + "'");
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("deleted", n);
        out.put("count", index.count());
        json(ctx, 200, out);
    }

    /** A stored entry's picture: its preview bytes, or its file (still inside the roots). */
    private byte[] storedBytes(Entry e) {
        if (e.preview() != null) return e.preview();
        String file = e.metadata().get("file");
        if (file == null) throw new ApiError(404, "entry '" + clip(e.id()) + "' has no picture");
        Path p = Path.of(file);
        if (!roots.allows(p)) throw new ApiError(403, "the file of entry '" + clip(e.id()) + "' is no longer inside the allowed roots");
        try {
            return readImageFile(p.toRealPath());
        } catch (IOException ex) {
            throw new ApiError(404, "the file of entry '" + clip(e.id()) + "' cannot be read");
        }
    }

    /** A server-side file's bytes: a regular file (not a FIFO, a device) within the body limit, as an upload would be. */
    private byte[] readImageFile(Path real) throws IOException {
        if (!Files.isRegularFile(real)) throw new ApiError(400, "'" + clip(roots.idOf(real)) + "' is not a regular file");
        if (Files.size(real) > cfg.maxBodyBytes())
            throw new ApiError(413, "'" + clip(roots.idOf(real)) + "' is larger than the " + (cfg.maxBodyBytes() >> 20) + " MB limit");
        return Files.readAllBytes(real);
    }

    private void preview(Context ctx) {
        preview(ctx, entry(ctx));
    }

    /** The preview by ?id=: ids that a path cannot carry (an absolute path's leading '/', an empty segment). */
    private void previewById(Context ctx) {
        String id = ctx.queryParam("id");
        if (id == null || id.isEmpty()) throw new ApiError(400, "give ?id=ID");
        preview(ctx, index.get(id).orElseThrow(() -> new ApiError(404, "no entry with id '" + clip(id) + "'")));
    }

    private void preview(Context ctx, Entry e) {
        byte[] b = e.preview() != null ? e.preview() : decoding(() -> Images.preview(images.decode(e.id(), storedBytes(e))));
        ctx.contentType("image/jpeg").header("Cache-Control", "max-age=60").result(b);
    }

    // ---- pictures and heads

    private static boolean png(Context ctx, String dflt) {
        String f = Objects.requireNonNullElse(ctx.queryParam("format"), dflt);
        return switch (f) {
            case "png" -> true;
            case "json" -> false;
            default -> throw new ApiError(400, "format must be png or json, got '" + clip(f) + "'");
        };
    }

    private void sendPng(Context ctx, java.awt.image.BufferedImage im) {
        ctx.contentType("image/png").result(Images.png(im));
    }

    /** Image {@code name} of a match: the multipart part, or the stored entry named by query {@code name_id}. */
    private RgbImage matchImage(Context ctx, String name) {
        String id = ctx.queryParam(name + "_id");
        if (id != null && !id.isEmpty()) {
            Entry e = index.get(id).orElseThrow(() -> new ApiError(404, "no entry with id '" + clip(id) + "'"));
            return decodeFit(id, storedBytes(e), DENSE_MAX_SIDE);
        }
        byte[] b = imageBytes(ctx, name, false);
        if (b == null) throw new ApiError(400, "match needs images '" + name + "': a multipart part '" + name + "' or ?" + name + "_id=ID");
        return decodeFit(name, b, DENSE_MAX_SIDE);
    }

    private int resolution(Context ctx) {
        int p = model.config().patchSize();
        // at most twice the default side: attention is quadratic in the tokens, and one request holds the one model thread
        int def = Sides.picturesSide(model.config());
        return intParam(ctx, "resolution", def, p, Math.min(2048, 2 * def));
    }

    private PatchFeatures patchFeatures(RgbImage im, int side) {
        return batcher.run(() -> FeatureExtractor.patchFeatures(model, im, side));
    }

    private void match(Context ctx) {
        boolean png = png(ctx, "json");
        int top = intParam(ctx, "top", PatchMatch.DEFAULT_TOP, 0, 100_000), side = resolution(ctx);
        RgbImage a = matchImage(ctx, "a"), b = matchImage(ctx, "b");
        PatchFeatures fa = patchFeatures(a, side), fb = patchFeatures(b, side);
        List<PatchMatch.Match> drawn = PatchMatch.top(PatchMatch.mutualNearest(fa, fb), top);
        if (png) {
            sendPng(ctx, PatchMatch.draw(a, fa, b, fb, drawn, 2048));
            return;
        }
        List<Object> pairs = new ArrayList<>();
        for (PatchMatch.Match m : drawn) {
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("a", new int[] {m.a() / fa.gridW(), m.a() % fa.gridW()});
            p.put("b", new int[] {m.b() / fb.gridW(), m.b() % fb.gridW()});
            p.put("score", clean(m.similarity()));
            pairs.add(p);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("a", grid(fa, a));
        out.put("b", grid(fb, b));
        out.put("pairs", pairs);
        json(ctx, 200, out);
    }

    private static Map<String, Object> grid(PatchFeatures f, RgbImage im) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("rows", f.gridH());
        m.put("cols", f.gridW());
        m.put("width", im.width());
        m.put("height", im.height());
        return m;
    }

    private void pca(Context ctx) {
        String t = ctx.queryParam("threshold");
        double threshold = FeaturePictures.DEFAULT_THRESHOLD;
        if (t != null) {
            try {
                threshold = Double.parseDouble(t);
            } catch (NumberFormatException e) {
                threshold = Double.NaN;
            }
            if (!(threshold >= 0 && threshold <= 1)) throw new ApiError(400, "threshold must be in [0, 1], got '" + clip(t) + "'");
        }
        boolean flip = "true".equals(ctx.queryParam("flip"));
        int side = resolution(ctx);
        RgbImage im = decodeFit("image", uploaded(ctx), DENSE_MAX_SIDE);
        FeaturePictures.PcaMap map = FeaturePictures.pca(List.of(patchFeatures(im, side)), threshold, flip).getFirst();
        sendPng(ctx, FeaturePictures.render(map, im.width(), im.height(), FeaturePictures.Upsample.NEAREST));
    }

    /** The image scaled down to at most {@code max} px on its longer side (bicubic), or itself. */
    private static <T> T head(T h, String what) {
        if (h == null) throw new ApiError(501, "no " + what + " head is loaded (start the server with --heads or --random-heads SEED)");
        return h;
    }

    private void classify(Context ctx) {
        Classifier c = head(heads.classifier(), "classification");
        int top = intParam(ctx, "top", 5, 1, c.classes());
        Prepared im = prepare("image", uploaded(ctx), false);
        Tensor x = new Tensor(im.chw(), 1, 3, im.h(), im.w());
        List<Classifier.Prediction> p = batcher.run(() -> c.classify(x, top).getFirst());
        List<Object> list = new ArrayList<>();
        for (Classifier.Prediction q : p) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("index", q.index());
            m.put("name", q.label());
            m.put("probability", q.probability());
            list.add(m);
        }
        json(ctx, 200, Map.of("top", list));
    }

    private void depth(Context ctx) {
        var d = head(heads.depther(), "depth");
        boolean png = png(ctx, "png");
        int side = resolution(ctx);
        RgbImage im = decodeFit("image", uploaded(ctx), DENSE_MAX_SIDE);
        Tensor x = new Preprocess(side, 0, 0).apply(im);
        Tensor out = batcher.run(() -> d.depth(x));
        int h = out.size(2), w = out.size(3), W = im.width(), H = im.height();
        float[] m = h == H && w == W ? out.data() : Resize.bilinear(out.data(), h, w, 1, H, W, false);
        if (png) {
            sendPng(ctx, DepthPictures.withScaleBar(m, W, H));
            return;
        }
        DepthPictures.Range r = DepthPictures.Range.of(m);
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("width", W);
        o.put("height", H);
        o.put("min_m", clean(r.min()));
        o.put("max_m", clean(r.max()));
        json(ctx, 200, o);
    }

    private void segment(Context ctx) {
        Segmenter s = head(heads.segmenter(), "segmentation");
        boolean png = png(ctx, "png"), overlay = !"false".equals(ctx.queryParam("overlay"));
        RgbImage im = decodeFit("image", uploaded(ctx), DENSE_MAX_SIDE);
        Segmenter.Segmentation seg = batcher.run(() -> s.segment(im, Segmenter.TestConfig.linear(heads.segmentDataset())));
        SegmentationPictures.Palette pal = heads.palette();
        if (png) {
            sendPng(ctx, overlay ? SegmentationPictures.overlay(im, seg.labels(), pal, SegmentationPictures.DEFAULT_ALPHA)
                    : SegmentationPictures.mask(seg.labels(), seg.width(), seg.height(), pal));
            return;
        }
        List<Object> classes = new ArrayList<>();
        for (SegmentationPictures.Present p : SegmentationPictures.present(seg.labels(), pal)) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("index", p.classIndex());
            m.put("name", p.name());
            m.put("fraction", p.fraction());
            classes.add(m);
        }
        json(ctx, 200, Map.of("classes", classes));
    }

    // ---- health, page

    private void health(Context ctx) {
        Map<String, Object> idx = new LinkedHashMap<>();
        idx.put("kind", be.indexKind());
        idx.put("count", index.count());
        idx.put("vectors", index.spec().vectors());
        idx.put("dim", index.spec().dim());
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("status", closing ? "closing" : "ok");
        m.put("model", be.modelName());
        m.put("dim", model.embedDim());
        m.put("patch_size", model.config().patchSize());
        m.put("index", idx);
        m.put("heads", heads.names());
        m.put("write_token", cfg.token() != null);
        m.put("queue", batcher.depth());
        json(ctx, closing ? 503 : 200, m);
    }

    private void page(Context ctx) {
        byte[] b = staticResource("index.html");
        if (b == null) b = "<!doctype html><title>dino4j</title><p>dino4j serve: the web page is not in this build; the API is at /openapi.json</p>"
                .getBytes(StandardCharsets.UTF_8);
        ctx.contentType("text/html; charset=utf-8").result(b);
    }

    private static final Map<String, String> TYPES = Map.of("html", "text/html; charset=utf-8", "js", "text/javascript; charset=utf-8",
            "css", "text/css; charset=utf-8", "svg", "image/svg+xml", "png", "image/png", "jpg", "image/jpeg", "ico", "image/x-icon",
            "json", "application/json; charset=utf-8", "woff2", "font/woff2");

    private void staticFile(Context ctx) {
        String p = ctx.pathParam("path");
        if (!p.matches("[A-Za-z0-9_./-]{1,200}") || p.contains("..") || p.startsWith("/"))
            throw new ApiError(404, "no such file: /static/" + clip(p));
        byte[] b = staticResource(p);
        if (b == null) throw new ApiError(404, "no such file: /static/" + clip(p));
        String ext = p.substring(p.lastIndexOf('.') + 1).toLowerCase(Locale.ROOT);
        ctx.contentType(TYPES.getOrDefault(ext, "application/octet-stream")).header("Cache-Control", "no-cache").result(b);
    }

    /** A file of the page (resources under static/), or null. */
    private static byte[] staticResource(String path) {
        try (InputStream in = Server.class.getClassLoader().getResourceAsStream("static/" + path)) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            return null;
        }
    }

    private static byte[] resource(String name) {
        try (InputStream in = Server.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("resource " + name + " missing from the jar");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
