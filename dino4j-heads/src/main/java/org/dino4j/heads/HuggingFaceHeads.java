package org.dino4j.heads;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.dino4j.io.CheckpointException;
import org.dino4j.io.Json;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;
import org.dino4j.model.Checkpoints;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.HuggingFace;
import org.dino4j.model.ModelConfig;

/**
 * Hugging Face's forms of Meta's released heads (the only ones HF has): {@code Dinov2ForImageClassification} /
 * {@code Dinov2WithRegistersForImageClassification} (the 1-layer ImageNet head, {@code classifier.*}) and
 * {@code DPTForDepthEstimation} on a Dinov2 backbone (the NYU / KITTI DPT head, {@code backbone.*}, {@code neck.*},
 * {@code head.*}). The backbone goes through {@link HuggingFace}; the head's keys are renamed to Meta's (as HF's
 * {@code convert_dinov2_depth_to_hf.py} renamed them the other way) and read strictly, errors naming HF's keys.
 * Entry points: {@link Classifier#loadHuggingFace}, {@link Depther#loadHuggingFace}.
 */
public final class HuggingFaceHeads {
    private HuggingFaceHeads() {}

    /**
     * HF name → Meta name (below {@code decode_head.}), each {@code #} an index, then "weight" or "bias". HF's
     * {@code neck.fusion_stage.layers.0.residual_layer1.*} has no Meta twin: HF creates it and never runs it (the deepest
     * fusion layer has no skip input), so it is dropped.
     */
    private static final String[][] DPT_KEYS = {
            {"neck.reassemble_stage.readout_projects.#.0.", "reassemble_blocks.readout_projects.#.0."},
            {"neck.reassemble_stage.layers.#.projection.", "reassemble_blocks.projects.#.conv."},
            {"neck.reassemble_stage.layers.#.resize.", "reassemble_blocks.resize_layers.#."},
            {"neck.convs.#.", "convs.#.conv."},
            {"neck.fusion_stage.layers.#.projection.", "fusion_blocks.#.project.conv."},
            {"neck.fusion_stage.layers.#.residual_layer#.convolution#.", "fusion_blocks.#.res_conv_unit#.conv#.conv."},
            {"head.projection.", "project.conv."},
            {"head.head.#.", "conv_depth.head.#."}};
    private static final String UNUSED = "neck.fusion_stage.layers.0.residual_layer1.";
    private static final List<Rename> TO_META = new ArrayList<>(), TO_HF = new ArrayList<>();

    static {
        for (String[] k : DPT_KEYS) {
            TO_META.add(Rename.of(k[0], k[1]));
            TO_HF.add(Rename.of(k[1], k[0]));
        }
    }

    /** One row of {@link #DPT_KEYS} in one direction. */
    private record Rename(Pattern from, String to) {
        static Rename of(String from, String to) {
            String[] f = from.split("#", -1), t = to.split("#", -1);
            StringBuilder re = new StringBuilder("^"), rep = new StringBuilder();
            for (int i = 0; i < f.length; i++) re.append(Pattern.quote(f[i])).append(i < f.length - 1 ? "(\\d+)" : "");
            for (int i = 0; i < t.length; i++) rep.append(Matcher.quoteReplacement(t[i])).append(i < t.length - 1 ? "$" + (i + 1) : "");
            return new Rename(Pattern.compile(re + "(weight|bias)$"), rep + "$" + f.length);
        }

        String apply(String key) {
            Matcher m = from.matcher(key);
            return m.matches() ? m.replaceFirst(to) : null;
        }
    }

    /** The DPT key's other name (to Meta's or back to HF's), or null when no row of the table matches. */
    static String rename(String key, boolean toMeta) {
        for (Rename r : toMeta ? TO_META : TO_HF) {
            String n = r.apply(key);
            if (n != null) return n;
        }
        return null;
    }

