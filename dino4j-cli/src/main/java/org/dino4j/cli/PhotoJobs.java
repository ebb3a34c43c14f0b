package org.dino4j.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.dino4j.data.Dataset;
import org.dino4j.data.Datasets;
import org.dino4j.data.ImageDecoder;
import org.dino4j.data.RgbImage;
import org.dino4j.data.Sample;

import picocli.CommandLine.Model.CommandSpec;

/**
 * The loop of the commands that turn each photo into pictures (depth, segment): inputs as files, folders or list files,
 * the next image decoded while the model works on this one, progress with images/s and ETA, each failure reported
 * with its file and the others still done, exit 1 when any failed.
 */
final class PhotoJobs {
    interface Work {
        /** Writes the outputs of one image named {@code base}; returns the line to print. */
        String process(Sample sample, RgbImage image, String base) throws Exception;
    }

    private PhotoJobs() {}

    static int run(CommandSpec spec, String command, List<Path> inputs, Path output, ImageDecoder decoder, Work work) throws Exception {
        outputFolder(output);
        PcaCommand.headless();
        Dataset ds = Datasets.of(inputs);
        List<String> failures = new ArrayList<>();
        Map<String, String> taken = new HashMap<>();
        ProgressBar bar = new ProgressBar(command, "images");
        ExecutorService pool = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "dino4j-decode");
            t.setDaemon(true);
            return t;
        });
        try {
            Future<RgbImage> next = ds.size() > 0 ? pool.submit(() -> ds.get(0).source().load(decoder)) : null;
            for (int i = 0; i < ds.size(); i++) {
                Sample s = ds.get(i);
                Future<RgbImage> cur = next;
                next = i + 1 < ds.size() ? pool.submit(load(ds.get(i + 1), decoder)) : null;
                try {
                    RgbImage im = get(cur);
                    String base = base(s, output);
                    String before = taken.putIfAbsent(base, s.id());
                    if (before != null) throw new IllegalArgumentException(s.id() + ": its pictures would overwrite those of " + before);
                    System.out.println(work.process(s, im, base));
                } catch (RuntimeException e) {
                    String m = e.getMessage() == null ? e.toString() : e.getMessage();
                    failures.add(m.contains(s.id()) ? m : s.id() + ": " + m);
                }
                bar.update(i + 1, ds.size(), failures.size());
            }
        } finally {
            pool.shutdownNow();
        }
        bar.finish();
        for (String f : failures) spec.commandLine().getErr().println("dino4j " + command + ": error: " + f);
        spec.commandLine().getErr().flush();
        if (!failures.isEmpty()) System.out.printf("%d image(s) done, %d failed%n", ds.size() - failures.size(), failures.size());
        return failures.isEmpty() ? 0 : 1;
    }

    private static java.util.concurrent.Callable<RgbImage> load(Sample s, ImageDecoder d) {
        return () -> s.source().load(d);
    }

    private static RgbImage get(Future<RgbImage> f) throws InterruptedException {
        try {
            return f.get();
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw new IllegalStateException(e.getCause());
        }
    }

    /** --output DIR, created if missing (null: the pictures go beside the inputs). */
    static void outputFolder(Path output) throws java.io.IOException {
        if (output == null) return;
        if (Files.exists(output) && !Files.isDirectory(output))
            throw new IllegalArgumentException("--output " + output + ": exists and is not a folder");
        Files.createDirectories(output);
    }

    /** OUTPUT/NAME (or beside the input) without the extension: the outputs add a suffix. */
    private static String base(Sample s, Path output) {
        Path f = Path.of(s.id().replaceFirst("#.*", ""));
        Path dir = output != null ? output : f.toAbsolutePath().getParent();
        return dir.resolve(name(s)).toString();
    }

    /** A sample's file name without its extension, with the index of a container's member (file#3 gives file_3). */
    static String name(Sample s) {
        Path f = Path.of(s.id().replaceFirst("#.*", ""));
        return PcaCommand.baseName(f) + (s.id().contains("#") ? "_" + s.id().substring(s.id().indexOf('#') + 1) : "");
    }
}
