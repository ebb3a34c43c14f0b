package org.dino4j.io;

import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes a file so that a crash or kill at any moment leaves either the old file or the complete new one under its
 * name: the bytes go to a temporary file in the same folder, are forced to disk, and the file is renamed over the
 * target (atomically where the file system can).
 * <p>
 * The temporary file is created as any new file is, so the umask sets its permissions (createTempFile would make it
 * 0600, and a run folder would mix 0600 and 0644 files); errors name the target, never the temporary file.
 */
public final class AtomicFile {
    private AtomicFile() {}

    /** Produces the file's bytes. */
    @FunctionalInterface
    public interface Body {
        void write(OutputStream out) throws IOException;
    }

    public static void write(Path file, Body body) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        FileChannel ch = null;
        Path tmp = null;
        while (ch == null) { // a unique name, made with CREATE_NEW: no other writer shares it
            tmp = dir.resolve("." + file.getFileName() + "." + Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36) + ".tmp");
            try {
                ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW);
            } catch (FileAlreadyExistsException e) {
                // taken: draw another name
            } catch (FileSystemException e) {
                throw about(file, e);
            }
        }
        try {
            try (FileChannel c = ch; OutputStream os = new BufferedOutputStream(new Named(Channels.newOutputStream(c), file), 1 << 16)) {
                body.write(os);
                os.flush();
                try {
                    c.force(true);
                } catch (IOException e) {
                    throw about(file, e);
                }
            }
            try {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            } catch (FileSystemException e) {
                throw about(file, e);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** The same failure told of the target file: "disk full" while writing .x.tmp is "disk full" writing x. */
    static IOException about(Path file, IOException e) {
        String reason = e instanceof FileSystemException f ? f.getReason() : e.getMessage();
        IOException named = switch (e) {
            case AccessDeniedException a -> new AccessDeniedException(file.toString(), null, reason);
            case NoSuchFileException n -> new NoSuchFileException(file.toString(), null, reason);
            default -> new FileSystemException(file.toString(), null, reason);
        };
        named.initCause(e);
        return named;
    }

    /** The file's stream: its errors (a full disk, a quota) name the target. */
    private static final class Named extends FilterOutputStream {
        private final Path file;

        Named(OutputStream out, Path file) {
            super(out);
            this.file = file;
        }

        @Override
        public void write(int b) throws IOException {
            try {
                out.write(b);
            } catch (IOException e) {
                throw about(file, e);
            }
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            try {
                out.write(b, off, len);
            } catch (IOException e) {
                throw about(file, e);
            }
        }
    }
}
