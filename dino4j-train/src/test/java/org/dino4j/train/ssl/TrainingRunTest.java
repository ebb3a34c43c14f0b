package org.dino4j.train.ssl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import org.dino4j.data.Dataset;
import org.dino4j.data.Datasets;
import org.dino4j.data.ImageDecoder;
import org.dino4j.data.RgbImage;
import org.dino4j.io.Json;
import org.dino4j.io.SafeTensors;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The training loop driven from Java, without the command line: its folder, its events, a resume, its teacher. */
class TrainingRunTest {
    static final List<String> TINY = List.of("optim.epochs=2", "train.OFFICIAL_EPOCH_LENGTH=10", "train.batch_size_per_gpu=2",
            "train.seed=3", "student.arch=vit_tiny", "student.embed_dim=16", "student.depth=1", "student.num_heads=2",
            "dino.head_n_prototypes=32", "dino.head_hidden_dim=16", "dino.head_bottleneck_dim=8", "crops.local_crops_number=2");

    @Test
    void runStoppedAndResumedEndsAsOneThatNeverStopped(@TempDir Path dir) throws Exception {
        assertTrue(Files.exists(SslTrainerTest.TEST), SslTrainerTest.TEST + " missing: apt-get install dataset-fashion-mnist");
        SslConfig conf = SslConfig.load("small28", null, TINY);
        Dataset images = Datasets.of(List.of(SslTrainerTest.TEST));
        List<String> events = new ArrayList<>();
        TrainingRun[] current = new TrainingRun[1];
        TrainingRun.Probe probe = backbone -> {
            assertSame(current[0].trainer().teacher(), backbone, "the probe reads the teacher");
            return new TrainingRun.Accuracy(20, 0.25, 0.5);
        };
        TrainingRun.Listener log = new TrainingRun.Listener() {
            @Override
            public void step(TrainingRun.Progress p) {
                assertEquals(20, p.steps());
                assertTrue(p.imagesPerSecond() > 0 && p.etaSeconds() >= 0 && p.lr() >= 0, p.toString());
                events.add("step " + p.done() + " evals left " + p.evalsLeft());
            }

            @Override
            public void evaluated(long step, TrainingRun.Accuracy a, double seconds) {
                events.add("eval " + step);
            }

            @Override
            public void checkpoint(Path file, long step) {
                events.add("ckpt " + step);
            }
        };
        Path a = dir.resolve("a");
        var options = TrainingRun.Options.of(a).withCheckpoints(5, 2).withProbe(probe, 8);
        current[0] = new TrainingRun(conf, images, null, options, log);
        Path last = current[0].run();
        assertEquals(a.resolve("ckpt-0000020.safetensors"), last);
        assertEquals(List.of(a.resolve("ckpt-0000016.safetensors"), last), TrainingRun.checkpoints(a), "the newest 2 kept (16: an evaluation)");
        assertEquals(20, Files.readAllLines(a.resolve("metrics.jsonl")).size());
        assertEquals(List.of(0L, 8L, 16L, 20L), Files.readAllLines(a.resolve("knn.jsonl")).stream()
                .map(l -> ((Number) Json.parseObject(l).get("step")).longValue()).toList());
        assertTrue(Files.exists(a.resolve("curve.png")) && Files.readString(a.resolve("config.yaml")).equals(conf.toYaml()));
        // step 0's evaluation first; the one due at a step after its progress, before its checkpoint
        assertEquals(List.of("eval 0", "step 1 evals left 3"), events.subList(0, 2));
        int i8 = events.indexOf("step 8 evals left 3");
        assertEquals(List.of("step 8 evals left 3", "eval 8", "ckpt 8", "step 9 evals left 2"), events.subList(i8, i8 + 4));
        assertEquals(List.of("step 20 evals left 1", "eval 20", "ckpt 20"), events.subList(events.size() - 3, events.size()));

        // the same run stopped by its listener at step 13 (checkpoint 10 kept), then resumed
        Path b = dir.resolve("b");
        RuntimeException stop = new RuntimeException("stop");
        current[0] = new TrainingRun(conf, images, null, TrainingRun.Options.of(b).withCheckpoints(5, 2).withProbe(probe, 8),
                new TrainingRun.Listener() {
                    @Override
                    public void step(TrainingRun.Progress p) {
                        if (p.done() == 13) throw stop;
                    }
                });
        assertSame(stop, assertThrows(RuntimeException.class, current[0]::run));
        assertEquals(13, current[0].stepsDone());
        assertThrows(IllegalArgumentException.class, () -> new TrainingRun(conf, images, null, TrainingRun.Options.of(b), null).run(),
                "a run folder is not overwritten");
        long[] resumedAt = {-1};
        current[0] = new TrainingRun(conf, images, null, TrainingRun.Options.of(b).withCheckpoints(5, 2).withResume(true)
                .withProbe(probe, 8), new TrainingRun.Listener() {
                    @Override
                    public void resumed(Path checkpoint, long step) {
                        resumedAt[0] = step;
                    }
                });
        current[0].run();
        assertEquals(10, resumedAt[0]);
        assertEquals(Files.readAllLines(a.resolve("metrics.jsonl")), Files.readAllLines(b.resolve("metrics.jsonl")));
        assertEquals(List.of(0L, 8L, 16L, 20L), Files.readAllLines(b.resolve("knn.jsonl")).stream()
                .map(l -> ((Number) Json.parseObject(l).get("step")).longValue()).toList());
        try (var x = SafeTensors.read(last); var y = SafeTensors.read(b.resolve("ckpt-0000020.safetensors"))) {
            assertEquals(x.names(), y.names());
            for (String n : x.names()) assertArrayEquals(x.get(n).toFloatArray(), y.get(n).toFloatArray(), n);
        }
    }

