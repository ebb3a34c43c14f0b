package org.dino4j.cli;

import static org.dino4j.cli.CliTest.fixtures;
import static org.dino4j.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import javax.imageio.ImageIO;

import org.dino4j.data.ClassNames;
import org.dino4j.io.Json;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;
import org.dino4j.io.TorchPthWriter;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * classify, depth and segment end to end on real photos (the image fixtures), with the tiny 12-block backbone of
 * official_heads_tiny and its heads written out as Meta publishes them.
 */
class HeadsCommandsTest {
    @TempDir
    static Path dir;
    static Path weights, config;
    static final Path PHOTO = fixtures().resolve("extra/images/baseline.jpg");

    @BeforeAll
    static void files() throws Exception {
        try (TensorStore f = SafeTensors.read(fixtures().resolve("official/official_heads_tiny.safetensors"))) {
            config = Files.writeString(dir.resolve("tiny.json"), Json.write(org.dino4j.heads.HeadsConformance.config(f).toMap()));
            weights = dir.resolve("tiny.safetensors");
            SafeTensors.write(weights, new ArrayList<>(f.withPrefix("weights/backbone/").tensors().values()), Map.of());
            for (String g : List.of("linear_head", "linear4_head", "nyu_linear4_head", "nyu_dpt_head", "seg_linear_head", "seg_linear4_head")) {
                List<TensorEntry> t = new ArrayList<>();
                boolean wrapped = !g.startsWith("linear");
                f.withPrefix("weights/" + g + "/").tensors().forEach((k, v) -> t.add(v.withName(wrapped ? "state_dict." + k : k)));
                TorchPthWriter.write(dir.resolve(g + ".pth"), t);
            }
        }
    }

