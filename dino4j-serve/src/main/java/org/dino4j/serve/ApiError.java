package org.dino4j.serve;

/** A request that fails with an HTTP status and a one-line reason: the JSON error the client gets, never a stack trace. */
public final class ApiError extends RuntimeException {
    private final int status;
    private final String retryAfter;

    public ApiError(int status, String message) {
        this(status, message, null);
    }

    ApiError(int status, String message, String retryAfter) {
        super(oneLine(message), null, false, false);
        this.status = status;
        this.retryAfter = retryAfter;
    }

    public int status() {
        return status;
    }

    /** The Retry-After header's seconds (queue full), or null. */
    public String retryAfter() {
        return retryAfter;
    }

    /** Error text for a client: one line, bounded. */
    static String oneLine(String m) {
        if (m == null || m.isBlank()) return "error";
        String s = m.strip().replaceAll("\\s*[\\r\\n]+\\s*", " ");
        return s.length() > 500 ? s.substring(0, 500) + "..." : s;
    }
}
