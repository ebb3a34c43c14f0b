package org.dino4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.dino4j.cli.CliTest.Result;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `dino4j embed` over the Fashion-MNIST test set (apt-get install dataset-fashion-mnist; .ci/run installs it) with
 * the official tiny backbone (fixtures/official, patch 14, 28-px images as they are): a full run, and a run killed
 * with SIGKILL part-way and restarted, which must end with the same manifest and the same embeddings.
 */
class EmbedCommandTest {
    static final Path FMNIST = Path.of("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");

    static List<String> args(Path cfg, Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of("embed", "--weights", CliTest.fixtures().resolve("official/official_vit_tiny.pth").toString(),
                "--config", cfg.toString(), "--resize", "0", "--crop", "0", "--shard-size", "500", FMNIST.toString(), "--output", out.toString()));
        a.addAll(List.of(extra));
        return a;
    }

    static Path config(Path dir) throws IOException {
        try (TensorStore f = SafeTensors.read(CliTest.fixtures().resolve("official/official_vit_tiny.safetensors"))) {
            return Files.writeString(dir.resolve("tiny.json"), f.metadata().get("config"));
        }
    }

    @Test
    void fashionMnistTestSetKilledAndResumed(@TempDir Path dir) throws Exception {
        assertTrue(Files.exists(FMNIST), FMNIST + " is missing: apt-get install dataset-fashion-mnist");
        Path cfg = config(dir);

        // 1. an uninterrupted run: 10,000 rows
        Path full = dir.resolve("full");
        Result r = CliTest.run(args(cfg, full, "--batch-size", "64").toArray(String[]::new));
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("10000 inputs: 10000 embedded, 0 failed; 20 shard(s) written"), r.out());
        List<String> manifest = Files.readAllLines(full.resolve("manifest.tsv"));
        assertEquals(10_001, manifest.size());
        assertEquals("0\t" + FMNIST + "#0\t9\tAnkle boot\t0\t0\tok", manifest.get(1)); // the first test image is an ankle boot
        assertTrue(r.err().contains("10000/10000 images"), r.err());

        // 2. the same in a separate JVM, killed (SIGKILL) once a few shards are done, then restarted here
        Path resumed = dir.resolve("resumed");
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(args(cfg, resumed, "--batch-size", "1", "--threads", "1"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("child.log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!Files.exists(resumed.resolve("shard-00002.tsv")) && p.isAlive() && System.nanoTime() < deadline) Thread.sleep(5);
        p.destroyForcibly().waitFor();
        assertTrue(!Files.exists(resumed.resolve("manifest.tsv")), "the child finished before it could be killed: " + Files.readString(dir.resolve("child.log")));
        int doneBefore = countTsv(resumed);
        assertTrue(doneBefore >= 3 && doneBefore < 20, "shards finished before the kill: " + doneBefore);

        Result again = CliTest.run(args(cfg, resumed, "--batch-size", "1").toArray(String[]::new));
        assertEquals(0, again.code(), again.out() + again.err());
        assertTrue(again.out().contains((20 - doneBefore) + " shard(s) written, " + doneBefore + " already done"), again.out());
        assertEquals(manifest, Files.readAllLines(resumed.resolve("manifest.tsv")));
        for (int s = 0; s < 20; s++) {
            String name = String.format("shard-%05d.safetensors", s);
            try (TensorStore a = SafeTensors.read(full.resolve(name)); TensorStore b = SafeTensors.read(resumed.resolve(name))) {
                float[] x = a.get("cls").toFloatArray(), y = b.get("cls").toFloatArray();
                assertEquals(x.length, y.length);
                for (int i = 0; i < x.length; i++) assertEquals(x[i], y[i], 1e-5, name + " element " + i); // JIT tiers differ in the last bit
            }
        }
        try (Stream<Path> files = Files.list(resumed)) { // no temporaries left behind by the kill survive as results
            assertTrue(files.noneMatch(f -> f.getFileName().toString().endsWith(".safetensors") && !f.getFileName().toString().startsWith("shard-")));
        }
    }

    @Test
    void badInputsAreReportedAndTheRestEmbedded(@TempDir Path dir) throws Exception {
        Path cfg = config(dir);
        Path imgs = Files.createDirectories(dir.resolve("imgs"));
        Path images = CliTest.fixtures().resolve("extra/images");
        Files.copy(images.resolve("rgb.png"), imgs.resolve("a.png"));
        Files.copy(images.resolve("baseline.jpg"), imgs.resolve("b.jpg"));
        Files.write(imgs.resolve("c.jpg"), new byte[0]);
        byte[] jpg = Files.readAllBytes(images.resolve("progressive.jpg"));
        Files.write(imgs.resolve("d.jpg"), java.util.Arrays.copyOf(jpg, jpg.length / 2));
        Files.writeString(imgs.resolve("e.jpg"), "text");
        Files.write(imgs.resolve("f.png"), bombHeader(images.resolve("rgb.png")));
        Path out = dir.resolve("out");
        Result r = CliTest.run("embed", "--weights", CliTest.fixtures().resolve("official/official_vit_tiny.pth").toString(),
                "--config", cfg.toString(), "--resolution", "56", imgs.toString(), "--output", out.toString());
        assertEquals(1, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("6 inputs: 2 embedded, 4 failed"), r.out());
        for (String f : List.of("c.jpg", "d.jpg", "e.jpg", "f.png")) assertTrue(r.out().contains(imgs.resolve(f) + ": "), r.out());
        assertTrue(r.out().contains("over the limit"), r.out());
        assertEquals(7, Files.readAllLines(out.resolve("manifest.tsv")).size());
    }

    /** A real PNG whose IHDR (CRC fixed up) claims 100000 x 100000 pixels. */
    static byte[] bombHeader(Path png) throws IOException {
        byte[] b = Files.readAllBytes(png);
        java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(b);
        bb.putInt(16, 100_000).putInt(20, 100_000);
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(b, 12, 17);
        bb.putInt(29, (int) crc.getValue());
        return b;
    }

    static int countTsv(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return (int) s.filter(f -> f.getFileName().toString().matches("shard-\\d{5}\\.tsv")).count();
        }
    }

    /**
     * --spark: what a Spark table cannot hold is refused in one line before anything starts, and without the Spark
     * module on the class path (this module's tests) the error says how to get it. The Spark run itself is tested in
     * dino4j-spark (TableEmbedderTest.embedCommandOnSpark).
     */
    @Test
    void sparkRefusesWhatItCannotHonour(@TempDir Path dir) throws Exception {
        Path cfg = config(dir), out = dir.resolve("out");
        for (String[] opt : List.of(new String[] {"--patch-tokens"}, new String[] {"--registers"}, new String[] {"--format", "npy"},
                new String[] {"--shard-size", "100"}, new String[] {"--workers", "4"}, new String[] {"--pad", "14"})) {
            List<String> a = args(cfg, out, opt);
            a.subList(a.indexOf("--shard-size"), a.indexOf("--shard-size") + 2).clear(); // the first, args'
            a.addAll(List.of("--spark", "local[2]"));
            Result r = CliTest.run(a.toArray(String[]::new));
            assertEquals(1, r.code(), r.out() + r.err());
            assertTrue(r.err().contains("embed: error: " + opt[0] + ": not with --spark"), r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
        }
        List<String> a = args(cfg, out, "--spark", "local[2]");
        a.subList(a.indexOf("--shard-size"), a.indexOf("--shard-size") + 2).clear();
        Result r = CliTest.run(a.toArray(String[]::new));
        assertEquals(1, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("--spark: the Spark engine is not on the class path"), r.err());
        assertTrue(Files.notExists(out), "nothing written");
    }
}
