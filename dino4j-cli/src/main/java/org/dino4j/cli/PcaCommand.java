package org.dino4j.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import org.dino4j.data.ImageDecoder;
import org.dino4j.data.ImageException;
import org.dino4j.data.RgbImage;
import org.dino4j.embed.FeatureExtractor;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.viz.FeaturePictures;
import org.dino4j.viz.PatchFeatures;
import org.dino4j.viz.Png;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "pca", mixinStandardHelpOptions = true,
        description = {"The paper's Figure 1: the patch features of images as colours, the background black.",
                "One PCA of the patch features of all given images; the first component, "
                + "min-max normalised, is thresholded into foreground and background (black); a second PCA of the foreground "
                + "patches gives R, G, B. Writes NAME_pca.png at each input's size (into --output DIR, or beside the input).",
                "Images that cannot be read are reported at the end (exit 1); the others are still drawn.",
                "With random or untrained weights the pictures are noise."})
final class PcaCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Parameters(arity = "1..*", paramLabel = "IMAGE", description = "JPEG, PNG, WebP, BMP or GIF files.")
    List<Path> images;

    @Option(names = "--output", paramLabel = "DIR", description = "Folder for the pictures (created if missing; default: beside each input).")
    Path output;

    @Option(names = "--resolution", paramLabel = "PX",
            description = "Shorter side fed to the model, each side then rounded to a multiple of the patch size; "
                    + "the whole image is used, not cropped. Default: "
                    + ModelOptions.DEFAULT_SIDE + "448.")
    Integer resolution;

    @Option(names = "--threshold", defaultValue = "0.5",
            description = "Patches whose normalised first component is below this are background (default: ${DEFAULT-VALUE}).")
    double threshold;

    @Option(names = "--flip", description = "Take the other side of the threshold as foreground (the component's sign is arbitrary).")
    boolean flip;

    @Option(names = "--upsample", defaultValue = "nearest", paramLabel = "nearest|bilinear",
            description = "Patch grid to pixels: flat patches or bilinear (default: ${DEFAULT-VALUE}).")
    String upsample;

    @picocli.CommandLine.Mixin
    DecodeOptions decode;

    @Override
    public Integer call() throws Exception {
        if (resolution != null && resolution < 1) throw new IllegalArgumentException("--resolution must be >= 1, got " + resolution);
        if (!(threshold >= 0 && threshold <= 1)) throw new IllegalArgumentException("--threshold must be in [0, 1], got " + threshold);
        FeaturePictures.Upsample up = switch (upsample.toLowerCase(java.util.Locale.ROOT)) {
            case "nearest" -> FeaturePictures.Upsample.NEAREST;
            case "bilinear" -> FeaturePictures.Upsample.BILINEAR;
            default -> throw new IllegalArgumentException("--upsample must be nearest or bilinear, got " + upsample);
        };
        if (output != null && Files.exists(output) && !Files.isDirectory(output))
            throw new IllegalArgumentException("--output " + output + ": exists and is not a folder");
        headless();
        JitWarmup warmup = JitWarmup.start(JitWarmup.backbone(JitWarmup.config(modelOptions), true));

        List<String> failures = new ArrayList<>();
        List<Path> files = new ArrayList<>(), targets = new ArrayList<>();
        List<RgbImage> decoded = new ArrayList<>();
        Map<Path, Path> taken = new HashMap<>();
        ImageDecoder decoder = decode.decoder();
        for (Path f : images) {
            Path target = (output != null ? output : f.toAbsolutePath().getParent()).resolve(baseName(f) + "_pca.png");
            Path before = taken.putIfAbsent(target.toAbsolutePath().normalize(), f);
            if (before != null) { // two inputs named alike would overwrite each other's picture
                failures.add(f + ": its picture " + target + " would overwrite that of " + before);
                continue;
            }
            try {
                decoded.add(decoder.decode(f));
                files.add(f);
                targets.add(target);
            } catch (ImageException e) {
                failures.add(e.getMessage());
            }
        }
        if (!decoded.isEmpty()) {
            try (DinoVisionTransformer model = modelOptions.load()) {
                warmup.await();
                List<PatchFeatures> feats = new ArrayList<>();
                long[] ms = new long[decoded.size()];
                int side = ModelOptions.picturesSide(resolution, model.config());
                for (int i = 0; i < decoded.size(); i++) {
                    long t0 = System.nanoTime();
                    feats.add(FeatureExtractor.patchFeatures(model, decoded.get(i), side));
                    ms[i] = (System.nanoTime() - t0) / 1_000_000;
                }
                List<FeaturePictures.PcaMap> maps = FeaturePictures.pca(feats, threshold, flip);
                for (int i = 0; i < maps.size(); i++) {
                    RgbImage im = decoded.get(i);
                    FeaturePictures.PcaMap m = maps.get(i);
                    Png.write(FeaturePictures.render(m, im.width(), im.height(), up), targets.get(i));
                    System.out.printf("%s -> %s (%dx%d; %dx%d patches, %d foreground; %d ms)%n", files.get(i), targets.get(i),
                            im.width(), im.height(), m.gridH(), m.gridW(), m.foregroundPatches(), ms[i]);
                }
            }
        }
        for (String f : failures) spec.commandLine().getErr().println("dino4j pca: error: " + f);
        spec.commandLine().getErr().flush();
        if (!failures.isEmpty())
            System.out.printf("%d picture(s) written, %d image(s) failed%n", decoded.size(), failures.size());
        return failures.isEmpty() ? 0 : 1;
    }

    /** The file name without its last extension: pictures are NAME_pca.png. */
    static String baseName(Path f) {
        String n = f.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot > 0 ? n.substring(0, dot) : n;
    }

    /** Drawing needs no display; without this a set but unusable DISPLAY would break AWT on a server. */
    static void headless() {
        if (System.getProperty("java.awt.headless") == null) System.setProperty("java.awt.headless", "true");
    }
}
