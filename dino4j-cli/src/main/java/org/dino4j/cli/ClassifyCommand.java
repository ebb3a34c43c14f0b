package org.dino4j.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.dino4j.data.ClassNames;
import org.dino4j.data.Dataset;
import org.dino4j.data.Datasets;
import org.dino4j.embed.FeatureExtractor;
import org.dino4j.heads.Classifier;
import org.dino4j.heads.HeadWeights;
import org.dino4j.heads.RandomHeads;
import org.dino4j.io.Json;
import org.dino4j.model.DinoVisionTransformer;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "classify", mixinStandardHelpOptions = true,
        description = {"ImageNet-1k labels for images, with Meta's released linear classifiers.",
                "The heads: dinov2_vit*14[_reg]_lc, *_linear_head.pth (1 layer) and *_linear4_head.pth (4 layers), through the "
                + "official classification transform (shorter side 256, centre crop 224, bicubic).",
                "Prints the top classes with their probabilities per image (or one JSON object per line with --json).",
                "Images that cannot be read are reported at the end (exit 1); the others are still done."})
final class ClassifyCommand extends HeadCommand implements Callable<Integer> {
    @Option(names = "--layers", paramLabel = "1|4",
            description = "With --random-head: the head's layers (1: CLS + patch mean; 4: the last four CLS tokens + patch mean). "
                    + "A head file's own width decides otherwise (default: 4, as the hub's _lc).")
    Integer layers;

    @Option(names = "--top", defaultValue = "5", description = "How many classes per image (default: ${DEFAULT-VALUE}).")
    int top;

    @Option(names = "--json", description = "One JSON object per image and line instead of text.")
    boolean json;

    @Option(names = "--output", paramLabel = "DIR",
            description = "Also write each image with its top classes written on it, as DIR/NAME_classified.png (created if missing).")
    Path output;

    @Option(names = "--batch-size", defaultValue = "16", description = "Images per forward (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Override
    public Integer call() throws Exception {
        if (top < 1) throw new IllegalArgumentException("--top must be >= 1, got " + top);
        if (layers != null && layers != 1 && layers != 4) throw new IllegalArgumentException("--layers must be 1 or 4, got " + layers);
        if (batchSize < 1) throw new IllegalArgumentException("--batch-size must be >= 1, got " + batchSize);
        threads.apply();
        PhotoJobs.outputFolder(output);
        if (output != null) PcaCommand.headless();
        Dataset ds = Datasets.of(images);
        List<String> failures = new ArrayList<>();
        JitWarmup warmup = JitWarmup.start(JitWarmup.classify(JitWarmup.config(modelOptions), layers == null ? 4 : layers, output != null));
        try (DinoVisionTransformer model = headOptions.huggingFaceDir() ? null : modelOptions.load()) {
            Classifier c = classifier(model);
            var opts = new FeatureExtractor.Options(List.of(c.head()),
                    ModelOptions.transform(spec, c.backbone().config(), null, "--resolution", null, null, 0), batchSize, 2, decode.maxPixels);
            ProgressBar bar = new ProgressBar("classify", "images");
            int[] done = {0};
            try (FeatureExtractor fx = new FeatureExtractor(c.backbone(), opts)) {
                warmup.await();
                fx.run(ds, it -> {
                    done[0]++;
                    if (!it.ok()) {
                        failures.add(it.sample().id() + ": " + it.problem());
                    } else {
                        List<Classifier.Prediction> p = c.top(it.rows()[0], top);
                        System.out.println(json ? json(it.sample().id(), p) : text(it.sample().id(), p));
                        if (output != null) picture(it.sample(), p, failures);
                    }
                    bar.update(done[0], ds.size(), failures.size());
                });
            }
            bar.finish();
            if (model == null) c.backbone().close();
        }
        for (String f : failures) spec.commandLine().getErr().println("dino4j classify: error: " + f);
        spec.commandLine().getErr().flush();
        return failures.isEmpty() ? 0 : 1;
    }

    /**
     * The head: a file or released name on the given backbone, a random one, or a Hugging Face
     * Dinov2ForImageClassification directory with its own backbone (model null).
     */
    private Classifier classifier(DinoVisionTransformer model) {
        if (model == null) {
            Classifier c = Classifier.loadHuggingFace(headOptions.file, org.dino4j.heads.Semantics.META);
            checkLayers(c);
            return c;
        }
        String hub = modelOptions.hubName();
        String released = hub == null ? null : hub.replaceFirst("_reg$", "_reg4") + (layers != null && layers == 1 ? "_linear" : "_linear4");
        Classifier c;
        try (HeadWeights w = headOptions.open("classifier", seed -> RandomHeads.classifier(model.embedDim(), layers == null ? 4 : layers, 1000, seed), released)) {
            int classes = w.shape("weight") == null ? 0 : w.shape("weight")[0];
            c = Classifier.of(model, w, classes == 1000 ? ClassNames.imagenet1k() : null);
        }
        checkLayers(c);
        return c;
    }

    private void checkLayers(Classifier c) {
        if (layers != null && layers != c.layers())
            throw new IllegalArgumentException("--layers " + layers + ", but " + headOptions.describe() + " is a " + c.layers() + "-layer head");
    }

    /** The photo with its answer written on it. */
    private void picture(org.dino4j.data.Sample s, List<Classifier.Prediction> p, List<String> failures) {
        try {
            List<String> names = new ArrayList<>();
            double[] prob = new double[p.size()];
            for (int i = 0; i < p.size(); i++) {
                names.add(p.get(i).label());
                prob[i] = p.get(i).probability();
            }
            org.dino4j.viz.Png.write(org.dino4j.viz.Caption.draw(s.source().load(decode.decoder()), org.dino4j.viz.Caption.topK(names, prob, p.size())),
                    output.resolve(PhotoJobs.name(s) + "_classified.png"));
        } catch (java.io.IOException | RuntimeException e) {
            failures.add(s.id() + ": picture not written: " + e.getMessage());
        }
    }

    static String text(String id, List<Classifier.Prediction> p) {
        StringBuilder sb = new StringBuilder(id).append(':');
        for (int i = 0; i < p.size(); i++)
            sb.append(String.format(Locale.ROOT, "%s %d. %s %.1f%%", i == 0 ? "" : ";", i + 1, p.get(i).label(), 100 * p.get(i).probability()));
        return sb.toString();
    }

    static String json(String id, List<Classifier.Prediction> p) {
        List<Object> top = new ArrayList<>();
        for (Classifier.Prediction q : p) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("class", q.index());
            m.put("label", q.label());
            m.put("probability", q.probability());
            top.add(m);
        }
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("image", id);
        j.put("top", top);
        return Json.write(j);
    }
}
