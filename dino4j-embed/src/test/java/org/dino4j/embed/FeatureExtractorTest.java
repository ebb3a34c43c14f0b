package org.dino4j.embed;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.dino4j.data.ImageDecoder;
import org.dino4j.data.ImageException;
import org.dino4j.data.Preprocess;
import org.dino4j.data.RgbImage;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;
import org.dino4j.model.ModelConfig;
import org.dino4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pipeline as a library user sees it: a list of images in, one vector per image out, as the model gives it. */
class FeatureExtractorTest {
    static final Path IMAGES = EmbedderTest.IMAGES;
    static final List<Path> FILES = List.of(IMAGES.resolve("rgb.png"), IMAGES.resolve("baseline.jpg"), IMAGES.resolve("gray.png"));

    static DinoVisionTransformer model() {
        return Dinov2.random(ModelConfig.fromJson("{\"embed_dim\": 32, \"depth\": 4, \"num_heads\": 2, \"patch_size\": 14, "
                + "\"img_size\": 56, \"num_register_tokens\": 2, \"init_values\": 1.0}"), 7);
    }

    /** The README's three lines: the CLS of each image, equal to forward_features on the eval transform one by one. */
    @Test
    void aListOfImagesInThreeLines() {
        try (DinoVisionTransformer model = model();
             FeatureExtractor fx = new FeatureExtractor(model, Output.CLS)) {
            float[][] cls = fx.embed(FILES);

            assertEquals(3, cls.length);
            ImageDecoder dec = new ImageDecoder();
            for (int i = 0; i < 3; i++) {
                Tensor x = Preprocess.EVAL.apply(dec.decode(FILES.get(i)));
                assertArrayEquals(model.forwardFeatures(x).xNormClstoken().data(), cls[i], 1e-5f, FILES.get(i).toString());
            }
        }
    }

    /** Sizes differ (padding, no crop): batches by size, every output as the model gives it; a broken file fails alone. */
    @Test
    void bucketsHeadsAndFailures(@TempDir Path dir) throws IOException {
        Path broken = Files.writeString(dir.resolve("broken.jpg"), "not an image");
        List<Path> inputs = List.of(FILES.get(0), broken, FILES.get(1), FILES.get(2));
        Preprocess pre = new Preprocess(56, 0, 14);
        var heads = List.<Head>of(Output.CLS, Output.PATCH_MEAN, Output.REGISTERS, Head.lastBlocks(2));
        try (DinoVisionTransformer model = model();
             FeatureExtractor fx = new FeatureExtractor(model, new FeatureExtractor.Options(heads, pre, 8, 2, ImageDecoder.DEFAULT_MAX_PIXELS))) {
            List<FeatureExtractor.Item> items = new ArrayList<>();
            List<Integer> batches = new ArrayList<>();
            fx.run(org.dino4j.data.Datasets.of(inputs), new FeatureExtractor.Sink() {
                @Override
                public void accept(FeatureExtractor.Item it) {
                    items.add(it);
                }

                @Override
                public void batchDone(int images) {
                    batches.add(images);
                }
            });
            assertEquals(4, items.size());
            assertEquals(4 - 1, batches.stream().mapToInt(Integer::intValue).sum());
            FeatureExtractor.Item bad = items.stream().filter(it -> !it.ok()).findFirst().orElseThrow();
            assertEquals(1, bad.index());
            assertTrue(bad.error() instanceof ImageException, bad.problem());
            ImageDecoder dec = new ImageDecoder();
            for (FeatureExtractor.Item it : items) {
                if (!it.ok()) continue;
                Tensor x = pre.apply(dec.decode(inputs.get(it.index())));
                var f = model.forwardFeatures(x);
                int d = 32;
                assertArrayEquals(f.xNormClstoken().data(), it.rows()[0], 1e-5f);
                assertArrayEquals(Head.patchMean(f.xNormPatchtokens(), 0), it.rows()[1], 1e-5f);
                assertArrayEquals(f.xNormRegtokens().data(), it.rows()[2], 1e-5f);
                var layers = model.intermediateLayers(x, 2, false, true, true);
                assertEquals(3 * d, it.rows()[3].length);
                assertArrayEquals(layers.get(1).cls().data(), java.util.Arrays.copyOfRange(it.rows()[3], d, 2 * d), 1e-5f);
                assertArrayEquals(f.xNormClstoken().data(), java.util.Arrays.copyOfRange(it.rows()[3], d, 2 * d), 1e-5f);
            }
            assertThrows(ImageException.class, () -> fx.embed(inputs)); // the collector stops at the first failure
        }
    }

    @Test
    void imagesInMemory() {
        RgbImage im = new ImageDecoder().decode(FILES.get(0));
        try (DinoVisionTransformer model = model(); FeatureExtractor fx = new FeatureExtractor(model, Output.PATCH_MEAN)) {
            float[][] v = fx.embed(FeatureExtractor.images(List.of(im, im)));
            assertArrayEquals(v[0], v[1]);
            assertEquals(32, v[0].length);
        }
    }

    /** Encoded bytes in memory decode as their file does; bytes that are no image fail alone, named by their id. */
    @Test
    void encodedBytes() throws IOException {
        byte[] jpg = Files.readAllBytes(FILES.get(1)), png = Files.readAllBytes(FILES.get(0));
        try (DinoVisionTransformer model = model(); FeatureExtractor fx = new FeatureExtractor(model, Output.CLS)) {
            assertArrayEquals(fx.embed(List.of(FILES.get(1)))[0], fx.embed(FeatureExtractor.encoded(List.of(jpg)))[0]);

            List<FeatureExtractor.Item> items = new ArrayList<>();
            fx.run(FeatureExtractor.encoded(List.of(jpg, "garbage".getBytes(), png)), items::add);
            assertEquals(3, items.size());
            items.sort(java.util.Comparator.comparingInt(FeatureExtractor.Item::index)); // a failure comes when found
            FeatureExtractor.Item bad = items.get(1);
            assertEquals(1, bad.index());
            assertTrue(bad.error() instanceof ImageException && bad.error().getMessage().startsWith("image#1: not an image"), bad.error().getMessage());
            float[][] files = fx.embed(List.of(FILES.get(1), FILES.get(0)));
            assertArrayEquals(files[0], items.get(0).rows()[0]);
            assertArrayEquals(files[1], items.get(2).rows()[0]);
        }
    }
}
