package org.dino4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Training commands in a JVM with a 256 MiB heap: a one-line error that names the heap in force, what the step needs
 * and how to fix it, before the first step (the estimate) or from the out-of-memory error itself.
 */
class HeapCheckTest {
    @TempDir
    Path dir;

    record Run(int code, String out) {}

    /** dino4j (the test class path) in a child JVM with these JVM flags, JAVA_OPTS set to javaOpts (null: unset). */
    static Run child(List<String> jvm, String javaOpts, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "--add-modules", "jdk.incubator.vector"));
        cmd.addAll(jvm);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        if (javaOpts == null) pb.environment().remove("JAVA_OPTS");
        else pb.environment().put("JAVA_OPTS", javaOpts);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        return new Run(p.waitFor(), out);
    }

    List<String> vits14(String... extra) {
        List<String> a = new ArrayList<>(List.of("train", TrainCommandTest.FMNIST.toString(), "--output", dir.resolve("run").toString(),
                "--preset", "vits14", "train.batch_size_per_gpu=16"));
        a.addAll(List.of(extra));
        return a;
    }

    @Test
    void trainFailsBeforeTheFirstStepNamingTheHeapAndTheNeed() throws Exception {
        Run r = child(List.of("-Xmx256m"), null, vits14().toArray(String[]::new));
        assertEquals(1, r.code(), r.out());
        String line = r.out().lines().filter(l -> l.startsWith("dino4j train: error:")).findFirst().orElse(r.out());
        // the max heap as the JVM reports it: 256 MiB under G1, a survivor space less under the serial collector
        assertTrue(line.matches(".*not enough heap: max heap 0\\.[23] GiB \\(-Xmx256m\\), and .*") && line.contains("at batch 16")
                && line.matches(".*needs about [67]\\.\\d GiB \\(activations 3\\.\\d.*") && line.contains("raise the heap with JAVA_OPTS=-Xmx")
                && line.contains("lower train.batch_size_per_gpu (now 16)"), line);
        assertTrue(!r.out().contains("\tat "), "no stack trace: " + r.out());
        // set by JAVA_OPTS (as ./dino4j passes it): said so
        Run opts = child(List.of("-Xmx256m"), "-Xmx256m", vits14().toArray(String[]::new));
        assertTrue(opts.out().matches("(?s).*max heap 0\\.[23] GiB \\(-Xmx256m from JAVA_OPTS\\).*"), opts.out());
        Run bench = child(List.of("-Xmx256m"), null, "bench", "--train", "--batch", "4");
        assertEquals(1, bench.code(), bench.out());
        assertTrue(bench.out().matches("(?s).*dino4j bench: error: not enough heap: max heap 0\\.[23] GiB \\(-Xmx256m\\), and a dinov2_vits14 training step at batch 4.*")
                && bench.out().contains("lower --batch (now 4), or --checkpoint"), bench.out());
    }

    @Test
    void outOfMemoryNamesTheHeapAndTheNeed() throws Exception {
        // the check switched off: the step's own allocations run out, and the error says the same things
        Run r = child(List.of("-Xmx256m", "-Ddino4j.heap.check=false"), null, vits14().toArray(String[]::new));
        assertEquals(1, r.code(), r.out());
        assertTrue(r.out().matches("(?s).*dino4j train: error: out of memory: max heap 0\\.[23] GiB \\(-Xmx256m\\), and a step of a 384-wide 12-block ViT/14 at batch 16.*")
                && r.out().contains("raise the heap with JAVA_OPTS=-Xmx"), r.out());
        assertTrue(!r.out().contains("\tat ") && !r.out().contains("Exception in thread"), "no stack trace: " + r.out());
    }
}
