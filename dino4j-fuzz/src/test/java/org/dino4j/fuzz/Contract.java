package org.dino4j.fuzz;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * What every fuzz target holds a reader to: on a stranger's bytes it returns a valid result or throws its documented
 * exception with a message that names the input; anything else (another exception, an OutOfMemoryError, a hang that
 * Jazzer's per-input timeout catches) is a finding. Undocumented throwables are rethrown unchanged, so Jazzer files
 * each under its own stack trace.
 */
final class Contract {
    private Contract() {}

    interface Call {
        void run() throws Exception;
    }

    /** Runs {@code call}; a throwable is accepted only if it is one of {@code documented} and its message names {@code input}. */
    @SafeVarargs
    static void holds(String input, Call call, Class<? extends RuntimeException>... documented) {
        try {
            call.run();
        } catch (Throwable t) {
            for (Class<? extends RuntimeException> c : documented) {
                if (!c.isInstance(t)) continue;
                String m = t.getMessage();
                if (m == null || m.isBlank()) throw new AssertionError(c.getSimpleName() + " without a message", t);
                if (input != null && !m.contains(input))
                    throw new AssertionError(c.getSimpleName() + " does not name " + input + ": " + m, t);
                if (ownBug(t.getCause())) throw sneaky(t.getCause());
                return;
            }
            throw sneaky(t);
        }
    }

    /**
     * Whether a documented exception wraps what is really a bug: readers keep a safety net (MappedFile, ImageDecoder)
     * that turns any RuntimeException into their documented one, which would hide dino4j's own slips from the fuzzer.
     * An Error, or a RuntimeException thrown by dino4j's code (the first frame outside the JDK's core packages), is one;
     * a third-party decoder's RuntimeException (TwelveMonkeys, the JDK's ImageIO plugins) means a corrupt file.
     */
    static boolean ownBug(Throwable cause) {
        if (cause == null) return false;
        if (cause instanceof Error) return true;
        if (!(cause instanceof RuntimeException) || cause.getClass().getName().startsWith("org.dino4j.")) return false;
        for (StackTraceElement f : cause.getStackTrace()) {
            String k = f.getClassName();
            if (k.startsWith("java.lang.") || k.startsWith("java.util.") || k.startsWith("java.nio.") || k.startsWith("jdk.internal.")) continue;
            return k.startsWith("org.dino4j.");
        }
        return false;
    }

    @SuppressWarnings("unchecked")
    private static <T extends Throwable> RuntimeException sneaky(Throwable t) throws T {
        throw (T) t;
    }

    /** A fresh, empty scratch folder for one input (the previous one is removed first). */
    static Path scratch(String name) {
        Path dir = ROOT.resolve(name);
        delete(dir);
        try {
            return Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Path write(Path file, byte[] bytes) {
        try {
            return Files.write(file, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Input split into {@code n} parts at {@link #SEP} (missing parts are empty): several files from one input. */
    static List<byte[]> parts(byte[] data, int n) {
        byte[][] out = new byte[n][];
        int from = 0;
        for (int p = 0; p < n - 1; p++) {
            int at = indexOf(data, SEP, from);
            if (at < 0) {
                out[p] = Arrays.copyOfRange(data, from, data.length);
                from = data.length;
            } else {
                out[p] = Arrays.copyOfRange(data, from, at);
                from = at + SEP.length;
            }
        }
        out[n - 1] = Arrays.copyOfRange(data, from, data.length);
        return List.of(out);
    }

    static final byte[] SEP = "\n--8<--\n".getBytes(StandardCharsets.US_ASCII);

    /** Where {@code b} first occurs in {@code a} at or after {@code from}, or -1. */
    static int indexOf(byte[] a, byte[] b, int from) {
        outer:
        for (int i = from; i + b.length <= a.length; i++) {
            for (int j = 0; j < b.length; j++) if (a[i + j] != b[j]) continue outer;
            return i;
        }
        return -1;
    }

    /**
     * The scratch root of this JVM, {@code <tmp>/dino4j-fuzz-<pid>}. libFuzzer ends the JVM without shutdown hooks on
     * a timeout or a crash, so the roots of JVMs that are gone are removed when the next one starts.
     */
    static final Path ROOT;

    static {
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        try (Stream<Path> old = Files.list(tmp)) {
            old.filter(d -> d.getFileName().toString().matches("dino4j-fuzz-\\d+"))
                    .filter(d -> ProcessHandle.of(Long.parseLong(d.getFileName().toString().substring(12))).isEmpty())
                    .forEach(Contract::delete);
        } catch (IOException | UncheckedIOException e) {
            // another JVM's leftovers are not this one's business if they cannot be listed or removed
        }
        try {
            ROOT = Files.createDirectories(tmp.resolve("dino4j-fuzz-" + ProcessHandle.current().pid()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> delete(ROOT)));
    }

    private static void delete(Path dir) {
        if (!Files.exists(dir)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
