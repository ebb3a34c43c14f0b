package org.dino4j.cli;

import org.dino4j.data.Preprocess;
import org.dino4j.model.ModelConfig;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** --resize / --crop of the evaluations that run a model on labelled images: the official eval transform. */
public final class EvalTransformOptions {
    @Option(names = "--resize", paramLabel = "PX",
            description = "Eval transform: shorter side (default 256/224 of --crop; at the model's own img_size, that size).")
    Integer resize;

    @Option(names = "--crop", paramLabel = "PX", description = "Eval transform: centre crop, a multiple of the patch size. Default: "
            + ModelOptions.DEFAULT_SIDE + "224.")
    Integer crop;

    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    /** The transform for this model (a crop off the patch grid is an option error). */
    Preprocess of(ModelConfig cfg) {
        return ModelOptions.transform(spec, cfg, crop, "--crop", resize, null, 0);
    }
}
