package org.dino4j.train.ssl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.dino4j.train.loss.Centering;
import org.junit.jupiter.api.Test;

/** The collapse rule on synthetic loss and entropy sequences, and the entropy it reads. */
class CollapseDetectorTest {
    static final int K = 4096;
    static final double LOG_K = Math.log(K);

    @Test
    void collapsedAfterTwentyStepsAtLogK() {
        CollapseDetector d = new CollapseDetector(K);
        assertEquals(8.3178, d.logK(), 1e-4);
        // the README's collapsed Fashion-MNIST run: entropy 8.30-8.32, dino_local 7.393 + dino_global 7.393 / 8
        double dino = 7.393 * 9 / 8;
        for (int s = 1; s < CollapseDetector.STEPS; s++) assertFalse(d.update(8.30 + 0.02 * (s % 2), dino), "step " + s);
        assertTrue(d.update(8.31, dino));
        assertTrue(d.update(8.31, dino));
        assertEquals(CollapseDetector.STEPS + 1, d.run());
    }

    @Test
    void notCollapsedWhenTheTeacherEntropyDropsOrTheLossIsAbove() {
        CollapseDetector d = new CollapseDetector(K);
        for (int s = 0; s < 19; s++) d.update(LOG_K, LOG_K);
        assertFalse(d.update(LOG_K - 0.2, LOG_K), "a sharper teacher breaks the run");
        assertEquals(0, d.run());
        for (int s = 0; s < 100; s++) assertFalse(d.update(LOG_K * 0.99, LOG_K));
        // uniform targets, but a student far from them (early training): the cross-entropy is well above log K
        for (int s = 0; s < 100; s++) assertFalse(d.update(LOG_K, LOG_K + 0.5));
        // the LayerScale 0.1 pilot: dino_local 7.29-7.33 (sum 8.20-8.25), not collapsed
        for (int s = 0; s < 100; s++) assertFalse(d.update(8.24, 7.33 * 9 / 8));
        for (int s = 0; s < CollapseDetector.STEPS; s++) d.update(LOG_K, LOG_K);
        assertTrue(d.collapsed());
        assertFalse(d.update(LOG_K, LOG_K * 1.01), "leaving log K ends it");
    }

    @Test
    void meanEntropyOfUniformOneHotAndMixedRows() {
        int k = 8;
        float[] p = new float[3 * k];
        java.util.Arrays.fill(p, 0, k, 1f / k); // uniform: log 8
        p[k + 3] = 1; // one-hot: 0
        p[2 * k] = p[2 * k + 1] = 0.5f; // two halves: log 2
        assertEquals((Math.log(8) + Math.log(2)) / 3, Centering.meanEntropy(p, 3, k), 1e-6);
        assertEquals(Math.log(8), Centering.meanEntropy(p, 1, k), 1e-6);
    }
}
