package org.dino4j.data;

import java.nio.file.Path;

/** An image that cannot be used, with the file and the problem in one line (no stack trace for the user). */
public final class ImageException extends RuntimeException {
    private final transient Path file;
    private final String problem;

    public ImageException(Path file, String problem) {
        this(file, problem, null);
    }

    public ImageException(Path file, String problem, Throwable cause) {
        super((file == null ? "" : file + ": ") + problem, cause);
        this.file = file;
        this.problem = problem;
    }

    public Path file() {
        return file;
    }

    public String problem() {
        return problem;
    }
}
