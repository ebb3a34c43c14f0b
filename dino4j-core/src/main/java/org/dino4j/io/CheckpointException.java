package org.dino4j.io;

import java.nio.file.Path;

/** A file that cannot be read as a checkpoint or tensor file. The message names the file and the problem. */
public final class CheckpointException extends RuntimeException {
    private final transient Path file;

    public CheckpointException(Path file, String problem) {
        super((file == null ? "" : file + ": ") + problem);
        this.file = file;
    }

    public CheckpointException(Path file, String problem, Throwable cause) {
        super((file == null ? "" : file + ": ") + problem, cause);
        this.file = file;
    }

    public Path file() {
        return file;
    }
}
