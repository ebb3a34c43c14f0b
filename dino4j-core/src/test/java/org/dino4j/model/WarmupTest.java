package org.dino4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;

import org.dino4j.kernels.Kernels;
import org.dino4j.kernels.Parallel;
import org.dino4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

class WarmupTest {
    @Test
    void miniatureKeepsWhatPicksTheCodePathsAndShrinksTheRest() {
        for (String name : new String[] {"dinov2_vits14", "dinov2_vitg14_reg"}) {
            ModelConfig real = ModelConfig.preset(name);
            ModelConfig m = Warmup.miniature(real).config();
            assertEquals(real.patchSize(), m.patchSize(), name);
            assertEquals(real.headDim(), m.headDim(), name);
            assertEquals(real.ffnLayer(), m.ffnLayer(), name);
            assertEquals(real.numRegisterTokens(), m.numRegisterTokens(), name);
            assertEquals(real.initValues(), m.initValues(), name);
            assertEquals(real.interpolateAntialias(), m.interpolateAntialias(), name);
            assertEquals(real.interpolateOffset(), m.interpolateOffset(), name);
            assertEquals(real.mlpRatio(), m.mlpRatio(), name);
            assertEquals(4, m.depth(), name);
            assertEquals(2, m.numHeads(), name);
            assertTrue(m.posGrid() < Warmup.GRID_H, name + ": the pass interpolates the position embedding");
        }
    }

    /** It prints nothing, changes no setting, and a model's output is the same bits before and after it. */
    @Test
    void leavesNoStateBehindAndPrintsNothing() {
        ModelConfig cfg = ModelConfig.preset("dinov2_vits14");
        DinoVisionTransformer model = Warmup.miniature(cfg); // a model of its own, not the warm-up's
        Tensor x = Warmup.pattern(1, 3, 5 * 14, 7 * 14);
        float[] before = model.forwardFeatures(x).xNormPatchtokens().data();
        int threads = Parallel.threads();
        String kernels = Kernels.get().name();
        PrintStream out = System.out, err = System.err;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(printed, true));
            System.setErr(new PrintStream(printed, true));
            Warmup.backbone(Warmup.miniature(cfg), 2);
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
        assertEquals("", printed.toString());
        assertEquals(threads, Parallel.threads());
        assertEquals(kernels, Kernels.get().name());
        assertArrayEquals(before, model.forwardFeatures(x).xNormPatchtokens().data());
    }
}
