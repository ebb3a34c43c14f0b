package org.dino4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;

import org.dino4j.cli.CliTest.Result;
import org.dino4j.eval.dense.DenseDatasets;
import org.dino4j.eval.dense.DepthHead;
import org.dino4j.io.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `dino4j eval segmentation|depth` end to end on a tiny fake VOC2012 and a tiny fake NYU-Depth v2 of synthetic 32x32
 * scenes (as the eval module's dense tests: a noisy grey background, a red disc, a blue square, a green triangle;
 * depth a ramp behind shapes at fixed distances), with a random tiny ViT: the heads beat the trivial predictions.
 */
class DenseEvalCommandTest {
    static final int S = 32;
    static final int[][] COLOURS = {{128, 128, 128}, {200, 30, 30}, {30, 30, 200}, {30, 180, 30}};
    static final float[] DEPTHS = {Float.NaN, 0.8f, 4.0f, 2.5f};

    record Scene(BufferedImage image, int[] labels, int[] depthMm) {}

    static Scene scene(SplittableRandom r) {
        int[] cls = new int[S * S];
        int sq = 8 + r.nextInt(5), sx = r.nextInt(S - sq), sy = r.nextInt(S - sq);
        double rad = 4 + 3 * r.nextDouble(), cx = rad + r.nextDouble() * (S - 2 * rad), cy = rad + r.nextDouble() * (S - 2 * rad);
        int tb = 10 + r.nextInt(5), tx = r.nextInt(S - tb), ty = r.nextInt(S - tb);
        BufferedImage im = new BufferedImage(S, S, BufferedImage.TYPE_INT_RGB);
        int[] labels = new int[S * S], mm = new int[S * S];
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                int c = 0;
                if (x >= sx && x < sx + sq && y >= sy && y < sy + sq) c = 2;
                if ((x + 0.5 - cx) * (x + 0.5 - cx) + (y + 0.5 - cy) * (y + 0.5 - cy) <= rad * rad) c = 1;
                if (y >= ty && y < ty + tb && Math.abs(x - (tx + tb / 2.0)) <= (y - ty) / 2.0) c = 3;
                int p = y * S + x, rgb = 0;
                for (int k = 0; k < 3; k++) rgb = rgb << 8 | Math.clamp(COLOURS[c][k] + r.nextInt(21) - 10, 0, 255);
                im.setRGB(x, y, rgb);
                labels[p] = r.nextDouble() < 0.03 ? 255 : c; // VOC's 255 = boundary, ignored
                float d = c == 0 ? 1f + 2f * y / (S - 1) : DEPTHS[c];
                mm[p] = r.nextDouble() < 0.05 ? 0 : Math.round(d * 1000); // 0 = no measurement
            }
        return new Scene(im, labels, mm);
    }

    static void write(BufferedImage im, String format, Path f) throws IOException {
        Files.createDirectories(f.getParent());
        if (!ImageIO.write(im, format, f.toFile())) throw new IOException("no " + format + " writer");
    }

    /** A palette PNG whose pixel values are the labels (VOC SegmentationClass). */
    static void labelPng(Path f, int w, int h, int[] values) throws IOException {
        byte[] r = new byte[256], g = new byte[256], b = new byte[256];
        for (int i = 0; i < 256; i++) { r[i] = (byte) (i * 37); g[i] = (byte) (i * 91); b[i] = (byte) (255 - i); }
        BufferedImage im = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_INDEXED, new IndexColorModel(8, 256, r, g, b));
        WritableRaster ras = im.getRaster();
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) ras.setSample(x, y, 0, values[y * w + x]);
        write(im, "png", f);
    }

    static void depthPng(Path f, int[] mm) throws IOException {
        BufferedImage im = new BufferedImage(S, S, BufferedImage.TYPE_USHORT_GRAY);
        for (int y = 0; y < S; y++) for (int x = 0; x < S; x++) im.getRaster().setSample(x, y, 0, mm[y * S + x]);
        write(im, "png", f);
    }

    /** VOCdevkit/VOC2012 with train.txt and val.txt. */
    static Path fakeVoc(Path dir, int nTrain, int nVal) throws IOException {
        Path root = dir.resolve("VOCdevkit/VOC2012");
        SplittableRandom r = new SplittableRandom(1);
        for (String split : new String[] {"train", "val"}) {
            StringBuilder ids = new StringBuilder();
            for (int i = 0; i < (split.equals("train") ? nTrain : nVal); i++) {
                String id = String.format(Locale.ROOT, "2007_%s%05d", split.equals("train") ? "1" : "2", i);
                Scene s = scene(r);
                write(s.image(), "jpg", root.resolve("JPEGImages/" + id + ".jpg"));
                labelPng(root.resolve("SegmentationClass/" + id + ".png"), S, S, s.labels());
                ids.append(id).append('\n');
            }
            Files.createDirectories(root.resolve("ImageSets/Segmentation"));
            Files.writeString(root.resolve("ImageSets/Segmentation/" + split + ".txt"), ids);
        }
        return dir.resolve("VOCdevkit");
    }

    /** A toolbox-style NYU folder: scene folders of rgb_*.jpg and sync_depth_*.png, nyu_train.txt and nyu_test.txt. */
    static Path fakeNyu(Path dir, int nTrain, int nVal) throws IOException {
        Path root = dir.resolve("nyu");
        SplittableRandom r = new SplittableRandom(2);
        for (String split : new String[] {"train", "test"}) {
            StringBuilder lines = new StringBuilder();
            for (int i = 0; i < (split.equals("train") ? nTrain : nVal); i++) {
                String sc = split + "_room_" + (i % 3), rgb = String.format(Locale.ROOT, "/%s/rgb_%05d.jpg", sc, i),
                        depth = String.format(Locale.ROOT, "/%s/sync_depth_%05d.png", sc, i);
                Scene s = scene(r);
                write(s.image(), "jpg", root.resolve(rgb.substring(1)));
                depthPng(root.resolve(depth.substring(1)), s.depthMm());
                lines.append(rgb).append(' ').append(depth).append(" 518.8579\n");
            }
            Files.writeString(root.resolve("nyu_" + split + ".txt"), lines);
        }
        return root;
    }

    static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    static double num(Map<String, Object> j, String key) {
        assertNotNull(j.get(key), key + " in " + j);
        return ((Number) j.get(key)).doubleValue();
    }

    @Test
    void segmentationOnAFakeVoc(@TempDir Path dir) throws IOException {
        Path voc = fakeVoc(dir, 36, 12);
        Path cfg = Files.writeString(dir.resolve("c.json"), "{\"img_size\":32,\"patch_size\":4,\"embed_dim\":32,\"depth\":4,\"num_heads\":2,\"init_values\":1.0}");
        Path out = dir.resolve("seg.json");
        String[] args = {"eval", "segmentation", "--dataset", "voc", "--root", voc.toString(), "--layers", "4", "--resolution", "32",
                "--iterations", "150", "--lr", "0.02", "--batch-size", "8", "--max-images", "30", "--random-weights", "1", "--config", cfg.toString()};
        for (String c : new String[] {"segmentation", "depth"}) {
            Result h = CliTest.run("eval", c, "--help");
            assertEquals(0, h.code(), h.err());
            assertTrue(h.out().contains("Usage: dino4j eval " + c) && h.out().contains("--max-images"), h.out());
        }
        Result r = CliTest.run(concat(args, "--output", out.toString()));
        assertEquals(0, r.code(), r.out() + r.err());
        System.out.print(r.out());

        // the trivial baseline on the same val labels: the majority class everywhere
        long[] count = new long[DenseDatasets.VOC_CLASSES];
        for (DenseDatasets.Item it : DenseDatasets.voc2012(voc, "val"))
            for (int l : DenseDatasets.vocLabels(it.target()).labels()) if (l != 255) count[l]++;
        int major = 0, present = 0;
        long total = 0;
        for (int c = 0; c < count.length; c++) {
            if (count[c] > count[major]) major = c;
            if (count[c] > 0) present++;
            total += count[c];
        }
        double majorityAcc = 100.0 * count[major] / total, majorityMIoU = majorityAcc / present;

        Map<String, Object> j = Json.parseObject(Files.readString(out));
        assertEquals(30.0, num(j, "train_images")); // --max-images 30 of 36
        assertEquals(12.0, num(j, "val_images"));
        double miou = num(j, "mIoU"), aacc = num(j, "aAcc");
        System.out.printf(Locale.ROOT, "segmentation: mIoU %.2f, aAcc %.2f; majority class: mIoU %.2f, aAcc %.2f%n", miou, aacc, majorityMIoU, majorityAcc);
        assertTrue(miou >= 0 && miou <= 100 && aacc >= 0 && aacc <= 100, r.out());
        assertTrue(miou > 2 * majorityMIoU, "mIoU " + miou + " vs majority " + majorityMIoU);
        assertTrue(aacc > majorityAcc, "aAcc " + aacc + " vs majority " + majorityAcc);
        List<?> classes = (List<?>) j.get("classes");
        assertEquals(21, classes.size());
        for (int c = 0; c < 4; c++) {
            @SuppressWarnings("unchecked") Map<String, Object> row = (Map<String, Object>) classes.get(c);
            assertEquals(DenseDatasets.VOC_CLASS_NAMES.get(c), row.get("name"));
            double iou = num(row, "iou");
            assertTrue(iou >= 0 && iou <= 100, row.toString());
        }
        assertTrue(r.out().contains("mIoU") && r.out().contains("aeroplane"), r.out());

        // bad input (Main prints "dino4j eval segmentation: error: ..."): a missing root; labels of another size than their image (named, one line, exit 1)
        Path missing = dir.resolve("nowhere");
        Result e = CliTest.run("eval", "segmentation", "--dataset", "voc", "--root", missing.toString(), "--random-weights", "1", "--config", cfg.toString());
        assertEquals(1, e.code(), e.err());
        assertTrue(e.err().contains("dino4j eval segmentation: error: " + missing), e.err());
        Path lab = voc.resolve("VOC2012/SegmentationClass/2007_100000.png");
        labelPng(lab, 16, 16, new int[256]);
        e = CliTest.run(args);
        assertEquals(1, e.code(), e.err());
        String line = e.err().lines().filter(l -> l.contains("error:")).findFirst().orElse("");
        assertTrue(line.startsWith("dino4j eval segmentation: error: " + lab) && line.contains("2007_100000.jpg"), e.err());
        assertTrue(!e.err().contains("\tat "), "no stack trace: " + e.err());
    }

    @Test
    void depthOnAFakeNyu(@TempDir Path dir) throws IOException {
        Path nyu = fakeNyu(dir, 30, 10);
        Path cfg = Files.writeString(dir.resolve("c.json"), "{\"img_size\":32,\"patch_size\":4,\"embed_dim\":32,\"depth\":4,\"num_heads\":2,\"init_values\":1.0}");
        Path out = dir.resolve("depth.json");
        String[] args = {"eval", "depth", "--dataset", "nyu", "--root", nyu.toString(), "--layers", "4", "--resolution", "32",
                "--iterations", "150", "--lr", "0.1", "--batch-size", "8", "--random-weights", "1", "--config", cfg.toString()};
        Result r = CliTest.run(concat(args, "--no-eigen-crop", "--output", out.toString()));
        assertEquals(0, r.code(), r.out() + r.err());
        System.out.print(r.out());

        // the trivial baseline: the training set's mean valid depth everywhere, scored the same way
        double s = 0;
        long n = 0;
        for (DenseDatasets.Item it : DenseDatasets.nyu(nyu, "nyu_train.txt"))
            for (float d : DenseDatasets.readDepth(it.target(), 1000).metres()) if (d > 0) { s += d; n++; }
        List<float[]> preds = new ArrayList<>(), gts = new ArrayList<>();
        List<int[]> sizes = new ArrayList<>();
        for (DenseDatasets.Item it : DenseDatasets.nyu(nyu, "nyu_test.txt")) {
            float[] p = new float[S * S];
            java.util.Arrays.fill(p, (float) (s / n));
            preds.add(p);
            gts.add(DenseDatasets.readDepth(it.target(), 1000).metres());
            sizes.add(new int[] {S, S});
        }
        DepthHead.Metrics base = DepthHead.metrics(preds, gts, sizes, 0.001, 10, false);

        Map<String, Object> j = Json.parseObject(Files.readString(out));
        double rmse = num(j, "rmse"), absRel = num(j, "abs_rel"), a1 = num(j, "a1");
        System.out.printf(Locale.ROOT, "depth: RMSE %.3f m, abs rel %.3f, d1 %.3f; constant mean: RMSE %.3f, abs rel %.3f, d1 %.3f%n",
                rmse, absRel, a1, base.rmse(), base.absRel(), base.a1());
        assertEquals(10.0, num(j, "scored_images"));
        assertTrue(rmse > 0 && absRel > 0 && a1 >= 0 && a1 <= 1, j.toString());
        assertTrue(rmse < 0.8 * base.rmse(), "RMSE " + rmse + " vs constant " + base.rmse());
        assertTrue(absRel < base.absRel() && a1 > base.a1(), j.toString());
        assertTrue(r.out().contains("RMSE") && r.out().contains("abs rel"), r.out());

        // the Eigen crop (on by default) refuses depth maps other than 640x480, naming the file, before any work
        Result e = CliTest.run(args);
        assertEquals(1, e.code(), e.err());
        assertTrue(e.err().contains("dino4j eval depth: error: " + nyu.resolve("test_room_0/sync_depth_00000.png"))
                && e.err().contains("--no-eigen-crop"), e.err());
    }
}
