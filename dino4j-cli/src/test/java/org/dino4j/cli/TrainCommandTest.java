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
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(args(b));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("child.log").toFile()).start();
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
}
