package org.dino4j.cli;

import java.util.List;
import java.util.Locale;

import org.dino4j.hub.HubCache;
import org.dino4j.hub.HubHead;
import org.dino4j.hub.HubModel;
import org.dino4j.model.ModelConfig;

import picocli.CommandLine.Command;

@Command(name = "models", mixinStandardHelpOptions = true,
        description = {"Lists the hub backbone presets, then the heads Meta released for them, and where a cache holds each.",
                "Per backbone: its settings, parameters, approximate download size (fp32), official URL, and the cached file.",
                "Per head: its backbone, task, training data, variant, size (classifiers; '?' where unpublished), URL, cached file",
                "(- : not cached; `dino4j download NAME` fetches either kind)."})
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
                    String.format(Locale.ROOT, "%.1fM", m.parameters() / 1e6), m.approxSize(), m.url(),
                    cache.find(m).map(Object::toString).orElse("-"));
        }
        System.out.println();
        List<HubHead> heads = HubHead.all();
        int nameWidth = heads.stream().mapToInt(h -> h.name().length()).max().orElse(4);
        int headUrlWidth = heads.stream().mapToInt(h -> h.url().toString().length()).max().orElse(3);
        String hrow = "%-" + nameWidth + "s %-18s %-14s %-10s %-7s %6s  %-" + headUrlWidth + "s  %s%n";
        System.out.printf(hrow, "head", "backbone", "task", "data", "variant", "size", "url", "cached");
        for (HubHead h : heads) {
            String cached = cache.find(h).map(Object::toString).orElse("-");
            if (h.config() != null && !cached.equals("-") && cache.find(h.config()).isEmpty()) cached += " (config not cached)";
            System.out.printf(hrow, h.name(), h.backbone(), h.kind().task, h.dataset(), h.variant(), h.approxSize(), h.url(), cached);
        }
    }
}
