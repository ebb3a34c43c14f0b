package org.dino4j.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.dino4j.data.Preprocess;
import org.dino4j.data.RgbImage;
import org.dino4j.heads.Depther;
import org.dino4j.heads.HeadWeights;
import org.dino4j.heads.RandomHeads;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.nn.Resize;
import org.dino4j.tensor.Tensor;
import org.dino4j.viz.DepthPictures;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "depth", mixinStandardHelpOptions = true,
        description = {"Depth in metres from one photo or many, with Meta's released depth heads (dinov2_vit*14_ld / _dd).",
                "Each image's shorter side is resized to --resolution (bicubic), centre-padded to the patch size, and the "
                + "head's map resized back to the photo's own size. Writes NAME_depth.png (colour map, near bright, with a scale "
                + "bar in metres) and the metres as NAME_depth_mm.png (16-bit, millimetres) and/or NAME_depth.npy (float32).",
                "Images that cannot be read are reported at the end (exit 1); the others are still done."})
final class DepthCommand extends HeadCommand implements Callable<Integer> {
    @Option(names = "--head", defaultValue = "dpt", paramLabel = "linear|linear4|dpt",
            description = "Which released head the file is (checked against its keys; default: ${DEFAULT-VALUE}).")
    String head;

    @Option(names = "--dataset", defaultValue = "nyu", paramLabel = "nyu|kitti",
            description = "What the head was trained on: the DPT head's range is 0.001-10 m (NYU) or 0.001-80 m (KITTI); "
                    + "the linear heads stop at 80 m either way, as Meta's factory sets them (default: ${DEFAULT-VALUE}).")
    String dataset;

    @Option(names = "--resolution", defaultValue = "518", paramLabel = "PX",
            description = "Shorter side fed to the model; 0 keeps the photo's size (default: ${DEFAULT-VALUE}).")
    int resolution;

    @Option(names = "--raw", defaultValue = "png16", paramLabel = "png16|npy|both",
            description = "How the metres are written beside the picture (default: ${DEFAULT-VALUE}).")
    String raw;

    @Option(names = "--output", paramLabel = "DIR", description = "Folder for the outputs (created if missing; default: beside each input).")
    Path output;

    @Override
    public Integer call() throws Exception {
        String kind = head.toLowerCase(Locale.ROOT);
        if (!List.of("linear", "linear4", "dpt").contains(kind)) throw new IllegalArgumentException("--head must be linear, linear4 or dpt, got " + head);
        Depther.Dataset ds = switch (dataset.toLowerCase(Locale.ROOT)) {
            case "nyu" -> Depther.Dataset.NYU;
            case "kitti" -> Depther.Dataset.KITTI;
            default -> throw new IllegalArgumentException("--dataset must be nyu or kitti, got " + dataset);
        };
        if (!List.of("png16", "npy", "both").contains(raw)) throw new IllegalArgumentException("--raw must be png16, npy or both, got " + raw);
        if (resolution < 0) throw new IllegalArgumentException("--resolution must be >= 0, got " + resolution);
        threads.apply();
        warmup = JitWarmup.start(JitWarmup.depth(JitWarmup.config(modelOptions), kind));
        if (headOptions.huggingFaceDir()) { // a DPTForDepthEstimation directory brings its own backbone
            Depther depther = Depther.loadHuggingFace(headOptions.file, org.dino4j.heads.Semantics.META, ds);
            try (DinoVisionTransformer model = depther.backbone()) {
                Preprocess pre = new Preprocess(resolution, 0, 0);
                return PhotoJobs.run(spec, "depth", images, output, decode.decoder(), (s, im, base) -> write(depther, pre, im, base));
            }
        }
        try (DinoVisionTransformer model = modelOptions.load()) {
            int d = model.embedDim();
            Depther depther;
            String hub = modelOptions.hubName();
            String released = hub == null ? null : hub + "_" + ds.name().toLowerCase(Locale.ROOT) + "_" + kind;
            try (HeadWeights w = headOptions.open("depth head", seed -> kind.equals("dpt") ? RandomHeads.dpt(d, 256, seed)
                    : RandomHeads.linearDepth(d, kind.equals("linear4") ? 4 : 1, seed), released)) {
                depther = Depther.of(model, w, ds);
            }
            if (!depther.kind().equals(kind))
                throw new IllegalArgumentException("--head " + kind + ", but " + headOptions.describe() + " is a " + depther.kind() + " head");
            Preprocess pre = new Preprocess(resolution, 0, 0);
            return PhotoJobs.run(spec, "depth", images, output, decode.decoder(), (s, im, base) -> write(depther, pre, im, base));
        }
    }

    /** The JIT warm-up started with the command, awaited before the first image. */
    private JitWarmup warmup;

    private String write(Depther depther, Preprocess pre, RgbImage im, String base) throws java.io.IOException {
        warmup.await();
        long t0 = System.nanoTime();
        Tensor x = pre.apply(im);
        Tensor d = depther.depth(x);
        int h = d.size(2), w = d.size(3), W = im.width(), H = im.height();
        float[] m = h == H && w == W ? d.data() : Resize.bilinear(d.data(), h, w, 1, H, W, false);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        Path png = Path.of(base + "_depth.png");
        DepthPictures.writeColour(png, m, W, H);
        StringBuilder files = new StringBuilder(png.toString());
        if (!raw.equals("npy")) {
            Path mm = Path.of(base + "_depth_mm.png");
            DepthPictures.writeMillimetres(mm, m, W, H);
            files.append(", ").append(mm);
        }
        if (!raw.equals("png16")) {
            Path npy = Path.of(base + "_depth.npy");
            DepthPictures.writeNpy(npy, m, W, H);
            files.append(", ").append(npy);
        }
        DepthPictures.Range r = DepthPictures.Range.of(m);
        return String.format(Locale.ROOT, "%dx%d (model %dx%d, %s head) -> %s; depth %.2f-%.2f m; %d ms", W, H, w, h,
                depther.kind(), files, r.min(), r.max(), ms);
    }
}
