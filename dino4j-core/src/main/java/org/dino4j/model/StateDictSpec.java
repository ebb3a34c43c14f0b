package org.dino4j.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.dino4j.io.CheckpointException;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;

/**
 * The exact set of official state_dict keys and shapes a {@link ModelConfig} implies (hub layout, block_chunks=0),
 * and the strict check of a checkpoint against it: every missing, unexpected or mis-shaped key is named, as
 * {@code load_state_dict(strict=True)} would.
 */
public final class StateDictSpec {
    private StateDictSpec() {}

    public static Map<String, long[]> expected(ModelConfig c) {
        Map<String, long[]> m = new LinkedHashMap<>();
        long d = c.embedDim(), g = c.posGrid(), p = c.patchSize(), h = c.ffnHidden();
        m.put("cls_token", new long[] {1, 1, d});
        m.put("pos_embed", new long[] {1, 1 + g * g, d});
        if (c.numRegisterTokens() > 0) m.put("register_tokens", new long[] {1, c.numRegisterTokens(), d});
        m.put("mask_token", new long[] {1, d});
        m.put("patch_embed.proj.weight", new long[] {d, c.inChans(), p, p});
        m.put("patch_embed.proj.bias", new long[] {d});
        for (int i = 0; i < c.depth(); i++) {
            String b = "blocks." + i + ".";
            m.put(b + "norm1.weight", new long[] {d});
            m.put(b + "norm1.bias", new long[] {d});
            m.put(b + "attn.qkv.weight", new long[] {3 * d, d});
            if (c.qkvBias()) m.put(b + "attn.qkv.bias", new long[] {3 * d});
            m.put(b + "attn.proj.weight", new long[] {d, d});
            if (c.projBias()) m.put(b + "attn.proj.bias", new long[] {d});
            if (c.initValues() != null) m.put(b + "ls1.gamma", new long[] {d});
            m.put(b + "norm2.weight", new long[] {d});
            m.put(b + "norm2.bias", new long[] {d});
            if (c.swiglu()) {
                m.put(b + "mlp.w12.weight", new long[] {2 * h, d});
                if (c.ffnBias()) m.put(b + "mlp.w12.bias", new long[] {2 * h});
                m.put(b + "mlp.w3.weight", new long[] {d, h});
                if (c.ffnBias()) m.put(b + "mlp.w3.bias", new long[] {d});
            } else {
                m.put(b + "mlp.fc1.weight", new long[] {h, d});
                if (c.ffnBias()) m.put(b + "mlp.fc1.bias", new long[] {h});
                m.put(b + "mlp.fc2.weight", new long[] {d, h});
                if (c.ffnBias()) m.put(b + "mlp.fc2.bias", new long[] {d});
            }
            if (c.initValues() != null) m.put(b + "ls2.gamma", new long[] {d});
        }
        m.put("norm.weight", new long[] {d});
        m.put("norm.bias", new long[] {d});
        return m;
    }

    /** Throws one {@link CheckpointException} listing every problem, or returns when the store matches exactly. */
    public static void check(ModelConfig c, TensorStore sd) {
        // the config can come from the file too (config.json, metadata): its depth is held against the tensors
        // before the key list (a dozen entries a block) is built from it
        if (c.depth() > sd.names().size())
            throw new CheckpointException(sd.source(), "the config says " + c.depth() + " blocks but the checkpoint has only "
                    + sd.names().size() + " tensors");
        Map<String, long[]> want = expected(c);
        List<String> problems = new ArrayList<>();
        for (var e : want.entrySet()) {
            if (!sd.contains(e.getKey())) problems.add("missing key '" + e.getKey() + "'");
            else {
                TensorEntry t = sd.get(e.getKey());
                if (!Arrays.equals(t.shape(), e.getValue()))
                    problems.add("key '" + e.getKey() + "' has shape " + Arrays.toString(t.shape())
                            + " but the model expects " + Arrays.toString(e.getValue()));
                else if (!isFloat(t))
                    problems.add("key '" + e.getKey() + "' has dtype " + t.dtype() + ", expected a float type");
            }
        }
        for (String k : sd.names()) if (!want.containsKey(k)) problems.add("unexpected key '" + k + "'");
        if (!problems.isEmpty()) {
            int shown = Math.min(problems.size(), 12);
            String msg = "checkpoint does not match the model (" + problems.size() + " problem"
                    + (problems.size() > 1 ? "s" : "") + "): " + String.join("; ", problems.subList(0, shown))
                    + (shown < problems.size() ? "; ..." : "");
            throw new CheckpointException(sd.source(), msg);
        }
    }

    private static boolean isFloat(TensorEntry t) {
        return switch (t.dtype()) {
            case F32, F16, BF16, F64 -> true;
            default -> false;
        };
    }
}
