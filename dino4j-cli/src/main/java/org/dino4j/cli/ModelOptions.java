package org.dino4j.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Collectors;

import org.dino4j.data.Preprocess;
import org.dino4j.embed.Sides;
import org.dino4j.hub.HubCache;
import org.dino4j.hub.HubModel;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;
import org.dino4j.model.ModelConfig;

import picocli.CommandLine.Option;

/** --weights / --config / --model, shared by the commands that load a backbone. */
public final class ModelOptions {
    @Option(names = "--weights", paramLabel = "W",
            description = {"Weights: a .pth (hub or training checkpoint), a .safetensors, a Hugging Face model directory,",
                    "or a hub name (dinov2_vits14, ...) found in the caches (`dino4j download NAME`)."})
    Path weights;

    @Option(names = "--config", paramLabel = "C.json",
            description = "Model config JSON with the official constructor's argument names (embed_dim, depth, num_heads, ...).")
    Path config;

    @Option(names = "--model", paramLabel = "NAME",
            description = "A hub preset: dinov2_vits14, dinov2_vitb14, dinov2_vitl14, dinov2_vitg14, each also _reg.")
    String model;

    @Option(names = "--random-weights", paramLabel = "SEED",
            description = "No checkpoint: random weights from this seed (needs --model or --config). For measuring speed and trying pipelines; the features mean nothing.")
    Long randomSeed;


    /** Help text for the default input side of the commands that take one. */
    static final String DEFAULT_SIDE = "the model's img_size (from the weights' metadata or config, or their pos_embed: "
            + "a model exported from a 28-px run gets 28) unless it is the hub backbones' 518, then ";

    /** The model's own input side: its img_size, or null for the hub backbones (img_size 518, used at smaller sides). */
    static Integer ownSide(ModelConfig cfg) {
        return Sides.ownSide(cfg);
    }

    /**
     * A model input side must be a whole number of patches: else every image fails on its own. An option error
     * (exit 2) before anything is written.
     */
    static void checkSide(picocli.CommandLine.Model.CommandSpec spec, String option, int side, ModelConfig cfg) {
        int p = cfg.patchSize();
        if (side > 0 && side % p != 0)
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), String.format(java.util.Locale.ROOT,
                    "%s %d: not a multiple of the model's patch size %d (try %d or %d)", option, side, p, Math.max(p, side / p * p), (side / p + 1) * p));
    }

    /**
     * The eval transform (resize the shorter side, centre crop, pad) for a model: side (null: the model's own, or 224)
     * with its shorter side resized to side·8/7 (256 for 224) - at the model's own side to the side itself, nothing
     * cut; resize and crop, when given, override.
     */
    static Preprocess transform(picocli.CommandLine.Model.CommandSpec spec, ModelConfig cfg, Integer side, String sideOption,
                                Integer resize, Integer crop, int pad) {
        Integer own = ownSide(cfg);
        int s = side != null ? side : own != null ? own : 224;
        int c = crop != null ? crop : s;
        if (pad == 0) checkSide(spec, crop != null ? "--crop" : sideOption, c, cfg);
        int r = resize != null ? resize : side == null && own != null ? own : Math.round(s * 8f / 7f);
        return new Preprocess(r, c, pad);
    }

    /** The pictures' side: resolution, or the model's own, or 448 for the hub backbones. */
    static int picturesSide(Integer resolution, ModelConfig cfg) {
        return resolution != null ? resolution : Sides.picturesSide(cfg);
    }

    ModelConfig configOrNull() {
        if (config != null && model != null) throw new IllegalArgumentException("give --config or --model, not both");
        if (config != null) return ModelConfig.read(config);
        if (model != null) return ModelConfig.preset(model);
        return null;
    }

    /** The weights path: --weights itself, or for a hub name that is no file here, the cached download. */
    Path resolveWeights() {
        Path wt = weightsOrModel();
        String name = wt.toString();
        if (Files.exists(wt) || !HubModel.isHubName(name)) return wt;
        HubModel m = HubModel.of(name);
        HubCache cache = DownloadCommand.cache();
        return cache.find(m).orElseThrow(() -> new IllegalArgumentException("--weights " + name
                + ": no such file, and no cache holds it (looked in "
                + cache.places(m).stream().map(Path::toString).collect(Collectors.joining(", "))
                + "); run `dino4j download " + name + "`"));
    }

    /** The hub backbone named by --model or --weights, or null: the released heads belong to one. */
    String hubName() {
        if (model != null && HubModel.isHubName(model)) return model;
        if (weights != null && HubModel.isHubName(weights.toString()) && !Files.exists(weights)) return weights.toString();
        return null;
    }

    /** --weights, or without it the --model hub name (then looked up in the caches). */
    private Path weightsOrModel() {
        if (weights != null) return weights;
        if (model != null && HubModel.isHubName(model)) return Path.of(model);
        throw new IllegalArgumentException("--weights is required (or --model NAME of a downloaded hub model)");
    }

    /** Loads the weights (required); a hub name brings its preset unless --config/--model or an HF config.json says otherwise. */
    DinoVisionTransformer load() {
        if (randomSeed != null) {
            if (weights != null) throw new IllegalArgumentException("give --weights or --random-weights, not both");
            ModelConfig cfg = configOrNull();
            if (cfg == null) throw new IllegalArgumentException("--random-weights needs --model or --config");
            System.err.println("note: random weights (seed " + randomSeed + "): the outputs are not features of any trained model");
            return Dinov2.random(cfg, randomSeed);
        }
        Path w = resolveWeights();
        ModelConfig cfg = configOrNull();
        Path asked = weightsOrModel();
        if (cfg == null && !w.equals(asked) && !Files.isDirectory(w)) cfg = ModelConfig.preset(asked.toString());
        return Dinov2.load(w, cfg);
    }
}
