package org.dino4j.index;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.PriorityQueue;

/**
 * Exact search over vectors held in memory: every stored vector is scored. The ground truth that recall is measured
 * against, and the index behind {@code dino4j search --embeddings}; nothing is persisted.
 */
public final class ExactIndex implements VectorIndex {
    private final IndexSpec spec;
    private final Map<String, Entry> entries = new LinkedHashMap<>();

    public ExactIndex(IndexSpec spec) {
        this.spec = spec;
    }

    @Override
    public IndexSpec spec() {
        return spec;
    }

    @Override
    public synchronized void add(List<Entry> list) {
        List<Entry> checked = new ArrayList<>(list.size());
        for (Entry e : list) checked.add(new Entry(e.id(), VectorIndex.normalized(e.vector(), spec.dim(), e.id()), e.metadata(), e.preview()));
        for (Entry e : checked) entries.put(e.id(), e);
    }

    @Override
    public synchronized int delete(List<String> ids) {
        int n = 0;
        for (String id : ids) if (entries.remove(id) != null) n++;
        return n;
    }

    @Override
    public synchronized long count() {
        return entries.size();
    }

    @Override
    public synchronized Optional<Entry> get(String id) {
        return Optional.ofNullable(entries.get(id));
    }

    @Override
    public synchronized List<Hit> search(float[] query, int k, Map<String, String> filter) {
        VectorIndex.checkK(k);
        float[] q = VectorIndex.normalized(query, spec.dim(), "query");
        Comparator<Hit> worstFirst = Comparator.comparingDouble(Hit::score).thenComparing(Hit::id, Comparator.reverseOrder());
        PriorityQueue<Hit> top = new PriorityQueue<>(worstFirst);
        for (Entry e : entries.values()) {
            if (!matches(e.metadata(), filter)) continue;
            float s = 0;
            float[] v = e.vector();
            for (int i = 0; i < v.length; i++) s += q[i] * v[i];
            top.add(new Hit(e.id(), s, e.metadata()));
            if (top.size() > k) top.poll();
        }
        List<Hit> out = new ArrayList<>(top);
        out.sort(worstFirst.reversed());
        return out;
    }

    /** Whether the metadata holds every pair of the filter. */
    public static boolean matches(Map<String, String> metadata, Map<String, String> filter) {
        if (filter == null) return true;
        for (var f : filter.entrySet()) if (!f.getValue().equals(metadata.get(f.getKey()))) return false;
        return true;
    }

    @Override
    public void close() {}
}
