package org.dino4j.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.dino4j.conformance.Conformance.Check;
import org.dino4j.conformance.Conformance.Extension;
import org.dino4j.conformance.Conformance.Kind;
import org.dino4j.io.TensorStore;

/**
 * The preprocessing fixture: {@code make_classification_eval_transform()} of the official code applied to
 * {@code preprocess_input.png} beside it. Identical pixels leave only float rounding, so the bound is 1e-5.
 */
public final class PreprocessConformance implements Extension {
    static final double TOLERANCE = 1e-5;

    @Override
    public Kind kind() {
        return Kind.PREPROCESS;
    }

    @Override
    public void check(Path fixture, TensorStore f, List<Check> checks) {
        String fx = fixture.getFileName().toString();
        Path input = fixture.resolveSibling(fx.replace("_expected.safetensors", "_input.png"));
        if (!Files.exists(input)) {
            checks.add(new Check(fx, "png", "eval_transform (no " + input.getFileName() + " beside the fixture)", Double.NaN, Double.NaN, false));
            return;
        }
        float[] want = f.get("eval_transform").toFloatArray();
        float[] got = Preprocess.EVAL.chw(new ImageDecoder().decode(input));
        if (got.length != want.length) {
            checks.add(new Check(fx, "png", "eval_transform size " + got.length + " != " + want.length, Double.NaN, Double.NaN, false));
            return;
        }
        double maxAbs = 0, scale = 0;
        for (int i = 0; i < want.length; i++) {
            maxAbs = Math.max(maxAbs, Math.abs((double) got[i] - want[i]));
            scale = Math.max(scale, Math.abs(want[i]));
        }
        checks.add(new Check(fx, "png", "eval_transform", maxAbs, maxAbs / Math.max(scale, 1e-30), maxAbs <= TOLERANCE));
    }
}
