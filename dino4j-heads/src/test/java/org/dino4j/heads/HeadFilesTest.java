package org.dino4j.heads;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.dino4j.io.CheckpointException;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;
import org.dino4j.io.TorchPthWriter;
import org.dino4j.model.Checkpoints;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Head files as Meta publishes them, and the one-line errors for the wrong ones (the official loaders would take them silently). */
class HeadFilesTest {
    static TensorStore fx;
    static DinoVisionTransformer backbone;
    @TempDir
    Path dir;

    @BeforeAll
    static void open() {
        fx = SafeTensors.read(HeadsConformanceTest.fixtures().resolve("official/official_heads_tiny.safetensors"));
        backbone = DinoVisionTransformer.fromStateDict(HeadsConformance.config(fx), Checkpoints.normalize(fx.withPrefix("weights/backbone/")), null);
    }

    @AfterAll
    static void close() {
        backbone.close();
        fx.close();
    }

    /** The fixture's group as a released file: a bare state dict, or {"state_dict": {"decode_head.*": ...}}. */
    Path released(String group, boolean wrapped, boolean pth, Map<String, TensorEntry> extra, String drop) throws Exception {
        List<TensorEntry> t = new ArrayList<>();
        for (var e : fx.withPrefix("weights/" + group + "/").tensors().entrySet()) {
            String k = e.getKey();
            if (k.equals(drop) || k.equals("decode_head." + drop)) continue;
            t.add(e.getValue().withName(wrapped ? "state_dict." + k : k));
        }
        extra.forEach((k, v) -> t.add(v.withName(k)));
        Path f = dir.resolve(group + (pth ? ".pth" : ".safetensors"));
        if (pth) TorchPthWriter.write(f, t);
        else SafeTensors.write(f, t, Map.of());
        return f;
    }

    @Test
    void releasedLayoutsLoadAndGiveMetasOutputs() throws Exception {
        Tensor x = HeadsConformance.tensor(fx, "classifier/input0");
        Classifier c = Classifier.load(backbone, released("linear4_head", false, true, Map.of(), null), null);
        assertEquals(4, c.layers());
        float[] want = fx.get("classifier/output0/linear4_head/logits").toFloatArray();
        float[] got = c.logits(x).data();
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 1e-4);
        var top = c.top(java.util.Arrays.copyOf(got, 1000), 3);
        assertEquals(3, top.size());
        assertTrue(top.get(0).probability() >= top.get(1).probability());

        Depther d = Depther.load(backbone, released("nyu_dpt_head", true, true, Map.of(), null), Depther.Dataset.NYU);
        assertEquals("dpt", d.kind());
        Depther l = Depther.load(backbone, released("nyu_linear_head", true, false, Map.of(), null), Depther.Dataset.KITTI);
        assertEquals("linear", l.kind());
        assertEquals(80f, l.maxDepth()); // the linear factory's 80 m, whatever the dataset
        assertEquals(10f, d.maxDepth());
        Segmenter s = Segmenter.load(backbone, released("seg_linear4_head", true, true, Map.of(), null), Segmenter.Dataset.ADE20K);
        assertArrayEquals(new int[] {8, 9, 10, 11}, s.blocks()); // Meta's ms configs: the last four blocks
    }

    @Test
    void wrongFilesGetOneLineNamingBothSides() throws Exception {
        Path seg = released("seg_linear_head", true, true, Map.of(), null);
        var e = assertThrows(CheckpointException.class, () -> Segmenter.load(backbone, seg, Segmenter.Dataset.VOC2012));
        assertTrue(e.getMessage().contains("150 classes") && e.getMessage().contains("VOC2012 has 21"), e.getMessage());
        assertTrue(e.getMessage().contains(seg.toString()), e.getMessage());

        // a ViT-B head (width 768) on this width-48 backbone
        Path wide = dir.resolve("vitb_linear_head.safetensors");
        SafeTensors.write(wide, List.of(TensorEntry.of("weight", new long[] {1000, 1536}, new float[1000 * 1536]),
                TensorEntry.of("bias", new long[] {1000}, new float[1000])), Map.of());
        e = assertThrows(CheckpointException.class, () -> Classifier.load(backbone, wide, null));
        assertTrue(e.getMessage().contains("1536 features") && e.getMessage().contains("width 48") && e.getMessage().contains("width 768"), e.getMessage());

        Path missing = released("nyu_linear4_head", true, true, Map.of(), "conv_depth.bias");
        e = assertThrows(CheckpointException.class, () -> Depther.load(backbone, missing, Depther.Dataset.NYU));
        assertTrue(e.getMessage().contains("missing key 'conv_depth.bias'"), e.getMessage());

        Path extra = released("nyu_dpt_head", true, false, Map.of("state_dict.decode_head.aux.weight",
                TensorEntry.of("x", new long[] {2}, new float[2])), null);
        e = assertThrows(CheckpointException.class, () -> Depther.load(backbone, extra, Depther.Dataset.NYU));
        assertTrue(e.getMessage().contains("unexpected key aux.weight"), e.getMessage());

        // a segmentation head is not a depth head, and the reverse
        e = assertThrows(CheckpointException.class, () -> Depther.load(backbone, seg, Depther.Dataset.NYU));
        assertTrue(e.getMessage().contains("not a depth head"), e.getMessage());
        Path depth = released("nyu_linear_head", true, true, Map.of(), null);
        e = assertThrows(CheckpointException.class, () -> Segmenter.load(backbone, depth, Segmenter.Dataset.ADE20K));
        assertTrue(e.getMessage().contains("not a linear segmentation head"), e.getMessage());
    }

    @Test
    void segmentAtTheImagesOwnScaleIsTheArgmaxOfEncodeDecode() throws Exception {
        Segmenter s = Segmenter.load(backbone, released("seg_linear4_head", true, true, Map.of(), null), Segmenter.Dataset.ADE20K);
        byte[] rgb = new byte[45 * 31 * 3];
        for (int i = 0; i < rgb.length; i++) rgb[i] = (byte) (i * 37 % 251);
        org.dino4j.data.RgbImage im = new org.dino4j.data.RgbImage(45, 31, rgb);
        // short side 31 at ratio 1: no resize; whole image; one pass
        int[] got = s.segment(im, new Segmenter.TestConfig(99999999, 31, new double[] {1.0}, false, 0, 0)).labels();
        Tensor logits = s.encodeDecode(Segmenter.normalise(im));
        int k = s.classes(), n = 45 * 31;
        for (int p = 0; p < n; p++) {
            int best = 0;
            for (int c = 1; c < k; c++) if (logits.data()[c * n + p] > logits.data()[best * n + p]) best = c;
            assertEquals(best, got[p], "pixel " + p);
        }
    }
}
