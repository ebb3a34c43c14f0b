package org.dino4j.cli;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import javax.imageio.ImageIO;
import javax.imageio.stream.MemoryCacheImageOutputStream;

import org.dino4j.data.Preprocess;
import org.dino4j.data.RgbImage;
import org.dino4j.heads.Classifier;
import org.dino4j.heads.Depther;
import org.dino4j.heads.HeadWeights;
import org.dino4j.heads.RandomHeads;
import org.dino4j.heads.Segmenter;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.ModelConfig;
import org.dino4j.model.Warmup;
import org.dino4j.tensor.Tensor;
import org.dino4j.viz.Caption;
import org.dino4j.viz.DepthPictures;
import org.dino4j.viz.Png;
import org.dino4j.viz.SegmentationPictures;

/**
 * The JIT warm-up of the one-shot inference commands: a miniature of the command's pipeline ({@link Warmup}: backbone,
 * head, preprocessing, pictures encoded into memory) on a thread of its own while the model loads and the first image
 * decodes, awaited before the first real forward (it uses the compute pool, which the real forward must not find busy).
 * A one-photo depth call (ViT-S/14 + DPT, 518 x 777, 2 cores) took 6.02 s before, 4.24 s with it (and the launcher's
 * -XX:Tier3DelayOn, without which C1 does not profile while C2 is busy and the warm-up loses most of its point), a warm
 * one ~3.7 s; the whole process 7.62 s before, 6.49 s with it (medians of 5 alternating runs, 2026-12-07; segment,
 * classify and embed in the launcher). Three passes: with two the call took 4.03 s, with three 3.81 s, in one session.
 * Off with {@code -Ddino4j.warmup=false}. A failure in it is ignored: the real call then compiles as it would have.
 */
final class JitWarmup {
    /** The system property that turns it off ({@code false}), for A/B measurements. */
    static final String PROPERTY = "dino4j.warmup";
    /** Passes over the miniature: the first runs mostly interpreted, later ones meet C2's code and its traps. */
    static final int PASSES = 3;
    /** DPT channels of the miniature head: above Conv2d's 64, so both of its stride-1 paths run, as at 256. */
    static final int DPT_CHANNELS = 72;

    private final Thread thread;

    private JitWarmup(Thread thread) {
        this.thread = thread;
    }

    /** Starts {@code work} on a daemon thread, or nothing when turned off. */
    static JitWarmup start(Runnable work) {
        if (!enabled()) return new JitWarmup(null);
        PcaCommand.headless(); // before the pictures' AWT classes load, as the commands set it
        Thread t = new Thread(() -> {
            try {
                work.run();
            } catch (Throwable e) { // never the run's problem
                if (System.getenv("DINO4J_DEBUG") != null) e.printStackTrace();
            }
        }, "dino4j-warmup");
        t.setDaemon(true);
        t.start();
        return new JitWarmup(t);
    }

    static boolean enabled() {
        return !"false".equalsIgnoreCase(System.getProperty(PROPERTY, "true").trim());
    }

    /** Waits for the warm-up to end (at once when there is none, or it has ended). */
    void await() {
        if (thread == null) return;
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }

    /** The model options' config when they name one (preset or --config), else ViT-S/14's: what the miniature copies. */
    static ModelConfig config(ModelOptions m) {
        try {
            ModelConfig c = m.configOrNull();
            if (c != null) return c;
            String hub = m.hubName();
            if (hub != null) return ModelConfig.preset(hub);
        } catch (RuntimeException e) { // the real load reports it
        }
        return ModelConfig.preset("dinov2_vits14");
    }

    /** The backbone alone (embed, search, pca, match), an eval transform and, for commands that write them, a picture. */
    static Runnable backbone(ModelConfig cfg, boolean pictures) {
        return () -> {
            DinoVisionTransformer mini = Warmup.miniature(cfg);
            for (int i = 0; i < PASSES; i++) {
                new Preprocess(32, 28, 0).apply(image());
                Warmup.backbone(mini, 1);
            }
            if (pictures) png(Png.toBufferedImage(image()));
        };
    }

