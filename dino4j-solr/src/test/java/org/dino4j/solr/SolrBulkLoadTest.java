package org.dino4j.solr;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.dino4j.embed.Embedder;
import org.dino4j.index.Entry;
import org.dino4j.index.IndexSpec;
import org.dino4j.io.DType;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorEntry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The entries {@code index build --solr} makes of an {@code embed} folder (written here by hand, as embed lays it out). */
class SolrBulkLoadTest {
    @TempDir
    Path dir;

    @Test
    void entriesOfAnEmbedFolder() throws Exception {
        float[] cls = {3, 4, 0, 1, 0, 2}, mean = {1, 0, 0, 1, 1, 1}; // 3 rows of 2
        SafeTensors.write(dir.resolve(Embedder.shardName(0) + ".safetensors"), List.of(
                new TensorEntry("cls", DType.F32, new long[] {3, 2}, MemorySegment.ofArray(cls)),
                new TensorEntry("patch_mean", DType.F32, new long[] {3, 2}, MemorySegment.ofArray(mean))), Map.of());
        Files.writeString(dir.resolve("manifest.tsv"), """
                index\tid\tlabel\tclass\tshard\trow\tstatus
                0\ta.jpg\t7\tcat\t0\t0\tok
                1\tbroken.jpg\t\t\t0\t-1\terror: not an image
                2\tb.jpg\t\t\t0\t1\tok
                3\tc.jpg\t2\tdog\t0\t2\tok
                """);
        List<Entry> plain = SolrBulkLoad.embedEntries(dir, new IndexSpec("m", "eval 224", IndexSpec.CLS, 2));
        assertEquals(List.of("a.jpg", "b.jpg", "c.jpg"), plain.stream().map(Entry::id).toList());
        assertArrayEquals(new float[] {0.6f, 0.8f}, plain.get(0).vector(), 1e-7f);
        assertEquals(Map.of("class", "cat", "label", "7"), plain.get(0).metadata());
        assertEquals(Map.of(), plain.get(1).metadata());

        List<Entry> both = SolrBulkLoad.embedEntries(dir, new IndexSpec("m", "eval 224", IndexSpec.CLS_PATCH_MEAN, 4));
        float h = (float) Math.sqrt(0.5);
        assertArrayEquals(new float[] {0.6f * h, 0.8f * h, h, 0}, both.get(0).vector(), 1e-7f); // each half unit, scaled by 1/sqrt(2)
        assertArrayEquals(new float[] {0, h, 0.5f, 0.5f}, both.get(2).vector(), 1e-6f);

        var e = assertThrows(IllegalArgumentException.class, () -> SolrBulkLoad.embedEntries(dir, new IndexSpec("m", "p", IndexSpec.CLS, 384)));
        assertTrue(e.getMessage().contains("2 values, the index holds 384"), e.getMessage());
        float[] zero = {0, 0};
        SafeTensors.write(dir.resolve(Embedder.shardName(0) + ".safetensors"), List.of(
                new TensorEntry("cls", DType.F32, new long[] {1, 2}, MemorySegment.ofArray(zero))), Map.of());
        Files.writeString(dir.resolve("manifest.tsv"), "index\tid\tlabel\tclass\tshard\trow\tstatus\n0\tz.jpg\t\t\t0\t0\tok\n");
        e = assertThrows(IllegalArgumentException.class, () -> SolrBulkLoad.embedEntries(dir, new IndexSpec("m", "p", IndexSpec.CLS, 2)).get(0));
        assertEquals(dir + ": z.jpg: cls: vector is all zeros", e.getMessage());
    }
}
