package org.dino4j.index;

import java.util.Map;

/** One search result: the entry's id, its cosine similarity to the query, its metadata. */
public record Hit(String id, float score, Map<String, String> metadata) {}
