package org.dino4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.dino4j.data.Dataset;
import org.dino4j.data.Datasets;
import org.dino4j.data.Preprocess;
import org.dino4j.data.Sample;
import org.dino4j.embed.FeatureExtractor;
import org.dino4j.embed.Output;
import org.dino4j.eval.Features;
import org.dino4j.eval.Knn;
import org.dino4j.eval.LinearProbe;
import org.dino4j.eval.LogisticRegression;
import org.dino4j.eval.Retrieval;
import org.dino4j.io.Json;
import org.dino4j.model.DinoVisionTransformer;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "eval", mixinStandardHelpOptions = true,
        subcommands = {EvalCommand.KnnCommand.class, EvalCommand.LogregCommand.class, EvalCommand.LinearCommand.class,
                EvalCommand.RetrievalCommand.class, DenseEvalCommands.SegmentationCommand.class, DenseEvalCommands.DepthCommand.class},
        description = "The paper's evaluation protocols on frozen features (dinov2/eval/).")
final class EvalCommand {

    /** Where the features come from: a model on labelled images, raw pixels, or two `embed` output folders. */
    static final class FeatureOptions {
        @Option(names = "--train", required = true, paramLabel = "PATH", description = "Labelled images or an embed output folder.")
        Path train;

        @Option(names = "--test", required = true, paramLabel = "PATH", description = "Labelled images or an embed output folder, scored.")
        Path test;

        @Option(names = "--pixels", description = "Raw pixels (RGB / 255; one channel when all images are gray) as the features: the baseline.")
        boolean pixels;

        @Mixin
        ModelOptions model;

        @Mixin
        EvalTransformOptions transform;

        @Option(names = "--batch-size", defaultValue = "64", description = "Images per forward (default: ${DEFAULT-VALUE}).")
        int batch;

        @Mixin
        ThreadsOption threads;

        record Loaded(Features train, Features test, String source) {}

        Loaded load() {
            threads.apply();
            Loaded l;
            if (Files.isRegularFile(train.resolve("manifest.tsv")) || Files.isRegularFile(test.resolve("manifest.tsv"))) {
                l = new Loaded(Features.fromEmbedDir(train, "cls"), Features.fromEmbedDir(test, "cls"), "embed outputs (cls)");
            } else if (pixels) {
                l = new Loaded(Features.pixels(Datasets.of(List.of(train))), Features.pixels(Datasets.of(List.of(test))), "raw pixels");
            } else {
                try (DinoVisionTransformer m = model.load()) {
                    Preprocess pre = transform.of(m.config());
                    Dataset dtr = Datasets.of(List.of(train)), dte = Datasets.of(List.of(test));
                    ProgressBar bar = new ProgressBar("features", "img");
                    long total = dtr.size() + dte.size();
                    Features tr = Features.cls(m, dtr, pre, batch, i -> bar.update(i, total, 0));
                    Features te = Features.cls(m, dte, pre, batch, i -> bar.update(dtr.size() + i, total, 0));
                    bar.finish();
                    l = new Loaded(tr, te, "CLS of the model");
                }
            }
            if (l.train().dim() != l.test().dim())
                throw new IllegalArgumentException("train features have " + l.train().dim() + " dimensions, test " + l.test().dim());
            return l;
        }
    }

    @Command(name = "knn", mixinStandardHelpOptions = true,
            description = {"Weighted k-NN classification as the official knn.py: L2-normalised features, cosine "
                    + "similarity, votes weighted by softmax(sim / T) over the neighbours; top-1 and top-5 for each k.",
                    "Features: the CLS token of a model (--weights/--model/--config) on labelled images, raw pixels "
                            + "(--pixels), or a `dino4j embed` output folder given as --train/--test (its cls vectors)."})
    static final class KnnCommand implements Callable<Integer> {
        @Mixin
        FeatureOptions fo;

        @Option(names = "--nb-knn", split = ",", defaultValue = "10,20,100,200", description = "k values (default: ${DEFAULT-VALUE}).")
        int[] ks;

        @Option(names = "--temperature", defaultValue = "0.07", paramLabel = "T",
                description = "Temperature of the softmax that weights the neighbours' votes (default: ${DEFAULT-VALUE}).")
        double temperature;

        @Mixin
        JsonOutputOption output;

        @Option(names = "--plots", paramLabel = "DIR", description = "Write knn_accuracy_vs_k.png, knn_per_class.png and "
                + "knn_confusion.png (up to 100 classes; per class at k = 20, or the first k when 20 is not asked).")
        Path plots;

