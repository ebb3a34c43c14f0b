package org.dino4j.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

import picocli.CommandLine.Option;

/** --output FILE.json of the evaluation commands. */
public final class JsonOutputOption {
    @Option(names = "--output", paramLabel = "FILE.json", description = "Also write the settings and results as JSON.")
    Path output;

    /** Writes j as one JSON line when --output was given. */
    void write(Map<String, Object> j) throws IOException {
        Results.writeJson(output, j);
    }
}
