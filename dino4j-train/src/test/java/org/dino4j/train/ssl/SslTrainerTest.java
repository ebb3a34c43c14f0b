package org.dino4j.train.ssl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.dino4j.data.Dataset;
import org.dino4j.data.Datasets;
import org.dino4j.data.ImageDecoder;
import org.dino4j.data.Preprocess;
import org.dino4j.data.RgbImage;
import org.dino4j.data.aug.DataAugmentationDino;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.ModelConfig;
import org.dino4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** A tiny DINOv2 run on Fashion-MNIST (28 px, patch 4): it trains, and its teacher's k-NN accuracy moves. */
class SslTrainerTest {
    static final Path TRAIN = Path.of("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");
    static final Path TEST = Path.of("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");

    static SslTrainer.Config config(int steps) {
        ModelConfig m = new ModelConfig(28, 4, 3, 64, 3, 4, 4.0, true, true, true, 1e-5, "mlp", 0, false, 0.1, 1e-6);
        return new SslTrainer.Config(m, DataAugmentationDino.Config.small(28, 12), 1024, 256, 64, 3, false, 0.004, 64,
                1e-6, 0.04, 0.4, 0.992, 0.07, 0.04, steps / 3, steps / 10, steps, steps / 10, 3.0, 0.9, 0.2, 0.0, 0.1,
                0.1, 0.5, 0.5);
    }

    /** Weighted k-NN (k 20, T 0.07, cosine on L2-normalised CLS tokens) top-1 of the teacher, as dinov2/eval/knn.py. */
    static double knn(SslTrainer tr, Dataset train, Dataset test, int nTrain, int nTest) {
        try (DinoVisionTransformer t = tr.teacher()) {
            float[][] bank = feats(t, train, nTrain), q = feats(t, test, nTest);
            int correct = 0;
            for (int i = 0; i < nTest; i++) {
                double[] sims = new double[nTrain];
                for (int j = 0; j < nTrain; j++) {
                    double s = 0;
                    for (int c = 0; c < q[i].length; c++) s += q[i][c] * bank[j][c];
                    sims[j] = s;
                }
                Integer[] idx = new Integer[nTrain];
                for (int j = 0; j < nTrain; j++) idx[j] = j;
                java.util.Arrays.sort(idx, (a, b) -> Double.compare(sims[b], sims[a]));
                double[] votes = new double[10];
                for (int r = 0; r < 20; r++) votes[train.get(idx[r]).label()] += Math.exp(sims[idx[r]] / 0.07);
                int best = 0;
                for (int c = 1; c < 10; c++) if (votes[c] > votes[best]) best = c;
                if (best == test.get(i).label()) correct++;
            }
            return correct / (double) nTest;
        }
    }

    static float[][] feats(DinoVisionTransformer t, Dataset ds, int n) {
        ImageDecoder dec = new ImageDecoder();
        Preprocess pre = new Preprocess(0, 0, 0);
        float[][] out = new float[n][];
        for (int i0 = 0; i0 < n; i0 += 256) {
            int b = Math.min(256, n - i0);
            float[] px = new float[b * 3 * 28 * 28];
            for (int i = 0; i < b; i++) System.arraycopy(pre.chw(ds.get(i0 + i).source().load(dec)), 0, px, i * 3 * 784, 3 * 784);
            float[] cls = t.forwardFeatures(new Tensor(px, b, 3, 28, 28)).xNormClstoken().data();
            int d = cls.length / b;
            for (int i = 0; i < b; i++) {
                float[] f = java.util.Arrays.copyOfRange(cls, i * d, (i + 1) * d);
                double nrm = 0;
                for (float v : f) nrm += v * v;
                for (int c = 0; c < d; c++) f[c] /= (float) Math.sqrt(nrm);
                out[i0 + i] = f;
            }
        }
        return out;
    }

