package org.dino4j.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFileTest {
    @Test
    void writtenFilesGetThePermissionsOfAnyNewFile(@TempDir Path dir) throws IOException {
        Path plain = Files.createFile(dir.resolve("plain"));
        Path atomic = dir.resolve("atomic.bin");
        AtomicFile.write(atomic, os -> os.write(new byte[] {1, 2, 3}));
        Set<PosixFilePermission> want = Files.getPosixFilePermissions(plain), got = Files.getPosixFilePermissions(atomic);
        assertEquals(want, got); // under umask 022: rw-r--r--, where createTempFile made rw-------
        assertEquals(3, Files.size(atomic));
        AtomicFile.write(atomic, os -> os.write(7)); // replaced in place, no temporary file left
        try (var s = Files.list(dir)) {
            assertEquals(List.of("atomic.bin", "plain"), s.map(p -> p.getFileName().toString()).sorted().toList());
        }
        assertEquals(1, Files.size(atomic));
    }

    @Test
    void errorsNameTheTargetNotTheTemporaryFile(@TempDir Path dir) {
        Path file = dir.resolve("out.png"), tmp = dir.resolve(".out.png.k3j2.tmp");
        IOException denied = AtomicFile.about(file, new AccessDeniedException(tmp.toString()));
        assertInstanceOf(AccessDeniedException.class, denied);
        assertEquals(file.toString(), ((FileSystemException) denied).getFile());
        IOException full = AtomicFile.about(file, new IOException("No space left on device"));
        assertEquals(file + ": No space left on device", full.getMessage());
        // a folder in the way of the target: the failed rename names the target
        Path blocked = dir.resolve("blocked");
        IOException e = assertThrows(IOException.class, () -> {
            Files.createDirectories(blocked.resolve("x"));
            AtomicFile.write(blocked, os -> os.write(1));
        });
        assertTrue(e.getMessage().startsWith(blocked.toString()) && !e.getMessage().contains(".tmp"), e.getMessage());
    }
}