        @Override
        public Integer call() throws IOException {
            long t0 = System.nanoTime();
            var f = fo.load();
            Features tr = f.train(), te = f.test();
            List<Knn.Result> res = Knn.evaluate(tr.x(), tr.labels(), te.x(), te.labels(), tr.dim(),
                    Math.max(tr.numClasses(), te.numClasses()), ks, temperature);
            System.out.printf(Locale.ROOT, "k-NN on %s: %d train, %d test, %d dimensions, T = %s (%.1f s)%n", f.source(), tr.size(),
                    te.size(), tr.dim(), temperature, (System.nanoTime() - t0) / 1e9);
            System.out.println("    k   top-1   top-5");
            List<Object> rows = new ArrayList<>();
            for (Knn.Result r : res) {
                System.out.printf(Locale.ROOT, "%5d  %6.2f  %6.2f%n", r.k(), 100 * r.top1(), 100 * r.top5());
                rows.add(Map.of("k", r.k(), "top1", 100 * r.top1(), "top5", 100 * r.top5()));
            }
            if (plots != null) plots(tr, te, res);
            Map<String, Object> j = new LinkedHashMap<>();
            j.put("protocol", "knn");
            j.put("features", f.source());
            j.put("train", fo.train.toString());
            j.put("test", fo.test.toString());
            j.put("temperature", temperature);
            j.put("results", rows);
            output.write(j);
            return 0;
        }

        private void plots(Features tr, Features te, List<Knn.Result> res) throws IOException {
            Files.createDirectories(plots);
            org.dino4j.viz.Charts.bars(plots.resolve("knn_accuracy_vs_k.png"), "k-NN top-1 % by k (T = " + temperature + ")",
                    res.stream().map(r -> "k = " + r.k()).toList(), res.stream().mapToDouble(r -> 100 * r.top1()).toArray(), 100);
            int k = java.util.Arrays.stream(ks).anyMatch(x -> x == 20) ? 20 : ks[0];
            int classes = Math.max(tr.numClasses(), te.numClasses());
            int[] pred = Knn.predict(tr.x(), tr.labels(), te.x(), te.size(), tr.dim(), classes, k, temperature);
            long[][] cm = new long[classes][classes];
            for (int i = 0; i < pred.length; i++) cm[te.labels()[i]][pred[i]]++;
            double[] per = new double[classes];
            for (int c = 0; c < classes; c++) {
                long row = 0;
                for (long v : cm[c]) row += v;
                per[c] = row == 0 ? 0 : 100.0 * cm[c][c] / row;
            }
            List<String> names = classNames(fo.test, classes);
            org.dino4j.viz.Charts.bars(plots.resolve("knn_per_class.png"), "k-NN top-1 % per class (k = " + k + ")", names, per, 100);
            if (classes <= 100) org.dino4j.viz.Charts.confusion(plots.resolve("knn_confusion.png"), "k-NN, k = " + k, names, cm);
            System.out.println("plots in " + plots);
        }
    }

    /** Class names: an image dataset's, or the class column of an embed manifest; else the label numbers. */
    static List<String> classNames(Path p, int numClasses) throws IOException {
        List<String> names = new ArrayList<>();
        if (Files.isRegularFile(p.resolve("manifest.tsv"))) {
            Map<Integer, String> m = new java.util.TreeMap<>();
            List<String> lines = Files.readAllLines(p.resolve("manifest.tsv"));
            for (String l : lines.subList(1, lines.size())) {
                String[] f = l.split("\t", -1);
                if (f.length > 3 && !f[2].equals("-1")) m.putIfAbsent(Integer.parseInt(f[2]), f[3]);
            }
            for (int c = 0; c < numClasses; c++) names.add(m.getOrDefault(c, Integer.toString(c)));
        } else if (Files.exists(p)) {
            List<String> cl = Datasets.of(List.of(p)).classes();
            for (int c = 0; c < numClasses; c++) names.add(c < cl.size() ? cl.get(c) : Integer.toString(c));
        }
        return names;
    }

    @Command(name = "logreg", mixinStandardHelpOptions = true,
            description = {"Logistic regression as the official log_regression.py: multinomial, L2, L-BFGS (scikit-learn's "
                    + "objective and stopping rules) on un-normalised features; each C fitted on 90 %% of the training rows "
                    + "and scored on the other 10 %%, the best C refitted on all of them and scored on the test rows."})
    static final class LogregCommand implements Callable<Integer> {
        @Mixin
        FeatureOptions fo;

        @Option(names = "--C", split = ",", paramLabel = "C", description = "C values (default: the official 45, 10^linspace(-6, 5, 45)).")
        double[] cs;

