package org.dino4j.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Collectors;

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
