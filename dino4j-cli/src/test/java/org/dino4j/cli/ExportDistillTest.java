package org.dino4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.dino4j.cli.CliTest.Result;
import org.dino4j.data.Dataset;
import org.dino4j.data.Datasets;
import org.dino4j.data.ImageDecoder;
import org.dino4j.io.Json;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TorchPth;
import org.dino4j.model.Dinov2;
import org.dino4j.viz.Png;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A run's life after training: the periodic k-NN evaluation, `export` to safetensors and .pth, `embed` with the
 * exported teacher, and `distill` of the run into a narrower student that is exported in turn.
 */
class ExportDistillTest {
    static List<String> tiny(Path out, int width, String... extra) {
        List<String> a = new ArrayList<>(List.of(TrainCommandTest.FMNIST.toString(), "--output", out.toString(),
                "--checkpoint-every", "5", "optim.epochs=2", "train.OFFICIAL_EPOCH_LENGTH=5", "train.batch_size_per_gpu=4",
                "student.arch=vit_tiny", "student.embed_dim=" + width, "student.depth=2", "student.num_heads=2",
                "dino.head_n_prototypes=64", "dino.head_hidden_dim=32", "dino.head_bottleneck_dim=16", "crops.local_crops_number=2"));
        a.addAll(List.of(extra));
        return a;
    }

    /** The first n Fashion-MNIST test images as an ImageFolder of PNGs (class folders), from image 'from' on. */
    static Path imageFolder(Path dir, int from, int n) throws Exception {
        Dataset ds = Datasets.of(List.of(TrainCommandTest.FMNIST));
        ImageDecoder dec = new ImageDecoder();
        for (int i = from; i < from + n; i++) {
            var s = ds.get(i);
            Path f = dir.resolve(s.className().replace(' ', '_').replace('/', '_')).resolve(i + ".png");
            Files.createDirectories(f.getParent());
            Png.write(Png.toBufferedImage(s.source().load(dec)), f);
        }
        return dir;
    }

