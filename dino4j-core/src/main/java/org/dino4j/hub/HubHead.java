package org.dino4j.hub;

import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.zip.ZipFile;

import org.dino4j.io.CheckpointException;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;
import org.dino4j.io.TorchPth;
import org.dino4j.model.ModelConfig;

/**
 * A head Meta released for a hub backbone, as published next to the backbone's weights (URL patterns of
 * {@code dinov2/hub/classifiers.py}, {@code dinov2/hub/depthers.py} and {@code notebooks/semantic_segmentation.ipynb}):
 * <ul>
 * <li>ImageNet-1k linear classifiers, for all 8 backbones:
 * {@code BASE/dinov2_vits14/dinov2_vits14{_reg4}_{linear|linear4}_head.pth} ({@code linear}: the last layer's class
 * token and mean patch token; {@code linear4}: the class tokens of the last 4 layers and the last mean patch token);</li>
 * <li>depth heads, for the 4 backbones without registers:
 * {@code BASE/dinov2_vits14/dinov2_vits14_{nyu|kitti}_{linear|linear4|dpt}_head.pth};</li>
 * <li>segmentation heads, for the 4 backbones without registers:
 * {@code BASE/dinov2_vits14/dinov2_vits14_{ade20k|voc2012}_{linear|ms}_head.pth}, each with its mmseg config
 * {@code dinov2_vits14_{dataset}_{linear|ms}_config.py} beside it ({@link #config}).</li>
 * </ul>
 * <b>Names.</b> A head's dino4j name is its file name without {@code _head.pth}: {@code dinov2_vits14_linear},
 * {@code dinov2_vitl14_reg4_linear4}, {@code dinov2_vitb14_nyu_dpt}, {@code dinov2_vitg14_ade20k_ms}. The
 * torch.hub entry points are accepted too, with their default arguments ({@link #canonicalName}):
 * {@code dinov2_vits14_lc} and {@code dinov2_vits14_reg_lc} (the {@code linear4} classifier),
 * {@code dinov2_vits14_ld} (NYU {@code linear4}) and {@code dinov2_vits14_dd} (NYU {@code dpt}).
 * <p>
 * Meta publishes neither sizes nor hashes, so {@code bytes} and {@code sha256} are null unless given; a download is
 * checked by {@link #problem}.
 *
 * @param backbone the {@link HubModel} name the head was trained on
 * @param dataset  {@code imagenet1k}, {@code nyu}, {@code kitti}, {@code ade20k} or {@code voc2012}
 * @param variant  {@code linear}, {@code linear4}, {@code dpt} (depth) or {@code ms} (segmentation, multi-scale)
 * @param config   the mmseg config published with a segmentation head; null for the others
 */
