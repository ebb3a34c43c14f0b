package org.dino4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.dino4j.io.Json;

/** The --output FILE.json of the evaluation commands. */
final class Results {
    private Results() {}

    /** Writes j as one JSON line when an output was asked. */
    static void writeJson(Path output, Map<String, Object> j) throws IOException {
        if (output != null) Files.writeString(output, Json.write(j) + "\n");
    }
}
