package org.dino4j.model;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.dino4j.io.CheckpointException;
import org.dino4j.io.Json;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;

/**
 * Hugging Face {@code Dinov2Model} / {@code Dinov2WithRegistersModel}: config.json → {@link ModelConfig} and
 * HF parameter names → official names (dinov2-spec §2.3). HF's non-register model resizes position embeddings
 * with {@code size=} and neither the 0.1 offset nor antialiasing; the register model antialiases — both are
 * reproduced through the config's interpolation fields.
 */
public final class HuggingFace {
    private HuggingFace() {}

    public static boolean looksLikeHf(TensorStore sd) {
        for (String k : sd.names()) if (k.endsWith("embeddings.patch_embeddings.projection.weight")) return true;
        return false;
    }

    /** Reads {@code dir/config.json}. */
    public static ModelConfig readConfig(Path dir) {
        Path f = dir.resolve("config.json");
        try {
            return config(Json.parseObject(Files.readString(f)));
        } catch (IOException e) {
            throw new CheckpointException(f, "cannot read Hugging Face config: " + e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(f, e.getMessage());
        }
    }

    /** A number in config.json; absent or null: {@code def}. */
    private static double num(Map<String, Object> c, String k, double def) {
        Object v = c.get(k);
        if (v == null) return def;
        if (!(v instanceof Number n)) throw new IllegalArgumentException(k + " is " + Json.write(v) + ", expected a number");
        return n.doubleValue();
    }

    public static ModelConfig config(Map<String, Object> c) {
        Object type = c.get("model_type");
        boolean reg;
        if ("dinov2".equals(type)) reg = false;
        else if ("dinov2_with_registers".equals(type)) reg = true;
        else throw new IllegalArgumentException("model_type is " + type + ", expected dinov2 or dinov2_with_registers");
        Object act = c.getOrDefault("hidden_act", "gelu");
        if (!"gelu".equals(act)) throw new IllegalArgumentException("hidden_act '" + act + "' is not supported (only gelu)");
        int d = intOf(c, "hidden_size", 768);
        boolean swiglu = Boolean.TRUE.equals(c.get("use_swiglu_ffn"));
        return new ModelConfig(intOf(c, "image_size", 224), intOf(c, "patch_size", 16), intOf(c, "num_channels", 3), d,
                intOf(c, "num_hidden_layers", 12), intOf(c, "num_attention_heads", 12),
                num(c, "mlp_ratio", 4), !Boolean.FALSE.equals(c.get("qkv_bias")),
                true, true, num(c, "layerscale_value", 1.0), swiglu ? "swiglufused" : "mlp",
                reg ? intOf(c, "num_register_tokens", 4) : 0, reg, 0.0, num(c, "layer_norm_eps", 1e-6));
    }

    private static int intOf(Map<String, Object> c, String k, int def) {
        double v = num(c, k, def);
        if (v != Math.rint(v) || v < Integer.MIN_VALUE || v > Integer.MAX_VALUE)
            throw new IllegalArgumentException(k + " is " + Json.write(c.get(k)) + ", expected an integer");
        return (int) v;
    }

    private static final Pattern LAYER = Pattern.compile("encoder\\.layer\\.(\\d+)\\.(.+)");

    /**
     * The prefixes HF puts before the backbone's names: {@code Dinov2ForImageClassification} ({@code dinov2.}),
     * {@code Dinov2WithRegistersForImageClassification} ({@code dinov2_with_registers.}), {@code DPTForDepthEstimation}
     * ({@code backbone.}).
     */
    static final String[] PREFIXES = {"dinov2.", "dinov2_with_registers.", "backbone."};

    /**
     * Renames HF tensors to the official layout; query/key/value are stacked into one qkv (a heap copy). Keys outside
     * the backbone (a classifier, a DPT neck) keep their names, for the caller's strict check to name.
     */
    public static TensorStore toOfficial(TensorStore hf) {
        String prefix = "";
        for (String p : PREFIXES) if (hf.contains(p + "embeddings.cls_token")) prefix = p;
        Map<String, TensorEntry> out = new LinkedHashMap<>();
        Map<String, TensorEntry[]> qkv = new LinkedHashMap<>();
        for (var e : hf.tensors().entrySet()) {
            String k = e.getKey();
            if (!k.startsWith(prefix)) { out.put(k, e.getValue()); continue; } // left for the strict check to name
            k = k.substring(prefix.length());
            String name = switch (k) {
                case "embeddings.cls_token" -> "cls_token";
                case "embeddings.mask_token" -> "mask_token";
                case "embeddings.position_embeddings" -> "pos_embed";
                case "embeddings.register_tokens" -> "register_tokens";
                case "embeddings.patch_embeddings.projection.weight" -> "patch_embed.proj.weight";
                case "embeddings.patch_embeddings.projection.bias" -> "patch_embed.proj.bias";
                case "layernorm.weight" -> "norm.weight";
                case "layernorm.bias" -> "norm.bias";
                default -> null;
            };
            Matcher m = LAYER.matcher(k);
            if (name == null && m.matches()) {
                String b = "blocks." + m.group(1) + ".", rest = m.group(2);
                Matcher q = Pattern.compile("attention\\.attention\\.(query|key|value)\\.(weight|bias)").matcher(rest);
                if (q.matches()) {
                    String key = b + "attn.qkv." + q.group(2);
                    int slot = switch (q.group(1)) { case "query" -> 0; case "key" -> 1; default -> 2; };
                    qkv.computeIfAbsent(key, x -> new TensorEntry[3])[slot] = e.getValue();
                    out.put(key, null); // keep the official order
                    continue;
                }
                name = b + rest.replace("attention.output.dense.", "attn.proj.")
                        .replace("layer_scale1.lambda1", "ls1.gamma").replace("layer_scale2.lambda1", "ls2.gamma")
                        .replace("mlp.weights_in.", "mlp.w12.").replace("mlp.weights_out.", "mlp.w3.");
            }
            out.put(name == null ? e.getKey() : name, e.getValue().withName(name == null ? e.getKey() : name));
        }
        for (var e : qkv.entrySet()) {
            TensorEntry[] parts = e.getValue();
            for (int i = 0; i < 3; i++)
                if (parts[i] == null)
                    throw new CheckpointException(hf.source(), "missing key for " + e.getKey() + " ("
                            + new String[] {"query", "key", "value"}[i] + ")");
            // the three must be matrices of the same width, read from the file: checked before the heap copy
            long rows = 0;
            for (TensorEntry p : parts) {
                long[] s = p.shape(), s0 = parts[0].shape();
                if (s.length < 1 || s.length != s0.length || !java.util.Arrays.equals(s, 1, s.length, s0, 1, s0.length))
                    throw new CheckpointException(hf.source(), "query/key/value of " + e.getKey() + " have shapes "
                            + java.util.Arrays.toString(s0) + " and " + java.util.Arrays.toString(s) + ": cannot stack them");
                rows += s[0];
            }
            long[] shape = parts[0].shape().clone();
            shape[0] = rows;
            long numel = TensorEntry.numel(shape);
            if (numel > Integer.MAX_VALUE - 8) // the shapes agree past their rows, so this is the three parts' sum
                throw new CheckpointException(hf.source(), "query/key/value of " + e.getKey() + " too large to stack (" + numel + " values)");
            float[] all = new float[(int) numel];
            int off = 0;
            for (TensorEntry p : parts) {
                float[] a = p.toFloatArray();
                System.arraycopy(a, 0, all, off, a.length);
                off += a.length;
            }
            out.put(e.getKey(), new TensorEntry(e.getKey(), org.dino4j.io.DType.F32, shape, MemorySegment.ofArray(all)));
        }
        return new TensorStore(hf.source(), out, hf.metadata(), null);
    }
}
