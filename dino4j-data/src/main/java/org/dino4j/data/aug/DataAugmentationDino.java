package org.dino4j.data.aug;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.dino4j.data.Preprocess;
import org.dino4j.data.RgbImage;

/**
 * The official DataAugmentationDINO (dinov2/data/augmentations.py): two global crops (RandomResizedCrop, scale
 * 0.32-1, bicubic; flip 0.5; colour jitter 0.4/0.4/0.2/0.1 with p 0.8 in a random order; grayscale p 0.2; blur;
 * solarize p 0.2 on the second) and {@code localCrops} local crops (scale 0.05-0.32; flip; jitter; blur), each
 * normalised with the ImageNet mean/std. Blur probabilities: by default those the released models were trained with
 * (first global crop never, second 0.9, locals 0.5: the official GaussianBlur helper passes 1 - p to RandomApply); with
 * {@code paperBlur} the intended ones (1.0, 0.1, 0.5). Every op is pixel-exact to torchvision on PIL ({@link PilOps});
 * the random draws come from the caller's generator, not PyTorch's, so the crops differ from a PyTorch run's.
 */
public final class DataAugmentationDino {
    public record Config(double globalScaleMin, double globalScaleMax, double localScaleMin, double localScaleMax,
                         int localCrops, int globalSize, int localSize, boolean paperBlur) {
        /** The official defaults with 98-px local crops (vitl14/vitg14 configs: patch 14). */
        public static Config defaults() {
            return new Config(0.32, 1.0, 0.05, 0.32, 8, 224, 98, false);
        }

        /** Small images, e.g. 28-px Fashion-MNIST with patch 4: global 28, local 12 (3 x 4). */
        public static Config small(int globalSize, int localSize) {
            return new Config(0.32, 1.0, 0.05, 0.32, 8, globalSize, localSize, false);
        }
    }

    /** What was drawn for one crop (for tests and debugging). */
    public record Trace(int top, int left, int height, int width, boolean flipped, boolean jittered, int[] jitterOrder,
                        double brightness, double contrast, double saturation, double hue, boolean gray, boolean blurred,
                        double sigma, boolean solarized) {}

    /** Normalised crops, channels first: 2 global (globalSize^2) and localCrops local (localSize^2). */
    public record Crops(List<float[]> global, List<float[]> local, List<Trace> traces) {}

    private final Config cfg;

    public DataAugmentationDino(Config cfg) {
        this.cfg = cfg;
    }

    public Crops apply(RgbImage img, SplittableRandom rng) {
        List<float[]> global = new ArrayList<>(), local = new ArrayList<>();
        List<Trace> traces = new ArrayList<>();
        double blurG1 = cfg.paperBlur() ? 1.0 : 0.0, blurG2 = cfg.paperBlur() ? 0.1 : 0.9, blurL = 0.5;
        global.add(crop(img, rng, cfg.globalSize(), cfg.globalScaleMin(), cfg.globalScaleMax(), blurG1, 0.0, traces));
        global.add(crop(img, rng, cfg.globalSize(), cfg.globalScaleMin(), cfg.globalScaleMax(), blurG2, 0.2, traces));
        for (int i = 0; i < cfg.localCrops(); i++)
            local.add(crop(img, rng, cfg.localSize(), cfg.localScaleMin(), cfg.localScaleMax(), blurL, 0.0, traces));
        return new Crops(global, local, traces);
    }

    private static float[] crop(RgbImage img, SplittableRandom rng, int size, double smin, double smax, double pBlur,
                                double pSolarize, List<Trace> traces) {
        int[] box = resizedCropParams(img.width(), img.height(), smin, smax, rng);
        RgbImage x = PilOps.resizedCrop(img, box[0], box[1], box[2], box[3], size, size);
        boolean flip = rng.nextDouble() < 0.5;
        if (flip) x = PilOps.hflip(x);
        boolean jitter = rng.nextDouble() < 0.8; // RandomApply(ColorJitter, p=0.8)
        int[] order = {0, 1, 2, 3};
        double b = 1, c = 1, s = 1, h = 0;
        if (jitter) {
            for (int i = 3; i > 0; i--) { // randperm(4)
                int j = rng.nextInt(i + 1), t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            b = uniform(rng, 0.6, 1.4);
            c = uniform(rng, 0.6, 1.4);
            s = uniform(rng, 0.8, 1.2);
            h = uniform(rng, -0.1, 0.1);
            for (int op : order) {
                x = switch (op) {
                    case 0 -> PilOps.brightness(x, b);
                    case 1 -> PilOps.contrast(x, c);
                    case 2 -> PilOps.saturation(x, s);
                    default -> PilOps.hue(x, h);
                };
            }
        }
        boolean gray = rng.nextDouble() < 0.2;
        if (gray) x = PilOps.grayscale(x);
        boolean blur = rng.nextDouble() < pBlur;
        double sigma = 0;
        if (blur) x = PilOps.gaussianBlur(x, sigma = uniform(rng, 0.1, 2.0));
        boolean sol = pSolarize > 0 && rng.nextDouble() < pSolarize;
        if (sol) x = PilOps.solarize(x, 128);
        traces.add(new Trace(box[0], box[1], box[2], box[3], flip, jitter, order, b, c, s, h, gray, blur, sigma, sol));
        return new Preprocess(0, 0, 0).chw(x);
    }

    /**
     * RandomResizedCrop.get_params (torchvision): up to 10 tries of area ~ U(scale) * H * W and a log-uniform aspect
     * ratio in [3/4, 4/3], w = round(sqrt(A r)), h = round(sqrt(A / r)) (half-to-even), kept if it fits; else the
     * centre crop clamped to the ratio range. Returns {top, left, height, width}.
     */
    public static int[] resizedCropParams(int width, int height, double smin, double smax, SplittableRandom rng) {
        double area = (double) height * width, lr0 = Math.log(3.0 / 4), lr1 = Math.log(4.0 / 3);
        for (int attempt = 0; attempt < 10; attempt++) {
            double target = area * uniform(rng, smin, smax), ratio = Math.exp(uniform(rng, lr0, lr1));
            int w = (int) Math.rint(Math.sqrt(target * ratio)), h = (int) Math.rint(Math.sqrt(target / ratio));
            if (w > 0 && w <= width && h > 0 && h <= height)
                return new int[] {rng.nextInt(height - h + 1), rng.nextInt(width - w + 1), h, w};
        }
        double in = (double) width / height;
        int w, h;
        if (in < 3.0 / 4) {
            w = width;
            h = (int) Math.rint(w / (3.0 / 4));
        } else if (in > 4.0 / 3) {
            h = height;
            w = (int) Math.rint(h * (4.0 / 3));
        } else {
            w = width;
            h = height;
        }
        return new int[] {(height - h) / 2, (width - w) / 2, h, w};
    }

    private static double uniform(SplittableRandom rng, double a, double b) {
        return a + (b - a) * rng.nextDouble();
    }
}