    /** depth: the backbone, then the command's preprocessing and a miniature head of the kind given ("dpt", "linear", "linear4"). */
    static Runnable depth(ModelConfig cfg, String kind) {
        return () -> {
            DinoVisionTransformer mini = Warmup.miniature(cfg);
            int d = mini.embedDim();
            Depther depther;
            try (HeadWeights w = kind.equals("dpt") ? RandomHeads.dpt(d, DPT_CHANNELS, 0)
                    : RandomHeads.linearDepth(d, kind.equals("linear4") ? 4 : 1, 0)) {
                depther = Depther.of(mini, w, Depther.Dataset.NYU);
            }
            Preprocess pre = new Preprocess(28, 0, 0);
            RgbImage im = image();
            for (int i = 0; i < PASSES; i++) {
                Warmup.backbone(mini, 1);
                Tensor m = depther.depth(pre.apply(im));
                if (i == 0) {
                    png(DepthPictures.withScaleBar(m.data(), m.size(3), m.size(2)));
                    png(DepthPictures.millimetres(m.data(), m.size(3), m.size(2)));
                }
            }
        };
    }

    /** segment: the backbone, then sliding windows (and for "ms" two scales and a flip) through a miniature head. */
    static Runnable segment(ModelConfig cfg, boolean ms, int classes) {
        return () -> {
            DinoVisionTransformer mini = Warmup.miniature(cfg);
            Segmenter seg;
            try (HeadWeights w = RandomHeads.segmentation(mini.embedDim(), ms ? 4 : 1, classes, 0)) {
                seg = Segmenter.of(mini, w, classes, "", null);
            }
            var test = new Segmenter.TestConfig(99999999, 42, ms ? new double[] {1.0, 1.32} : new double[] {1.0}, ms, 42, 28);
            RgbImage im = image();
            for (int i = 0; i < PASSES; i++) {
                Warmup.backbone(mini, 1);
                int[] l = seg.segment(im, test).labels();
                if (i == 0) {
                    var palette = classes == Segmenter.Dataset.VOC2012.classes ? SegmentationPictures.Palette.VOC2012 : SegmentationPictures.Palette.ADE20K;
                    png(SegmentationPictures.mask(l, im.width(), im.height(), palette));
                    png(SegmentationPictures.overlay(im, l, palette, 0.5));
                    png(SegmentationPictures.classIndex(l, im.width(), im.height()));
                    png(SegmentationPictures.legend(SegmentationPictures.present(l, palette), palette, 20));
                }
            }
        };
    }

    /** classify: the backbone and an eval transform, then a miniature linear head on 1 or 4 blocks (1000 classes). */
    static Runnable classify(ModelConfig cfg, int layers, boolean pictures) {
        return () -> {
            DinoVisionTransformer mini = Warmup.miniature(cfg);
            Classifier c;
            try (HeadWeights w = RandomHeads.classifier(mini.embedDim(), layers, 1000, 0)) {
                c = Classifier.of(mini, w, (List<String>) null);
            }
            int p = cfg.patchSize();
            for (int i = 0; i < PASSES; i++) {
                new Preprocess(32, 28, 0).apply(image());
                Warmup.backbone(mini, 1);
                c.classify(Warmup.pattern(1, cfg.inChans(), 6 * p, 12 * p), 5);
            }
            if (pictures) png(Caption.draw(image(), Caption.topK(List.of("a", "b"), new double[] {0.6, 0.4}, 2)));
        };
    }

    /**
     * The picture encoded as PNG into memory (no temporary file, no ImageIO setting changed): the first PNGs of a run
     * load and compile ImageIO's writer and the font code. The two pictures of a one-photo depth run took 0.42 s after
     * the call, 0.31 s with this (2026-12-07).
     */
    static void png(BufferedImage image) {
        try (var out = new MemoryCacheImageOutputStream(new ByteArrayOutputStream())) {
            ImageIO.write(image, "png", out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A 40 x 30 photo-like image (nothing about its content matters). */
    static RgbImage image() {
        byte[] rgb = new byte[40 * 30 * 3];
        for (int i = 0; i < rgb.length; i++) rgb[i] = (byte) (i * 37 % 251);
        return new RgbImage(40, 30, rgb);
    }
}
