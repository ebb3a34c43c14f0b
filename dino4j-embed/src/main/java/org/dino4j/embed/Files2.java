package org.dino4j.embed;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import org.dino4j.io.AtomicFile;

/** Text written atomically ({@link org.dino4j.io.AtomicFile}); .npy is {@link org.dino4j.io.Npy}. */
final class Files2 {
    private Files2() {}

    static void text(Path file, String s) throws IOException {
        AtomicFile.write(file, os -> os.write(s.getBytes(StandardCharsets.UTF_8)));
    }
}
