package org.dino4j.eval.dense;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;

import org.dino4j.data.PilResize;
import org.dino4j.data.Preprocess;
import org.dino4j.data.RgbImage;
import org.dino4j.embed.FeatureExtractor;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;
import org.dino4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** The dense heads' features through the feature pipeline are bit for bit those of the model run on the dense input. */
class FeatureMapTest {
    /** The dense commands' input as they built it: shorter side to res, each side rounded to the patch size, bicubic. */
    static Tensor reference(RgbImage im, int res, int patch) {
        int w = im.width(), h = im.height();
        double s = (double) res / Math.min(w, h);
        int ow = Math.max(patch, (int) Math.round(w * s / patch) * patch), oh = Math.max(patch, (int) Math.round(h * s / patch) * patch);
        RgbImage r = ow == w && oh == h ? im : PilResize.bicubic(im, ow, oh);
        return new Tensor(new Preprocess(0, 0, 0).chw(r), 1, 3, oh, ow);
    }

    /** A pattern with edges in every channel, so that resizing matters. */
    static RgbImage pattern(int w, int h, int seed) {
        byte[] rgb = new byte[3 * w * h];
        for (int i = 0; i < rgb.length; i++) rgb[i] = (byte) (i * (7 + seed) ^ i / 5);
        return new RgbImage(w, h, rgb);
    }

    @Test
    void pipelineHeadsEqualTheDirectForward() {
        List<RgbImage> images = List.of(pattern(50, 37, 1), pattern(32, 32, 2), pattern(23, 61, 3));
        int res = 32, patch = 4;
        Preprocess pre = Preprocess.shorterSideRounded(res, patch);
        assertEquals("Preprocess[resize=32, crop=0, padMultiple=0, roundTo=4]", pre.toString());
        assertEquals("Preprocess[resize=256, crop=224, padMultiple=0]", Preprocess.EVAL.toString()); // as run.json records it
        try (DinoVisionTransformer model = Dinov2.random(SegmentationHeadTest.tinyVit(), 3)) {
            int[] last = model.lastBlocks(2), depth = FeatureMap.depthBlocks(model.depth(), 4);
            var opts = FeatureExtractor.Options.of(FeatureMap.patches(last, true), FeatureMap.patches(depth, false), FeatureMap.classTokens(depth, false))
                    .withPreprocess(pre).withBatchSize(1);
            List<FeatureExtractor.Item> items = new ArrayList<>();
            try (FeatureExtractor fx = new FeatureExtractor(model, opts)) {
                fx.run(FeatureExtractor.images(images), items::add);
            }
            assertEquals(3, items.size());
            for (FeatureExtractor.Item it : items) {
                RgbImage im = images.get(it.index());
                assertEquals(im.width(), it.width());
                Tensor px = reference(im, res, patch);
                int[] hw = pre.outputSize(it.width(), it.height());
                assertArrayEquals(new int[] {px.size(2), px.size(3)}, hw);
                FeatureMap seg = FeatureMap.segmentation(model, px, 2).get(0), dep = FeatureMap.depth(model, px, depth).get(0);
                FeatureMap segViaPipeline = FeatureMap.of(hw[0] / patch, hw[1] / patch, 32, it.rows()[0], null);
                assertEquals(List.of(seg.h(), seg.w(), seg.layers()), List.of(segViaPipeline.h(), segViaPipeline.w(), segViaPipeline.layers()));
                assertArrayEquals(seg.patch(), segViaPipeline.patch());
                FeatureMap viaPipeline = FeatureMap.of(hw[0] / patch, hw[1] / patch, 32, it.rows()[1], it.rows()[2]);
                assertEquals(List.of(dep.h(), dep.w(), dep.layers()), List.of(viaPipeline.h(), viaPipeline.w(), viaPipeline.layers()));
                assertArrayEquals(dep.patch(), viaPipeline.patch());
                assertArrayEquals(dep.cls(), viaPipeline.cls());
            }
        }
    }
}
