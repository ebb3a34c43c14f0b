package org.dino4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;

import org.dino4j.data.ImageDecoder;
import org.dino4j.data.RgbImage;
import org.dino4j.embed.FeatureExtractor;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;
import org.dino4j.model.ModelConfig;
import org.dino4j.viz.FeaturePictures;
import org.dino4j.viz.PatchFeatures;
import org.dino4j.viz.PatchMatch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** pca and match on the fixture images with the tiny official test model (its weights: noise pictures, exact checks). */
class PicturesCommandTest {
    @TempDir
    static Path dir;

    static Path weights, config;

    /** The official tiny ViT's weights under plain names, and its config, as a user would have them. */
    @BeforeAll
    static void tinyModel() throws Exception {
        Path[] wc = tinyModel(dir);
        weights = wc[0];
        config = wc[1];
    }

    /** Writes {weights, config.json} of the official tiny test ViT (patch 14, width 48, depth 3) into dir. */
    static Path[] tinyModel(Path dir) throws Exception {
        Path weights = dir.resolve("tiny.safetensors"), config = dir.resolve("tiny.json");
        try (TensorStore f = SafeTensors.read(CliTest.fixtures().resolve("official/official_vit_tiny.safetensors"))) {
            List<TensorEntry> w = new ArrayList<>(f.withPrefix("weights/").tensors().values());
            SafeTensors.write(weights, w, null);
            Files.writeString(config, f.metadata().get("config"));
        }
        return new Path[] {weights, config};
    }

    static Path image(String name) {
        return CliTest.fixtures().resolve("extra/images/" + name);
    }

    @Test
    void pcaDrawsEveryGoodImageAndReportsTheBadOne() throws Exception {
        Path out = dir.resolve("pca");
        Path bad = Files.writeString(dir.resolve("broken.jpg"), "not a jpeg");
        Path rgb = image("rgb.png"), jpg = image("baseline.jpg");
        CliTest.Result r = CliTest.run("pca", rgb.toString(), bad.toString(), jpg.toString(), "--output", out.toString(),
                "--resolution", "224", "--weights", weights.toString(), "--config", config.toString());
        assertEquals(1, r.code(), r.out() + r.err());
        List<String> errors = r.err().strip().lines().toList();
        assertEquals(1, errors.size(), r.err());
        assertTrue(errors.get(0).startsWith("dino4j pca: error: " + bad + ": "), r.err());
        assertTrue(!Files.exists(out.resolve("broken_pca.png")));

        // the expected pictures, from the library: same model, same images, one PCA over both
        List<RgbImage> ims = List.of(new ImageDecoder().decode(rgb), new ImageDecoder().decode(jpg));
        List<FeaturePictures.PcaMap> maps;
        try (DinoVisionTransformer m = Dinov2.load(weights, ModelConfig.read(config))) {
            maps = FeaturePictures.pca(List.of(FeatureExtractor.patchFeatures(m, ims.get(0), 224), FeatureExtractor.patchFeatures(m, ims.get(1), 224)), 0.5, false);
        }
        String[] names = {"rgb_pca.png", "baseline_pca.png"};
        int background = 0;
        for (int i = 0; i < 2; i++) {
            BufferedImage got = ImageIO.read(out.resolve(names[i]).toFile());
            RgbImage in = ims.get(i);
            assertEquals(in.width(), got.getWidth(), names[i]);
            assertEquals(in.height(), got.getHeight(), names[i]);
            FeaturePictures.PcaMap m = maps.get(i);
            assertEquals(16, m.gridH()); // 61 px -> 224 = 16 patches of 14; 97 px -> 356 = 25.4 patches
            assertEquals(25, m.gridW());
            int fgNonBlack = 0;
            for (int y = 0; y < in.height(); y++)
                for (int x = 0; x < in.width(); x++) {
                    int px = got.getRGB(x, y) & 0xffffff, p = m.patchAt(x, y, in.width(), in.height());
                    if (m.first()[p] < 0.5f) { // below the threshold: background, black
                        assertEquals(0, px, names[i] + " at " + x + "," + y);
                        background++;
                    } else if (px != 0) fgNonBlack++;
                    int want = (m.rgb()[3 * p] & 0xff) << 16 | (m.rgb()[3 * p + 1] & 0xff) << 8 | m.rgb()[3 * p + 2] & 0xff;
                    assertEquals(want, px, names[i] + " at " + x + "," + y);
                }
            assertTrue(fgNonBlack > 0, names[i] + " has coloured foreground");
        }
        assertTrue(background > 0, "some background");
        assertTrue(r.out().contains("2 picture(s) written, 1 image(s) failed"), r.out());
    }