    /**
     * Resume: 6 steps in one go against 3 steps, save, a fresh trainer loading the file, 3 more steps. Every weight
     * of student and teacher, the optimizer state and the losses must be equal (bits, not a tolerance): the two runs
     * execute in different JIT tiers, so this also holds the kernels to tier-independent arithmetic.
     */
    @Test
    void savedAndResumedRunIsBitIdentical(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        assertTrue(Files.exists(TRAIN), TRAIN + " missing: apt-get install dataset-fashion-mnist");
        Dataset train = Datasets.of(List.of(TRAIN));
        ImageDecoder dec = new ImageDecoder();
        int batch = 16, steps = 6;
        java.util.function.IntFunction<List<RgbImage>> batchAt = s -> {
            List<RgbImage> imgs = new ArrayList<>();
            for (int i = 0; i < batch; i++) imgs.add(train.get(s * batch + i).source().load(dec));
            return imgs;
        };
        SslTrainer.Config cfg = config(steps);
        SslTrainer a = new SslTrainer(cfg, 5);
        List<Float> la = new ArrayList<>(), lb = new ArrayList<>();
        for (int s = 0; s < steps; s++) la.add(a.train(batchAt.apply(s)).total());
        SslTrainer b = new SslTrainer(cfg, 5);
        for (int s = 0; s < steps / 2; s++) lb.add(b.train(batchAt.apply(s)).total());
        Path ck = dir.resolve("ckpt.safetensors");
        b.save(ck);
        SslTrainer c = new SslTrainer(cfg, 5); // as a new process would: fresh objects, state from the file
        c.load(ck);
        assertEquals(steps / 2, c.step());
        for (long s = c.step(); s < steps; s++) lb.add(c.train(batchAt.apply((int) s)).total());
        assertEquals(la, lb);
        Path fa = dir.resolve("a.safetensors"), fc = dir.resolve("c.safetensors");
        a.save(fa);
        c.save(fc);
        try (var x = org.dino4j.io.SafeTensors.read(fa); var y = org.dino4j.io.SafeTensors.read(fc)) {
            assertEquals(x.names(), y.names());
            for (String n : x.names())
                assertTrue(java.util.Arrays.equals(x.get(n).toFloatArray(), y.get(n).toFloatArray()), n + " differs");
        }
    }

    @Test
    void trainsOnFashionMnist() {
        assertTrue(Files.exists(TRAIN), TRAIN + " missing: apt-get install dataset-fashion-mnist");
        Dataset train = Datasets.of(List.of(TRAIN)), test = Datasets.of(List.of(TEST));
        int steps = Integer.getInteger("dino4j.test.sslSteps", 40), batch = 64;
        SslTrainer tr = new SslTrainer(config(steps), 1);
        double before = knn(tr, train, test, 2000, 500);
        ImageDecoder dec = new ImageDecoder();
        long t0 = System.nanoTime();
        List<Float> losses = new ArrayList<>();
        for (int s = 0; s < steps; s++) {
            List<RgbImage> imgs = new ArrayList<>();
            for (int i = 0; i < batch; i++) imgs.add(train.get((s * batch + i) % train.size()).source().load(dec));
            SslTrainer.Losses l = tr.train(imgs);
            losses.add(l.total());
            if (s % 10 == 0 || s == steps - 1)
                System.out.printf("step %d: total %.4f dino_local %.4f dino_global %.4f koleo %.4f ibot %.4f  (%.2f s/step)%n", s,
                        l.total(), l.dinoLocal(), l.dinoGlobal(), l.koleo(), l.ibot(), (System.nanoTime() - t0) / 1e9 / (s + 1));
        }
        double after = knn(tr, train, test, 2000, 500);
        System.out.printf("k-NN top-1 (2000-image bank, 500 queries): random init %.3f, after %d steps %.3f%n", before, steps, after);
        for (float l : losses) assertTrue(Float.isFinite(l));
        // at initialisation (cls_token ~ 1e-6, LayerScale 1e-5) every image has nearly the same CLS token: k-NN is at
        // chance; a few dozen steps must already spread the features (KoLeo) and carry class information
        assertTrue(after > before + 0.08, "k-NN " + before + " -> " + after);
    }

