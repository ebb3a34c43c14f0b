package org.dino4j.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.dino4j.io.Json;
import org.junit.jupiter.api.Test;

class RetrievalTest {
    /** mAP and mP@1/5/10 of revisitop's own compute_map (tools/make_retrieval_fixture.py) on 12 random queries. */
    @Test
    @SuppressWarnings("unchecked")
    void equalsRevisitopComputeMap() throws Exception {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("fixtures/extra"))) p = p.getParent();
        Map<String, Object> f = Json.parseObject(Files.readString(p.resolve("fixtures/extra/retrieval.json")));
        List<List<Number>> rk = (List<List<Number>>) f.get("ranking");
        int[][] ranking = rk.stream().map(r -> r.stream().mapToInt(Number::intValue).toArray()).toArray(int[][]::new);
        List<Retrieval.Truth> truth = new ArrayList<>();
        for (Object o : (List<Object>) f.get("gnd")) {
            Map<String, Object> g = (Map<String, Object>) o;
            truth.add(new Retrieval.Truth(ints(g.get("easy")), ints(g.get("hard")), ints(g.get("junk"))));
        }
        int[] ks = {1, 5, 10};
        for (Retrieval.Protocol pr : Retrieval.Protocol.values()) {
            Map<String, Object> want = (Map<String, Object>) f.get(pr.name().toLowerCase());
            Retrieval.Score s = Retrieval.score(ranking, truth, pr, ks);
            assertEquals(((Number) want.get("map")).doubleValue(), s.map(), 1e-12, pr.name());
            double[] prec = ((List<Number>) want.get("pr")).stream().mapToDouble(Number::doubleValue).toArray();
            assertArrayEquals(prec, s.meanPrecisionAt(), 1e-12, pr.name());
        }
    }

    /** Ranking by cosine: a query equal to gallery row 2 (up to scale) ranks it first; AP of a perfect ranking is 1. */
    @Test
    void ranksByCosine() {
        float[] g = {1, 0, 0.2f, 1, 3, 3.1f, -1, 0};
        int[][] r = Retrieval.rank(g, 4, new float[] {10, 10}, 1, 2);
        assertArrayEquals(new int[] {2, 1, 0, 3}, r[0]);
        var s = Retrieval.score(r, List.of(new Retrieval.Truth(new int[] {2}, new int[] {1}, new int[0])), Retrieval.Protocol.MEDIUM, new int[] {1});
        assertEquals(1.0, s.map(), 1e-12);
        // junk ahead of the only positive is skipped: still a perfect ranking
        s = Retrieval.score(r, List.of(new Retrieval.Truth(new int[] {1}, new int[0], new int[] {2})), Retrieval.Protocol.EASY, new int[] {1});
        assertEquals(1.0, s.map(), 1e-12);
    }

    private static int[] ints(Object o) {
        return ((List<?>) o).stream().mapToInt(x -> ((Number) x).intValue()).toArray();
    }
}
