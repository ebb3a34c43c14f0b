package org.dino4j.hub;

import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;


/**
 * Fetches zoo files ({@link HubFile}: backbones, heads, head configs) into {@link HubCache#dir()}: resumable
 * ({@code <file>.part} plus an HTTP Range request), and verified before the file gets its final name: the length
 * the server announced, the known size and sha256 if any, and {@link HubFile#problem} (a backbone opens as a
 * checkpoint of the model's exact shape). The part is forced to disk and renamed
 * atomically, so the final name never holds a half or wrong file. A lock on the part keeps two downloads of
 * the same file from interleaving.
 */
public final class Downloader {
    /** Progress of a download; {@code total} is -1 when the server does not say. */
    public interface Listener {
        Listener NONE = new Listener() {};

        /** A transfer starts at byte {@code from} (non-zero: resumed) of {@code total}. */
        default void started(HubFile file, long from, long total) {}

        /** {@code done} bytes are on disk. Called for every chunk received: throttle what you show. */
        default void progress(long done, long total) {}
    }

    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes\\s+(?:(\\d+)-(\\d+)|\\*)/(\\d+|\\*)");

    private final HubCache cache;
    private final Listener listener;
    private final int attempts;
    int connectTimeoutMs = 30_000;
    int readTimeoutMs = 60_000;

    public Downloader(HubCache cache) {
        this(cache, Listener.NONE, 3);
    }

    /**
     * @param attempts transfers per download: a dropped connection is resumed at once while each try brings new
     *                 bytes, up to this many tries (1: never retry)
     */
    public Downloader(HubCache cache, Listener listener, int attempts) {
        if (attempts < 1) throw new IllegalArgumentException("attempts must be >= 1");
        this.cache = cache;
        this.listener = listener;
        this.attempts = attempts;
    }

    /** The weights from a cache if one holds them (checked against a known sha256 if a file), else downloaded. */
    public Path fetch(HubFile m) {
        Optional<Path> hit = cache.find(m);
        if (hit.isEmpty()) return download(m);
        Path p = hit.get();
        if (m.sha256() != null && Files.isRegularFile(p)) {
            String got = sha256(p);
            if (!got.equals(m.sha256()))
                throw new DownloadException(p + ": sha256 mismatch: got " + got + ", expected " + m.sha256());
        }
        return p;
    }

    /** Downloads {@code m} into {@link HubCache#target}, resuming a partial file left by an earlier try. */
    public Path download(HubFile m) {
        Path part = cache.partial(m), target = cache.target(m);
        try {
            Files.createDirectories(cache.dir());
        } catch (IOException e) {
            throw new DownloadException(cache.dir() + ": cannot create the cache directory: " + e.getMessage(), e);
        }
        FileChannel ch;
        try {
            ch = FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new DownloadException(part + ": cannot open: " + e.getMessage(), e);
        }
        try (ch) {
            if (!lock(ch)) throw new DownloadException(part + ": another download of " + m.name() + " is writing this file");
            try {
                for (int attempt = 1; ; attempt++) {
                    long before = size(ch, part);
                    try {
                        transfer(m, ch, part);
                        break;
                    } catch (IOException e) {
                        long after = size(ch, part);
                        if (attempt < attempts && after > before) continue; // it moved: resume at once
                        throw new DownloadException(m.url() + ": " + describe(e) + (after > 0
                                ? "; " + after + " bytes kept in " + part + ", run the download again to resume" : ""), e);
                    }
                }
                try {
                    ch.force(true);
                } catch (IOException e) {
                    throw new DownloadException(part + ": cannot write: " + e.getMessage(), e);
                }
                verify(m, part);
                move(part, target);
            } catch (RuntimeException e) {
                if (size(ch, part) == 0) deleteQuietly(part); // nothing worth resuming
                throw e;
            }
        } catch (IOException e) {
            throw new DownloadException(part + ": cannot close: " + e.getMessage(), e);
        }
        return target;
    }

    /** One HTTP exchange appending to the part; an IOException is a network failure that may be resumed. */
    private void transfer(HubFile m, FileChannel ch, Path part) throws IOException {
        long have = size(ch, part);
        HttpURLConnection c = connect(m.url(), have);
        try {
            int code = c.getResponseCode();
            long total;
            if (code == HttpURLConnection.HTTP_PARTIAL && have > 0) {
                long[] r = contentRange(c.getHeaderField("Content-Range"));
                if (r == null || r[0] != have) { // a resume we cannot line up: start again
                    c.disconnect();
                    truncate(ch, part);
                    transfer(m, ch, part);
                    return;
                }
                long len = c.getContentLengthLong();
                total = r[2] >= 0 ? r[2] : len >= 0 ? have + len : -1;
            } else if (code == HttpURLConnection.HTTP_OK) {
                if (have > 0) truncate(ch, part); // the server ignored Range: start again
                have = 0;
                total = c.getContentLengthLong();
            } else if (code == 416 && have > 0) { // the part reaches the end already, or is longer than the file
                long[] r = contentRange(c.getHeaderField("Content-Range"));
                if (r != null && r[2] == have) {
                    listener.started(m, have, have);
                    return;
                }
                c.disconnect();
                truncate(ch, part);
                transfer(m, ch, part);
                return;
            } else {
                String msg = c.getResponseMessage();
                throw new DownloadException(m.url() + ": HTTP " + code + (msg == null || msg.isBlank() ? "" : " " + msg));
            }
            if (m.bytes() != null && total >= 0 && total != m.bytes()) {
                truncate(ch, part);
                throw new DownloadException(m.url() + ": the server offers " + total + " bytes, expected " + m.bytes());
            }
            listener.started(m, have, total);
            long done = have;
            byte[] buf = new byte[1 << 16];
            ByteBuffer bb = ByteBuffer.wrap(buf);
            try (InputStream in = c.getInputStream()) {
                position(ch, part, have);
                for (int n; (n = in.read(buf)) >= 0; ) {
                    if (n == 0) continue;
                    if (total >= 0 && done + n > total) {
                        truncate(ch, part);
                        throw new DownloadException(m.url() + ": the server sent more than the " + total + " bytes it announced");
                    }
                    bb.clear().limit(n);
                    try {
                        while (bb.hasRemaining()) ch.write(bb);
                    } catch (IOException e) {
                        throw new DownloadException(part + ": cannot write: " + e.getMessage(), e);
                    }
                    done += n;
                    listener.progress(done, total);
                }
            }
            if (total >= 0 && done < total)
                throw new IOException("connection closed after " + done + " of " + total + " bytes");
        } finally {
            c.disconnect();
        }
    }

