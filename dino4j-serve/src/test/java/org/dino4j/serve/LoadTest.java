package org.dino4j.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.dino4j.data.ImageDecoder;
import org.dino4j.data.Preprocess;
import org.dino4j.index.ExactIndex;
import org.dino4j.index.IndexSpec;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;
import org.dino4j.model.ModelConfig;
import org.dino4j.tensor.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** 16 concurrent clients on the loopback address: every request answered, batches formed, memory bounded under overload. */
class LoadTest {
    static List<byte[]> fixturePhotos() throws IOException {
        return LoadClient.photos(List.of(Fixture.fixtures().resolve("extra/images")), 100);
    }

    /** A metric's value from the Prometheus text (the sum over its label sets). */
    static double metric(String text, String name) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "(\\{[^}]*\\})? ([0-9.eE+-]+)$").matcher(text);
        double sum = 0;
        boolean found = false;
        while (m.find()) {
            sum += Double.parseDouble(m.group(2));
            found = true;
        }
        assertTrue(found, name + " not in /metrics");
        return sum;
    }

    static Server start(ModelConfig cfg, Server.Config config) {
        DinoVisionTransformer m = Dinov2.random(cfg, 5);
        ExactIndex idx = new ExactIndex(new IndexSpec("random", "", IndexSpec.CLS, m.embedDim()));
        return Server.start(config.withPort(0), new Server.Backend(m, "random", null, idx, "exact", Heads.NONE));
    }

    @Test
    void sixteenClientsAreAllAnsweredInBatches() throws IOException {
        List<byte[]> photos = fixturePhotos();
        try (Server s = start(Fixture.tinyConfig(), Server.Config.defaults().withBatching(8, 20, 64, 30_000))) {
            LoadClient.Result r = LoadClient.run(Fixture.uri(s, "/api/embed"), photos, 16, 50, Duration.ofSeconds(60));
            System.out.println("load, tiny model: " + r);
            assertEquals(50, r.ok(), r.toString());
            String metrics = Fixture.get(s, "/metrics").text();
            double batches = metric(metrics, "dino4j_batch_size_count"), images = metric(metrics, "dino4j_batch_size_sum");
            assertEquals(50, images, 0);
            assertEquals(50, metric(metrics, "dino4j_images_total"), 0);
            assertTrue(images / batches > 1, "dynamic batching formed batches of more than one: " + images + " images in " + batches + " forwards");
            assertTrue(metrics.contains("dino4j_http_requests_seconds_count{method=\"POST\",route=\"/api/embed\",status=\"200\"} 50"), metrics);
        }
    }

    @Test
    void clientsFasterThanTheModelGet503NotUnboundedMemory() throws IOException {
        // a model slow enough (112 px, width 96) that 16 clients outpace it; a queue of 4
        ModelConfig slow = ModelConfig.fromJson("{\"img_size\":112,\"patch_size\":14,\"embed_dim\":96,\"depth\":4,\"num_heads\":3,\"init_values\":1.0}");
        List<byte[]> photos = fixturePhotos();
        int queue = 4, batch = 2;
        try (Server s = start(slow, Server.Config.defaults().withBatching(batch, 0, queue, 30_000))) {
            AtomicInteger maxDepth = new AtomicInteger();
            AtomicBoolean done = new AtomicBoolean();
            Thread watch = Thread.ofVirtual().start(() -> {
                while (!done.get()) {
                    String m = Fixture.get(s, "/metrics").text();
                    maxDepth.accumulateAndGet((int) metric(m, "dino4j_queue_depth"), Math::max);
                }
            });
            LoadClient.Result r = LoadClient.run(Fixture.uri(s, "/api/embed"), photos, 16, 64, Duration.ofSeconds(60));
            done.set(true);
            System.out.println("overload, queue " + queue + ": " + r + "; deepest queue " + maxDepth.get());
            assertTrue(r.rejected() > 0, "a full queue refuses: " + r);
            assertTrue(r.ok() > 0, r.toString());
            assertEquals(0, r.failed(), "only 200 and 503: " + r);
            assertEquals(0, r.rejectedWithoutRetryAfter(), "503 answers carry Retry-After");
            assertTrue(maxDepth.get() <= queue + batch, "the queue stays bounded: " + maxDepth.get());
            String m = Fixture.get(s, "/metrics").text();
            assertEquals(r.rejected(), metric(m, "dino4j_rejected_total"), 0);
            try {
                watch.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * The figures for README: ViT-S/14 shapes (random weights), 16 clients posting real photos for a bounded time,
     * against the same model's forward at batch 8 in the same minutes. Run with -Dgroups=long.
     */
    @Test
    @Tag("long")
    void photosAgainstBatchEightBench() throws IOException {
        Path photosDir = Path.of(System.getProperty("dino4j.photos", "/usr/share/backgrounds"));
        assumeTrue(Files.isDirectory(photosDir), "no photos at " + photosDir);
        ImageDecoder check = new ImageDecoder();
        List<byte[]> photos = LoadClient.photos(List.of(photosDir), 40).stream().filter(b -> {
            try {
                check.decode(Path.of("photo"), b);
                return true;
            } catch (RuntimeException e) { // a few of skimage's test files are no photos dino4j reads
                return false;
            }
        }).toList();
        int seconds = Integer.getInteger("dino4j.load.seconds", 60);
        ModelConfig vits = ModelConfig.preset("dinov2_vits14");
        double bench;
        try (DinoVisionTransformer m = Dinov2.random(vits, 1)) {
            Preprocess pre = Server.defaultPreprocess(m.config());
            ImageDecoder dec = new ImageDecoder();
            float[] x = new float[8 * 3 * 224 * 224];
            for (int i = 0; i < 8; i++)
                System.arraycopy(pre.chw(dec.decode(Path.of("photo"), photos.get(i % photos.size()))), 0, x, i * 3 * 224 * 224, 3 * 224 * 224);
            Tensor t = new Tensor(x, 8, 3, 224, 224);
            m.forwardFeatures(t); // warm-up
            int n = 0;
            long t0 = System.nanoTime();
            while (System.nanoTime() - t0 < 20e9 || n < 3) {
                m.forwardFeatures(t);
                n++;
            }
            bench = 8 * n / ((System.nanoTime() - t0) / 1e9);
        }
        try (Server s = start(vits, Server.Config.defaults())) {
            LoadClient.run(Fixture.uri(s, "/api/embed"), photos, 16, 32, Duration.ofSeconds(60)); // warm-up
            LoadClient.Result r = LoadClient.run(Fixture.uri(s, "/api/embed"), photos, 16, 100_000, Duration.ofSeconds(seconds));
            String m = Fixture.get(s, "/metrics").text();
            System.out.printf(Locale.ROOT, "LOAD vits14 (random weights), %d photos, 16 clients, %d s: %s%n  bench batch 8: %.2f images/s; server/bench = %.2f; mean batch %.2f; cores %d%n",
                    photos.size(), seconds, r, bench, r.imagesPerSecond() / bench,
                    metric(m, "dino4j_batch_size_sum") / metric(m, "dino4j_batch_size_count"), Runtime.getRuntime().availableProcessors());
            assertEquals(0, r.failed(), r.toString());
        }
    }
}
