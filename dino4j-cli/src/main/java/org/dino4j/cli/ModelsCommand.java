package org.dino4j.cli;

import org.dino4j.model.ModelConfig;

import picocli.CommandLine.Command;

@Command(name = "models", mixinStandardHelpOptions = true, description = "Lists the hub backbone presets and their settings.")
final class ModelsCommand implements Runnable {
    @Override
    public void run() {
        System.out.printf("%-20s %5s %5s %5s %5s %-12s %4s %-10s %s%n", "name", "dim", "depth", "heads", "img",
                "ffn", "reg", "antialias", "offset");
        for (String n : ModelConfig.HUB_NAMES) {
            ModelConfig c = ModelConfig.preset(n);
            System.out.printf("%-20s %5d %5d %5d %5d %-12s %4d %-10s %s%n", n, c.embedDim(), c.depth(), c.numHeads(),
                    c.imgSize(), c.ffnLayer(), c.numRegisterTokens(), c.interpolateAntialias(), c.interpolateOffset());
        }
    }
}
