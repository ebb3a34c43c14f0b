package org.dino4j.heads;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import org.dino4j.conformance.Conformance.Check;
import org.dino4j.conformance.Conformance.Extension;
import org.dino4j.conformance.Conformance.Kind;
import org.dino4j.io.Json;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;
import org.dino4j.io.TorchPth;
import org.dino4j.model.Checkpoints;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.ModelConfig;
import org.dino4j.tensor.Tensor;

/**
 * {@code official_heads_tiny} in {@code dino4j conformance}: Meta's classifier logits, linear and DPT depths (at the
 * head's resolution and resized), and segmentation logits (on the grid and resized), with the heads loaded from the
 * safetensors and from the {@code .pth} beside it, whose entries are laid out as the released files are. Depths reach
 * 80 m, so every output is compared relative to its largest magnitude (bar 1e-4, as the training fixtures).
 */
public final class HeadsConformance implements Extension {
    static final double TOLERANCE = 1e-4;
    static final String[] CLASSIFIERS = {"linear_head", "linear4_head"};
    static final String[] DEPTHERS = {"nyu_linear_head", "nyu_linear4_head", "nyu_dpt_head"};
    static final String[] SEGMENTERS = {"seg_linear_head", "seg_linear4_head"};

    @Override
    public Kind kind() {
        return Kind.HEADS;
    }

    @Override
    public void check(Path fixture, TensorStore f, List<Check> checks) {
        String fx = fixture.getFileName().toString();
        ModelConfig cfg = config(f);
        try (DinoVisionTransformer m = DinoVisionTransformer.fromStateDict(cfg, Checkpoints.normalize(f.withPrefix("weights/backbone/")), null)) {
            outputs(fx, "safetensors", m, f, g -> HeadWeights.of(f.withPrefix("weights/" + g + "/"), fixture), checks);
        }
        Path pth = fixture.resolveSibling(fx.replaceFirst("\\.safetensors$", ".pth"));
        if (Files.exists(pth)) {
            try (TensorStore p = TorchPth.read(pth);
                 DinoVisionTransformer m = DinoVisionTransformer.fromStateDict(cfg, Checkpoints.normalize(p.withPrefix("backbone.")), null)) {
                outputs(fx, "pth", m, f, g -> HeadWeights.of(p.withPrefix(g + "."), pth), checks);
            }
        }
    }

    /** The fixture's backbone config (its `__metadata__.config`, written by the generator in the constructor's terms). */
    public static ModelConfig config(TensorStore f) {
        var json = new java.util.LinkedHashMap<>(Json.parseObject(f.metadata().get("config")));
        // notes of the generator's: LayerScale is there whenever init_values is set; "vit_small (embed_dim/num_heads
        // overridden)" is vit_small with the sizes given beside it
        json.remove("layerscale");
        json.computeIfPresent("arch", (k, v) -> v.toString().replaceFirst(" .*", ""));
        return ModelConfig.fromMap(json);
    }

    interface Group {
        HeadWeights weights(String group);
    }

    private static void outputs(String fx, String route, DinoVisionTransformer m, TensorStore f, Group g, List<Check> checks) {
        for (String h : CLASSIFIERS) {
            Classifier c = Classifier.of(m, g.weights(h), null);
            for (int i = 0; f.contains("classifier/input" + i); i++) {
                Tensor x = tensor(f, "classifier/input" + i);
                String o = "classifier/output" + i + "/" + h + "/";
                add(checks, fx, route, o + "linear_input", c.linearInput(x), f);
                add(checks, fx, route, o + "logits", c.logits(x), f);
            }
        }
        for (String h : DEPTHERS) {
            Depther d = Depther.of(m, g.weights(h), Depther.Dataset.NYU);
            for (int i = 0; f.contains("depth/input" + i); i++) {
                Tensor x = tensor(f, "depth/input" + i);
                String o = "depth/output" + i + "/" + h + "/";
                add(checks, fx, route, o + "depth", d.depth(x), f);
                add(checks, fx, route, o + "depth_head_res", d.headResolution(x), f);
            }
        }
        for (String h : SEGMENTERS) {
            int[] blocks = Json.parseObject(f.metadata().get("heads")).get(h) instanceof java.util.Map<?, ?> cfg
                    ? ((java.util.List<?>) cfg.get("out_indices")).stream().mapToInt(v -> ((Number) v).intValue()).toArray() : null;
            Segmenter s = Segmenter.of(m, g.weights(h), Segmenter.Dataset.ADE20K.classes, "ADE20K", blocks);
            for (int i = 0; f.contains("seg/input" + i); i++) {
                Tensor x = tensor(f, "seg/input" + i);
                String o = "seg/output" + i + "/" + h + "/";
                add(checks, fx, route, o + "logits", s.logits(x), f);
                if (f.contains(o + "logits_resized")) add(checks, fx, route, o + "logits_resized", s.encodeDecode(x), f);
            }
        }
    }

    static Tensor tensor(TensorStore f, String name) {
        TensorEntry e = f.get(name);
        return new Tensor(e.toFloatArray(), e.intShape());
    }

    /** One compared output; passes when finite and within {@link #TOLERANCE} of the expected tensor's largest magnitude. */
    static void add(List<Check> checks, String fx, String route, String name, Tensor got, TensorStore f) {
        checks.add(org.dino4j.conformance.Conformance.relative(fx, route, name, got.data(), got.shape(), f.get(name), TOLERANCE));
    }
}