        @Option(names = "--max-iter", defaultValue = "1000", description = "L-BFGS iterations at most per C (default: ${DEFAULT-VALUE}).")
        int maxIter;

        @Option(names = "--tol", defaultValue = "1e-12", description = "L-BFGS stopping tolerance, as scikit-learn's tol (default: ${DEFAULT-VALUE}).")
        double tol;

        @Option(names = "--seed", defaultValue = "0", description = "Seed of the 90/10 split of the training rows (default: ${DEFAULT-VALUE}).")
        long seed;

        @Mixin
        JsonOutputOption output;

        @Override
        public Integer call() throws IOException {
            var f = fo.load();
            double[] grid = cs != null ? cs : LogisticRegression.officialCs();
            System.out.printf(Locale.ROOT, "logistic regression on %s: %d train, %d test, %d dimensions, %d C values%n",
                    f.source(), f.train().size(), f.test().size(), f.train().dim(), grid.length);
            var sweep = LogisticRegression.sweep(f.train(), f.test(), grid, seed, maxIter, tol, p -> System.out.printf(Locale.ROOT,
                    "  C = %-10.4g validation top-1 %6.2f%%  (%d iterations, %.1f s)%n", p.c(), 100 * p.validationAccuracy(),
                    p.iterations(), p.millis() / 1e3));
            System.out.printf(Locale.ROOT, "best C %.4g: test top-1 %.2f%%%n", sweep.bestC(), 100 * sweep.testAccuracy());
            Map<String, Object> j = new LinkedHashMap<>();
            j.put("protocol", "logreg");
            j.put("features", f.source());
            j.put("best_C", sweep.bestC());
            j.put("test_top1", 100 * sweep.testAccuracy());
            List<Object> pts = new ArrayList<>();
            for (var p : sweep.points()) pts.add(Map.of("C", p.c(), "val_top1", 100 * p.validationAccuracy(), "iterations", p.iterations()));
            j.put("sweep", pts);
            output.write(j);
            return 0;
        }
    }

    @Command(name = "linear", mixinStandardHelpOptions = true,
            description = {"Linear probing as the official linear.py on cached features: CLS tokens of the last 1 or 4 "
                    + "blocks, with or without the averaged patch tokens, x 13 learning rates, trained together (SGD, "
                    + "momentum 0.9, cosine schedule); the best on the validation images is reported with its test top-1.",
                    "Differences from the official run: features are computed once (no random-resized-crop/flip of the "
                            + "training images per epoch); without --val, 10 %% of the training images are held out."})
    static final class LinearCommand implements Callable<Integer> {
        @Option(names = "--train", required = true, paramLabel = "PATH", description = "Labelled training images.")
        Path train;

        @Option(names = "--val", paramLabel = "PATH", description = "Validation images (default: a seeded 10 %% of --train).")
        Path val;

        @Option(names = "--test", required = true, paramLabel = "PATH", description = "Labelled test images, scored by the best classifier.")
        Path test;

        @Mixin
        ModelOptions model;

        @Mixin
        EvalTransformOptions transform;

        @Option(names = "--epochs", defaultValue = "10", description = "Training epochs of the classifiers (default: ${DEFAULT-VALUE}).")
        int epochs;

        @Option(names = "--batch-size", defaultValue = "128", description = "Training batch of the classifiers (official 128).")
        int batch;

        @Option(names = "--seed", defaultValue = "0",
                description = "Seed of the held-out 10 %%, the classifiers' initialisation and the batch order (default: ${DEFAULT-VALUE}).")
        long seed;

        @Mixin
        JsonOutputOption output;

        @Mixin
        ThreadsOption threads;

