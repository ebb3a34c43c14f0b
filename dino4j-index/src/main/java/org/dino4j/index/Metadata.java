package org.dino4j.index;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

import org.dino4j.io.Json;

/**
 * The rules and the stored form of an entry's metadata, one for every index: keys that are field-name safe in Lucene
 * and Solr, values short enough to be one indexed term, and the JSON object both engines store.
 */
public final class Metadata {
    /** Lucene's limit for one indexed term (IndexWriter.MAX_TERM_LENGTH): a metadata value is one, for filters. */
    public static final int MAX_VALUE_BYTES = 32766;

    private Metadata() {}

    /** A metadata or filter key: [A-Za-z0-9_.-], at most 64 characters ({@code what} names it in the error). */
    public static void checkKey(String key, String what) {
        if (key == null || !key.matches("[A-Za-z0-9_.-]{1,64}")) throw new IllegalArgumentException(what + " key '" + key + "' is not [A-Za-z0-9_.-]{1,64}");
    }

    /** Every value of the entry's metadata fits one indexed term. */
    public static void checkValues(Entry e) {
        for (var m : e.metadata().entrySet())
            if (m.getValue().getBytes(StandardCharsets.UTF_8).length > MAX_VALUE_BYTES)
                throw new IllegalArgumentException(e.id() + ": metadata value of '" + m.getKey() + "' is longer than " + MAX_VALUE_BYTES + " bytes");
    }

    /** The stored form: one JSON object of strings. */
    public static String toJson(Map<String, String> metadata) {
        return Json.write(new LinkedHashMap<>(metadata));
    }

    /** The metadata back from its stored form (null: none). */
    public static Map<String, String> fromJson(String json) {
        if (json == null) return Map.of();
        Map<String, String> m = new LinkedHashMap<>();
        for (var e : Json.parseObject(json).entrySet()) m.put(e.getKey(), String.valueOf(e.getValue()));
        return m;
    }
}