    private HttpURLConnection connect(URI url, long from) throws IOException {
        HttpURLConnection c = (HttpURLConnection) url.toURL().openConnection();
        c.setConnectTimeout(connectTimeoutMs);
        c.setReadTimeout(readTimeoutMs); // a stalled transfer fails instead of hanging
        c.setInstanceFollowRedirects(true);
        c.setUseCaches(false);
        c.setRequestProperty("User-Agent", "dino4j");
        c.setRequestProperty("Accept-Encoding", "identity"); // byte offsets must be those of the file
        if (from > 0) c.setRequestProperty("Range", "bytes=" + from + "-");
        return c;
    }

    /** {start, end, total} of "bytes a-b/t" or "bytes *&#47;t"; -1 for '*'; null if absent or malformed. */
    static long[] contentRange(String h) {
        if (h == null) return null;
        Matcher mt = CONTENT_RANGE.matcher(h.trim());
        if (!mt.matches()) return null;
        try {
            return new long[] {mt.group(1) == null ? -1 : Long.parseLong(mt.group(1)),
                    mt.group(2) == null ? -1 : Long.parseLong(mt.group(2)),
                    mt.group(3).equals("*") ? -1 : Long.parseLong(mt.group(3))};
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** Size, sha256 and structure ({@link HubFile#problem}); a file that fails is removed (it would fail again on resume). */
    private static void verify(HubFile m, Path part) {
        long size;
        try {
            size = Files.size(part);
        } catch (IOException e) {
            throw new DownloadException(part + ": cannot read: " + e.getMessage(), e);
        }
        if (m.bytes() != null && size != m.bytes()) reject(m, part, "downloaded " + size + " bytes, expected " + m.bytes());
        if (m.sha256() != null) {
            String got = sha256(part);
            if (!got.equals(m.sha256())) reject(m, part, "sha256 mismatch: got " + got + ", expected " + m.sha256());
        }
        String problem = m.problem(part);
        if (problem != null) reject(m, part, problem);
    }

    private static void reject(HubFile m, Path part, String problem) {
        deleteQuietly(part);
        throw new DownloadException(m.url() + ": " + problem + " (the download was removed)");
    }

    /** Lower-case hex SHA-256 of a file. */
    static String sha256(Path file) {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e); // every JDK has SHA-256
        }
        byte[] buf = new byte[1 << 20];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
        } catch (IOException e) {
            throw new DownloadException(file + ": cannot read: " + e.getMessage(), e);
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static void move(Path part, Path target) {
        try {
            try {
                Files.move(part, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(part, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new DownloadException(target + ": cannot move the verified download into place: " + e.getMessage(), e);
        }
        try (FileChannel dir = FileChannel.open(target.toAbsolutePath().getParent(), StandardOpenOption.READ)) {
            dir.force(true); // the rename itself survives a crash
        } catch (IOException | UnsupportedOperationException e) {
            // not every platform can sync a directory; the file's own data is already forced
        }
    }

    private static boolean lock(FileChannel ch) {
        try {
            FileLock l = ch.tryLock();
            return l != null;
        } catch (OverlappingFileLockException e) {
            return false; // held by another download in this JVM
        } catch (IOException e) {
            return true; // a file system without locks: go on unguarded
        }
    }

    private static long size(FileChannel ch, Path part) {
        try {
            return ch.size();
        } catch (IOException e) {
            throw new DownloadException(part + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static void truncate(FileChannel ch, Path part) {
        try {
            ch.truncate(0);
            ch.position(0);
        } catch (IOException e) {
            throw new DownloadException(part + ": cannot write: " + e.getMessage(), e);
        }
    }

    private static void position(FileChannel ch, Path part, long at) {
        try {
            ch.position(at);
        } catch (IOException e) {
            throw new DownloadException(part + ": cannot write: " + e.getMessage(), e);
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            // best effort: the part is never under the final name
        }
    }

    private static String describe(IOException e) {
        if (e instanceof UnknownHostException) return "unknown host " + e.getMessage() + " (no network?)";
        return e.getMessage() == null ? e.toString() : e.getMessage();
    }
}
