package org.dino4j.embed;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.dino4j.io.SafeTensors;

/** Reads back what {@link Embedder} wrote: the manifest rows with status ok, in input order, and their vectors. */
public final class EmbedDir {
    /**
     * @param ids        each row's input id (its path, or file#index for IDX inputs)
     * @param labels     each row's label from the manifest, -1 where the input had none
     * @param classNames each row's class name ("" where none)
     * @param x          rows x dim, row-major
     */
    public record Rows(List<String> ids, int[] labels, List<String> classNames, float[] x, int dim) {
        public int size() {
            return ids.size();
        }
    }

    private EmbedDir() {}

    /** The {@code key} vectors (e.g. "cls") of every embedded input of {@code dir}. */
    public static Rows read(Path dir, String key) {
        Path manifest = dir.resolve("manifest.tsv");
        List<String> lines;
        try {
            lines = Files.readAllLines(manifest);
        } catch (IOException e) {
            throw new IllegalArgumentException(manifest + ": cannot read (not a `dino4j embed` output?): " + e.getMessage());
        }
        Map<Integer, float[]> shards = new HashMap<>();
        java.util.Set<Long> used = new java.util.HashSet<>();
        int[] dim = {-1}; // the vectors' length, read from the first shard's shape
        List<String> ids = new ArrayList<>(), classes = new ArrayList<>();
        List<float[]> rows = new ArrayList<>();
        int[] labels = new int[Math.max(lines.size() - 1, 0)];
        for (int i = 1; i < lines.size(); i++) {
            String[] f = lines.get(i).split("\t", -1);
            if (f.length < 7) throw new IllegalArgumentException(manifest + ":" + (i + 1) + ": expected 7 columns");
            if (!f[6].equals("ok")) continue;
            int shard, row;
            try {
                labels[ids.size()] = f[2].isEmpty() ? -1 : Integer.parseInt(f[2]);
                shard = Integer.parseInt(f[4]);
                row = Integer.parseInt(f[5]);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(manifest + ":" + (i + 1) + ": not a number: " + e.getMessage());
            }
            float[] x = shards.computeIfAbsent(shard, sh -> {
                Path file = dir.resolve(Embedder.shardName(sh) + ".safetensors");
                try (var st = SafeTensors.read(file)) {
                    if (!st.contains(key)) throw new IllegalArgumentException(file + ": no '" + key + "' tensor (embed it with that output)");
                    long[] shape = st.get(key).shape();
                    float[] v = st.get(key).toFloatArray();
                    if (shape.length < 2 || shape[0] < 1 || v.length % shape[0] != 0 || v.length == 0)
                        throw new IllegalArgumentException(file + ": '" + key + "' of shape " + Arrays.toString(shape) + " holds no rows");
                    int len = (int) (v.length / shape[0]);
                    if (dim[0] < 0) dim[0] = len;
                    else if (len != dim[0])
                        throw new IllegalArgumentException(file + ": '" + key + "' rows of " + len + " values, earlier shards' of " + dim[0]);
                    return v;
                }
            });
            int d = dim[0];
            if (shard < 0 || row < 0 || (row + 1L) * d > x.length) throw new IllegalArgumentException(manifest + ":" + (i + 1) + ": row " + row + " is not in shard " + shard);
            if (!used.add(((long) shard << 32) | row)) // a row read twice: memory would follow the lines, not the shards
                throw new IllegalArgumentException(manifest + ":" + (i + 1) + ": row " + row + " of shard " + shard + " is given twice");
            rows.add(Arrays.copyOfRange(x, row * d, (row + 1) * d));
            ids.add(f[1]);
            classes.add(f[3]);
            if (shards.size() > 2) shards.keySet().removeIf(k -> k < shard); // shards come in order: keep memory to one
        }
        int d = Math.max(dim[0], 0);
        float[] out = new float[rows.size() * d];
        for (int i = 0; i < rows.size(); i++) System.arraycopy(rows.get(i), 0, out, i * d, d);
        return new Rows(ids, Arrays.copyOf(labels, ids.size()), classes, out, d);
    }
}
