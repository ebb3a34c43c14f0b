package org.dino4j.heads;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import org.dino4j.conformance.Conformance.Check;
import org.dino4j.io.CheckpointException;
import org.dino4j.io.Json;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;
import org.dino4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Semantics#META} for HF-converted heads, checked against Meta's own outputs: Meta's tiny hub heads
 * (official_heads_tiny) written out as HF directories must reproduce Meta's logits and depths; the HF DPT fixture under
 * Meta's semantics is HF's depth + 0.001, clamped and resized. And the one-line errors for wrong directories.
 */
class HuggingFaceHeadsTest {
    static final Path FX = HeadsConformanceTest.fixtures();
    static final Path HF_DPT = FX.resolve("hf_heads/dpt_dinov2_tiny_hf"), HF_CLS = FX.resolve("hf_heads/dinov2_tiny_hf_classifier"),
            HF_REG = FX.resolve("hf_heads/dinov2_reg_tiny_hf_classifier");
    @TempDir
    Path tmp;

    // ------------------------------------------------------------------ Meta's heads as HF directories
    /** Official backbone names → HF's under {@code prefix}, q/k/v split as HF stores them. */
    static void hfBackbone(TensorStore official, String prefix, Map<String, TensorEntry> out) {
        for (var e : official.tensors().entrySet()) {
            String k = e.getKey();
            String n = switch (k) {
                case "cls_token", "mask_token" -> "embeddings." + k;
                case "pos_embed" -> "embeddings.position_embeddings";
                case "patch_embed.proj.weight", "patch_embed.proj.bias" -> k.replace("patch_embed.proj.", "embeddings.patch_embeddings.projection.");
                case "norm.weight", "norm.bias" -> k.replace("norm.", "layernorm.");
                default -> k.replaceFirst("^blocks\\.", "encoder.layer.").replace("attn.proj.", "attention.output.dense.")
                        .replace("ls1.gamma", "layer_scale1.lambda1").replace("ls2.gamma", "layer_scale2.lambda1");
            };
            if (k.contains("attn.qkv.")) {
                float[] all = e.getValue().toFloatArray();
                long[] shape = e.getValue().shape().clone();
                shape[0] /= 3;
                int per = all.length / 3;
                String[] qkv = {"query", "key", "value"};
                for (int i = 0; i < 3; i++) {
                    String q = prefix + n.replace("attn.qkv.", "attention.attention." + qkv[i] + ".");
                    out.put(q, TensorEntry.of(q, shape, Arrays.copyOfRange(all, i * per, (i + 1) * per)));
                }
            } else out.put(prefix + n, e.getValue().withName(prefix + n));
        }
    }

