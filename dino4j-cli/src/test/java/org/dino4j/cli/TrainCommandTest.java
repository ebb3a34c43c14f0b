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
 * `dino4j train` on the Fashion-MNIST test images (small preset, shrunk): 2000 steps in one go, and 1000 steps, a
 * SIGKILL, a resume for the other 1000, end with the same weights, optimizer state and centers, bit for bit, and the
 * same loss curve.
 */
class TrainCommandTest {
    static final Path FMNIST = Path.of("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");

    static List<String> args(Path out, String... extra) {
        // the small28 preset, shrunk by overrides in the official key=value form: 2000 iterations of 2 images, a
        // 16-wide 1-block ViT/4 (every part of the step still runs: crops, masks, drop-path, both losses, schedules, EMA)
        List<String> a = new ArrayList<>(List.of("train", FMNIST.toString(), "--output", out.toString(), "--checkpoint-every", "100",
                "--keep", "2", "optim.epochs=20", "train.OFFICIAL_EPOCH_LENGTH=100", "train.batch_size_per_gpu=2", "train.seed=3",
                "student.arch=vit_tiny", "student.embed_dim=16", "student.depth=1", "student.num_heads=2", "student.drop_path_rate=0.1",
                "dino.head_n_prototypes=32", "dino.head_hidden_dim=16", "dino.head_bottleneck_dim=8", "crops.local_crops_number=2"));
        a.addAll(List.of(extra));
        return a;
    }