    // ------------------------------------------------------------------------------------------------ classifier
    static Classifier classifier(Path dir, Semantics semantics) {
        Path cfgFile = dir.resolve("config.json"), file = dir.resolve("model.safetensors");
        Map<String, Object> json = readJson(cfgFile);
        ModelConfig cfg = HuggingFace.readConfig(dir);
        if (semantics == Semantics.META) cfg = metaInterpolation(cfg);
        List<String> labels = labels(json, cfgFile);
        TensorStore raw = Checkpoints.open(dir);
        DinoVisionTransformer m;
        TensorStore head;
        try {
            head = part(raw, k -> k.startsWith("classifier."));
            if (!head.contains("classifier.weight"))
                throw new CheckpointException(file, "no 'classifier.weight': not a Dinov2ForImageClassification (a Dinov2Model "
                        + "backbone loads with Dinov2.load)");
            long classes = head.get("classifier.weight").shape()[0];
            if (labels != null && labels.size() != classes)
                throw new CheckpointException(cfgFile, "id2label names " + labels.size() + " classes, classifier.weight in "
                        + file.getFileName() + " has " + classes);
            m = DinoVisionTransformer.fromStateDict(cfg, HuggingFace.toOfficial(part(raw, k -> !k.startsWith("classifier."))), raw);
        } catch (RuntimeException e) {
            raw.close();
            throw e;
        }
        try {
            try {
                return Classifier.of(m, new HeadWeights(head.withPrefix("classifier."), file), labels, semantics == Semantics.HUGGING_FACE);
            } catch (CheckpointException e) {
                throw hfNames(e, file, k -> k.equals("weight") || k.equals("bias") || head.contains("classifier." + k) ? "classifier." + k : null);
            }
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** Meta's hub: no registers ⇒ offset 0.1, no antialias; registers ⇒ antialias, offset 0 (as HF's register model). */
    private static ModelConfig metaInterpolation(ModelConfig c) {
        boolean reg = c.numRegisterTokens() > 0;
        return c.withInterpolation(reg, reg ? 0.0 : 0.1);
    }

    /** id2label as a list, or null when config.json has none; its keys must be "0".."N-1". */
    private static List<String> labels(Map<String, Object> json, Path cfgFile) {
        if (!(json.get("id2label") instanceof Map<?, ?> id2label)) return null;
        String[] out = new String[id2label.size()];
        for (var e : id2label.entrySet()) {
            int i;
            try {
                i = Integer.parseInt(e.getKey().toString());
            } catch (NumberFormatException x) {
                i = -1;
            }
            if (i < 0 || i >= out.length || out[i] != null)
                throw new CheckpointException(cfgFile, "id2label key '" + e.getKey() + "' is not one of 0.." + (out.length - 1));
            out[i] = String.valueOf(e.getValue());
        }
        return List.of(out);
    }

    // ------------------------------------------------------------------------------------------------ DPT depth
    /** What config.json fixes of an HF DPT on Dinov2: the backbone, Meta's 0-based blocks, the final norm, the projection. */
    record DptConfig(ModelConfig backbone, int[] blocks, boolean norm, boolean project) {}

    static Depther depther(Path dir, Semantics semantics, Depther.Dataset dataset) {
        if (semantics == Semantics.META && dataset == null)
            throw new IllegalArgumentException("Meta's depth semantics clamp to the dataset's range: name the dataset (NYU or KITTI)");
        Path cfgFile = dir.resolve("config.json"), file = dir.resolve("model.safetensors");
        DptConfig d = dptConfig(readJson(cfgFile), cfgFile);
        ModelConfig cfg = semantics == Semantics.META ? metaInterpolation(d.backbone()) : d.backbone();
        TensorStore raw = Checkpoints.open(dir);
        DinoVisionTransformer m;
        Map<String, TensorEntry> head = new LinkedHashMap<>();
        try {
            for (var e : raw.tensors().entrySet()) {
                String k = e.getKey();
                if (k.startsWith("backbone.") || k.startsWith(UNUSED)) continue;
                String n = rename(k, true);
                head.put(n == null ? k : n, e.getValue().withName(n == null ? k : n)); // unknown keys: for the strict check
            }
            m = DinoVisionTransformer.fromStateDict(cfg, HuggingFace.toOfficial(part(raw, k -> k.startsWith("backbone."))), raw);
        } catch (RuntimeException e) {
            raw.close();
            throw e;
        }
        try {
            float min = semantics == Semantics.META ? 0.001f : 0f;
            DptHead h;
            try {
                h = new DptHead(new HeadWeights(new TensorStore(file, head, Map.of(), null), file), m.embedDim(), min, d.project());
            } catch (CheckpointException e) {
                throw hfNames(e, file, k -> rename(k, false));
            }
            return new Depther(m, h, d.blocks(), d.norm(), min, dataset == null ? Float.POSITIVE_INFINITY : dataset.maxDepth,
                    semantics);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** The head's error with Meta's key names put back as HF's ({@code toHf}: null for a word that is no key). */
    private static CheckpointException hfNames(CheckpointException e, Path file, UnaryOperator<String> toHf) {
        String problem = e.getMessage().substring((file + ": ").length());
        return new CheckpointException(file, Pattern.compile("[A-Za-z0-9_.]+").matcher(problem).replaceAll(r -> {
            String n = toHf.apply(r.group());
            return Matcher.quoteReplacement(n == null ? r.group() : n);
        }));
    }

    /**
     * config.json of {@code DPTForDepthEstimation} as {@code convert_dinov2_depth_to_hf.py} writes it; what Meta's DPT head
     * cannot be (another backbone, readout or resize factors, fusion biases or batch norm) is refused.
     */
    static DptConfig dptConfig(Map<String, Object> c, Path cfgFile) {
        try {
            if (!"dpt".equals(c.get("model_type")))
                throw new IllegalArgumentException("model_type is " + c.get("model_type") + ", expected dpt (DPTForDepthEstimation)");
            if (c.get("architectures") instanceof List<?> a && !a.isEmpty() && !a.contains("DPTForDepthEstimation"))
                throw new IllegalArgumentException("architectures is " + a + ", expected DPTForDepthEstimation");
            if (!(c.get("backbone_config") instanceof Map<?, ?> bm))
                throw new IllegalArgumentException("no backbone_config: only DPT on a Dinov2 backbone (facebook/dpt-dinov2-*) is supported");
            @SuppressWarnings("unchecked")
            Map<String, Object> b = (Map<String, Object>) bm;
            if (!"dinov2".equals(b.get("model_type")))
                throw new IllegalArgumentException("backbone_config.model_type is " + b.get("model_type") + ", expected dinov2");
            require(c, "is_hybrid", false, false);
            require(c, "readout_type", "project", "project");
            require(c, "hidden_act", "gelu", "gelu");
            require(c, "head_in_index", -1, -1);
            require(c, "use_batch_norm_in_fusion_residual", false, false);
            require(c, "use_bias_in_fusion_residual", false, null); // HF's None means "bias unless batch norm"
            require(b, "reshape_hidden_states", false, true);
            if (c.get("neck_ignore_stages") instanceof List<?> l && !l.isEmpty())
                throw new IllegalArgumentException("neck_ignore_stages " + l + " is not supported (Meta's DPT reassembles every stage)");
            if (!(c.get("neck_hidden_sizes") instanceof List<?> n) || n.size() != 4)
                throw new IllegalArgumentException("neck_hidden_sizes " + c.get("neck_hidden_sizes") + " is not a list of 4 (Meta's DPT reads 4 blocks)");
            List<Double> factors = c.get("reassemble_factors") instanceof List<?> f
                    ? f.stream().map(v -> ((Number) v).doubleValue()).toList() : List.of(4.0, 2.0, 1.0, 0.5);
            if (!factors.equals(List.of(4.0, 2.0, 1.0, 0.5)))
                throw new IllegalArgumentException("reassemble_factors " + factors + " are not Meta's [4, 2, 1, 0.5]");
            ModelConfig backbone = HuggingFace.config(b);
            int[] blocks = outIndices(b, backbone.depth());
            return new DptConfig(backbone, blocks, !Boolean.FALSE.equals(b.get("apply_layernorm")),
                    Boolean.TRUE.equals(c.get("add_projection")));
        } catch (IllegalArgumentException | ClassCastException e) {
            throw new CheckpointException(cfgFile, e.getMessage());
        }
    }

    /** HF's stage numbers (0 = the embeddings) → Meta's 0-based blocks. */
    private static int[] outIndices(Map<String, Object> b, int depth) {
        List<Integer> stages = new ArrayList<>();
        if (b.get("out_indices") instanceof List<?> l) for (Object v : l) stages.add(((Number) v).intValue());
        else if (b.get("out_features") instanceof List<?> l) for (Object v : l) stages.add(Integer.parseInt(v.toString().replace("stage", "")));
        if (stages.size() != 4) throw new IllegalArgumentException("backbone_config.out_indices " + stages + " is not 4 stages");
        int[] blocks = new int[4];
        for (int i = 0; i < 4; i++) {
            int s = stages.get(i);
            if (s < 1 || s > depth || (i > 0 && s <= stages.get(i - 1)))
                throw new IllegalArgumentException("backbone_config.out_indices " + stages + " must rise within 1.." + depth
                        + " (stage 0, the embeddings, is not a block)");
            blocks[i] = s - 1;
        }
        return blocks;
    }

    private static void require(Map<String, Object> c, String key, Object want, Object absent) {
        Object v = c.containsKey(key) ? c.get(key) : absent;
        boolean ok = v instanceof Number n && want instanceof Number w ? n.doubleValue() == w.doubleValue() : want.equals(v);
        if (!ok) throw new IllegalArgumentException(key + " is " + v + ", Meta's DPT head needs " + want);
    }

    // ------------------------------------------------------------------------------------------------ helpers
    private static Map<String, Object> readJson(Path f) {
        try {
            return Json.parseObject(Files.readString(f));
        } catch (IOException e) {
            throw new CheckpointException(f, "cannot read Hugging Face config: " + e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(f, e.getMessage());
        }
    }

    /** The tensors whose names pass {@code keep}, sharing the mapping (closing the view closes nothing). */
    private static TensorStore part(TensorStore s, Predicate<String> keep) {
        Map<String, TensorEntry> out = new LinkedHashMap<>();
        s.tensors().forEach((k, v) -> {
            if (keep.test(k)) out.put(k, v);
        });
        return new TensorStore(s.source(), out, s.metadata(), null);
    }
}