    @Test
    void trainEvaluateExportEmbedDistill(@TempDir Path dir) throws Exception {
        assertTrue(Files.exists(TrainCommandTest.FMNIST), TrainCommandTest.FMNIST + " is missing: apt-get install dataset-fashion-mnist");
        Path bank = imageFolder(dir.resolve("bank"), 0, 120), held = imageFolder(dir.resolve("held"), 120, 40);
        Path run = dir.resolve("run");
        List<String> t = new ArrayList<>(List.of("train", "--eval-train", bank.toString(), "--eval-test", held.toString(), "--eval-every", "4"));
        t.addAll(tiny(run, 32));
        Result r = CliTest.run(t.toArray(String[]::new));
        assertEquals(0, r.code(), r.out() + r.err());
        // k-NN at step 0, every 4 steps, and at the end (10)
        List<String> knn = Files.readAllLines(run.resolve("knn.jsonl"));
        assertEquals(List.of(0L, 4L, 8L, 10L), knn.stream().map(l -> ((Number) Json.parseObject(l).get("step")).longValue()).toList());
        for (String l : knn) {
            double top1 = ((Number) Json.parseObject(l).get("top1")).doubleValue(), top5 = ((Number) Json.parseObject(l).get("top5")).doubleValue();
            assertTrue(top1 >= 0 && top1 <= top5 && top5 <= 1, l);
            // accuracies are multiples of 1/40 (40 held-out images)
            assertEquals(Math.round(top1 * 40), top1 * 40, 1e-6, l);
        }
        assertEquals(660, javax.imageio.ImageIO.read(run.resolve("curve.png").toFile()).getHeight(), "losses and k-NN panels");
        // each evaluation is announced (what, how many images), then its result and time
        assertTrue(r.out().contains("step 0: k-NN evaluation of the teacher: CLS features of 120 train + 40 test images"), r.out());
        assertTrue(java.util.regex.Pattern.compile("step 4: k-NN top-1 [\\d.]+%, top-5 [\\d.]+% \\(120 train, 40 test images, \\d+s\\)")
                .matcher(r.out()).find(), r.out());

        // export: the teacher's tensors, in the hub layout, config in the metadata; the .pth holds the same tensors
        Path st = dir.resolve("teacher.safetensors"), pth = dir.resolve("teacher.pth");
        assertEquals(0, CliTest.run("export", run.toString(), "--output", st.toString()).code());
        Result rp = CliTest.run("export", run.toString(), "--output", pth.toString());
        assertEquals(0, rp.code(), rp.err());
        try (var ck = SafeTensors.read(run.resolve("ckpt-0000010.safetensors")); var a = SafeTensors.read(st); var b = TorchPth.read(pth)) {
            assertTrue(a.names().contains("blocks.1.mlp.fc2.weight") && a.names().contains("cls_token") && !a.names().contains("dino_head.last_layer.weight_g"));
            assertEquals(a.names(), b.names());
            for (String n : a.names()) {
                assertArrayEquals(ck.get("teacher/backbone." + n).toFloatArray(), a.get(n).toFloatArray(), n);
                assertArrayEquals(a.get(n).toFloatArray(), b.get(n).toFloatArray(), n);
            }
        }
        assertTrue(Files.readString(dir.resolve("teacher.pth.json")).contains("\"embed_dim\":32"));
        try (var m = Dinov2.load(st)) {
            assertEquals(32, m.config().embedDim());
            assertEquals(4, m.config().patchSize());
        }
        // embed reads the exported file with no other option than the 28-px resolution
        Path emb = dir.resolve("emb");
        Result re = CliTest.run("embed", "--weights", st.toString(), "--resolution", "28", held.toString(), "--output", emb.toString());
        assertEquals(0, re.code(), re.out() + re.err());
        assertEquals(41, Files.readAllLines(emb.resolve("manifest.tsv")).size());

        // distill into a 16-wide student: targets from the frozen teacher, the EMA student exported
        Path d = dir.resolve("distill");
        List<String> dc = new ArrayList<>(List.of("distill", "--teacher", run.toString()));
        dc.addAll(tiny(d, 16));
        dc.remove("dino.head_n_prototypes=64"); // the student's head gets the teacher's number of prototypes by itself
        Result rd = CliTest.run(dc.toArray(String[]::new));
        assertEquals(0, rd.code(), rd.out() + rd.err());
        assertTrue(rd.out().contains("teacher: "), rd.out());
        for (String l : Files.readAllLines(d.resolve("metrics.jsonl"))) { // the frozen teacher's target entropy, 0 to log K
            double h = ((Number) Json.parseObject(l).get("teacher_entropy")).doubleValue();
            assertTrue(h >= 0 && h <= Math.log(64) + 1e-6 && Json.parseObject(l).get("collapsed") instanceof Boolean, l);
        }
        Path small = dir.resolve("student.safetensors");
        assertEquals(0, CliTest.run("export", d.toString(), "--output", small.toString()).code());
        try (var m = Dinov2.load(small); var ck = SafeTensors.read(d.resolve("ckpt-0000010.safetensors"))) {
            assertEquals(16, m.config().embedDim());
            assertEquals(64, ck.get("teacher/dino_head.last_layer.weight_v").intShape()[0]);
            // the EMA moved away from the student's start (it is not a copy of the initialisation)
            assertTrue(!java.util.Arrays.equals(ck.get("teacher/backbone.blocks.0.attn.qkv.weight").toFloatArray(),
                    ck.get("student/backbone.blocks.0.attn.qkv.weight").toFloatArray()));
        }
        // bad input: a distillation teacher that is not a run
        Result bad = CliTest.run("distill", "--teacher", dir.resolve("nothing").toString(), TrainCommandTest.FMNIST.toString(), "--output", dir.resolve("x").toString());
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains("nothing: no such file or folder"), bad.err());
    }
}
