package org.dino4j.index;

import java.util.Map;

/**
 * One indexed image.
 *
 * @param id       unique within the index (a path, a URL, a name the client chose); at most 512 characters
 * @param vector   its vector ({@link IndexSpec#dim()} values; stored L2-normalised)
 * @param metadata string pairs stored beside it, usable as search filters; keys are [A-Za-z0-9_.-], at most 64 characters
 * @param preview  a small JPEG of the image for result pages, or null (the server makes it from uploads)
 */
public record Entry(String id, float[] vector, Map<String, String> metadata, byte[] preview) {
    public static final int MAX_ID_LENGTH = 512;

    public Entry {
        if (id == null || id.isEmpty()) throw new IllegalArgumentException("an entry needs a non-empty id");
        if (id.length() > MAX_ID_LENGTH) throw new IllegalArgumentException("id longer than " + MAX_ID_LENGTH + " characters: " + id.substring(0, 40) + "...");
        metadata = metadata == null ? Map.of() : Map.copyOf(metadata);
        for (String key : metadata.keySet()) Metadata.checkKey(key, id + ": metadata");
    }

    public Entry(String id, float[] vector, Map<String, String> metadata) {
        this(id, vector, metadata, null);
    }
}