public record HubHead(String name, String backbone, Kind kind, String dataset, String variant, URI url, String fileName,
                      Config config, Long bytes, String sha256) implements HubFile {

    public enum Kind {
        CLASSIFIER("classification"), DEPTH("depth"), SEGMENTATION("segmentation");

        /** The task in words, for listings. */
        public final String task;

        Kind(String task) {
            this.task = task;
        }
    }

    /** ImageNet-1k classes: the classifiers' outputs. */
    public static final int IMAGENET_CLASSES = 1000;

    private static final List<String> BASES = List.of("dinov2_vits14", "dinov2_vitb14", "dinov2_vitl14", "dinov2_vitg14");

    public HubHead {
        sha256 = HubModel.checkEntry(name, url, fileName, bytes, sha256);
        ModelConfig.preset(backbone); // rejects unknown backbones
        if ((kind == Kind.SEGMENTATION) != (config != null))
            throw new IllegalArgumentException(name + ": a config comes with segmentation heads only");
    }

    /** The mmseg config file published beside a segmentation head (Python source). */
    public record Config(String name, URI url, String fileName) implements HubFile {
        public Config {
            HubModel.checkEntry(name, url, fileName, null, null);
        }

        @Override
        public Long bytes() {
            return null;
        }

        @Override
        public String sha256() {
            return null;
        }

        /** Non-empty UTF-8 text without NUL bytes (an mmseg config is Python source). */
        @Override
        public String problem(Path file) {
            byte[] b;
            try {
                b = Files.readAllBytes(file);
            } catch (IOException e) {
                return "cannot read the download: " + e.getMessage();
            }
            String text;
            try {
                text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
            } catch (CharacterCodingException e) {
                return "not a config file: not UTF-8 text";
            }
            if (text.isBlank()) return "not a config file: empty";
            if (text.indexOf('\0') >= 0) return "not a config file: holds NUL bytes";
            return null;
        }
    }

    /** Every released head, backbone by backbone in {@link ModelConfig#HUB_NAMES} order, from {@link HubModel#baseUrl()}. */
    public static List<HubHead> all() {
        return all(HubModel.baseUrl());
    }

    public static List<HubHead> all(String baseUrl) {
        List<HubHead> out = new ArrayList<>();
        for (String backbone : ModelConfig.HUB_NAMES) out.addAll(forBackbone(backbone, baseUrl));
        return out;
    }

    /** The heads released for one backbone: 2 classifiers, and for those without registers 6 depth and 4 segmentation heads. */
    public static List<HubHead> forBackbone(String backbone, String baseUrl) {
        ModelConfig.preset(backbone);
        boolean reg = backbone.endsWith("_reg");
        String base = reg ? backbone.substring(0, backbone.length() - 4) : backbone;
        String stem = base + (reg ? "_reg4" : "");
        List<HubHead> out = new ArrayList<>();
        for (String v : List.of("linear", "linear4"))
            out.add(make(stem + "_" + v, backbone, base, Kind.CLASSIFIER, "imagenet1k", v, baseUrl));
        if (reg) return out;
        for (String d : List.of("nyu", "kitti"))
            for (String v : List.of("linear", "linear4", "dpt"))
                out.add(make(base + "_" + d + "_" + v, backbone, base, Kind.DEPTH, d, v, baseUrl));
        for (String d : List.of("ade20k", "voc2012"))
            for (String v : List.of("linear", "ms"))
                out.add(make(base + "_" + d + "_" + v, backbone, base, Kind.SEGMENTATION, d, v, baseUrl));
        return out;
    }

    private static HubHead make(String name, String backbone, String folder, Kind kind, String dataset, String variant, String baseUrl) {
        String file = name + "_head.pth";
        Config config = null;
        if (kind == Kind.SEGMENTATION) {
            String cfg = name + "_config.py";
            config = new Config(name + " config", HubModel.url(baseUrl, folder, cfg), cfg);
        }
        return new HubHead(name, backbone, kind, dataset, variant, HubModel.url(baseUrl, folder, file), file, config, null, null);
    }

    /** The torch.hub entry points (with their default arguments) and the head names they stand for. */
    private static final Map<String, String> ALIASES = aliases();

    private static Map<String, String> aliases() {
        Map<String, String> a = new LinkedHashMap<>();
        for (String base : BASES) {
            a.put(base + "_lc", base + "_linear4");
            a.put(base + "_reg_lc", base + "_reg4_linear4");
            a.put(base + "_ld", base + "_nyu_linear4");
            a.put(base + "_dd", base + "_nyu_dpt");
        }
        return Map.copyOf(a);
    }

    /** {@code name} itself, or the head a torch.hub entry point name stands for. */
    public static String canonicalName(String name) {
        return ALIASES.getOrDefault(name, name);
    }

    public static boolean isHeadName(String name) {
        return find(name, HubModel.baseUrl()).isPresent();
    }

    public static HubHead of(String name) {
        return of(name, HubModel.baseUrl());
    }

    /** The head called {@code name} (or a torch.hub alias of it), served from {@code baseUrl}. */
    public static HubHead of(String name, String baseUrl) {
        return find(name, baseUrl).orElseThrow(() -> new IllegalArgumentException("unknown head '" + name
                + "'; heads are named like dinov2_vits14_linear4, dinov2_vitb14_nyu_dpt, dinov2_vitl14_ade20k_ms (`dino4j models`)"));
    }

    private static Optional<HubHead> find(String name, String baseUrl) {
        String c = canonicalName(name);
        return all(baseUrl).stream().filter(h -> h.name().equals(c)).findFirst();
    }

    public HubHead withSha256(String hex) {
        return new HubHead(name, backbone, kind, dataset, variant, url, fileName, config, bytes, hex);
    }

    /** The files a download of this head fetches: the config first (small), then the weights. */
    public List<HubFile> files() {
        return config == null ? List.of(this) : List.of(config, this);
    }

    /** Backbone layers the head reads: 1 for {@code linear}, else 4 (linear4, dpt, ms). */
    public int layers() {
        return variant.equals("linear") ? 1 : 4;
    }

    /** Classifier parameters: {@code nn.Linear((1 + layers) * embed_dim, 1000)}; -1 for the other heads (not published). */
    public long parameters() {
        if (kind != Kind.CLASSIFIER) return -1;
        long in = (1L + layers()) * ModelConfig.preset(backbone).embedDim();
        return in * IMAGENET_CLASSES + IMAGENET_CLASSES;
    }

    /** "~6 MB" for a classifier (fp32), "?" where the size is not known beforehand. */
    public String approxSize() {
        long p = parameters();
        if (p < 0) return "?";
        double b = p * 4.0;
        return b >= 1e6 ? String.format(Locale.ROOT, "~%d MB", Math.round(b / 1e6)) : String.format(Locale.ROOT, "~%d KB", Math.round(b / 1e3));
    }

    /**
     * A classifier must hold exactly {@code weight [1000, (1 + layers) * embed_dim]} and {@code bias [1000]} (the
     * official code loads it with strict=True). Depth and segmentation heads are mmcv checkpoints whose content the
     * head's loader checks; here they must be complete PyTorch zip archives ({@code .../data.pkl} listed in the zip's
     * central directory, which sits at the end of the file).
     */
    @Override
    public String problem(Path file) {
        if (kind != Kind.CLASSIFIER) {
            try (ZipFile z = new ZipFile(file.toFile())) {
                if (z.stream().noneMatch(e -> e.getName().endsWith("/data.pkl") || e.getName().equals("data.pkl")))
                    return "not a usable " + name + " head: a zip without data.pkl, not a PyTorch checkpoint";
                return null;
            } catch (IOException e) {
                return "not a usable " + name + " head: not a PyTorch zip checkpoint (" + e.getMessage() + ")";
            }
        }
        try (TensorStore s = TorchPth.read(file)) {
            long in = (1L + layers()) * ModelConfig.preset(backbone).embedDim();
            String w = shape(s, "weight", IMAGENET_CLASSES, in), b = shape(s, "bias", IMAGENET_CLASSES);
            if (w != null || b != null || s.names().size() != 2)
                return "not a usable " + name + " head: expected weight [" + IMAGENET_CLASSES + ", " + in + "] and bias ["
                        + IMAGENET_CLASSES + "], got " + describe(s);
            return null;
        } catch (CheckpointException e) {
            return "not a usable " + name + " head: " + HubModel.withoutFile(e, file);
        }
    }

    /** Null when {@code s} holds {@code key} with exactly {@code shape}, else a word on what is wrong. */
    private static String shape(TensorStore s, String key, long... shape) {
        if (!s.contains(key)) return "missing";
        return Arrays.equals(s.get(key).shape(), shape) ? null : "shape";
    }

    private static String describe(TensorStore s) {
        List<String> parts = new ArrayList<>();
        for (String n : s.names().stream().sorted().limit(6).toList()) {
            TensorEntry e = s.get(n);
            parts.add(n + " " + Arrays.toString(e.shape()));
        }
        if (s.names().size() > 6) parts.add("... (" + s.names().size() + " tensors)");
        return parts.isEmpty() ? "no tensors" : String.join(", ", parts);
    }
}
