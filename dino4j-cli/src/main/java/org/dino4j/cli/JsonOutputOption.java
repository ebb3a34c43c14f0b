package org.dino4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.dino4j.io.Json;

import picocli.CommandLine.Option;

/** --output FILE.json of the evaluation commands. */
public final class JsonOutputOption {
    @Option(names = "--output", paramLabel = "FILE.json", description = "Also write the settings and results as JSON.")
    Path output;

    /** Writes j as one JSON line when --output was given. */
    void write(Map<String, Object> j) throws IOException {
        if (output != null) Files.writeString(output, Json.write(j) + "\n");
    }
}