    @Test
    void pcaBesideTheInputsByDefaultAndFlip() throws Exception {
        Path copy = Files.copy(image("rgb.png"), dir.resolve("photo.png"));
        CliTest.Result r = CliTest.run("pca", copy.toString(), "--flip", "--upsample", "bilinear", // the default resolution: img_size 56
                "--weights", weights.toString(), "--config", config.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("4x6 patches"), r.out()); // 61 px -> 56 = 4 patches of 14
        BufferedImage got = ImageIO.read(dir.resolve("photo_pca.png").toFile());
        assertEquals(97, got.getWidth());
        assertEquals(61, got.getHeight());
        CliTest.Result twice = CliTest.run("pca", copy.toString(), copy.toString(), "--resolution", "112",
                "--weights", weights.toString(), "--config", config.toString());
        assertEquals(1, twice.code()); // the second would overwrite the first's picture
        assertTrue(twice.err().strip().lines().count() == 1 && twice.err().contains("would overwrite"), twice.err());
        CliTest.Result bad = CliTest.run("pca", copy.toString(), "--threshold", "2", "--weights", weights.toString(), "--config", config.toString());
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains("--threshold"), bad.err());
    }

    @Test
    void matchDrawsBothImagesSideBySideAtTheSameHeight() throws Exception {
        Path out = dir.resolve("m/match.png");
        Path small = dir.resolve("small.png"); // a second size: 40 x 20 scales to 122 x 61 beside 97 x 61
        BufferedImage s = new BufferedImage(40, 20, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 20; y++) for (int x = 0; x < 40; x++) s.setRGB(x, y, x * 6 << 16 | y * 12 << 8 | 128);
        ImageIO.write(s, "png", small.toFile());
        CliTest.Result r = CliTest.run("match", image("rgb.png").toString(), small.toString(), "--output", out.toString(),
                "--top", "10", "--resolution", "224", "--weights", weights.toString(), "--config", config.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        BufferedImage got = ImageIO.read(out.toFile());
        assertEquals(97 + 122, got.getWidth());
        assertEquals(61, got.getHeight());
        assertTrue(r.out().contains("drawn"), r.out());

        Path same = dir.resolve("same.png");
        r = CliTest.run("match", image("rgb.png").toString(), image("baseline.jpg").toString(), "--output", same.toString(),
                "--resolution", "224", "--weights", weights.toString(), "--config", config.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        got = ImageIO.read(same.toFile());
        int[] want = PatchMatch.canvasSize(97, 61, 97, 61);
        assertEquals(2 * 97, want[0]);
        assertEquals(want[0], got.getWidth());
        assertEquals(want[1], got.getHeight());

        Path bad = Files.writeString(dir.resolve("bad.png"), "nope");
        CliTest.Result e = CliTest.run("match", image("rgb.png").toString(), bad.toString(), "--output", dir.resolve("x.png").toString(),
                "--weights", weights.toString(), "--config", config.toString());
        assertEquals(1, e.code());
        assertTrue(e.err().contains(bad.toString()) && e.err().strip().lines().count() == 1, e.err());
        assertTrue(!e.err().contains("\tat "));
        assertTrue(!Files.exists(dir.resolve("x.png")));
    }

    @Test
    void matchPicturesAreAtMost2048PxUnlessFullSize() throws Exception {
        Path wide = dir.resolve("wide.png"), tall = dir.resolve("tall.png");
        for (Path f : List.of(wide, tall)) {
            boolean w = f == wide;
            BufferedImage s = new BufferedImage(w ? 1600 : 1200, w ? 1200 : 1600, BufferedImage.TYPE_INT_RGB);
            for (int y = 0; y < s.getHeight(); y++) for (int x = 0; x < s.getWidth(); x++) s.setRGB(x, y, (x / 7) << 16 | (y / 7) << 8 | 90);
            ImageIO.write(s, "png", f.toFile());
        }
        Path capped = dir.resolve("capped.png"), full = dir.resolve("full.png");
        CliTest.Result r = CliTest.run("match", wide.toString(), tall.toString(), "--output", capped.toString(),
                "--resolution", "56", "--weights", weights.toString(), "--config", config.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        BufferedImage got = ImageIO.read(capped.toFile()); // full size: 2133 + 1200 = 3333 x 1600
        assertEquals(2048, got.getWidth());
        assertEquals(983, got.getHeight()); // 1600 * 2048 / 3333, both images at that height: 1311 + 737 = 2048
        assertTrue(r.out().contains("(2048 x 983)"), r.out());
        r = CliTest.run("match", wide.toString(), tall.toString(), "--output", full.toString(), "--full-size",
                "--resolution", "56", "--weights", weights.toString(), "--config", config.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        got = ImageIO.read(full.toFile());
        assertEquals(3333, got.getWidth());
        assertEquals(1600, got.getHeight());
    }

    @Test
    void help() {
        for (String c : new String[] {"pca", "match"}) {
            CliTest.Result r = CliTest.run(c, "--help");
            assertEquals(0, r.code(), c);
            assertTrue(r.out().contains("Usage: dino4j " + c), r.out());
        }
    }
}
