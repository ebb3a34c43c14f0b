package org.dino4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.dino4j.train.ssl.TrainingRun;
import org.junit.jupiter.api.Test;

/** train's ETA arithmetic: the steps left plus the k-NN evaluations still to come. */
class TrainProgressTest {
    @Test
    void evaluationsLeftCountTheOneDueNowAndTheFinalOne() {
        // 800 steps, every 200: evaluations at 200, 400, 600, 800 (step 0's ran before the loop)
        assertEquals(4, TrainingRun.evalsLeft(1, 800, 200));
        assertEquals(4, TrainingRun.evalsLeft(200, 800, 200), "the line for step 200 comes before its evaluation");
        assertEquals(3, TrainingRun.evalsLeft(201, 800, 200));
        assertEquals(1, TrainingRun.evalsLeft(800, 800, 200));
        // 250 steps, every 100: 100, 200 and the end, 250
        assertEquals(3, TrainingRun.evalsLeft(1, 250, 100));
        assertEquals(1, TrainingRun.evalsLeft(201, 250, 100));
        assertEquals(0, TrainingRun.evalsLeft(251, 250, 100));
    }

    @Test
    void etaAddsTheEvaluations() {
        // the README's Fashion-MNIST run at its start: 800 steps of 3.7 s, 4 evaluations of 2 minutes ahead
        double eta = TrainingRun.etaSeconds(1, 800, 3.7, TrainingRun.evalsLeft(1, 800, 200), 120);
        assertEquals(799 * 3.7 + 4 * 120, eta, 1e-9);
        assertEquals("57m16s", ProgressBar.duration(eta)); // 49m16s of steps, 8m of evaluations
        assertEquals(599 * 3.7, TrainingRun.etaSeconds(201, 800, 3.7, 3, 0), 1e-9);
    }
}
