package org.dino4j.hub;

import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

import org.dino4j.io.CheckpointException;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;
import org.dino4j.io.TorchPth;
import org.dino4j.model.Checkpoints;
import org.dino4j.model.ModelConfig;
import org.dino4j.model.StateDictSpec;

/**
 * One backbone of the model zoo: where Meta publishes its weights, the file name torch.hub caches them under, the
 * Hugging Face repository holding the same weights, and the hub's settings. {@code bytes} and {@code sha256} are
 * checked when known; Meta publishes neither for the eight hub files, so they are null there and a download is
 * checked by its HTTP length and by opening it against {@code config}.
 */
public record HubModel(String name, URI url, String fileName, String hfRepo, ModelConfig config, Long bytes,
                       String sha256) implements HubFile {
    public static final String DEFAULT_BASE_URL = "https://dl.fbaipublicfiles.com/dinov2";
    /** System property naming a mirror with Meta's layout ({@code BASE/dinov2_vits14/dinov2_vits14_pretrain.pth}). */
    public static final String BASE_URL_PROPERTY = "dino4j.hub.baseUrl";

    private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");

    public HubModel {
        sha256 = checkEntry(name, url, fileName, bytes, sha256);
    }

    /** The checks every {@link HubFile} record makes; returns the sha256 in lower case (or null). */
    static String checkEntry(String name, URI url, String fileName, Long bytes, String sha256) {
        String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https"))
            throw new IllegalArgumentException(name + ": URL must be http or https: " + url);
        if (fileName.isEmpty() || fileName.contains("/") || fileName.contains("\\") || fileName.startsWith("."))
            throw new IllegalArgumentException(name + ": bad file name '" + fileName + "'");
        if (bytes != null && bytes < 0) throw new IllegalArgumentException(name + ": negative size");
        if (sha256 == null) return null;
        String hex = sha256.toLowerCase(Locale.ROOT);
        if (!HEX64.matcher(hex).matches()) throw new IllegalArgumentException("sha256 must be 64 hex digits, got '" + sha256 + "'");
        return hex;
    }

    public static boolean isHubName(String name) {
        return ModelConfig.HUB_NAMES.contains(name);
    }

    /** The base URL: the {@value #BASE_URL_PROPERTY} property, else Meta's. */
    public static String baseUrl() {
        String p = System.getProperty(BASE_URL_PROPERTY);
        return p == null || p.isBlank() ? DEFAULT_BASE_URL : p;
    }

    /** The eight hub backbones, in {@link ModelConfig#HUB_NAMES} order, from {@link #baseUrl()}. */
    public static List<HubModel> all() {
        return all(baseUrl());
    }

    public static List<HubModel> all(String baseUrl) {
        return ModelConfig.HUB_NAMES.stream().map(n -> of(n, baseUrl)).toList();
    }

    public static HubModel of(String name) {
        return of(name, baseUrl());
    }

    /** A hub backbone served from {@code baseUrl} in Meta's layout. */
    public static HubModel of(String name, String baseUrl) {
        ModelConfig config = ModelConfig.preset(name); // rejects unknown names, listing the known ones
        boolean reg = name.endsWith("_reg");
        String folder = reg ? name.substring(0, name.length() - 4) : name;
        String file = folder + (reg ? "_reg4" : "") + "_pretrain.pth";
        String size = switch (folder) {
            case "dinov2_vits14" -> "small";
            case "dinov2_vitb14" -> "base";
            case "dinov2_vitl14" -> "large";
            default -> "giant";
        };
        return new HubModel(name, url(baseUrl, folder, file), file, "facebook/dinov2-" + (reg ? "with-registers-" : "") + size,
                config, null, null);
    }

    /** {@code baseUrl/folder/file} in Meta's layout. */
    static URI url(String baseUrl, String folder, String file) {
        String base = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
        try {
            return URI.create(base + "/" + folder + "/" + file);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("bad base URL '" + baseUrl + "': " + e.getMessage());
        }
    }

    /** Opens as a checkpoint of exactly {@link #config}'s shape (safetensors, or a torch .pth/.pt). */
    @Override
    public String problem(Path file) {
        try (TensorStore raw = fileName.endsWith(".pth") || fileName.endsWith(".pt") ? TorchPth.read(file) : SafeTensors.read(file)) {
            StateDictSpec.check(config, Checkpoints.normalize(raw));
            return null;
        } catch (CheckpointException e) {
            return "not a usable " + name + " checkpoint: " + withoutFile(e, file);
        }
    }

    /** The message of a checkpoint error without its leading "FILE: " (the download names the URL instead). */
    static String withoutFile(CheckpointException e, Path file) {
        String msg = String.valueOf(e.getMessage());
        String prefix = file + ": ";
        return msg.startsWith(prefix) ? msg.substring(prefix.length()) : msg;
    }

    public HubModel withSha256(String hex) {
        return new HubModel(name, url, fileName, hfRepo, config, bytes, hex);
    }

    /** Parameters of the backbone (every tensor of its state dict, mask_token included). */
    public long parameters() {
        return StateDictSpec.expected(config).values().stream().mapToLong(TensorEntry::numel).sum();
    }

    /** Approximate file size: the parameters in float32 (the hub files are fp32; the pickle adds a few KB). */
    public long approxBytes() {
        return parameters() * 4;
    }

    /** {@link #approxBytes()} for people: "~88 MB", "~4.5 GB" (decimal units). */
    public String approxSize() {
        double b = approxBytes();
        return b >= 1e9 ? String.format(Locale.ROOT, "~%.1f GB", b / 1e9) : String.format(Locale.ROOT, "~%d MB", Math.round(b / 1e6));
    }
}