        @Override
        public Integer call() throws IOException {
            threads.apply();
            Dataset dtr = Datasets.of(List.of(train)), dte = Datasets.of(List.of(test)), dva = val == null ? null : Datasets.of(List.of(val));
            LinearProbe.Inputs tr, va, te;
            try (DinoVisionTransformer m = model.load()) {
                Preprocess pre = transform.of(m.config());
                ProgressBar bar = new ProgressBar("features", "img");
                long total = dtr.size() + dte.size() + (dva == null ? 0 : dva.size());
                tr = LinearProbe.inputs(m, dtr, pre, 64, i -> bar.update(i, total, 0));
                te = LinearProbe.inputs(m, dte, pre, 64, i -> bar.update(dtr.size() + i, total, 0));
                va = dva == null ? null : LinearProbe.inputs(m, dva, pre, 64, i -> bar.update(dtr.size() + dte.size() + i, total, 0));
                bar.finish();
            }
            if (va == null) { // hold out a seeded 10 % of the training images
                int[] perm = LogisticRegression.permutation(tr.size(), seed);
                int nv = tr.size() / 10;
                if (nv < 1) throw new IllegalArgumentException(train + ": too few images to hold out 10 % for validation");
                va = subset(tr, java.util.Arrays.copyOfRange(perm, 0, nv));
                tr = subset(tr, java.util.Arrays.copyOfRange(perm, nv, perm.length));
            }
            var res = LinearProbe.run(tr, va, te, new int[] {1, 4}, LinearProbe.LEARNING_RATES, epochs, batch, seed);
            var best = res.get(0);
            System.out.printf(Locale.ROOT, "linear probe: %d train, %d val, %d test; best %s: val top-1 %.2f%%, test top-1 %.2f%%%n",
                    tr.size(), va.size(), te.size(), best.name(), 100 * best.valTop1(), 100 * best.testTop1());
            List<Object> rows = new ArrayList<>();
            for (var r : res)
                rows.add(Map.of("classifier", r.name(), "val_top1", 100 * r.valTop1(), "test_top1", 100 * r.testTop1()));
            Map<String, Object> j = new LinkedHashMap<>();
            j.put("protocol", "linear");
            j.put("best", best.name());
            j.put("test_top1", 100 * best.testTop1());
            j.put("classifiers", rows);
            output.write(j);
            return 0;
        }

        private static LinearProbe.Inputs subset(LinearProbe.Inputs in, int[] rows) {
            int s = 5 * in.embedDim();
            float[] x = new float[rows.length * s];
            int[] y = new int[rows.length];
            for (int i = 0; i < rows.length; i++) {
                System.arraycopy(in.x(), rows[i] * s, x, i * s, s);
                y[i] = in.labels()[rows[i]];
            }
            return new LinearProbe.Inputs(x, y, in.embedDim(), in.numClasses());
        }
    }

    @Command(name = "retrieval", mixinStandardHelpOptions = true,
            description = {"Instance retrieval as the revisited Oxford/Paris benchmark: gallery ranked by cosine "
                    + "similarity of CLS features to each query; mAP and mP@1/5/10 for the Easy, Medium and Hard protocols "
                    + "(revisitop's compute_map).",
                    "GND.json: {\"imlist\": [gallery names], \"qimlist\": [query names], \"gnd\": [{\"easy\": [...], \"hard\": "
                            + "[...], \"junk\": [...], \"bbx\": [x1, y1, x2, y2]}, ...]} with gallery indices; names are file "
                            + "names without extension. From revisitop's gnd_*.pkl: python3 -c \"import pickle,json; "
                            + "g=pickle.load(open('gnd_roxford5k.pkl','rb')); json.dump({'imlist':g['imlist'],'qimlist':g['qimlist'],"
                            + "'gnd':[{k:[float(x) for x in v] for k,v in q.items()} for q in g['gnd']]},open('gnd.json','w'))\". "
                            + "Query images are cropped to their bbx first, as the benchmark prescribes."})
    static final class RetrievalCommand implements Callable<Integer> {
        @Option(names = "--images", required = true, paramLabel = "DIR", description = "Folder holding the gallery and query images (searched recursively).")
        Path images;

        @Option(names = "--gnd", required = true, paramLabel = "GND.json", description = "The ground truth (format above).")
        Path gnd;

        @Mixin
        ModelOptions model;

        @Option(names = "--resize", description = "Shorter side before the model, then zero-padded to a multiple of the patch size. Default: "
                + ModelOptions.DEFAULT_SIDE + "224.")
        Integer resize;

        @Mixin
        JsonOutputOption output;

        @Mixin
        ThreadsOption threads;

