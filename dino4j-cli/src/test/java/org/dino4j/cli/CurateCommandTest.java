package org.dino4j.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.dino4j.curate.NearDuplicates;
import org.dino4j.data.Datasets;
import org.dino4j.io.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `dino4j curate` end to end: 400 Fashion-MNIST images plus 40 copies, raw pixels and a model, every output file. */
class CurateCommandTest {
    @Test
    void curatesWritesTheListTheReportAndThePicturesAndResumesTheEmbeddings(@TempDir Path dir) throws Exception {
        assertTrue(Files.exists(TrainCommandTest.FMNIST), TrainCommandTest.FMNIST + " is missing: apt-get install dataset-fashion-mnist");
        var ds = Datasets.open(TrainCommandTest.FMNIST);
        NearDuplicates.writeOriginals(ds, 400, dir.resolve("originals"));
        List<NearDuplicates.Copy> copies = NearDuplicates.writeCopies(ds, 400, 40, 1, 3, dir.resolve("copies"));
        Files.createDirectories(dir.resolve("seeds"));
        for (int i = 0; i < 4; i++) Files.copy(dir.resolve("originals").resolve(String.format("%06d.png", 50 + i)), dir.resolve("seeds").resolve(i + ".png"));

        // raw pixels: dedup, then cluster-based retrieval for the seeds and a balanced sample
        Path cfg = Files.writeString(dir.resolve("curate.yaml"), """
                output: out
                embedding: {kind: pixels, center: true}
                pool: [originals, copies]
                dedup: {k: 8, threshold: 0.98, flip: true}
                seeds:
                  - {name: fewshot, inputs: [seeds], per_image: 0}
                clusters: {k: 12, min_seeds: 0, per_cluster: 10, cap: 25, iterations: 20}
                hierarchical:
                  levels: [{clusters: 20, resamples: 2, sample_size: 4}, {clusters: 5, resamples: 2, sample_size: 2}]
                  target: 60
                """);
        Files.writeString(dir.resolve("copies/zz-broken.png"), "not a png"); // left out, reported, the rest curated
        CliTest.Result r = CliTest.run("curate", "--config", cfg.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        Path out = dir.resolve("out");
        assertTrue(r.err().contains("pool: 1 of 441 image(s) failed to decode"), r.err());
        assertTrue(Files.readString(out.resolve("embeddings/pool/failed.tsv")).contains("zz-broken.png"));
        List<String> curated = Files.readAllLines(out.resolve("curated.tsv"));
        Map<String, Object> rep = Json.parseObject(Files.readString(out.resolve("report.json")));
        @SuppressWarnings("unchecked") Map<String, Object> counts = (Map<String, Object>) rep.get("counts");
        assertEquals(440, ((Number) counts.get("pool")).intValue());
        assertEquals(25, ((Number) counts.get("retrieved by fewshot")).intValue(), "capped at 25");
        long balanced = ((Number) counts.get("balanced sample")).longValue();
        assertTrue(balanced > 30 && balanced <= 60, "60 sampled, less those the seeds already took: " + balanced);
        assertEquals(curated.size() - 1, ((Number) counts.get("curated")).intValue());
        assertTrue(curated.stream().skip(1).allMatch(l -> l.split("\t").length == 3), "path, source, reason");
        assertTrue(curated.stream().anyMatch(l -> l.contains("cluster ") && l.contains("images of fewshot")));
        assertTrue(curated.stream().anyMatch(l -> l.contains("balanced sample (level-1 cluster")));
        // the re-encoded and noisy copies (every 4th from the 3rd) went, each for the image it copies
        List<String> removed = Files.readAllLines(out.resolve("removed.tsv"));
        for (NearDuplicates.Copy c : copies)
            if (c.kind() == NearDuplicates.Kind.JPEG || c.kind() == NearDuplicates.Kind.FLIP)
                assertTrue(removed.stream().anyMatch(l -> l.startsWith(c.file().toString() + "\t")), c.file() + " not removed");
        for (String png : new String[] {"similarity_histogram.png", "cluster_sizes.png", "duplicates.png"})
            assertTrue(javax.imageio.ImageIO.read(out.resolve(png).toFile()).getWidth() > 300, png);
        assertTrue(r.out().contains("curated"), r.out());

        // a model: the embeddings are written under OUTPUT/embeddings and a rerun keeps them
        Path[] tiny = PicturesCommandTest.tinyModel(dir);
        Path mcfg = Files.writeString(dir.resolve("model.yaml"), """
                embedding: {kind: model, weights: %s, model: %s, resolution: 28, resize: 28, batch_size: 16}
                pool: [originals]
                dedup: {k: 4, threshold: 0.999}
                """.formatted(tiny[0], tiny[1]));
        r = CliTest.run("curate", "--config", mcfg.toString(), "--output", dir.resolve("mout").toString());
        assertEquals(0, r.code(), r.out() + r.err());
        Path manifest = dir.resolve("mout/embeddings/pool/manifest.tsv");
        assertEquals(401, Files.readAllLines(manifest).size());
        long stamp = Files.getLastModifiedTime(dir.resolve("mout/embeddings/pool/shard-00000.safetensors")).toMillis();
        Thread.sleep(20);
        r = CliTest.run("curate", "--config", mcfg.toString(), "--output", dir.resolve("mout").toString());
        assertEquals(0, r.code(), r.out() + r.err());
        assertEquals(stamp, Files.getLastModifiedTime(dir.resolve("mout/embeddings/pool/shard-00000.safetensors")).toMillis(), "shard kept");

        // a copy detector trained on the pool (briefly), then used as the embedding
        r = CliTest.run("copy-detector", dir.resolve("originals").toString(), dir.resolve("copies").toString(), "--steps", "20",
                "--batch-size", "64", "--output", dir.resolve("cd.safetensors").toString());
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("440 images, 20 steps"), r.out());
        Path ccfg = Files.writeString(dir.resolve("cd.yaml"), """
                embedding: {kind: copy_detector, weights: cd.safetensors}
                pool: [originals, copies]
                dedup: {k: 8, threshold: 0.9}
                """);
        r = CliTest.run("curate", "--config", ccfg.toString(), "--output", dir.resolve("cdout").toString());
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(Files.readString(dir.resolve("cdout/report.json")).contains("\"dimension\":128"));

        // bad input: one clear line naming the file, no stack trace
        Files.writeString(dir.resolve("bad.yaml"), "pool: [nowhere]\nembedding: {kind: pixels}\n");
        r = CliTest.run("curate", "--config", dir.resolve("bad.yaml").toString(), "--output", dir.resolve("bout").toString());
        assertNotEquals(0, r.code());
        assertTrue(r.err().contains("nowhere") && !r.err().contains("\tat "), r.err());
    }
}
