package org.dino4j.model;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.dino4j.io.CheckpointException;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;
import org.dino4j.io.TorchPth;

/**
 * Opening weights in any of the layouts users have: a hub {@code .pth}, a training checkpoint
 * ({@code {"teacher": ...}} / {@code {"model": ...}}, {@code module.}/{@code backbone.} prefixes, chunked
 * {@code blocks.<c>.<i>.}), safetensors, or a Hugging Face model directory — normalised to the official hub
 * names that {@link StateDictSpec} checks.
 */
public final class Checkpoints {
    private Checkpoints() {}

    /** Opens a file by its content (zip = torch, else safetensors) or a Hugging Face directory. */
    public static TensorStore open(Path path) {
        if (Files.isDirectory(path)) {
            Path st = path.resolve("model.safetensors");
            if (!Files.exists(st)) throw new CheckpointException(path, "directory has no model.safetensors (HF pytorch_model.bin and sharded checkpoints are not supported yet)");
            return SafeTensors.read(st);
        }
        if (!Files.exists(path)) throw new CheckpointException(path, "file not found");
        byte[] magic = new byte[4];
        try (InputStream in = Files.newInputStream(path)) {
            int n = in.readNBytes(magic, 0, 4);
            if (n >= 2 && magic[0] == 'P' && magic[1] == 'K') return TorchPth.read(path);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(path, "file not found");
        } catch (IOException e) {
            throw new CheckpointException(path, "cannot read: " + e.getMessage());
        }
        String name = path.getFileName().toString();
        if (name.endsWith(".pth") || name.endsWith(".pt")) return TorchPth.read(path); // gives the precise error
        return SafeTensors.read(path);
    }

    private static final Pattern CHUNKED = Pattern.compile("blocks\\.(\\d+)\\.(\\d+)\\.(.*)");

    /** Official hub names from any supported layout (HF names are mapped too). */
    public static TensorStore normalize(TensorStore sd) {
        if (HuggingFace.looksLikeHf(sd)) return HuggingFace.toOfficial(sd);
        TensorStore s = sd;
        boolean training = false;
        for (String wrapper : new String[] {"teacher.", "model.", "state_dict."}) {
            if (s.names().stream().anyMatch(k -> k.startsWith(wrapper))
                    && !s.names().stream().anyMatch(k -> k.equals("cls_token"))) {
                s = s.withPrefix(wrapper);
                training = true;
                break;
            }
        }
        Map<String, TensorEntry> out = new LinkedHashMap<>();
        boolean chunked = s.names().stream().anyMatch(k -> stripPrefixes(k).matches("blocks\\.\\d+\\.\\d+\\..*"));
        for (var e : s.tensors().entrySet()) {
            String k = stripPrefixes(e.getKey());
            if (!k.equals(e.getKey())) training = true;
            if (training && (k.startsWith("dino_head.") || k.startsWith("ibot_head.") || k.startsWith("head."))) continue;
            if (chunked) {
                Matcher m = CHUNKED.matcher(k);
                if (m.matches()) k = "blocks." + m.group(2) + "." + m.group(3);
            }
            if (out.put(k, e.getValue().withName(k)) != null)
                throw new CheckpointException(sd.source(), "two tensors map to the name '" + k + "'");
        }
        return new TensorStore(sd.source(), out, sd.metadata(), null);
    }

    private static String stripPrefixes(String k) {
        if (k.startsWith("module.")) k = k.substring(7);
        if (k.startsWith("backbone.")) k = k.substring(9);
        return k;
    }

    /**
     * A config for a normalised hub-layout state dict when none is given: sizes from the tensor shapes, heads from
     * the hub's fixed head width of 64, interpolation as the hub sets it (registers ⇒ antialias, offset 0).
     */
    public static ModelConfig inferConfig(TensorStore sd) {
        if (!sd.contains("cls_token") || !sd.contains("patch_embed.proj.weight") || !sd.contains("pos_embed"))
            throw new CheckpointException(sd.source(), "cannot infer the model config: cls_token, pos_embed or patch_embed.proj.weight missing (pass a config)");
        // shapes come from the file: checked before they become sizes, so a bad one is named, not a crash
        long[] pe = shape(sd, "patch_embed.proj.weight", 4);
        int d = (int) pe[0], p = (int) pe[2];
        int depth = 0;
        while (sd.contains("blocks." + depth + ".norm1.weight")) depth++;
        long npos = shape(sd, "pos_embed", 3)[1] - 1;
        int g = (int) Math.round(Math.sqrt(npos));
        int reg = sd.contains("register_tokens") ? (int) shape(sd, "register_tokens", 3)[1] : 0;
        boolean swiglu = sd.contains("blocks.0.mlp.w12.weight");
        double ratio = 4.0;
        if (!swiglu && sd.contains("blocks.0.mlp.fc1.weight")) ratio = shape(sd, "blocks.0.mlp.fc1.weight", 2)[0] / (double) d;
        if (d % 64 != 0)
            throw new CheckpointException(sd.source(), "cannot infer num_heads for embed_dim " + d + " (pass a config)");
        try {
            return new ModelConfig((int) Math.min(Integer.MAX_VALUE, (long) g * p), p, (int) pe[1], d, depth, d / 64, ratio,
                    sd.contains("blocks.0.attn.qkv.bias"), sd.contains("blocks.0.attn.proj.bias"),
                    sd.contains("blocks.0.mlp.fc1.bias") || sd.contains("blocks.0.mlp.w12.bias"),
                    sd.contains("blocks.0.ls1.gamma") ? 1.0 : null, swiglu ? "swiglufused" : "mlp", reg, reg > 0,
                    reg > 0 ? 0.0 : 0.1, 1e-6);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(sd.source(), "cannot infer the model config from the shapes: " + e.getMessage());
        }
    }

    /** A tensor's shape with the rank the config is read from, every size in 1..2^31-1. */
    private static long[] shape(TensorStore sd, String key, int rank) {
        long[] s = sd.get(key).shape();
        boolean ok = s.length == rank;
        for (long v : s) ok &= v >= 1 && v <= Integer.MAX_VALUE;
        if (!ok)
            throw new CheckpointException(sd.source(), key + " has shape " + java.util.Arrays.toString(s) + ": cannot infer the model config from it"
                    + " (expected " + rank + " sizes of at least 1)");
        return s;
    }
}
