package org.dino4j.heads;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.TreeSet;

import org.dino4j.io.CheckpointException;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;
import org.dino4j.model.Checkpoints;

/**
 * The tensors of one released head file, read strictly: every key the head needs must be there with its shape, and
 * a key the head does not use is an error too (the official loaders use {@code strict=False}, which turns a wrong file
 * into a silently random head). Meta's layouts are unwrapped: a bare state dict (classifiers), {@code {"state_dict":
 * {"decode_head.*"}}} (depth and segmentation).
 */
public final class HeadWeights implements AutoCloseable {
    private final TensorStore store;
    private final Path file;
    private final Set<String> used = new LinkedHashSet<>();

    HeadWeights(TensorStore store, Path file) {
        this.store = store;
        this.file = file;
    }

    /** A released head file (.pth, safetensors), unwrapped; close it once the head has copied what it needs. */
    public static HeadWeights open(Path file) {
        TensorStore s = Checkpoints.open(file);
        return of(s, file);
    }

    /** The head's tensors in {@code store} (which may still carry the "state_dict." and "decode_head." wrappers). */
    public static HeadWeights of(TensorStore store, Path file) {
        TensorStore s = store;
        for (String wrapper : new String[] {"state_dict.", "decode_head."})
            if (!s.names().isEmpty() && s.names().stream().allMatch(k -> k.startsWith(wrapper))) s = s.withPrefix(wrapper);
        return new HeadWeights(s, file == null ? store.source() : file);
    }

    public Path file() {
        return file;
    }

    public boolean contains(String key) {
        return store.contains(key);
    }

    public Set<String> keys() {
        return store.names();
    }

    /** The shape of a key, or null when absent. */
    public int[] shape(String key) {
        return store.contains(key) ? store.get(key).intShape() : null;
    }

    /** The key's values, checked against {@code shape}; {@code what} names the dimension for the error (e.g. "backbone width"). */
    public float[] get(String key, int... shape) {
        if (!store.contains(key)) throw fail("missing key '" + key + "' (" + describe() + ")");
        TensorEntry e = store.get(key);
        int[] got = e.intShape();
        if (!Arrays.equals(got, shape))
            throw fail("'" + key + "' has shape " + Arrays.toString(got) + ", expected " + Arrays.toString(shape));
        used.add(key);
        return e.toFloatArray();
    }

    /** Marks keys the head reads but has no use for (BatchNorm's num_batches_tracked). */
    public void ignore(String key) {
        if (store.contains(key)) used.add(key);
    }

    /** After the head took what it needs: any key left over means the file is not this head. */
    public void requireAllUsed() {
        Set<String> extra = new TreeSet<>(store.names());
        extra.removeAll(used);
        if (!extra.isEmpty())
            throw fail("unexpected key" + (extra.size() > 1 ? "s " : " ") + String.join(", ", limit(extra))
                    + " (is this file another kind of head?)");
    }

    @Override
    public void close() {
        store.close();
    }

    CheckpointException fail(String problem) {
        return new CheckpointException(file, problem);
    }

    private String describe() {
        Set<String> k = new TreeSet<>(store.names());
        return k.isEmpty() ? "the file holds no tensors" : "the file holds " + String.join(", ", limit(k));
    }

    private static java.util.List<String> limit(Set<String> keys) {
        var l = new java.util.ArrayList<>(keys);
        if (l.size() > 6) {
            int more = l.size() - 5;
            l = new java.util.ArrayList<>(l.subList(0, 5));
            l.add("... (" + more + " more)");
        }
        return l;
    }
}
