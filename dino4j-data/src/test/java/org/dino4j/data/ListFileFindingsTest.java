package org.dino4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** List files found by fuzzing (dino4j-fuzz ListFileFuzzTest). */
class ListFileFindingsTest {
    @TempDir
    Path dir;

    @Test
    void nulCharacterInAPathIsRefusedWithTheListFileAndLine() throws IOException {
        Path list = Files.writeString(dir.resolve("images.csv"), "a.jpg,cat\nsub/b\0.png,dog\n");
        var e = assertThrows(IllegalArgumentException.class, () -> Datasets.open(list));
        assertEquals(list + ":2: not a path (Nul character not allowed)", e.getMessage());
    }

    @Test
    void bytesThatAreNotUtf8AreRefusedAsNotAListFile() throws IOException {
        Path list = Files.write(dir.resolve("images.txt"), new byte[] {'a', '.', 'j', 'p', 'g', '\n', (byte) 0xff, (byte) 0xfe});
        var e = assertThrows(IllegalArgumentException.class, () -> Datasets.open(list));
        assertEquals(list + ": not a list file (not UTF-8 text)", e.getMessage());
    }
}
