package org.dino4j.cli;

import java.util.List;

import org.dino4j.hub.HubCache;
import org.dino4j.hub.HubModel;
import org.dino4j.model.ModelConfig;

import picocli.CommandLine.Command;

@Command(name = "models", mixinStandardHelpOptions = true,
        description = {"Lists the hub backbone presets and where a cache holds them.",
                "Per model: its settings, parameters, approximate download size (fp32), official URL, and the cached file",
                "(- : not cached; `dino4j download NAME`)."})
final class ModelsCommand implements Runnable {
    @Override
    public void run() {
        List<HubModel> models = HubModel.all();
        HubCache cache = DownloadCommand.cache();
        int urlWidth = models.stream().mapToInt(m -> m.url().toString().length()).max().orElse(3);
        String row = "%-20s %5s %5s %5s %5s %-12s %4s %-10s %-6s %7s %8s  %-" + urlWidth + "s  %s%n";
        System.out.printf(row, "name", "dim", "depth", "heads", "img", "ffn", "reg", "antialias", "offset", "params",
                "size", "url", "cached");
        for (HubModel m : models) {
            ModelConfig c = m.config();
            System.out.printf(row, m.name(), c.embedDim(), c.depth(), c.numHeads(), c.imgSize(), c.ffnLayer(),
                    c.numRegisterTokens(), c.interpolateAntialias(), c.interpolateOffset(),
                    String.format(java.util.Locale.ROOT, "%.1fM", m.parameters() / 1e6), m.approxSize(), m.url(),
                    cache.find(m).map(Object::toString).orElse("-"));
        }
    }
}
