package org.dino4j.hub;

/** A download that failed; the message names the URL or the file and the problem, and says whether it can resume. */
public final class DownloadException extends RuntimeException {
    public DownloadException(String message) {
        super(message);
    }

    public DownloadException(String message, Throwable cause) {
        super(message, cause);
    }
}
