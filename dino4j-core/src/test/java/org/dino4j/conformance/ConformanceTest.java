package org.dino4j.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import java.util.stream.Collectors;

import org.dino4j.Fixtures;
import org.dino4j.conformance.Conformance.Check;
import org.dino4j.conformance.Conformance.Kind;
import org.dino4j.conformance.Conformance.Report;
import org.junit.jupiter.api.Test;

/** Every backbone and HF fixture (Meta's code and HF's Dinov2Model, random weights) through every weight route. */
class ConformanceTest {
    final Conformance conformance = new Conformance(1e-4);

    void assertAllPass(Report r, Set<String> routes, int checks) {
        Conformance.format(r).forEach(System.out::println);
        assertEquals(checks, r.checks().size());
        for (Check c : r.checks()) assertTrue(c.pass(), c.toString());
        assertEquals(routes, r.checks().stream().map(Check::route).collect(Collectors.toSet()));
        assertTrue(r.passed());
    }

    @Test
    void officialVitTiny() {
        Report r = conformance.run(Fixtures.file("official/official_vit_tiny.safetensors"));
        assertEquals(Kind.OFFICIAL_BACKBONE, r.kind());
        // 3 inputs x (4 features + 4 intermediate + 1 unnormed) + 2 masked, per route
        assertAllPass(r, Set.of("safetensors", "pth"), 2 * (3 * 9 + 2));
    }

    @Test
    void hfHeadsAreRecognisedAndNeedTheHeadsModule() {
        // the core has no heads: the kind is named, the report says which module checks it
        Report r = conformance.run(Fixtures.file("hf_heads/hf_heads_tiny.safetensors"));
        assertEquals(Kind.UNSUPPORTED, r.kind());
        assertTrue(r.why().contains("dino4j-heads"), r.why());
    }

    @Test
    void officialRegistersSwiglu() {
        Report r = conformance.run(Fixtures.file("official/official_vit_tiny_reg_swiglu.safetensors"));
        assertEquals(Kind.OFFICIAL_BACKBONE, r.kind());
        assertAllPass(r, Set.of("safetensors", "pth"), 2 * (3 * 9 + 2));
    }

    @Test
    void huggingFace() {
        Report r = conformance.run(Fixtures.file("hf/hf_dinov2_tiny.safetensors"));
        assertEquals(Kind.HF_BACKBONE, r.kind());
        // input0: last, pooler, 3 hidden, masked; input1: last, pooler, 3 hidden
        assertAllPass(r, Set.of("safetensors", "hf-dir dinov2_tiny_hf_model"), 2 * 11);
    }

    @Test
    void fixturesOfLaterModulesAreUnsupportedByTheCoreAlone() {
        for (String f : new String[] {"official/official_losses.safetensors", "official/official_train_step.safetensors",
                "official/preprocess_expected.safetensors"}) {
            Report r = conformance.run(Fixtures.file(f));
            assertEquals(Kind.UNSUPPORTED, r.kind(), f);
            assertTrue(!r.passed());
            // the core alone has no image decoding and no autodiff: those checks live in dino4j-data and dino4j-train
            assertTrue(r.why().contains(f.contains("preprocess") ? "dino4j-data" : "dino4j-train"), r.why());
        }
    }

    @Test
    void aWrongToleranceFails() {
        // the check can fail: at 1e-9 float32 arithmetic cannot match float64 references
        Report r = new Conformance(1e-9).run(Fixtures.file("official/official_vit_tiny.safetensors"));
        assertTrue(!r.passed());
    }
}
