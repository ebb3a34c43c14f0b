package org.dino4j.hub;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Where checkpoints are looked up and downloaded: our own directory ({@code dir}, where downloads go) and, read
 * only, the caches PyTorch and Hugging Face already keep, so a file fetched by either is not fetched again.
 *
 * @param dir              {@code $DINO4J_HOME/checkpoints}, default {@code ~/.cache/dino4j/checkpoints}
 * @param torchCheckpoints {@code $TORCH_HOME/hub/checkpoints}, default {@code ~/.cache/torch/hub/checkpoints}
 * @param hfHub            {@code $HF_HUB_CACHE}, or {@code $HF_HOME/hub}, default {@code ~/.cache/huggingface/hub}
 */
public record HubCache(Path dir, Path torchCheckpoints, Path hfHub) {

    /** The caches named by this process's environment and home directory. */
    public static HubCache fromEnvironment() {
        return fromEnvironment(System.getenv(), Path.of(System.getProperty("user.home")));
    }

    /** The caches as torch.hub and huggingface_hub resolve them (XDG_CACHE_HOME honoured, "~" expanded). */
    public static HubCache fromEnvironment(Map<String, String> env, Path home) {
        Path cache = env(env, home, "XDG_CACHE_HOME");
        if (cache == null) cache = home.resolve(".cache");
        Path own = env(env, home, "DINO4J_HOME");
        Path torch = env(env, home, "TORCH_HOME");
        Path hf = env(env, home, "HF_HUB_CACHE");
        if (hf == null) hf = env(env, home, "HUGGINGFACE_HUB_CACHE");
        if (hf == null) {
            Path hfHome = env(env, home, "HF_HOME");
            hf = (hfHome != null ? hfHome : cache.resolve("huggingface")).resolve("hub");
        }
        return new HubCache((own != null ? own : cache.resolve("dino4j")).resolve("checkpoints"),
                (torch != null ? torch : cache.resolve("torch")).resolve("hub").resolve("checkpoints"), hf);
    }

    private static Path env(Map<String, String> env, Path home, String key) {
        String v = env.get(key);
        if (v == null || v.isBlank()) return null;
        if (v.equals("~")) return home;
        if (v.startsWith("~/")) return home.resolve(v.substring(2));
        return Path.of(v);
    }

    /** Where a download of {@code m} ends up. */
    public Path target(HubFile m) {
        return dir.resolve(m.fileName());
    }

    /** Where a download of {@code m} is written until it is complete and verified. */
    public Path partial(HubFile m) {
        return dir.resolve(m.fileName() + ".part");
    }

    /** Hugging Face's folder for the model's repository ({@code models--facebook--dinov2-small}). */
    public Path hfRepoDir(HubModel m) {
        return hfHub.resolve("models--" + m.hfRepo().replace("/", "--"));
    }

    /** The places {@link #find} looks, in order (for messages). */
    public List<Path> places(HubFile m) {
        Path torch = torchCheckpoints.resolve(m.fileName());
        return m instanceof HubModel b ? List.of(target(m), torch, hfRepoDir(b)) : List.of(target(m), torch);
    }

    /**
     * The file of {@code m} if a cache holds it: our file, else torch.hub's file, else (backbones only) a Hugging Face
     * snapshot directory with config.json and model.safetensors (the one refs/main names first, then the others by
     * name).
     */
    public Optional<Path> find(HubFile m) {
        for (Path p : List.of(target(m), torchCheckpoints.resolve(m.fileName())))
            if (Files.isRegularFile(p)) return Optional.of(p);
        return m instanceof HubModel b ? findHf(b) : Optional.empty();
    }

    private Optional<Path> findHf(HubModel m) {
        Path repo = hfRepoDir(m);
        Path snapshots = repo.resolve("snapshots");
        if (!Files.isDirectory(snapshots)) return Optional.empty();
        List<Path> candidates = new ArrayList<>();
        try {
            Path ref = repo.resolve("refs").resolve("main");
            if (Files.isRegularFile(ref)) {
                String rev = Files.readString(ref).strip();
                if (!rev.isEmpty() && !rev.contains("/") && !rev.contains("\\")) candidates.add(snapshots.resolve(rev));
            }
            try (Stream<Path> s = Files.list(snapshots)) {
                s.sorted().forEach(candidates::add);
            }
        } catch (IOException e) {
            return Optional.empty(); // an unreadable foreign cache is as good as none
        }
        for (Path snap : candidates)
            if (Files.isRegularFile(snap.resolve("config.json")) && Files.isRegularFile(snap.resolve("model.safetensors")))
                return Optional.of(snap);
        return Optional.empty();
    }
}
