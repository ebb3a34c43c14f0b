package org.dino4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.dino4j.cli.CliTest.Result;
import org.dino4j.io.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `dino4j eval knn|logreg|linear` end to end on 160 Fashion-MNIST images (PNG class folders), raw pixels and a model. */
class EvalCommandTest {
    @Test
    void knnLogregAndLinearFromImagesPixelsAndEmbeddings(@TempDir Path dir) throws Exception {
        assertTrue(Files.exists(TrainCommandTest.FMNIST), TrainCommandTest.FMNIST + " is missing: apt-get install dataset-fashion-mnist");
        Path train = ExportDistillTest.imageFolder(dir.resolve("train"), 0, 120), test = ExportDistillTest.imageFolder(dir.resolve("test"), 120, 40);
        Path cfg = Files.writeString(dir.resolve("c.json"), "{\"img_size\":28,\"patch_size\":4,\"embed_dim\":32,\"depth\":4,\"num_heads\":2,\"init_values\":1.0}");
        String[] model = {"--random-weights", "1", "--config", cfg.toString(), "--resize", "28", "--crop", "28"};

        // raw pixels: k-NN on 120 images classifies the 40 others far above chance (10 %)
        Path kp = dir.resolve("knn_pixels.json");
        Result r = CliTest.run("eval", "knn", "--pixels", "--train", train.toString(), "--test", test.toString(), "--nb-knn", "1,5,20", "--output", kp.toString(),
                "--plots", dir.resolve("plots").toString());
        assertEquals(0, r.code(), r.out() + r.err());
        @SuppressWarnings("unchecked") List<Map<String, Object>> rows = (List<Map<String, Object>>) Json.parseObject(Files.readString(kp)).get("results");
        assertEquals(3, rows.size());
        for (String png : new String[] {"knn_accuracy_vs_k.png", "knn_per_class.png", "knn_confusion.png"})
            assertTrue(javax.imageio.ImageIO.read(dir.resolve("plots").resolve(png).toFile()).getWidth() > 300, png);
        double top1 = ((Number) rows.get(1).get("top1")).doubleValue();
        assertTrue(top1 > 40 && top1 <= 100 && Math.round(top1 * 40 / 100) == top1 * 40 / 100, r.out());

        // a model's CLS from images, and the same model's CLS written by embed then read back: the same accuracies
        Path km = dir.resolve("knn_model.json");
        r = CliTest.run(concat(new String[] {"eval", "knn", "--train", train.toString(), "--test", test.toString(), "--nb-knn", "5", "--output", km.toString()}, model));
        assertEquals(0, r.code(), r.out() + r.err());
        for (String s : new String[] {"train", "test"}) {
            Result e = CliTest.run(concat(new String[] {"embed", dir.resolve(s).toString(), "--output", dir.resolve("emb_" + s).toString()}, model));
            assertEquals(0, e.code(), e.out() + e.err());
        }
        Path ke = dir.resolve("knn_embed.json");
        r = CliTest.run("eval", "knn", "--train", dir.resolve("emb_train").toString(), "--test", dir.resolve("emb_test").toString(), "--nb-knn", "5", "--output", ke.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        assertEquals(Json.parseObject(Files.readString(km)).get("results"), Json.parseObject(Files.readString(ke)).get("results"));

        // logistic regression on pixels: two C values, the better one refitted
        Path lr = dir.resolve("logreg.json");
        r = CliTest.run("eval", "logreg", "--pixels", "--train", train.toString(), "--test", test.toString(), "--C", "0.001,1", "--max-iter", "200", "--output", lr.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        var lj = Json.parseObject(Files.readString(lr));
        assertEquals(2, ((List<?>) lj.get("sweep")).size());
        assertTrue(((Number) lj.get("test_top1")).doubleValue() > 40, r.out());

        // linear probe: 52 classifiers, best first
        Path li = dir.resolve("linear.json");
        r = CliTest.run(concat(new String[] {"eval", "linear", "--train", train.toString(), "--test", test.toString(), "--epochs", "2", "--output", li.toString()}, model));
        assertEquals(0, r.code(), r.out() + r.err());
        var cl = (List<?>) Json.parseObject(Files.readString(li)).get("classifiers");
        assertEquals(52, cl.size());
        assertTrue(r.out().contains("linear probe: 108 train, 12 val, 40 test"), r.out());

        // retrieval: queries that are copies of gallery images (the box covers the whole image) find them first
        Path ret = Files.createDirectories(dir.resolve("ret"));
        List<String> names = new java.util.ArrayList<>();
        try (var st = Files.walk(train)) {
            for (Path f : st.filter(Files::isRegularFile).sorted().limit(12).toList()) {
                String n = "g" + names.size();
                Files.copy(f, ret.resolve(n + ".png"));
                names.add(n);
            }
        }
        for (int i : new int[] {3, 7}) Files.copy(ret.resolve("g" + i + ".png"), ret.resolve("q" + i + ".png"));
        Path gnd = Files.writeString(dir.resolve("gnd.json"), "{\"imlist\": " + Json.write(names) + ", \"qimlist\": [\"q3\", \"q7\"], "
                + "\"gnd\": [{\"easy\": [3], \"hard\": [], \"junk\": [], \"bbx\": [0, 0, 28, 28]}, {\"easy\": [7], \"hard\": [1], \"junk\": [2]}]}");
        Path rj = dir.resolve("ret.json");
        r = CliTest.run(concat(new String[] {"eval", "retrieval", "--images", ret.toString(), "--gnd", gnd.toString(), "--output", rj.toString()},
                new String[] {"--random-weights", "1", "--config", cfg.toString(), "--resize", "28"}));
        assertEquals(0, r.code(), r.out() + r.err());
        @SuppressWarnings("unchecked") Map<String, Object> easy = (Map<String, Object>) Json.parseObject(Files.readString(rj)).get("easy");
        assertEquals(100.0, ((Number) easy.get("mAP")).doubleValue(), 1e-9, r.out());
        assertTrue(r.out().contains("HARD") && r.out().contains("(1 queries)"), r.out());

        // bad input: unlabelled images
        Path plain = Files.createDirectories(dir.resolve("plain"));
        Files.copy(Files.list(train.resolve(Files.list(train).findFirst().orElseThrow().getFileName())).findFirst().orElseThrow(), plain.resolve("a.png"));
        Result bad = CliTest.run("eval", "knn", "--pixels", "--train", plain.toString(), "--test", test.toString());
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains("no label"), bad.err());
    }

    static String[] concat(String[] a, String[] b) {
        String[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
