package org.dino4j.curate;

/** Union-find over 0..n-1 with path halving; the root of a set is always its smallest member. */
public final class DisjointSet {
    private final int[] parent;

    public DisjointSet(int n) {
        parent = new int[n];
        for (int i = 0; i < n; i++) parent[i] = i;
    }

    public int find(int x) {
        while (parent[x] != x) {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        return x;
    }

    /** Joins the sets of a and b; the smaller root becomes the root, so the result does not depend on edge order. */
    public void union(int a, int b) {
        int ra = find(a), rb = find(b);
        if (ra == rb) return;
        if (ra < rb) parent[rb] = ra;
        else parent[ra] = rb;
    }

    public int size() {
        return parent.length;
    }
}