    static Map<String, Object> dinov2Config(Map<String, Object> meta) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("model_type", "dinov2");
        c.put("hidden_size", meta.get("embed_dim"));
        c.put("num_hidden_layers", meta.get("depth"));
        c.put("num_attention_heads", meta.get("num_heads"));
        c.put("mlp_ratio", meta.get("mlp_ratio"));
        c.put("image_size", meta.get("img_size"));
        c.put("patch_size", meta.get("patch_size"));
        c.put("layer_norm_eps", 1e-6);
        return c;
    }

    static void write(Path dir, Map<String, Object> config, Map<String, TensorEntry> tensors) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), Json.write(config));
        SafeTensors.write(dir.resolve("model.safetensors"), tensors.values(), Map.of("format", "pt"));
    }

    /** Meta's backbone and one of its heads, written as HF's converters would have. */
    Path metaAsHf(String head) throws IOException {
        try (TensorStore f = SafeTensors.read(FX.resolve("official/official_heads_tiny.safetensors"))) {
            Map<String, Object> meta = Json.parseObject(f.metadata().get("config"));
            Map<String, TensorEntry> t = new LinkedHashMap<>();
            Map<String, Object> cfg;
            if (head.equals("linear_head")) {
                hfBackbone(f.withPrefix("weights/backbone/"), "dinov2.", t);
                f.withPrefix("weights/linear_head/").tensors().forEach((k, v) -> t.put("classifier." + k, v.withName("classifier." + k)));
                cfg = dinov2Config(meta);
                cfg.put("architectures", List.of("Dinov2ForImageClassification"));
            } else {
                hfBackbone(f.withPrefix("weights/backbone/"), "backbone.", t);
                f.withPrefix("weights/" + head + "/decode_head.").tensors().forEach((k, v) -> {
                    String n = HuggingFaceHeads.rename(k, false);
                    t.put(n, v.withName(n));
                });
                Map<String, Object> b = dinov2Config(meta);
                b.put("out_indices", List.of(3, 6, 9, 12)); // Meta's [2, 5, 8, 11] + 1
                b.put("apply_layernorm", false);
                b.put("reshape_hidden_states", false);
                int d = ((Number) meta.get("embed_dim")).intValue();
                cfg = new LinkedHashMap<>(Map.of("model_type", "dpt", "architectures", List.of("DPTForDepthEstimation"),
                        "backbone_config", b, "neck_hidden_sizes", List.of(d / 8, d / 4, d / 2, d), "fusion_hidden_size", 16,
                        "readout_type", "project", "use_bias_in_fusion_residual", false, "add_projection", true, "is_hybrid", false));
            }
            Path dir = tmp.resolve(head);
            write(dir, cfg, t);
            return dir;
        }
    }

    static void assertAllPass(List<Check> checks, int count) {
        checks.forEach(c -> System.out.printf("%s %-45s max_rel %.3e%n", c.pass() ? "PASS" : "FAIL", c.output(), c.maxRel()));
        assertEquals(count, checks.size());
        checks.forEach(c -> assertTrue(c.pass(), c.output() + " max_rel " + c.maxRel()));
    }

    @Test
    void metasDptHeadThroughAnHfDirectoryGivesMetasDepthUnderMetaSemantics() throws IOException {
        Depther d = Depther.loadHuggingFace(metaAsHf("nyu_dpt_head"), Semantics.META, Depther.Dataset.NYU);
        try (TensorStore f = SafeTensors.read(FX.resolve("official/official_heads_tiny.safetensors"))) {
            assertEquals(10f, d.maxDepth());
            List<Check> checks = new ArrayList<>();
            for (int i = 0; f.contains("depth/input" + i); i++) {
                Tensor x = HeadsConformance.tensor(f, "depth/input" + i); // 50x61 (padded to 56x70), 28x56
                String o = "depth/output" + i + "/nyu_dpt_head/";
                HeadsConformance.add(checks, "official_heads_tiny", "hf-dir", o + "depth", d.depth(x), f);
                HeadsConformance.add(checks, "official_heads_tiny", "hf-dir", o + "depth_head_res", d.headResolution(x), f);
            }
            assertAllPass(checks, 4);
        } finally {
            d.backbone().close();
        }
    }

    @Test
    void metasLinearHeadThroughAnHfDirectoryGivesMetasLogitsUnderMetaSemanticsOnly() throws IOException {
        Path dir = metaAsHf("linear_head");
        Classifier meta = Classifier.loadHuggingFace(dir, Semantics.META), hf = Classifier.loadHuggingFace(dir, Semantics.HUGGING_FACE);
        try (TensorStore f = SafeTensors.read(FX.resolve("official/official_heads_tiny.safetensors"))) {
            List<Check> checks = new ArrayList<>();
            double worstHf = 0;
            for (int i = 0; f.contains("classifier/input" + i); i++) {
                Tensor x = HeadsConformance.tensor(f, "classifier/input" + i);
                String o = "classifier/output" + i + "/linear_head/logits";
                HeadsConformance.add(checks, "official_heads_tiny", "hf-dir", o, meta.logits(x), f);
                List<Check> h = new ArrayList<>();
                HeadsConformance.add(h, "official_heads_tiny", "hf-dir", o, hf.logits(x), f);
                worstHf = Math.max(worstHf, h.getFirst().maxRel());
            }
            assertAllPass(checks, 3);
            // HF resizes the position embeddings by size, Meta by (g + 0.1) / M: off the native grid the logits differ
            assertTrue(worstHf > 1e-3, "HF's semantics should differ from Meta's off the native grid, max_rel " + worstHf);
        } finally {
            meta.backbone().close();
            hf.backbone().close();
        }
    }

    // ------------------------------------------------------------------ HF's fixture heads under Meta's semantics
    @Test
    void hfDptUnderMetaSemanticsIsHfsDepthPlusMinDepthClampedThenResized() {
        Depther meta = Depther.loadHuggingFace(HF_DPT, Semantics.META, Depther.Dataset.NYU);
        try (TensorStore f = SafeTensors.read(FX.resolve("hf_heads/hf_heads_tiny.safetensors"))) {
            // input0 is 56x56 on the 4x4 native grid: no padding and no position-embedding resize on either side
            Tensor x = HeadsConformance.tensor(f, "dpt/input0");
            float[] hf = f.get("dpt/output0/predicted_depth").toFloatArray();
            int h = 64, w = 64;
            double[] want = new double[h * w];
            for (int p = 0; p < want.length; p++) want[p] = Math.min(Math.max(hf[p] + 0.001, 0.001), 10);
            assertClose(want, meta.headResolution(x), new int[] {1, 1, h, w});
            assertClose(bilinear(want, h, w, 56, 56), meta.depth(x), new int[] {1, 1, 56, 56});
            // any size: padded inside, the depth at the input's size within NYU's range
            Tensor odd = meta.depth(HeadsConformance.tensor(f, "dpt/input3"));
            assertArrayEquals(new int[] {1, 1, 45, 60}, odd.shape());
            for (float v : odd.data()) assertTrue(v >= 0.001f * (1 - 1e-6f) && v <= 10f, "depth " + v); // bilinear of clamped floats
        } finally {
            meta.backbone().close();
        }
    }

    @Test
    void hfClassifiersKeepTheirLabelsAndRegistersResizeAlikeUnderBothSemantics() {
        Classifier reg = Classifier.loadHuggingFace(HF_REG, Semantics.META), cls = Classifier.loadHuggingFace(HF_CLS, Semantics.META);
        try (TensorStore f = SafeTensors.read(FX.resolve("hf_heads/hf_heads_tiny.safetensors"))) {
            assertEquals(11, reg.classes());
            assertEquals("tiny_00_tench", reg.label(0));
            assertEquals("tiny_10_gecko", cls.label(10));
            List<Check> checks = new ArrayList<>();
            for (int i = 0; i < 3; i++) { // inputs 0-2 are multiples of 14: HF's register model resizes as Meta's _reg_lc
                Tensor x = HeadsConformance.tensor(f, "cls/input" + i);
                HeadsConformance.add(checks, "hf_heads_tiny", "meta", "regcls/output" + i + "/logits", reg.logits(x), f);
            }
            // the non-register model agrees on the native 4x4 grid only
            HeadsConformance.add(checks, "hf_heads_tiny", "meta", "cls/output0/logits", cls.logits(HeadsConformance.tensor(f, "cls/input0")), f);
            assertAllPass(checks, 4);
            // Meta asserts multiples of 14 where HF floors
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> reg.logits(HeadsConformance.tensor(f, "cls/input3")));
            assertTrue(e.getMessage().contains("50x61"), e.getMessage());
        } finally {
            reg.backbone().close();
            cls.backbone().close();
        }
    }

    // ------------------------------------------------------------------ strict loading
    /** A copy of an HF fixture directory with its tensors and config edited. */
    Path edited(Path from, Consumer<Map<String, TensorEntry>> tensors, Consumer<Map<String, Object>> config) throws IOException {
        Path dir = tmp.resolve("edited-" + from.getFileName() + "-" + System.nanoTime());
        Map<String, TensorEntry> t = new LinkedHashMap<>();
        try (TensorStore s = SafeTensors.read(from.resolve("model.safetensors"))) {
            s.tensors().forEach((k, v) -> t.put(k, TensorEntry.of(k, v.shape(), v.toFloatArray())));
        }
        tensors.accept(t);
        Map<String, Object> c = new LinkedHashMap<>(Json.parseObject(Files.readString(from.resolve("config.json"))));
        config.accept(c);
        write(dir, c, t);
        return dir;
    }

    static String dptError(Path dir) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> Depther.loadHuggingFace(dir, Semantics.HUGGING_FACE, null));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e.getMessage();
    }

    @Test
    void wrongDptDirectoriesGetOneLineErrorsInHfsNames() throws IOException {
        String m = dptError(edited(HF_DPT, t -> t.remove("neck.convs.2.weight"), c -> { }));
        assertTrue(m.contains("model.safetensors") && m.contains("missing key 'neck.convs.2.weight'"), m);
        m = dptError(edited(HF_DPT, t -> t.put("neck.extra.weight", TensorEntry.of("neck.extra.weight", new long[] {1}, new float[1])), c -> { }));
        assertTrue(m.contains("model.safetensors") && m.contains("unexpected key neck.extra.weight"), m);
        // a projection the config does not ask for
        m = dptError(edited(HF_DPT, t -> t.put("head.projection.bias", TensorEntry.of("head.projection.bias", new long[] {8}, new float[8])), c -> { }));
        assertTrue(m.contains("unexpected key head.projection.bias"), m);
        // ... and one it asks for but the file lacks
        m = dptError(edited(HF_DPT, t -> { }, c -> c.put("add_projection", true)));
        assertTrue(m.contains("missing key 'head.projection.weight'"), m);
        m = dptError(edited(HF_DPT, t -> t.remove("backbone.encoder.layer.1.norm1.weight"), c -> { }));
        assertTrue(m.contains("model.safetensors") && m.contains("blocks.1.norm1.weight"), m);
        m = dptError(edited(HF_DPT, t -> { }, c -> c.put("readout_type", "ignore")));
        assertTrue(m.contains("config.json") && m.contains("readout_type is ignore"), m);
        m = dptError(edited(HF_DPT, t -> { }, c -> c.remove("use_bias_in_fusion_residual")));
        assertTrue(m.contains("config.json") && m.contains("use_bias_in_fusion_residual"), m);
        m = dptError(edited(HF_DPT, t -> { }, c -> ((Map<String, Object>) c.get("backbone_config")).put("out_indices", List.of(0, 1, 2, 3))));
        assertTrue(m.contains("config.json") && m.contains("out_indices [0, 1, 2, 3]"), m);
        m = dptError(edited(HF_DPT, t -> { }, c -> ((Map<String, Object>) c.get("backbone_config")).put("model_type", "dinov2_with_registers")));
        assertTrue(m.contains("config.json") && m.contains("expected dinov2"), m);
        // a classifier directory is not a DPT
        m = dptError(HF_CLS);
        assertTrue(m.contains("config.json") && m.contains("expected dpt"), m);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Depther.loadHuggingFace(HF_DPT, Semantics.META, null));
        assertTrue(e.getMessage().contains("NYU or KITTI"), e.getMessage());
    }

    static String classifierError(Path dir) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> Classifier.loadHuggingFace(dir, Semantics.HUGGING_FACE));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e.getMessage();
    }

    @Test
    void wrongClassifierDirectoriesGetOneLineErrors() throws IOException {
        String m = classifierError(edited(HF_REG, t -> t.remove("classifier.bias"), c -> { }));
        assertTrue(m.contains("model.safetensors") && m.contains("missing key 'classifier.bias'"), m);
        m = classifierError(edited(HF_CLS, t -> t.remove("classifier.weight"), c -> { }));
        assertTrue(m.contains("no 'classifier.weight'"), m);
        m = classifierError(edited(HF_CLS, t -> t.put("dinov2.extra", TensorEntry.of("dinov2.extra", new long[] {1}, new float[1])), c -> { }));
        assertTrue(m.contains("unexpected key 'dinov2.extra'"), m);
        m = classifierError(edited(HF_CLS, t -> { }, c -> ((Map<String, Object>) c.get("id2label")).remove("3")));
        assertTrue(m.contains("config.json") && m.contains("id2label"), m);
        m = classifierError(HF_DPT);
        assertTrue(m.contains("config.json") && m.contains("model_type is dpt"), m);
    }

    @Test
    void everyHfDptKeyHasAMetaNameAndBack() {
        try (TensorStore s = SafeTensors.read(HF_DPT.resolve("model.safetensors"))) {
            int n = 0;
            for (String k : s.names()) {
                if (k.startsWith("backbone.") || k.startsWith("neck.fusion_stage.layers.0.residual_layer1.")) continue;
                String meta = HuggingFaceHeads.rename(k, true);
                assertEquals(k, HuggingFaceHeads.rename(meta, false), k + " -> " + meta);
                n++;
            }
            assertEquals(8 + 8 + 6 + 4 + 8 + 14 + 6, n); // readout, projection, resize, convs, fusion projection, units, head
        }
        assertEquals("fusion_blocks.2.res_conv_unit1.conv2.conv.weight",
                HuggingFaceHeads.rename("neck.fusion_stage.layers.2.residual_layer1.convolution2.weight", true));
        assertEquals("reassemble_blocks.resize_layers.3.bias", HuggingFaceHeads.rename("neck.reassemble_stage.layers.3.resize.bias", true));
        assertEquals("project.conv.weight", HuggingFaceHeads.rename("head.projection.weight", true));
        assertNull(HuggingFaceHeads.rename("neck.convs.0.running_mean", true));
    }

    // ------------------------------------------------------------------ plain references
    /** F.interpolate(bilinear, align_corners=False) of one (h, w) map, in double. */
    static double[] bilinear(double[] x, int h, int w, int oh, int ow) {
        double[] y = new double[oh * ow];
        for (int i = 0; i < oh; i++) {
            double sy = Math.max((i + 0.5) * h / oh - 0.5, 0);
            int y0 = (int) sy, y1 = Math.min(y0 + 1, h - 1);
            double ly = sy - y0;
            for (int j = 0; j < ow; j++) {
                double sx = Math.max((j + 0.5) * w / ow - 0.5, 0);
                int x0 = (int) sx, x1 = Math.min(x0 + 1, w - 1);
                double lx = sx - x0;
                y[i * ow + j] = (1 - ly) * ((1 - lx) * x[y0 * w + x0] + lx * x[y0 * w + x1])
                        + ly * ((1 - lx) * x[y1 * w + x0] + lx * x[y1 * w + x1]);
            }
        }
        return y;
    }

    static void assertClose(double[] want, Tensor got, int[] shape) {
        assertArrayEquals(shape, got.shape());
        double worst = 0, mag = 0;
        for (int p = 0; p < want.length; p++) {
            worst = Math.max(worst, Math.abs(want[p] - got.data()[p]));
            mag = Math.max(mag, Math.abs(want[p]));
        }
        assertTrue(worst <= 1e-5 * mag, "max abs " + worst + " of " + mag);
    }
}