    @Test
    void killedAndResumedRunIsBitIdentical(@TempDir Path dir) throws Exception {
        assertTrue(Files.exists(FMNIST), FMNIST + " is missing: apt-get install dataset-fashion-mnist");
        Path a = dir.resolve("a");
        Result ra = CliTest.run(args(a).toArray(String[]::new));
        assertEquals(0, ra.code(), ra.out() + ra.err());
        assertEquals(2000, Files.readAllLines(a.resolve("metrics.jsonl")).size());
        assertTrue(Files.exists(a.resolve("ckpt-0002000.safetensors")) && Files.exists(a.resolve("ckpt-0001900.safetensors")));
        assertTrue(!Files.exists(a.resolve("ckpt-0001800.safetensors")), "--keep 2");

        Path b = dir.resolve("b");
        Process p = child(dir.resolve("child.log"), args(b));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!Files.exists(b.resolve("ckpt-0001000.safetensors")) && p.isAlive() && System.nanoTime() < deadline) Thread.sleep(2);
        p.destroyForcibly().waitFor(); // SIGKILL
        assertTrue(!Files.exists(b.resolve("ckpt-0001100.safetensors")), "the child went on too long before the kill: " + Files.readString(dir.resolve("child.log")));
        Result rb = CliTest.run(args(b, "--resume").toArray(String[]::new));
        assertEquals(0, rb.code(), rb.out() + rb.err());
        assertTrue(rb.out().contains("resumed from") && rb.out().contains("at step 1000"), rb.out());
        assertEquals(Files.readAllLines(a.resolve("metrics.jsonl")), Files.readAllLines(b.resolve("metrics.jsonl")));
        try (var x = SafeTensors.read(a.resolve("ckpt-0002000.safetensors")); var y = SafeTensors.read(b.resolve("ckpt-0002000.safetensors"))) {
            assertEquals(x.names(), y.names()); // student, teacher, AdamW moments and step counts, DINO/iBOT centers
            assertTrue(x.names().contains("adam_v/backbone.blocks.0.attn.qkv.weight") && x.names().contains("dino/center"), x.names().toString());
            for (String n : x.names()) assertArrayEquals(x.get(n).toFloatArray(), y.get(n).toFloatArray(), n);
        }
        // a second run into the same folder without --resume is refused, so is a resume with another configuration,
        // and an unknown key is an error naming it
        assertEquals(1, CliTest.run(args(b).toArray(String[]::new)).code());
        Result other = CliTest.run(args(b, "--resume", "optim.base_lr=0.001").toArray(String[]::new));
        assertEquals(1, other.code());
        assertTrue(other.err().contains("another configuration"), other.err());
        Result typo = CliTest.run(args(dir.resolve("c"), "optim.base_lrr=0.001").toArray(String[]::new));
        assertEquals(1, typo.code());
        assertTrue(typo.err().contains("unknown config key optim.base_lrr"), typo.err());
        assertTrue(Files.readString(a.resolve("config.yaml")).contains("OFFICIAL_EPOCH_LENGTH: 100"));
        java.awt.image.BufferedImage curve = javax.imageio.ImageIO.read(a.resolve("curve.png").toFile());
        assertEquals(800, curve.getWidth());
        assertEquals(400, curve.getHeight());
    }

    /**
     * SIGTERM (what Ctrl-C's SIGINT also does: the shutdown hook runs for both) prints the newest checkpoint kept and
     * the command that resumes; that command, run, finishes the run. A run folder with no checkpoint yet is started
     * over by --resume, and ends as the same run. metrics.jsonl holds the teacher's entropy (0 to log K) and the
     * collapse flag, which a resumed run carries on from the steps before its checkpoint.
     */
    @Test
    void stoppedRunSaysWhatItKeptAndHowToResume(@TempDir Path dir) throws Exception {
        assertTrue(Files.exists(FMNIST), FMNIST + " is missing: apt-get install dataset-fashion-mnist");
        Path b = dir.resolve("b");
        Path log = dir.resolve("child.log");
        var m = stopLine(child(log, threeEpochs(b)), b.resolve("ckpt-0000100.safetensors"), log);
        long stoppedAt = Long.parseLong(m.group(1)), kept = Long.parseLong(m.group(3));
        assertTrue(kept >= 100 && kept <= stoppedAt && stoppedAt < 300, m.group());
        assertEquals(String.format("ckpt-%07d.safetensors", kept), Path.of(m.group(2)).getFileName().toString());
        assertEquals(List.of(Path.of(m.group(2))), org.dino4j.train.ssl.TrainingRun.checkpoints(b).stream().skip(org.dino4j.train.ssl.TrainingRun.checkpoints(b).size() - 1).toList(), "the newest");
        String[] resume = m.group(4).trim().split(" ");
        assertEquals("dino4j", resume[0]);
        assertEquals(List.of("train", FMNIST.toString(), "--output", b.toString()), List.of(resume).subList(1, 5));
        assertEquals("--resume", resume[resume.length - 1]);
        Result rb = CliTest.run(java.util.Arrays.copyOfRange(resume, 1, resume.length));
        assertEquals(0, rb.code(), rb.out() + rb.err());
        assertTrue(rb.out().contains("at step " + kept), rb.out());
        List<String> lines = Files.readAllLines(b.resolve("metrics.jsonl"));
        assertEquals(300, lines.size());
        org.dino4j.train.ssl.CollapseDetector again = new org.dino4j.train.ssl.CollapseDetector(32);
        for (String line : lines) {
            var j = org.dino4j.io.Json.parseObject(line);
            double h = ((Number) j.get("teacher_entropy")).doubleValue();
            assertTrue(h >= 0 && h <= Math.log(32) + 1e-6, line);
            double dino = ((Number) j.get("dino_local_crops_loss")).doubleValue() + ((Number) j.get("dino_global_crops_loss")).doubleValue();
            assertEquals(again.update(h, dino), j.get("collapsed"), line); // the flag follows the rule across the resume
        }

        // a folder with the configuration but no checkpoint (stopped before the first): --resume starts over
        Path c = dir.resolve("c");
        Files.createDirectories(c);
        Files.copy(b.resolve("config.yaml"), c.resolve("config.yaml"));
        Files.write(c.resolve("metrics.jsonl"), lines.subList(0, 37));
        Result rc = CliTest.run(threeEpochs(c, "--resume").toArray(String[]::new));
        assertEquals(0, rc.code(), rc.out() + rc.err());
        assertTrue(rc.out().contains("no checkpoint yet: starting over from step 0"), rc.out());
        assertEquals(lines, Files.readAllLines(c.resolve("metrics.jsonl")));
        Result none = CliTest.run(threeEpochs(dir.resolve("d"), "--resume").toArray(String[]::new));
        assertEquals(1, none.code());
        assertTrue(none.err().contains("no run to resume"), none.err());
    }

    /** `dino4j ARGS` in a JVM of its own (to be killed), its stdout and stderr to {@code log}. */
    static Process child(Path log, List<String> args) throws java.io.IOException {
        // the child runs with this JVM's own options (vector module, and e.g. -XX:MaxVectorSize=32 when the suite is run
        // as on an AVX2 machine): else its kernels could use another vector width than the in-process run it is compared with
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java")));
        cmd.addAll(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments());
        if (!cmd.contains("jdk.incubator.vector")) cmd.addAll(List.of("--add-modules", "jdk.incubator.vector"));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().remove("DINO4J_LAUNCHER"); // the stop line then names the program "dino4j"
        return pb.start();
    }

    /**
     * Waits for {@code marker} (a checkpoint) to appear, stops the child with SIGTERM and returns the match of its
     * stop line: step reached, checkpoint kept, its step, the command that resumes.
     */
    static java.util.regex.Matcher stopLine(Process p, Path marker, Path log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!Files.exists(marker) && p.isAlive() && System.nanoTime() < deadline) Thread.sleep(2);
        p.destroy(); // SIGTERM
        assertEquals(143, p.waitFor(), Files.readString(log));
        String out = Files.readString(log);
        var m = java.util.regex.Pattern.compile("stopped at step (\\d+); kept (\\S+) \\(step (\\d+)[^\\n]*\\. Resume with: (.+)").matcher(out);
        assertTrue(m.find(), out);
        return m;
    }

    static List<String> threeEpochs(Path out, String... extra) {
        List<String> a = args(out, extra);
        a.set(a.indexOf("optim.epochs=20"), "optim.epochs=3");
        return a;
    }
}
