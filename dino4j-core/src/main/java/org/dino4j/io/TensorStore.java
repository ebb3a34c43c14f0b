package org.dino4j.io;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Named tensors read from one file (or made in memory), in file order. Closing releases the mapping: tensors
 * taken from a closed store must not be used any more, so a model built on a store keeps it open.
 */
public final class TensorStore implements AutoCloseable {
    private final Path source;
    private final Map<String, TensorEntry> tensors;
    private final Map<String, String> metadata;
    private final Arena arena;

    public TensorStore(Path source, Map<String, TensorEntry> tensors, Map<String, String> metadata, Arena arena) {
        this.source = source;
        this.tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
        this.metadata = metadata == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
        this.arena = arena;
    }

    public static TensorStore inMemory(Map<String, TensorEntry> tensors) {
        return new TensorStore(null, tensors, Map.of(), null);
    }

    public Path source() {
        return source;
    }

    public Map<String, TensorEntry> tensors() {
        return tensors;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    public Set<String> names() {
        return tensors.keySet();
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** The tensor, or a {@link CheckpointException} naming the file and the missing key. */
    public TensorEntry get(String name) {
        TensorEntry t = tensors.get(name);
        if (t == null) throw new CheckpointException(source, "no tensor named '" + name + "'");
        return t;
    }

    /** A view holding only the tensors under {@code prefix}, with the prefix removed; shares the mapping. */
    public TensorStore withPrefix(String prefix) {
        Map<String, TensorEntry> sub = new LinkedHashMap<>();
        tensors.forEach((k, v) -> {
            if (k.startsWith(prefix)) sub.put(k.substring(prefix.length()), v.withName(k.substring(prefix.length())));
        });
        return new TensorStore(source, sub, metadata, null);
    }

    @Override
    public void close() {
        if (arena != null) arena.close();
    }
}
