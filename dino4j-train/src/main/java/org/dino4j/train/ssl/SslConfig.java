package org.dino4j.train.ssl;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.dino4j.data.aug.DataAugmentationDino;
import org.dino4j.model.ModelConfig;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * The official training configuration: {@code ssl_default_config.yaml} (our copy), a preset or the user's YAML file
 * merged over it, then dotted {@code key=value} overrides, as train.py does with OmegaConf. Keys must exist in the
 * defaults (a typo is an error, not a silent default). Settings of distributed training and mixed precision
 * (compute_precision, num_workers, ...) are read and have no effect here.
 */
public final class SslConfig {
    public static final Set<String> PRESETS = Set.of("small28", "vits14", "vitb14", "vitl14");
    private final Map<String, Object> root;

    private SslConfig(Map<String, Object> root) {
        this.root = root;
    }

    /** Defaults, then the preset (if any), then the file (if any), then the overrides. */
    public static SslConfig load(String preset, Path file, List<String> overrides) {
        Map<String, Object> root = resource("ssl_default_config.yaml");
        if (preset != null) {
            if (!PRESETS.contains(preset)) throw new IllegalArgumentException("unknown preset " + preset + " (" + PRESETS + ")");
            merge(root, resource(preset + ".yaml"), "", "preset " + preset);
        }
        if (file != null) {
            try {
                merge(root, parse(Files.readString(file), file.toString()), "", file.toString());
            } catch (IOException e) {
                throw new IllegalArgumentException(file + ": cannot read: " + e.getMessage());
            }
        }
        for (String o : overrides) {
            int eq = o.indexOf('=');
            if (eq <= 0) throw new IllegalArgumentException("override '" + o + "' is not key=value");
            Object v;
            try {
                v = new Yaml(new SafeConstructor(new LoaderOptions())).load(o.substring(eq + 1));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("override '" + o + "': not a YAML value: " + firstLine(e));
            }
            String[] path = o.substring(0, eq).split("\\.");
            Map<String, Object> m = root;
            for (int i = 0; i < path.length - 1; i++) m = child(m, path[i], o.substring(0, eq));
            if (!m.containsKey(path[path.length - 1])) throw new IllegalArgumentException("unknown config key " + o.substring(0, eq));
            m.put(path[path.length - 1], v);
        }
        return new SslConfig(root);
    }

    /** A dotted key's value, e.g. "optim.base_lr". */
    public Object get(String key) {
        String[] path = key.split("\\.");
        Map<String, Object> m = root;
        for (int i = 0; i < path.length - 1; i++) m = child(m, path[i], key);
        if (!m.containsKey(path[path.length - 1])) throw new IllegalArgumentException("unknown config key " + key);
        return m.get(path[path.length - 1]);
    }

    public double num(String key) {
        Object v = get(key);
        if (v instanceof Number n) return n.doubleValue();
        throw new IllegalArgumentException("config " + key + " must be a number, is " + v);
    }

    public int integer(String key) {
        double v = num(key);
        if (!(Math.abs(v) <= Integer.MAX_VALUE)) throw new IllegalArgumentException("config " + key + " must be an integer, is " + get(key));
        return (int) Math.round(v);
    }

    /** A pair of numbers, e.g. crops.global_crops_scale: [0.32, 1.0]. */
    public double[] pair(String key) {
        if (get(key) instanceof List<?> l && l.size() == 2 && l.get(0) instanceof Number a && l.get(1) instanceof Number b)
            return new double[] {a.doubleValue(), b.doubleValue()};
        throw new IllegalArgumentException("config " + key + " must be a pair of numbers like [0.1, 0.5], is " + get(key));
    }

    /** {@code key} (a count of epochs) in iterations: refused when the product is past an int. */
    private int epochs(String key) {
        try {
            return Math.multiplyExact(integer(key), integer("train.OFFICIAL_EPOCH_LENGTH"));
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("config " + key + " x train.OFFICIAL_EPOCH_LENGTH is over " + Integer.MAX_VALUE + " iterations");
        }
    }

    /** An integer key that may be null (then {@code dflt}). */
    public int orDefault(String key, int dflt) {
        return get(key) == null ? dflt : integer(key);
    }

    public String str(String key) {
        return String.valueOf(get(key));
    }

    public boolean bool(String key) {
        Object v = get(key);
        if (v instanceof Boolean b) return b;
        throw new IllegalArgumentException("config " + key + " must be true or false, is " + v);
    }

    public int iterations() {
        return epochs("optim.epochs");
    }

