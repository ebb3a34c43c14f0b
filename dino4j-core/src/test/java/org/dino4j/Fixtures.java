package org.dino4j;

import java.nio.file.Files;
import java.nio.file.Path;

/** Locates the repository's fixtures/ folder (verbatim copies of shared/fixtures plus fixtures/extra). */
public final class Fixtures {
    private Fixtures() {}

    public static Path root() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("fixtures/official"))) p = p.getParent();
        if (p == null) throw new IllegalStateException("fixtures/ not found above " + Path.of("").toAbsolutePath());
        return p.resolve("fixtures");
    }

    public static Path file(String rel) {
        return root().resolve(rel);
    }
}