    /**
     * The teacher is one model over the EMA arrays, not rebuilt each step: after a step it computes what a model built
     * afresh from the saved EMA weights computes, bit for bit, at a side other than its own (resampled position
     * embeddings) and with enough rows for the packed weights, both made before the step and stale after it.
     */
    @Test
    void teacherIsTheEmaWeightsAfterEachStep(@TempDir Path dir) throws Exception {
        assertTrue(Files.exists(SslTrainerTest.TRAIN), SslTrainerTest.TRAIN + " missing: apt-get install dataset-fashion-mnist");
        Dataset train = Datasets.of(List.of(SslTrainerTest.TRAIN));
        ImageDecoder dec = new ImageDecoder();
        SslTrainer.Config cfg = SslTrainerTest.config(4);
        SslTrainer tr = new SslTrainer(cfg, 5);
        float[] px = new float[4 * 3 * 32 * 32];
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < px.length; i++) px[i] = (float) r.nextGaussian();
        DinoVisionTransformer teacher = tr.teacher();
        for (int s = 0; s < 2; s++) {
            teacher.forwardFeatures(new Tensor(px, 4, 3, 32, 32)); // fills the caches with this step's weights
            List<RgbImage> imgs = new ArrayList<>();
            for (int i = 0; i < 16; i++) imgs.add(train.get(s * 16 + i).source().load(dec));
            tr.train(imgs);
            assertSame(teacher, tr.teacher());
            Path ck = dir.resolve("ckpt" + s + ".safetensors");
            tr.save(ck);
            try (var f = SafeTensors.read(ck);
                 var fresh = DinoVisionTransformer.fromStateDict(cfg.model(), f.withPrefix("teacher/backbone."), null)) {
                var want = fresh.forwardFeatures(new Tensor(px, 4, 3, 32, 32));
                var got = teacher.forwardFeatures(new Tensor(px, 4, 3, 32, 32));
                assertArrayEquals(want.xNormClstoken().data(), got.xNormClstoken().data(), "step " + s);
                assertArrayEquals(want.xNormPatchtokens().data(), got.xNormPatchtokens().data(), "step " + s);
            }
        }
    }
}
