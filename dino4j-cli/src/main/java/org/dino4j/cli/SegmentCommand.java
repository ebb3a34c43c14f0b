package org.dino4j.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

import org.dino4j.data.RgbImage;
import org.dino4j.heads.HeadWeights;
import org.dino4j.heads.RandomHeads;
import org.dino4j.heads.Segmenter;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.viz.Png;
import org.dino4j.viz.SegmentationPictures;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "segment", mixinStandardHelpOptions = true,
        description = {"Semantic segmentation of photos (ADE20K or VOC2012 classes), with Meta's released heads.",
                "The heads (dinov2_vit*14_{ade20k,voc2012}_{linear,ms}_head.pth) run as the official notebook runs them through mmseg: linear heads on the last block, 512-px windows every 341 px, "
                + "short side 512 (ADE20K) or within 2048 x 512 (VOC2012); ms heads on the last four blocks, short side 640 times "
                + "1, 1.32, 1.73, 2.28, 3 and each flipped, 640-px windows every 320 px, probabilities averaged.",
                "Writes, at the photo's size: NAME_seg.png (the official colour map), NAME_overlay.png (on the photo), "
                + "NAME_classes.png (8-bit, pixel = class index) and NAME_legend.png (the classes present).",
                "Images that cannot be read are reported at the end (exit 1); the others are still done."})
final class SegmentCommand extends HeadCommand implements Callable<Integer> {
    @Option(names = "--dataset", defaultValue = "ade20k", paramLabel = "ade20k|voc2012",
            description = "The head's dataset: its classes, colours and test scale (default: ${DEFAULT-VALUE}).")
    String dataset;

    @Option(names = "--head", defaultValue = "linear", paramLabel = "linear|ms",
            description = "Which released head the file is: 1 block (linear) or 4 with multi-scale + flip inference (ms) (default: ${DEFAULT-VALUE}).")
    String head;

    @Option(names = "--scales", defaultValue = "5", paramLabel = "N",
            description = "ms heads: how many of the five scales to run (the notebook's HEAD_SCALE_COUNT; fewer is faster; default: ${DEFAULT-VALUE}).")
    int scales;

    @Option(names = "--alpha", defaultValue = "0.5", description = "Opacity of the colours on the overlay (default: ${DEFAULT-VALUE}).")
    double alpha;

    @Option(names = "--output", paramLabel = "DIR", description = "Folder for the outputs (created if missing; default: beside each input).")
    Path output;

    @Override
    public Integer call() throws Exception {
        Segmenter.Dataset ds = switch (dataset.toLowerCase(Locale.ROOT)) {
            case "ade20k" -> Segmenter.Dataset.ADE20K;
            case "voc2012", "voc" -> Segmenter.Dataset.VOC2012;
            default -> throw new IllegalArgumentException("--dataset must be ade20k or voc2012, got " + dataset);
        };
        String kind = head.toLowerCase(Locale.ROOT);
        if (!kind.equals("linear") && !kind.equals("ms")) throw new IllegalArgumentException("--head must be linear or ms, got " + head);
        if (!(alpha >= 0 && alpha <= 1)) throw new IllegalArgumentException("--alpha must be in [0, 1], got " + alpha);
        Segmenter.TestConfig cfg = kind.equals("ms") ? Segmenter.TestConfig.ms(scales) : Segmenter.TestConfig.linear(ds);
        SegmentationPictures.Palette palette = ds == Segmenter.Dataset.ADE20K ? SegmentationPictures.Palette.ADE20K : SegmentationPictures.Palette.VOC2012;
        threads.apply();
        warmup = JitWarmup.start(JitWarmup.segment(JitWarmup.config(modelOptions), kind.equals("ms"), ds.classes));
        try (DinoVisionTransformer model = modelOptions.load()) {
            Segmenter seg;
            String hub = modelOptions.hubName();
            String released = hub == null ? null : hub + "_" + ds.name().toLowerCase(Locale.ROOT) + "_" + kind;
            try (HeadWeights w = headOptions.open("segmentation head",
                    seed -> RandomHeads.segmentation(model.embedDim(), kind.equals("ms") ? 4 : 1, ds.classes, seed), released)) {
                seg = Segmenter.of(model, w, ds.classes, ds.name(), null);
            }
            if ((seg.layers() == 4) != kind.equals("ms"))
                throw new IllegalArgumentException("--head " + kind + ", but " + headOptions.describe() + " reads " + seg.layers() + " block(s): it is "
                        + (seg.layers() == 4 ? "an ms" : "a linear") + " head");
            return PhotoJobs.run(spec, "segment", images, output, decode.decoder(), (s, im, base) -> write(seg, cfg, palette, im, base));
        }
    }

    /** The JIT warm-up started with the command, awaited before the first image. */
    private JitWarmup warmup;

    private String write(Segmenter seg, Segmenter.TestConfig cfg, SegmentationPictures.Palette palette, RgbImage im, String base)
            throws java.io.IOException {
        warmup.await();
        long t0 = System.nanoTime();
        Segmenter.Segmentation s = seg.segment(im, cfg);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        int w = s.width(), h = s.height();
        Png.write(SegmentationPictures.mask(s.labels(), w, h, palette), Path.of(base + "_seg.png"));
        Png.write(SegmentationPictures.overlay(im, s.labels(), palette, alpha), Path.of(base + "_overlay.png"));
        Png.write(SegmentationPictures.classIndex(s.labels(), w, h), Path.of(base + "_classes.png"));
        List<SegmentationPictures.Present> present = SegmentationPictures.present(s.labels(), palette);
        Png.write(SegmentationPictures.legend(present, palette, 20), Path.of(base + "_legend.png"));
        String top = present.stream().limit(3).map(p -> String.format(Locale.ROOT, "%s %.0f%%", p.name(), 100 * p.fraction()))
                .collect(Collectors.joining(", "));
        return String.format(Locale.ROOT, "%dx%d -> %s_{seg,overlay,classes,legend}.png; %s; %d ms", w, h, base, top, ms);
    }
}
