package org.dino4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.dino4j.cli.CliTest.Result;
import org.dino4j.io.SafeTensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `dino4j train` on the Fashion-MNIST test images (small preset): a run killed with SIGKILL part-way and resumed
 * ends with the same checkpoint, bit for bit, and the same loss curve as a run that never stopped.
 */
class TrainCommandTest {
    static final Path FMNIST = Path.of("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");

    static List<String> args(Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of("train", FMNIST.toString(), "--output", out.toString(), "--steps", "10",
                "--batch-size", "16", "--checkpoint-every", "1", "--keep", "2", "--seed", "3"));
        a.addAll(List.of(extra));
        return a;
    }

    @Test
    void killedAndResumedRunIsBitIdentical(@TempDir Path dir) throws Exception {
        assertTrue(Files.exists(FMNIST), FMNIST + " is missing: apt-get install dataset-fashion-mnist");
        Path a = dir.resolve("a");
        Result ra = CliTest.run(args(a).toArray(String[]::new));
        assertEquals(0, ra.code(), ra.out() + ra.err());
        assertEquals(10, Files.readAllLines(a.resolve("metrics.jsonl")).size());
        assertTrue(Files.exists(a.resolve("ckpt-0000010.safetensors")) && Files.exists(a.resolve("ckpt-0000009.safetensors")));
        assertTrue(!Files.exists(a.resolve("ckpt-0000008.safetensors")), "--keep 2");

        Path b = dir.resolve("b");
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(args(b));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("child.log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!Files.exists(b.resolve("ckpt-0000004.safetensors")) && p.isAlive() && System.nanoTime() < deadline) Thread.sleep(2);
        p.destroyForcibly().waitFor();
        assertTrue(!Files.exists(b.resolve("ckpt-0000010.safetensors")), "the child finished before the kill: " + Files.readString(dir.resolve("child.log")));
        Result rb = CliTest.run(args(b, "--resume").toArray(String[]::new));
        assertEquals(0, rb.code(), rb.out() + rb.err());
        assertTrue(rb.out().contains("resumed from"), rb.out());
        assertEquals(Files.readAllLines(a.resolve("metrics.jsonl")), Files.readAllLines(b.resolve("metrics.jsonl")));
        try (var x = SafeTensors.read(a.resolve("ckpt-0000010.safetensors")); var y = SafeTensors.read(b.resolve("ckpt-0000010.safetensors"))) {
            assertEquals(x.names(), y.names());
            for (String n : x.names()) assertArrayEquals(x.get(n).toFloatArray(), y.get(n).toFloatArray(), n);
        }
        // a second run into the same folder without --resume is refused; --resume of a finished run does nothing
        assertEquals(1, CliTest.run(args(b).toArray(String[]::new)).code());
    }
}
