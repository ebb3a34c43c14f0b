package org.dino4j.model;

import org.dino4j.tensor.Tensor;

/**
 * A miniature of a model, run on small inputs before the first real forward of a one-shot command, so that the JIT has
 * seen every branch of the kernels (bias or none, LayerScale, the accumulating epilogue, the LayerNorm and GELU
 * prologues, K in several blocks, edge tiles, attention over more than one block of query rows, ...) by the time the
 * real call starts. Otherwise the first call runs the Vector API kernels interpreted or in C1 code (many times slower)
 * while C2 compiles them from the first layers' profiles, then throws that code away ("made not entrant: uncommon
 * trap") as later layers take branches those profiles never saw, and compiles again: C2's one thread (on 2 cores) was
 * busy for ~3 s of a one-photo depth run whose call took 6.0 s cold and ~3.7 s warm (2026-12-07).
 *
 * <p>The miniature keeps what picks the code paths (patch size, head dimension, ffn layer, registers, LayerScale,
 * biases, position-embedding interpolation) and shrinks the rest: 2 heads, 4 blocks, a 6 x 12 patch grid (73 tokens:
 * two blocks of query rows). Its weights are its own; it writes nothing, prints nothing and changes no setting.
 */
public final class Warmup {
    /** Blocks of the miniature: the 4 that the 4-layer heads read. */
    static final int DEPTH = 4;
    /** Its patch grid for the backbone pass: more tokens than one block of attention rows (66), more than one row band. */
    static final int GRID_H = 6, GRID_W = 12;

    private Warmup() {}

    /** The miniature of cfg (see the class comment), with random weights of its own. */
    public static DinoVisionTransformer miniature(ModelConfig cfg) {
        int hd = cfg.headDim();
        ModelConfig mini = new ModelConfig(4 * cfg.patchSize(), cfg.patchSize(), cfg.inChans(), 2 * hd, DEPTH, 2,
                cfg.mlpRatio(), cfg.qkvBias(), cfg.projBias(), cfg.ffnBias(), cfg.initValues(), cfg.ffnLayer(),
                cfg.numRegisterTokens(), cfg.interpolateAntialias(), cfg.interpolateOffset(), cfg.layerNormEps());
        return Dinov2.random(mini, 0);
    }

    /** Runs the miniature's forward and its intermediate layers on a GRID_H x GRID_W patch input, {@code passes} times. */
    public static void backbone(DinoVisionTransformer mini, int passes) {
        int p = mini.config().patchSize();
        Tensor x = pattern(1, mini.config().inChans(), GRID_H * p, GRID_W * p);
        for (int i = 0; i < passes; i++) {
            mini.forwardFeatures(x);
            mini.intermediateLayers(x, DEPTH, true, true, true);
        }
    }

    /** A (b, c, h, w) tensor of values in [-1, 1] without any structure the kernels would care about. */
    public static Tensor pattern(int b, int c, int h, int w) {
        float[] v = new float[b * c * h * w];
        for (int i = 0; i < v.length; i++) v[i] = (i * 37 % 101) / 50f - 1f;
        return new Tensor(v, b, c, h, w);
    }
}
