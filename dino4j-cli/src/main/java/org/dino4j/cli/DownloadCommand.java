package org.dino4j.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.LongSupplier;

import org.dino4j.hub.Downloader;
import org.dino4j.hub.HubCache;
import org.dino4j.hub.HubFile;
import org.dino4j.hub.HubHead;
import org.dino4j.hub.HubModel;
import org.dino4j.model.ModelConfig;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "download", mixinStandardHelpOptions = true,
        description = {"Fetches hub backbones (their official checkpoints) and the heads Meta released for them.",
                "A backbone serves --weights NAME; the heads are ImageNet classifiers, depth and segmentation heads (a",
                "segmentation head comes with its config).",
                "They go into $DINO4J_HOME/checkpoints (default ~/.cache/dino4j/checkpoints), unless",
                "PyTorch's hub cache or Hugging Face's already holds them. An interrupted download resumes; the file gets",
                "its final name only once its size (and --sha256) match and it opens as the model's checkpoint",
                "(a head: as a head of its backbone's shape, or as a complete PyTorch archive).",
                "Prints NAME: PATH (and NAME config: PATH); --weights NAME then finds a backbone."})
final class DownloadCommand implements Callable<Integer> {
    /** Tests point the caches at temporary directories; null: the environment's. */
    static volatile HubCache cacheOverride;

    static HubCache cache() {
        HubCache c = cacheOverride;
        return c != null ? c : HubCache.fromEnvironment();
    }

    @Parameters(paramLabel = "NAME", arity = "1..*",
            description = {"dinov2_vits14, dinov2_vitb14, dinov2_vitl14, dinov2_vitg14, each also _reg; or a head such as",
                    "dinov2_vits14_linear4, dinov2_vitb14_nyu_dpt, dinov2_vitl14_ade20k_ms, or a torch.hub name such as",
                    "dinov2_vits14_lc (`dino4j models` lists them all)."})
    List<String> names;

    @Option(names = "--sha256", paramLabel = "HEX", description = "Expected SHA-256 of the file (with one NAME; a head's weights, not its config).")
    String sha256;

    @Option(names = "--base-url", paramLabel = "URL",
            description = "A mirror with Meta's layout (default: -Ddino4j.hub.baseUrl, else " + HubModel.DEFAULT_BASE_URL + ").")
    String baseUrl;

    @Override
    public Integer call() {
        if (sha256 != null && names.size() > 1) throw new IllegalArgumentException("--sha256 applies to one NAME, got " + names.size());
        for (String n : names)
            if (!HubModel.isHubName(n) && !HubHead.isHeadName(n))
                throw new IllegalArgumentException("unknown model '" + n + "'; known: " + String.join(", ", ModelConfig.HUB_NAMES)
                        + ", and the heads `dino4j models` lists");
        HubCache cache = cache();
        boolean tty = interactive(); // a terminal gets one line redrawn 4 times a second; a log a line every 5 s
        Progress progress = new Progress(System.err, System::nanoTime, tty ? 250_000_000L : 5_000_000_000L, tty);
        Downloader downloader = new Downloader(cache, progress, 3);
        String base = baseUrl != null ? baseUrl : HubModel.baseUrl();
        for (String n : names) {
            List<HubFile> files;
            if (HubModel.isHubName(n)) {
                HubModel m = HubModel.of(n, base);
                files = List.of(sha256 != null ? m.withSha256(sha256) : m);
            } else {
                HubHead h = HubHead.of(n, base);
                files = (sha256 != null ? h.withSha256(sha256) : h).files();
            }
            for (HubFile f : files) {
                Optional<Path> hit = cache.find(f);
                Path p;
                try {
                    p = downloader.fetch(f);
                } finally {
                    progress.finish();
                }
                String label = f instanceof HubHead.Config ? n + " config" : n;
                System.out.println(label + ": " + p + (hit.isPresent() ? " (already cached)" : ""));
            }
        }
        return 0;
    }

    private static boolean interactive() {
        var c = System.console();
        return c != null && c.isTerminal();
    }

    /**
     * Bytes, MB/s and ETA on stderr, at most once per {@code intervalNanos} and once more at the end of a transfer;
     * {@code sameLine} redraws one line with a carriage return (terminals) instead of printing lines (logs).
     */
    static final class Progress implements Downloader.Listener {
        private final PrintStream err;
        private final LongSupplier clock;
        private final long intervalNanos;
        private final boolean sameLine;
        private String name;
        private long from, t0, lastPrint, lastDone, lastTotal;
        private boolean pending, drawn;
        private int width;

        Progress(PrintStream err, LongSupplier clock, long intervalNanos, boolean sameLine) {
            this.err = err;
            this.clock = clock;
            this.intervalNanos = intervalNanos;
            this.sameLine = sameLine;
        }

        @Override
        public void started(HubFile model, long from, long total) {
            name = model.name();
            this.from = from;
            t0 = lastPrint = clock.getAsLong();
            lastDone = from;
            lastTotal = total;
            pending = false;
            endLine();
            err.println(name + ": " + (from > 0 ? "resuming at " + mb(from) + " of " : "downloading ")
                    + (total >= 0 ? mb(total) : "? MB") + " from " + model.url());
        }

        @Override
        public void progress(long done, long total) {
            lastDone = done;
            lastTotal = total;
            long now = clock.getAsLong();
            if (now - lastPrint < intervalNanos) {
                pending = true;
                return;
            }
            lastPrint = now;
            draw(now);
        }

        /** Shows the last state if throttling held it back and ends the redrawn line. */
        void finish() {
            if (pending) draw(clock.getAsLong());
            endLine();
        }

        private void draw(long now) {
            pending = false;
            String l = line(now);
            if (!sameLine) {
                err.println(l);
                return;
            }
            err.print("\r" + l + " ".repeat(Math.max(0, width - l.length())));
            err.flush();
            width = l.length();
            drawn = true;
        }

        private void endLine() {
            if (drawn) err.println();
            drawn = false;
            width = 0;
        }

        String line(long now) {
            double secs = Math.max(1e-9, (now - t0) / 1e9);
            double rate = (lastDone - from) / secs; // bytes/s of this transfer
            StringBuilder s = new StringBuilder(name).append(": ").append(mb(lastDone));
            if (lastTotal > 0) s.append(" / ").append(mb(lastTotal))
                    .append(String.format(Locale.ROOT, " (%d%%)", Math.round(100.0 * lastDone / lastTotal)));
            s.append(String.format(Locale.ROOT, "  %.1f MB/s", rate / 1e6));
            if (lastTotal > 0 && rate > 0) s.append("  ETA ").append(eta((long) Math.ceil((lastTotal - lastDone) / rate)));
            return s.toString();
        }

        private static String mb(long bytes) {
            return String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
        }

        private static String eta(long s) {
            return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                    : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
        }
    }
}
