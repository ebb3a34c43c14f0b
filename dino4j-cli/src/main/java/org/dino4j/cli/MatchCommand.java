package org.dino4j.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import org.dino4j.data.ImageDecoder;
import org.dino4j.data.RgbImage;
import org.dino4j.embed.FeatureExtractor;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.viz.PatchFeatures;
import org.dino4j.viz.PatchMatch;
import org.dino4j.viz.Png;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "match", mixinStandardHelpOptions = true,
        description = {"The paper's Figure 10: the matching patches of two images joined by lines.",
                "Mutual nearest neighbours (cosine similarity) between the patch features "
                + "of two images; the strongest are drawn as lines between the two images, side by side at the same height.",
                "With random or untrained weights the matches are noise."})
final class MatchCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Parameters(index = "0", paramLabel = "A", description = "First image.")
    Path a;

    @Parameters(index = "1", paramLabel = "B", description = "Second image.")
    Path b;

    @Option(names = "--output", required = true, paramLabel = "match.png",
            description = "The picture (PNG, written atomically): the two images side by side at the same height, at most " + MAX_SIDE + " px wide unless --full-size.")
    Path output;

    @Option(names = "--top", defaultValue = "30", paramLabel = "K",
            description = "Draw the K most similar mutual matches; 0 = all (default: ${DEFAULT-VALUE}).")
    int top;

    @Option(names = "--resolution", paramLabel = "PX",
            description = "Shorter side fed to the model, each side then rounded to a multiple of the patch size. Default: "
                    + ModelOptions.DEFAULT_SIDE + "448.")
    Integer resolution;

    @Option(names = "--full-size", description = "Keep both images at the taller one's full height; by default the picture is "
            + "scaled down to at most " + MAX_SIDE + " px on its longer side.")
    boolean fullSize;

    static final int MAX_SIDE = 2048;

    @picocli.CommandLine.Mixin
    DecodeOptions decode;

    @Override
    public Integer call() throws Exception {
        if (resolution != null && resolution < 1) throw new IllegalArgumentException("--resolution must be >= 1, got " + resolution);
        if (top < 0) throw new IllegalArgumentException("--top must be >= 0, got " + top);
        PcaCommand.headless();
        JitWarmup warmup = JitWarmup.start(JitWarmup.backbone(JitWarmup.config(modelOptions), true));
        ImageDecoder decoder = decode.decoder();
        RgbImage ia = decoder.decode(a), ib = decoder.decode(b); // bad images fail before the model is loaded
        try (DinoVisionTransformer model = modelOptions.load()) {
            int side = ModelOptions.picturesSide(resolution, model.config());
            warmup.await();
            PatchFeatures fa = FeatureExtractor.patchFeatures(model, ia, side), fb = FeatureExtractor.patchFeatures(model, ib, side);
            List<PatchMatch.Match> all = PatchMatch.mutualNearest(fa, fb), drawn = PatchMatch.top(all, top);
            java.awt.image.BufferedImage picture = PatchMatch.draw(ia, fa, ib, fb, drawn, fullSize ? 0 : MAX_SIDE);
            Png.write(picture, output);
            System.out.printf("%s (%d x %d patches) - %s (%d x %d patches): %d mutual matches, %d drawn -> %s (%d x %d)%n",
                    a, fa.gridH(), fa.gridW(), b, fb.gridH(), fb.gridW(), all.size(), drawn.size(), output, picture.getWidth(), picture.getHeight());
        }
        return 0;
    }
}