        @Override
        @SuppressWarnings("unchecked")
        public Integer call() throws IOException {
            threads.apply();
            Map<String, Object> g;
            try {
                g = Json.parseObject(Files.readString(gnd));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(gnd + ": not valid JSON: " + e.getMessage());
            }
            if (!(g.get("imlist") instanceof List<?> im) || !(g.get("qimlist") instanceof List<?> qim) || !(g.get("gnd") instanceof List<?> gl))
                throw new IllegalArgumentException(gnd + ": needs imlist, qimlist and gnd lists");
            if (gl.size() != qim.size()) throw new IllegalArgumentException(gnd + ": " + gl.size() + " gnd entries for " + qim.size() + " queries");
            Map<String, Path> byName = new java.util.HashMap<>();
            try (var st = Files.walk(images)) {
                st.filter(Files::isRegularFile).forEach(f -> {
                    String n = f.getFileName().toString();
                    int dot = n.lastIndexOf('.');
                    byName.putIfAbsent(dot > 0 ? n.substring(0, dot) : n, f);
                });
            }
            org.dino4j.data.ImageDecoder dec = new org.dino4j.data.ImageDecoder();
            List<Retrieval.Truth> truth = new ArrayList<>();
            List<Sample> gallery = new ArrayList<>(), queries = new ArrayList<>();
            for (Object name : im) gallery.add(sample(String.valueOf(name), new Sample.FileSource(file(byName, String.valueOf(name)))));
            for (int i = 0; i < qim.size(); i++) {
                Map<String, Object> e = (Map<String, Object>) gl.get(i);
                truth.add(new Retrieval.Truth(ints(e.get("easy")), ints(e.get("hard")), ints(e.get("junk"))));
                String name = String.valueOf(qim.get(i));
                queries.add(sample(name, new Sample.PixelSource(load(dec, file(byName, name), (List<Object>) e.get("bbx")))));
            }
            try (DinoVisionTransformer m = model.load()) {
                int d = m.config().embedDim();
                Integer own = ModelOptions.ownSide(m.config());
                Preprocess pre = new Preprocess(resize != null ? resize : own != null ? own : 224, 0, m.config().patchSize());
                ProgressBar bar = new ProgressBar("features", "img");
                int total = im.size() + qim.size();
                // one image per forward: the padded sizes differ, and batch 1 keeps the vectors as they were
                float[] gal, q;
                try (var fx = new FeatureExtractor(m, FeatureExtractor.Options.of(Output.CLS).withPreprocess(pre).withBatchSize(1))) {
                    gal = fx.rows(Dataset.of(gallery, List.of()), i -> bar.update(i, total, 0));
                    q = fx.rows(Dataset.of(queries, List.of()), i -> bar.update(im.size() + i, total, 0));
                }
                bar.finish();
                int[][] ranking = Retrieval.rank(gal, im.size(), q, qim.size(), d);
                int[] ks = {1, 5, 10};
                Map<String, Object> j = new LinkedHashMap<>();
                j.put("protocol", "retrieval");
                System.out.printf(Locale.ROOT, "retrieval: %d gallery images, %d queries%n", im.size(), qim.size());
                for (Retrieval.Protocol p : Retrieval.Protocol.values()) {
                    Retrieval.Score s = Retrieval.score(ranking, truth, p, ks);
                    System.out.printf(Locale.ROOT, "  %-6s mAP %6.2f  mP@1 %6.2f  mP@5 %6.2f  mP@10 %6.2f  (%d queries)%n", p.name(),
                            100 * s.map(), 100 * s.meanPrecisionAt()[0], 100 * s.meanPrecisionAt()[1], 100 * s.meanPrecisionAt()[2], s.queries());
                    j.put(p.name().toLowerCase(Locale.ROOT), Map.of("mAP", 100 * s.map(), "mP@1", 100 * s.meanPrecisionAt()[0],
                            "mP@5", 100 * s.meanPrecisionAt()[1], "mP@10", 100 * s.meanPrecisionAt()[2]));
                }
                output.write(j);
            }
            return 0;
        }

        private static Sample sample(String name, Sample.Source source) {
            return new Sample(name, -1, "", source);
        }

        private static Path file(Map<String, Path> byName, String name) {
            Path f = byName.get(name);
            if (f == null) throw new IllegalArgumentException("image '" + name + "' of the ground truth is not in the --images folder");
            return f;
        }

        private static org.dino4j.data.RgbImage load(org.dino4j.data.ImageDecoder dec, Path f, List<Object> bbx) {
            org.dino4j.data.RgbImage img = dec.decode(f);
            if (bbx == null || bbx.size() != 4) return img;
            int x1 = (int) Math.max(0, Math.floor(((Number) bbx.get(0)).doubleValue())), y1 = (int) Math.max(0, Math.floor(((Number) bbx.get(1)).doubleValue()));
            int x2 = (int) Math.min(img.width(), Math.ceil(((Number) bbx.get(2)).doubleValue())), y2 = (int) Math.min(img.height(), Math.ceil(((Number) bbx.get(3)).doubleValue()));
            if (x2 <= x1 || y2 <= y1) throw new IllegalArgumentException(f + ": empty query box " + bbx);
            return org.dino4j.data.aug.PilOps.crop(img, y1, x1, y2 - y1, x2 - x1);
        }

        private static int[] ints(Object o) {
            if (o == null) return new int[0];
            return ((List<?>) o).stream().mapToInt(x -> ((Number) x).intValue()).toArray();
        }
    }
}