    /** The trainer's settings, as build_schedulers and SSLMetaArch derive them from this configuration. */
    public SslTrainer.Config trainer() {
        if (integer("student.block_chunks") < 0) throw new IllegalArgumentException("student.block_chunks < 0");
        if (!str("optim.scaling_rule").equals("sqrt_wrt_1024"))
            throw new IllegalArgumentException("optim.scaling_rule " + str("optim.scaling_rule") + ": only sqrt_wrt_1024");
        if (num("optim.adamw_beta1") != 0.9 || num("optim.adamw_beta2") != 0.999)
            throw new IllegalArgumentException("optim.adamw_beta1/2 other than 0.9/0.999 are not supported yet");
        String centering = str("train.centering");
        if (!centering.equals("centering") && !centering.equals("sinkhorn_knopp"))
            throw new IllegalArgumentException("train.centering must be centering or sinkhorn_knopp, is " + centering);
        int globalSize = integer("crops.global_crops_size");
        ModelConfig a = ModelConfig.arch(str("student.arch").replace("_memeff", ""));
        ModelConfig model = new ModelConfig(globalSize, integer("student.patch_size"), 3, orDefault("student.embed_dim", a.embedDim()),
                orDefault("student.depth", a.depth()), orDefault("student.num_heads", a.numHeads()),
                a.mlpRatio(), bool("student.qkv_bias"), bool("student.proj_bias"), bool("student.ffn_bias"),
                num("student.layerscale"), str("student.ffn_layer"), integer("student.num_register_tokens"),
                bool("student.interpolate_antialias"), num("student.interpolate_offset"), 1e-6);
        double[] gs = pair("crops.global_crops_scale"), ls = pair("crops.local_crops_scale"), mr = pair("ibot.mask_ratio_min_max");
        var crops = new DataAugmentationDino.Config(gs[0], gs[1], ls[0], ls[1], integer("crops.local_crops_number"), globalSize,
                integer("crops.local_crops_size"),
                bool("crops.paper_blur_probabilities"));
        SslTrainer.IbotHead ibotHead = bool("ibot.separate_head") ? new SslTrainer.IbotHead(integer("ibot.head_n_prototypes"),
                integer("ibot.head_hidden_dim"), integer("ibot.head_bottleneck_dim"), integer("ibot.head_nlayers")) : null;
        return new SslTrainer.Config(model, crops, integer("dino.head_n_prototypes"), integer("dino.head_hidden_dim"),
                integer("dino.head_bottleneck_dim"), integer("dino.head_nlayers"), centering.equals("sinkhorn_knopp"),
                num("optim.base_lr"), integer("train.batch_size_per_gpu"), num("optim.min_lr"), num("optim.weight_decay"),
                num("optim.weight_decay_end"), num("teacher.momentum_teacher"), num("teacher.teacher_temp"),
                num("teacher.warmup_teacher_temp"), epochs("teacher.warmup_teacher_temp_epochs"),
                epochs("optim.warmup_epochs"), iterations(), epochs("optim.freeze_last_layer_epochs"),
                num("optim.clip_grad"), num("optim.layerwise_decay"), num("optim.patch_embed_lr_mult"),
                num("student.drop_path_rate"), num("dino.koleo_loss_weight"), mr[0], mr[1],
                num("ibot.mask_sample_probability"), num("dino.loss_weight"), num("ibot.loss_weight"),
                bool("student.drop_path_uniform"), ibotHead, orDefault("crops.high_res_global_crops_size", 0),
                integer("crops.high_res_iterations"));
    }

    /** The merged configuration as YAML (written beside a run, as the official config.yaml). */
    public String toYaml() {
        return new Yaml().dump(root);
    }

    private static Map<String, Object> resource(String name) {
        try (InputStream in = SslConfig.class.getResourceAsStream("/org/dino4j/train/" + name)) {
            if (in == null) throw new IllegalStateException("missing resource " + name);
            return parse(new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8), name);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> parse(String text, String what) {
        Object o;
        try {
            o = new Yaml(new SafeConstructor(new LoaderOptions())).load(text);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(what + ": not valid YAML: " + firstLine(e));
        }
        if (o == null) return new LinkedHashMap<>();
        if (!(o instanceof Map)) throw new IllegalArgumentException(what + ": the top level must be a mapping");
        return (Map<String, Object>) o;
    }

    @SuppressWarnings("unchecked")
    private static void merge(Map<String, Object> into, Map<?, ?> from, String prefix, String what) {
        for (var e : from.entrySet()) {
            // YAML allows any key ({a: 1}: x, 3: x); ours are names (a non-string key was a ClassCastException, found by fuzzing)
            if (!(e.getKey() instanceof String))
                throw new IllegalArgumentException(what + ": config key " + prefix + e.getKey() + " is not a name");
            String key = prefix + e.getKey();
            if (!into.containsKey(e.getKey())) throw new IllegalArgumentException(what + ": unknown config key " + key);
            Object cur = into.get(e.getKey());
            if (cur instanceof Map && e.getValue() instanceof Map<?, ?> m) merge((Map<String, Object>) cur, m, key + ".", what);
            else into.put((String) e.getKey(), e.getValue());
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> child(Map<String, Object> m, String k, String full) {
        Object c = m.get(k);
        if (!(c instanceof Map)) throw new IllegalArgumentException("unknown config key " + full);
        return (Map<String, Object>) c;
    }

    private static String firstLine(RuntimeException e) {
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().lines().findFirst().orElse("");
    }
}
