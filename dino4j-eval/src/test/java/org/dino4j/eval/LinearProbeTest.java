package org.dino4j.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

class LinearProbeTest {
    /**
     * Synthetic inputs whose class signal sits in one slice only: the mean patch token (avgpool variants can use it)
     * or the CLS of the 4th-last block (only 4-block variants see it). Each variant's best learning rate must find
     * exactly the signal its input contains, which checks create_linear_input's slicing as well as the training.
     */
    static LinearProbe.Inputs data(int n, int d, int slot, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n * 5 * d];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = r.nextInt(4);
            for (int j = 0; j < 5 * d; j++) x[i * 5 * d + j] = (float) r.nextGaussian();
            x[i * 5 * d + slot * d + y[i]] += 4f; // class c: +4 on coordinate c of the slot
        }
        return new LinearProbe.Inputs(x, y, d, 4);
    }

    @Test
    void eachVariantSeesItsSliceOfTheFeatures() {
        for (int slot : new int[] {4, 0}) { // 4: mean patch token; 0: CLS of the 4th-last block
            var tr = data(2000, 8, slot, 1);
            var va = data(500, 8, slot, 2);
            var te = data(500, 8, slot, 3);
            List<LinearProbe.Result> res = LinearProbe.run(tr, va, te, new int[] {1, 4}, LinearProbe.LEARNING_RATES, 5, 128, 7);
            assertEquals(2 * 2 * 13, res.size());
            for (int i = 1; i < res.size(); i++) assertTrue(res.get(i - 1).valTop1() >= res.get(i).valTop1(), "best first");
            for (int nb : new int[] {1, 4})
                for (boolean pool : new boolean[] {false, true}) {
                    double best = res.stream().filter(x -> x.nBlocks() == nb && x.avgpool() == pool).mapToDouble(LinearProbe.Result::testTop1).max().orElseThrow();
                    boolean sees = slot == 4 ? pool : nb == 4;
                    // the +4 signal separates the classes to ~98 %; without it the labels are independent of the input
                    if (sees) assertTrue(best > 0.95, "n=" + nb + " pool=" + pool + " slot=" + slot + ": " + best);
                    else assertTrue(best < 0.35, "n=" + nb + " pool=" + pool + " slot=" + slot + ": " + best);
                }
            assertTrue(res.get(0).valTop1() > 0.95);
            // the smallest learning rates barely move N(0, 0.01) weights in 5 epochs: worse than the best
            double tiny = res.stream().filter(x -> x.lr() == 1e-5 && x.nBlocks() == 4 && x.avgpool()).findFirst().orElseThrow().testTop1();
            assertTrue(tiny < res.get(0).testTop1(), "lr 1e-5: " + tiny);
        }
    }
}