    /**
     * The options beyond the defaults: a separate iBOT head (its own parameters, optimizer state, EMA copy and
     * prototype count), linearly increasing drop-path, loss weights, and the high-resolution phase (the last 2 of 4
     * steps use 36-px global crops on a 28-px model, position embeddings interpolated); all keep a resume bit-identical.
     */
    @Test
    void separateIbotHeadDropPathRampAndHighResolutionPhase(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        assertTrue(Files.exists(TRAIN), TRAIN + " missing: apt-get install dataset-fashion-mnist");
        SslTrainer.Config b = config(4);
        ModelConfig m = new ModelConfig(28, 4, 3, 32, 2, 2, 4.0, true, true, true, 1e-5, "mlp", 0, false, 0.1, 1e-6);
        SslTrainer.Config cfg = new SslTrainer.Config(m, b.crops(), 64, 32, 16, 3, false, b.baseLr(), 4, b.minLr(),
                b.weightDecay(), b.weightDecayEnd(), b.momentumTeacher(), b.teacherTemp(), b.warmupTeacherTemp(), 1, 1, 4, 1,
                3.0, 0.9, 0.2, 0.2, 0.1, 0.1, 0.5, 1.0, 1.0, 0.5, false, new SslTrainer.IbotHead(48, 24, 8, 2), 36, 2);
        Dataset train = Datasets.of(List.of(TRAIN));
        ImageDecoder dec = new ImageDecoder();
        java.util.function.IntFunction<List<RgbImage>> batchAt = s -> {
            List<RgbImage> imgs = new ArrayList<>();
            for (int i = 0; i < 4; i++) imgs.add(train.get(s * 4 + i).source().load(dec));
            return imgs;
        };
        SslTrainer a = new SslTrainer(cfg, 9);
        assertEquals(28, a.globalCropSize(1));
        assertEquals(36, a.globalCropSize(2));
        List<Float> la = new ArrayList<>();
        for (int s = 0; s < 4; s++) {
            SslTrainer.Losses l = a.train(batchAt.apply(s));
            assertTrue(Float.isFinite(l.total()) && l.ibot() > 0, "step " + s + ": " + l);
            la.add(l.total());
        }
        SslTrainer c = new SslTrainer(cfg, 9);
        List<Float> lc = new ArrayList<>();
        for (int s = 0; s < 3; s++) lc.add(c.train(batchAt.apply(s)).total());
        Path ck = dir.resolve("c.safetensors");
        c.save(ck);
        SslTrainer d = new SslTrainer(cfg, 9);
        d.load(ck);
        lc.add(d.train(batchAt.apply(3)).total());
        assertEquals(la, lc);
        Path fa = dir.resolve("a.safetensors"), fd = dir.resolve("d.safetensors");
        a.save(fa);
        d.save(fd);
        try (var x = org.dino4j.io.SafeTensors.read(fa); var y = org.dino4j.io.SafeTensors.read(fd)) {
            assertEquals(48, x.get("teacher/ibot_head.last_layer.weight_v").intShape()[0]);
            assertEquals(64, x.get("teacher/dino_head.last_layer.weight_v").intShape()[0]);
            assertTrue(x.contains("adam_m/ibot_head.mlp.0.weight") && x.contains("ibot/center"));
            assertEquals(x.names(), y.names());
            for (String n : x.names()) assertTrue(java.util.Arrays.equals(x.get(n).toFloatArray(), y.get(n).toFloatArray()), n);
            // the separate head learned: its student weights left their initialisation
            SslTrainer fresh = new SslTrainer(cfg, 9);
            Path f0 = dir.resolve("f0.safetensors");
            fresh.save(f0);
            try (var z = org.dino4j.io.SafeTensors.read(f0)) {
                assertTrue(!java.util.Arrays.equals(z.get("student/ibot_head.mlp.0.weight").toFloatArray(),
                        x.get("student/ibot_head.mlp.0.weight").toFloatArray()));
            }
        }
    }
}
