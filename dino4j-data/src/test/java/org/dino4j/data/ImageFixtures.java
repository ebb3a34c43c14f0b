package org.dino4j.data;

import java.nio.file.Files;
import java.nio.file.Path;

/** The repository's fixtures/ folder (fixtures/extra/images was made by tools/make_image_fixtures.py with Pillow). */
public final class ImageFixtures {
    private ImageFixtures() {}

    public static Path root() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("fixtures/official"))) p = p.getParent();
        if (p == null) throw new IllegalStateException("fixtures/ not found above " + Path.of("").toAbsolutePath());
        return p.resolve("fixtures");
    }

    public static Path images() {
        return root().resolve("extra/images");
    }
}
