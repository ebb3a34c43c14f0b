package org.dino4j.heads;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;
import org.dino4j.model.ModelConfig;
import org.dino4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** The heads are shared across threads like the backbone: concurrent calls give the answers of sequential ones. */
class ConcurrentHeadsTest {
    @Test
    void fourThreadsGetTheSequentialAnswers() throws Exception {
        var cfg = ModelConfig.fromJson("{\"img_size\":28,\"patch_size\":14,\"embed_dim\":32,\"depth\":4,\"num_heads\":2,\"init_values\":1.0}");
        try (DinoVisionTransformer m = Dinov2.random(cfg, 1)) {
            Depther dpt = Depther.of(m, RandomHeads.dpt(32, 16, 2), Depther.Dataset.NYU);
            Classifier cls = Classifier.of(m, RandomHeads.classifier(32, 4, 10, 3), null);
            Segmenter seg = Segmenter.of(m, RandomHeads.segmentation(32, 4, 7, 4), 7, "", null);
            List<Tensor> inputs = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                float[] v = new float[3 * 30 * (40 + i)];
                for (int j = 0; j < v.length; j++) v[j] = (float) Math.sin(j * 0.37 + i);
                inputs.add(new Tensor(v, 1, 3, 30, 40 + i));
            }
            List<float[][]> want = new ArrayList<>();
            for (Tensor x : inputs) want.add(answers(dpt, cls, seg, x));
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<float[][]>> got = new ArrayList<>();
                for (int r = 0; r < 3; r++) for (Tensor x : inputs) got.add(pool.submit(() -> answers(dpt, cls, seg, x)));
                for (int i = 0; i < got.size(); i++) {
                    float[][] g = got.get(i).get(), w = want.get(i % inputs.size());
                    for (int k = 0; k < w.length; k++) assertArrayEquals(w[k], g[k]);
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }

    static float[][] answers(Depther d, Classifier c, Segmenter s, Tensor x) {
        Tensor crop = new Tensor(java.util.Arrays.copyOf(x.data(), 3 * 28 * 28), 1, 3, 28, 28);
        return new float[][] {d.depth(x).data(), c.logits(crop).data(), s.encodeDecode(x).data()};
    }
}