    static String[] args(String command, String head, String... more) {
        List<String> a = new ArrayList<>(List.of(command, "--weights", weights.toString(), "--config", config.toString(),
                "--head-file", dir.resolve(head + ".pth").toString()));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @Test
    void classifyPrintsImagenetLabelsWithProbabilities() throws Exception {
        CliTest.Result r = run(args("classify", "linear4_head", PHOTO.toString(), fixtures().resolve("extra/images/gray.jpg").toString(), "--top", "3", "--json"));
        assertEquals(0, r.code(), r.out() + r.err());
        List<String> lines = r.out().strip().lines().toList();
        assertEquals(2, lines.size(), r.out());
        for (String l : lines) {
            Map<String, Object> j = Json.parseObject(l);
            List<?> top = (List<?>) j.get("top");
            assertEquals(3, top.size());
            double prev = 1;
            for (Object o : top) {
                Map<?, ?> p = (Map<?, ?>) o;
                double pr = ((Number) p.get("probability")).doubleValue();
                assertTrue(pr <= prev && pr > 0, l);
                prev = pr;
                assertEquals(ClassNames.imagenet1k().get(((Number) p.get("class")).intValue()), p.get("label"));
            }
        }
        Path pics = dir.resolve("classified");
        CliTest.Result pr = run(args("classify", "linear_head", PHOTO.toString(), "--output", pics.toString()));
        assertEquals(0, pr.code(), pr.out() + pr.err());
        assertTrue(pr.out().contains("1. "), pr.out());
        BufferedImage pic = ImageIO.read(pics.resolve("baseline_classified.png").toFile()), photo = ImageIO.read(PHOTO.toFile());
        assertEquals(photo.getWidth(), pic.getWidth());
        CliTest.Result wrong = run(args("classify", "linear_head", PHOTO.toString(), "--layers", "4"));
        assertTrue(wrong.code() != 0 && wrong.err().contains("1-layer head"), wrong.err());
    }

    @Test
    void depthWritesPicturesAndMetresAtThePhotosSize() throws Exception {
        Path out = dir.resolve("depth");
        CliTest.Result r = run(args("depth", "nyu_dpt_head", PHOTO.toString(), "--resolution", "42", "--raw", "both", "--output", out.toString()));
        assertEquals(0, r.code(), r.out() + r.err());
        BufferedImage photo = ImageIO.read(PHOTO.toFile()), mm = ImageIO.read(out.resolve("baseline_depth_mm.png").toFile());
        assertEquals(photo.getWidth(), mm.getWidth());
        assertEquals(photo.getHeight(), mm.getHeight());
        assertEquals(16, mm.getColorModel().getPixelSize());
        int min = Integer.MAX_VALUE, max = 0;
        for (int y = 0; y < mm.getHeight(); y++)
            for (int x = 0; x < mm.getWidth(); x++) {
                int v = mm.getRaster().getSample(x, y, 0);
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
        assertTrue(min >= 1 && max <= 10_000 && max > min, min + ".." + max); // NYU's DPT range: 0.001-10 m
        assertTrue(ImageIO.read(out.resolve("baseline_depth.png").toFile()).getWidth() > photo.getWidth()); // the scale bar
        assertTrue(Files.size(out.resolve("baseline_depth.npy")) >= 128 + 4L * photo.getWidth() * photo.getHeight());
        // a linear4 file given as dpt is refused, naming both
        CliTest.Result wrong = run(args("depth", "nyu_linear4_head", PHOTO.toString(), "--head", "dpt", "--output", out.toString()));
        assertTrue(wrong.code() != 0 && wrong.err().contains("linear4 head"), wrong.err());
    }

    @Test
    void segmentWritesTheOfficialColoursOverlayAndClassIndices() throws Exception {
        Path out = dir.resolve("seg");
        Path bad = Files.writeString(dir.resolve("broken.jpg"), "not a jpeg");
        CliTest.Result r = run(args("segment", "seg_linear_head", PHOTO.toString(), bad.toString(), "--output", out.toString()));
        assertEquals(1, r.code(), r.out() + r.err());
        assertTrue(r.err().contains("broken.jpg") && r.err().strip().lines().filter(l -> l.contains("error")).count() == 1, r.err());
        BufferedImage photo = ImageIO.read(PHOTO.toFile()), idx = ImageIO.read(out.resolve("baseline_classes.png").toFile());
        assertEquals(photo.getWidth(), idx.getWidth());
        assertEquals(photo.getHeight(), idx.getHeight());
        for (String s : List.of("seg", "overlay", "legend")) assertTrue(Files.exists(out.resolve("baseline_" + s + ".png")), s);
        for (int y = 0; y < idx.getHeight(); y += 7)
            for (int x = 0; x < idx.getWidth(); x += 7) assertTrue(idx.getRaster().getSample(x, y, 0) < 150);
        // the 150-class head is no VOC2012 head, and a linear head is no ms head
        CliTest.Result voc = run(args("segment", "seg_linear_head", PHOTO.toString(), "--dataset", "voc2012", "--output", out.toString()));
        assertTrue(voc.code() != 0 && voc.err().contains("150 classes") && voc.err().contains("VOC2012 has 21"), voc.err());
        CliTest.Result ms = run(args("segment", "seg_linear_head", PHOTO.toString(), "--head", "ms", "--output", out.toString()));
        assertTrue(ms.code() != 0 && ms.err().contains("a linear head"), ms.err());
    }

    @Test
    void releasedHeadsAreFoundInTheCacheByName() throws Exception {
        Path cache = dir.resolve("cache");
        Files.createDirectories(cache.resolve("checkpoints"));
        Files.copy(dir.resolve("seg_linear_head.pth"), cache.resolve("checkpoints/dinov2_vits14_ade20k_linear_head.pth"));
        DownloadCommand.cacheOverride = new org.dino4j.hub.HubCache(cache.resolve("checkpoints"), cache.resolve("torch"), cache.resolve("hf"));
        try {
            Path out = dir.resolve("byname");
            CliTest.Result r = run("segment", "--weights", weights.toString(), "--config", config.toString(),
                    "--head-file", "dinov2_vits14_ade20k_linear", PHOTO.toString(), "--output", out.toString());
            assertEquals(0, r.code(), r.out() + r.err());
            assertTrue(Files.exists(out.resolve("baseline_seg.png")));
            // not downloaded: the message says how to get it
            CliTest.Result missing = run("depth", "--weights", weights.toString(), "--config", config.toString(),
                    "--head-file", "dinov2_vits14_dd", PHOTO.toString(), "--output", out.toString());
            assertTrue(missing.code() != 0 && missing.err().contains("dino4j download dinov2_vits14_nyu_dpt"), missing.err());
            // --model picks the backbone's released head: here the cached file is the tiny one, so its width is refused
            CliTest.Result wide = run("segment", "--model", "dinov2_vits14", "--random-weights", "1", PHOTO.toString(), "--output", out.toString());
            assertTrue(wide.code() != 0 && wide.err().contains("not a multiple of the backbone's width 384"), wide.err());
        } finally {
            DownloadCommand.cacheOverride = null;
        }
    }

    @Test
    void evalScoresAReleasedHeadWithTheOfficialInference() throws Exception {
        // VOC-like folder, tiny official backbone, a random VOC head of the released linear shape: the command's mIoU
        // must be what the library's segmenter and mmseg's IoU give image by image
        Path voc = DenseEvalCommandTest.fakeVoc(dir.resolve("voc"), 2, 3);
        Path out = dir.resolve("seg_eval.json");
        CliTest.Result r = run("eval", "segmentation", "--dataset", "voc", "--root", voc.toString(), "--weights", weights.toString(),
                "--config", config.toString(), "--random-head", "3", "--output", out.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("released linear head") && r.out().contains("mIoU"), r.out());
        double miou = ((Number) Json.parseObject(Files.readString(out)).get("mIoU")).doubleValue();
        try (var m = org.dino4j.model.Dinov2.load(weights, org.dino4j.model.ModelConfig.read(config))) {
            var seg = org.dino4j.heads.Segmenter.of(m, org.dino4j.heads.RandomHeads.segmentation(48, 1, 21, 3), 21, "VOC2012", null);
            var acc = new org.dino4j.eval.dense.SegmentationHead.IoU(21);
            var dec = new org.dino4j.data.ImageDecoder(org.dino4j.data.ImageDecoder.DEFAULT_MAX_PIXELS);
            for (var it : org.dino4j.eval.dense.DenseDatasets.voc2012(voc, "val"))
                acc.add(seg.segment(dec.decode(it.image()), org.dino4j.heads.Segmenter.TestConfig.linear(org.dino4j.heads.Segmenter.Dataset.VOC2012)).labels(),
                        org.dino4j.eval.dense.DenseDatasets.vocLabels(it.target()).labels());
            assertEquals(100 * acc.metrics().mIoU(), miou, 1e-9);
        }
        // NYU-like folder with Meta's tiny DPT head: metrics in range, the head and its blocks recorded
        Path nyu = DenseEvalCommandTest.fakeNyu(dir.resolve("nyu"), 1, 2);
        Path dout = dir.resolve("depth_eval.json");
        CliTest.Result d = run("eval", "depth", "--root", nyu.toString(), "--weights", weights.toString(), "--config", config.toString(),
                "--head-file", dir.resolve("nyu_dpt_head.pth").toString(), "--head", "dpt", "--no-eigen-crop", "--output", dout.toString());
        assertEquals(0, d.code(), d.out() + d.err());
        Map<String, Object> j = Json.parseObject(Files.readString(dout));
        assertEquals("dpt", j.get("head"));
        assertEquals(2.0, ((Number) j.get("scored_images")).doubleValue());
        assertTrue(((Number) j.get("rmse")).doubleValue() > 0 && ((Number) j.get("a1")).doubleValue() <= 1, j.toString());
    }

    @Test
    void huggingFaceDirectoriesBringTheirBackbone() throws Exception {
        Path hf = fixtures().resolve("hf_heads");
        CliTest.Result c = run("classify", "--head-file", hf.resolve("dinov2_tiny_hf_classifier").toString(), PHOTO.toString(), "--top", "2", "--json");
        assertEquals(0, c.code(), c.out() + c.err());
        Map<String, Object> j = Json.parseObject(c.out().strip());
        String label = (String) ((Map<?, ?>) ((List<?>) j.get("top")).get(0)).get("label");
        String cfg = Files.readString(hf.resolve("dinov2_tiny_hf_classifier/config.json"));
        assertTrue(cfg.contains("\"" + label + "\""), label + " is one of id2label's names"); // the directory's own class names
        Path out = dir.resolve("hfdepth");
        CliTest.Result d = run("depth", "--head-file", hf.resolve("dpt_dinov2_tiny_hf").toString(), PHOTO.toString(), "--resolution", "42",
                "--output", out.toString());
        assertEquals(0, d.code(), d.out() + d.err());
        assertEquals(ImageIO.read(PHOTO.toFile()).getWidth(), ImageIO.read(out.resolve("baseline_depth_mm.png").toFile()).getWidth());
    }
}
