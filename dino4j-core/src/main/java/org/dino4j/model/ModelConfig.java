package org.dino4j.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.dino4j.io.Json;

/**
 * The arguments of the official {@code DinoVisionTransformer.__init__} that shape inference, named as there in
 * JSON ({@code embed_dim}, {@code depth}, ...). {@code initValues} null means no LayerScale (Identity), as
 * {@code init_values=None}. {@code layerNormEps} is 1e-6 in the official code; Hugging Face configs may say
 * otherwise.
 */
public record ModelConfig(int imgSize, int patchSize, int inChans, int embedDim, int depth, int numHeads,
                          double mlpRatio, boolean qkvBias, boolean projBias, boolean ffnBias, Double initValues,
                          String ffnLayer, int numRegisterTokens, boolean interpolateAntialias,
                          double interpolateOffset, double layerNormEps) {

    public ModelConfig {
        if (embedDim <= 0 || depth <= 0 || numHeads <= 0 || patchSize <= 0 || imgSize <= 0 || inChans <= 0)
            throw new IllegalArgumentException("model config: sizes must be positive");
        if (embedDim % numHeads != 0)
            throw new IllegalArgumentException("model config: embed_dim " + embedDim + " is not divisible by num_heads " + numHeads);
        if (!Set.of("mlp", "swiglu", "swiglufused").contains(ffnLayer))
            throw new IllegalArgumentException("model config: unsupported ffn_layer '" + ffnLayer + "' (mlp, swiglu, swiglufused)");
        if (numRegisterTokens < 0) throw new IllegalArgumentException("model config: num_register_tokens < 0");
    }

    /** Official constructor defaults with the given architecture (vit_small/base/large/giant2). */
    public static ModelConfig arch(String arch) {
        return switch (arch) {
            case "vit_tiny" -> base(192, 12, 3); // not a DINOv2 model: DINO v1's (DeiT-Tiny), for small experiments
            case "vit_small" -> base(384, 12, 6);
            case "vit_base" -> base(768, 12, 12);
            case "vit_large" -> base(1024, 24, 16);
            case "vit_giant2" -> base(1536, 40, 24);
            default -> throw new IllegalArgumentException("unknown arch '" + arch + "' (vit_small, vit_base, vit_large, vit_giant2; vit_tiny)");
        };
    }

    private static ModelConfig base(int d, int depth, int heads) {
        return new ModelConfig(224, 16, 3, d, depth, heads, 4.0, true, true, true, null, "mlp", 0, false, 0.1, 1e-6);
    }

    /** The eight torch.hub backbones with the hub's settings (dinov2/hub/backbones.py). */
    public static final List<String> HUB_NAMES = List.of("dinov2_vits14", "dinov2_vitb14", "dinov2_vitl14",
            "dinov2_vitg14", "dinov2_vits14_reg", "dinov2_vitb14_reg", "dinov2_vitl14_reg", "dinov2_vitg14_reg");

    public static ModelConfig preset(String name) {
        boolean reg = name.endsWith("_reg");
        String core = reg ? name.substring(0, name.length() - 4) : name;
        String arch = switch (core) {
            case "dinov2_vits14" -> "vit_small";
            case "dinov2_vitb14" -> "vit_base";
            case "dinov2_vitl14" -> "vit_large";
            case "dinov2_vitg14" -> "vit_giant2";
            default -> throw new IllegalArgumentException("unknown model '" + name + "'; known: " + String.join(", ", HUB_NAMES));
        };
        ModelConfig a = arch(arch);
        return new ModelConfig(518, 14, 3, a.embedDim, a.depth, a.numHeads, 4.0, true, true, true, 1.0,
                arch.equals("vit_giant2") ? "swiglufused" : "mlp", reg ? 4 : 0, reg, reg ? 0.0 : 0.1, 1e-6);
    }

    public boolean swiglu() {
        return !ffnLayer.equals("mlp");
    }

    /** FFN hidden width: int(D·mlp_ratio), and for SwiGLUFFNFused the official rounding (int(h·2/3)+7)//8·8. */
    public int ffnHidden() {
        int h = (int) (embedDim * mlpRatio);
        return swiglu() ? ((int) (h * 2.0 / 3) + 7) / 8 * 8 : h;
    }

    public int headDim() {
        return embedDim / numHeads;
    }

    /** Side of the square position-embedding grid: img_size / patch_size. */
    public int posGrid() {
        return imgSize / patchSize;
    }

    public ModelConfig withInterpolation(boolean antialias, double offset) {
        return new ModelConfig(imgSize, patchSize, inChans, embedDim, depth, numHeads, mlpRatio, qkvBias, projBias,
                ffnBias, initValues, ffnLayer, numRegisterTokens, antialias, offset, layerNormEps);
    }

    /** Parses the official constructor arguments; an optional "arch" key supplies the defaults. */
    public static ModelConfig fromMap(Map<String, Object> m) {
        Set<String> known = Set.of("arch", "img_size", "patch_size", "in_chans", "embed_dim", "depth", "num_heads",
                "mlp_ratio", "qkv_bias", "proj_bias", "ffn_bias", "init_values", "ffn_layer", "num_register_tokens",
                "interpolate_antialias", "interpolate_offset", "layer_norm_eps", "block_chunks", "drop_path_rate",
                "drop_path_uniform");
        for (String k : m.keySet())
            if (!known.contains(k)) throw new IllegalArgumentException("model config: unknown key '" + k + "'");
        ModelConfig a = m.containsKey("arch") ? arch(str(m, "arch")) : base(768, 12, 12);
        return new ModelConfig(
                integer(m, "img_size", a.imgSize), integer(m, "patch_size", a.patchSize), integer(m, "in_chans", a.inChans),
                integer(m, "embed_dim", a.embedDim), integer(m, "depth", a.depth), integer(m, "num_heads", a.numHeads),
                num(m, "mlp_ratio", a.mlpRatio), bool(m, "qkv_bias", a.qkvBias), bool(m, "proj_bias", a.projBias),
                bool(m, "ffn_bias", a.ffnBias),
                m.containsKey("init_values") ? (m.get("init_values") == null ? null : num(m, "init_values", 0)) : a.initValues,
                m.containsKey("ffn_layer") ? str(m, "ffn_layer") : a.ffnLayer,
                integer(m, "num_register_tokens", a.numRegisterTokens),
                bool(m, "interpolate_antialias", a.interpolateAntialias),
                num(m, "interpolate_offset", a.interpolateOffset), num(m, "layer_norm_eps", a.layerNormEps));
    }

    public static ModelConfig fromJson(String json) {
        return fromMap(Json.parseObject(json));
    }

    /** Reads a JSON config file; errors name the file. */
    public static ModelConfig read(Path file) {
        try {
            return fromJson(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(file + ": file not found");
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage());
        }
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("img_size", imgSize);
        m.put("patch_size", patchSize);
        m.put("in_chans", inChans);
        m.put("embed_dim", embedDim);
        m.put("depth", depth);
        m.put("num_heads", numHeads);
        m.put("mlp_ratio", mlpRatio);
        m.put("qkv_bias", qkvBias);
        m.put("proj_bias", projBias);
        m.put("ffn_bias", ffnBias);
        m.put("init_values", initValues);
        m.put("ffn_layer", ffnLayer);
        m.put("num_register_tokens", numRegisterTokens);
        m.put("interpolate_antialias", interpolateAntialias);
        m.put("interpolate_offset", interpolateOffset);
        m.put("layer_norm_eps", layerNormEps);
        return m;
    }

    public String toJson() {
        return Json.write(toMap());
    }

    private static String str(Map<String, Object> m, String k) {
        if (!(m.get(k) instanceof String s)) throw new IllegalArgumentException("model config: '" + k + "' must be a string");
        return s;
    }

    private static int integer(Map<String, Object> m, String k, int def) {
        if (!m.containsKey(k)) return def;
        Object v = m.get(k);
        if (v instanceof Long l) return Math.toIntExact(l);
        if (v instanceof Double d && d == Math.rint(d)) return d.intValue();
        throw new IllegalArgumentException("model config: '" + k + "' must be an integer, got " + v);
    }

    private static double num(Map<String, Object> m, String k, double def) {
        if (!m.containsKey(k)) return def;
        if (m.get(k) instanceof Number n) return n.doubleValue();
        throw new IllegalArgumentException("model config: '" + k + "' must be a number, got " + m.get(k));
    }

    private static boolean bool(Map<String, Object> m, String k, boolean def) {
        if (!m.containsKey(k)) return def;
        if (m.get(k) instanceof Boolean b) return b;
        throw new IllegalArgumentException("model config: '" + k + "' must be true or false, got " + m.get(k));
    }
}
