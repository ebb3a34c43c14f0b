package org.dino4j.serve;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A load generator for the server, loopback by intent: N concurrent clients each POST single images (the bytes of real
 * photos, in turn) to one endpoint until a request count or a time limit, then images/s, p50/p99 latency of the
 * answered requests, and how many were refused (503) or failed.
 * <pre>
 * java -cp dino4j.jar org.dino4j.serve.LoadClient --url http://127.0.0.1:8080/api/embed --clients 16 --count 2000 --seconds 120 PHOTOS...
 * </pre>
 */
public final class LoadClient {
    /**
     * @param statuses how many answers of each HTTP status (0: no answer: connection failed)
     * @param rejectedWithoutRetryAfter 503 answers that lacked a Retry-After header (should be none)
     */
    public record Result(int sent, int ok, int rejected, int failed, double seconds, double imagesPerSecond, double p50Ms, double p99Ms,
                         Map<Integer, Integer> statuses, int rejectedWithoutRetryAfter) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%d requests in %.1f s: %d ok (%.2f images/s, p50 %.1f ms, p99 %.1f ms), %d rejected (503), %d failed; statuses %s",
                    sent, seconds, ok, imagesPerSecond, p50Ms, p99Ms, rejected, failed, statuses);
        }
    }

    private LoadClient() {}

    /** Runs {@code clients} concurrent clients posting {@code images} (in turn) to {@code endpoint}, {@code count} requests at most, for at most {@code maxTime}. */
    public static Result run(URI endpoint, List<byte[]> images, int clients, int count, Duration maxTime) {
        if (images.isEmpty()) throw new IllegalArgumentException("no images to send");
        if (clients < 1 || count < 1) throw new IllegalArgumentException("clients and count must be >= 1");
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
        AtomicInteger next = new AtomicInteger(), noRetryAfter = new AtomicInteger();
        Map<Integer, Integer> statuses = new ConcurrentHashMap<>();
        List<Long> latencies = java.util.Collections.synchronizedList(new ArrayList<>());
        long t0 = System.nanoTime(), end = t0 + maxTime.toNanos();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int c = 0; c < clients; c++)
                pool.submit(() -> {
                    for (int i; System.nanoTime() < end && (i = next.getAndIncrement()) < count; ) {
                        HttpRequest req = HttpRequest.newBuilder(endpoint).timeout(Duration.ofSeconds(120))
                                .header("Content-Type", "application/octet-stream")
                                .POST(HttpRequest.BodyPublishers.ofByteArray(images.get(i % images.size()))).build();
                        long s = System.nanoTime();
                        int status;
                        try {
                            HttpResponse<Void> r = http.send(req, HttpResponse.BodyHandlers.discarding());
                            status = r.statusCode();
                            if (status == 503 && r.headers().firstValue("Retry-After").isEmpty()) noRetryAfter.incrementAndGet();
                        } catch (IOException e) {
                            status = 0;
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            return;
                        }
                        if (status == 200) latencies.add(System.nanoTime() - s);
                        statuses.merge(status, 1, Integer::sum);
                    }
                });
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        long[] lat = latencies.stream().mapToLong(Long::longValue).sorted().toArray();
        int ok = statuses.getOrDefault(200, 0), rejected = statuses.getOrDefault(503, 0), sent = statuses.values().stream().mapToInt(i -> i).sum();
        return new Result(sent, ok, rejected, sent - ok - rejected, seconds, ok / seconds, percentile(lat, 0.50), percentile(lat, 0.99),
                new TreeMap<>(statuses), noRetryAfter.get());
    }

    /** The q-quantile in ms (nearest rank), 0 for none. */
    static double percentile(long[] sortedNanos, double q) {
        if (sortedNanos.length == 0) return 0;
        int i = (int) Math.ceil(q * sortedNanos.length) - 1;
        return sortedNanos[Math.max(0, Math.min(sortedNanos.length - 1, i))] / 1e6;
    }

    /** The bytes of the image files among {@code paths} (folders walked), sorted by path, at most {@code max}. */
    public static List<byte[]> photos(List<Path> paths, int max) throws IOException {
        List<Path> files = new ArrayList<>();
        for (Path p : paths) {
            if (Files.isDirectory(p)) try (Stream<Path> s = Files.walk(p)) {
                s.filter(f -> Files.isRegularFile(f) && Roots.isImageName(f)).forEach(files::add);
            }
            else files.add(p);
        }
        files.sort(null);
        List<byte[]> out = new ArrayList<>();
        for (Path f : files.subList(0, Math.min(max, files.size()))) out.add(Files.readAllBytes(f));
        return out;
    }

    public static void main(String[] args) throws IOException {
        String url = "http://127.0.0.1:8080/api/embed";
        int clients = 16, count = 1000, seconds = 60, maxImages = 200;
        List<Path> paths = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--url" -> url = args[++i];
                case "--clients" -> clients = Integer.parseInt(args[++i]);
                case "--count" -> count = Integer.parseInt(args[++i]);
                case "--seconds" -> seconds = Integer.parseInt(args[++i]);
                case "--max-images" -> maxImages = Integer.parseInt(args[++i]);
                case "-h", "--help" -> {
                    System.out.println("LoadClient [--url " + url + "] [--clients 16] [--count 1000] [--seconds 60] [--max-images 200] PHOTO|FOLDER...");
                    return;
                }
                default -> paths.add(Path.of(args[i]));
            }
        }
        if (paths.isEmpty()) {
            System.err.println("LoadClient: give photos or folders of photos (e.g. /usr/share/backgrounds)");
            System.exit(2);
        }
        List<byte[]> images = photos(paths, maxImages);
        System.out.printf(Locale.ROOT, "%d clients, %d images (%.1f MB), %s%n", clients, images.size(),
                images.stream().mapToLong(b -> b.length).sum() / 1e6, Arrays.asList(url, count + " requests at most", seconds + " s at most"));
        System.out.println(run(URI.create(url), images, clients, count, Duration.ofSeconds(seconds)));
    }
}
