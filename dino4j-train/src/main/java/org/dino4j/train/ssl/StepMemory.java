package org.dino4j.train.ssl;

import java.util.Locale;

import org.dino4j.model.ModelConfig;

/**
 * The heap a DINOv2 training step needs, counted from the float arrays it keeps alive: the weights (student and EMA
 * teacher), AdamW's two moments, every value the backward reads (per block and token the qkv row, the attention
 * output, both branches' outputs, the MLP's hidden row and the two residual sums: 12 x D floats for ViT-S/B/L), the
 * heads' logits (rows x prototypes) and the teacher's targets. The peak is the start of the backward, where the whole
 * forward is alive and the logits' gradients are made, so the forward's end plus the optimizer state plus those
 * gradients, times what the JVM needs beside the arrays themselves ({@link #JVM_OVERHEAD}) and over G1's reserve.
 *
 * @param weights     student and EMA teacher (and a frozen teacher's head), bytes
 * @param optimizer   AdamW's exp_avg and exp_avg_sq, two floats per trainable weight (from the first step on)
 * @param activations what the two backbone forwards keep for the backward, with the crops' pixels
 * @param heads       the heads' activations and logits, the teacher's targets
 * @param backward    the backward's first arrays: every weight's gradient, the largest logits' gradient, and one
 *                    checkpointed block recomputed
 */
public record StepMemory(long weights, long optimizer, long activations, long heads, long backward) {
    /**
     * The measured live heap over the counted arrays at the forward's end: what the JVM keeps beside the step's arrays,
     * and G1's whole regions for large arrays (a 12.6 MB activation takes 14 MB in 2 MB regions, 16 MB in 4 or 8 MB
     * ones). {@code dino4j bench --train} at ViT-S/14, batch 16, 65,536 prototypes, 4426 MiB counted, 2026-12-07:
     * 4829 MiB live with the launcher's 2 MB regions (1.09), 5219 MiB with 4 MB regions (-Xmx8g, 1.18), 5811 MiB with
     * the 8 MB regions G1 picks for an 18 GB heap (1.31).
     */
    static final double JVM_OVERHEAD = 1.09;

    /** G1 keeps 10 % of the heap free (G1ReservePercent) for its copies: the live data may fill 90 % of it. */
    static final double USABLE = 0.9;

    /** A DINOHead's sizes: prototypes K, hidden width, bottleneck, Linear layers. */
    public record Head(int prototypes, int hidden, int bottleneck, int layers) {
        long params(int in) {
            long n = 0;
            for (int i = 0; i < layers; i++) {
                int out = i == layers - 1 ? bottleneck : hidden;
                n += (long) out * in + out;
                in = out;
            }
            return n + prototypes + (long) prototypes * bottleneck; // last_layer.weight_g, weight_v
        }

        /** One call on r rows: the MLP's outputs (GELU applied inside the next GEMM), normalised rows, logits. */
        long activations(long r) {
            return r * ((long) hidden * (layers - 1) + 2L * bottleneck + prototypes);
        }
    }

    /** The forward's end, as {@code bench --train} measures it (its first step: no AdamW state yet, no gradients). */
    public long forwardEnd() {
        return weights + activations + heads;
    }

    /** The step's peak, counted (the arrays only). */
    public long counted() {
        return forwardEnd() + optimizer + backward;
    }

    /** The heap the step needs: the counted peak, the JVM's share, and G1's reserve. */
    public long needed() {
        return withJvm(counted());
    }

    /** The heap that holds this many bytes of arrays: the JVM's share and G1's reserve added. */
    public static long withJvm(long bytes) {
        return (long) (bytes * JVM_OVERHEAD / USABLE);
    }

    /** "6.1 GiB (activations 3.2, heads and targets 0.7, ...)": GiB, as -Xmx counts them. */
    public String breakdown() {
        return String.format(Locale.ROOT, "%s (activations %.1f, heads and targets %.1f, weights and AdamW %.1f, gradients %.1f, JVM and G1 reserve %.1f)",
                gib(needed()), activations / GIB, heads / GIB, (weights + optimizer) / GIB, backward / GIB, (needed() - counted()) / GIB);
    }

    private static final double GIB = 1L << 30;

    public static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.1f GiB", bytes / GIB);
    }

    /** A step of {@link SslTrainer} with this configuration (distill: a frozen teacher, every global patch in iBOT, no drop-path). */
    public static StepMemory of(SslTrainer.Config cfg, boolean distill) {
        var c = cfg.crops();
        ModelConfig m = cfg.model();
        int b = cfg.batchPerStep(), gs = Math.max(c.globalSize(), cfg.highResIters() > 0 ? cfg.highResSize() : 0);
        long patches = 2L * b * (gs / m.patchSize()) * (gs / m.patchSize());
        // masked patches: half the global crops (mask_sample_probability) at ratios spread over [min, max]
        double fraction = distill ? 1 : cfg.maskProbability() * (cfg.maskRatioMin() + cfg.maskRatioMax()) / 2;
        Head dino = new Head(cfg.prototypes(), cfg.headHidden(), cfg.headBottleneck(), cfg.headLayers());
        var ih = cfg.ibotHead();
        Head ibot = ih == null ? null : new Head(ih.prototypes(), ih.hidden(), ih.bottleneck(), ih.layers());
        return count(m, b, gs, c.localSize(), c.localCrops(), Math.round(patches * fraction), dino, ibot,
                distill ? 0 : cfg.dropPathRate(), cfg.dropPathUniform(), 0, distill);
    }

    /**
     * @param masked          the global crops' masked patches (iBOT's rows)
     * @param ibot            a separate iBOT head, or null: the DINO head serves both
     * @param checkpointEvery activation checkpointing for every k-th block, 0 for none
     * @param frozenTeacher   distillation: the teacher's backbone is memory-mapped, its head on the heap
     */
    public static StepMemory count(ModelConfig model, int batch, int globalSize, int localSize, int localCrops, long masked,
                                   Head dino, Head ibot, double dropPath, boolean dropUniform, int checkpointEvery, boolean frozenTeacher) {
        int d = model.embedDim();
        long student = backboneParams(model, globalSize) + dino.params(d) + (ibot == null ? 0 : ibot.params(d));
        long weights = 2 * student + (frozenTeacher ? dino.params(d) : 0);
        long[] g = forward(model, 2 * batch, globalSize, dropPath, dropUniform, checkpointEvery);
        long[] l = localCrops == 0 ? new long[2] : forward(model, localCrops * batch, localSize, dropPath, dropUniform, checkpointEvery);
        long k = dino.prototypes(), cls = (long) localCrops * batch;
        long heads = dino.activations(cls) + dino.activations(2L * batch) + (long) dino.prototypes() * dino.bottleneck() // weight-normed W
                + cls * k + 4L * batch * k // the local crops' logits by crop, the DINO targets and their two halves
                + Math.max((long) dino.prototypes() * dino.bottleneck(), (long) dino.hidden() * dino.hidden()); // GEMM's packed B, kept
        Head ih = ibot == null ? dino : ibot;
        if (masked > 0) heads += masked * d + ih.activations(masked) + masked * ih.prototypes() // student rows, head, targets
                + (ibot == null ? 0 : (long) ibot.prototypes() * ibot.bottleneck());
        long largestLogits = Math.max(Math.max(cls, 2L * batch) * k, masked * ih.prototypes());
        long backward = student + largestLogits + Math.max(g[1], l[1]);
        return new StepMemory(4 * weights, 4 * 2 * student, 4 * (g[0] + l[0]), 4 * heads, 4 * backward);
    }

    /** Trainable floats of the backbone at this global crop size (position embeddings at its grid, as in training). */
    static long backboneParams(ModelConfig m, int globalSize) {
        long d = m.embedDim(), h = m.ffnHidden(), p = m.patchSize(), grid = globalSize / p;
        long block = 4 * d + 3 * d * d + 3 * d + d * d + d + (m.initValues() != null ? 2 * d : 0)
                + (m.swiglu() ? 2 * h * d + 2 * h + h * d + d : h * d + h + h * d + d);
        return d * 3 * p * p + d + d + d + (1 + grid * grid) * d + (long) m.numRegisterTokens() * d + m.depth() * block + 2 * d;
    }

    /**
     * One backbone forward over {@code images} crops of {@code size} px: {kept floats, the largest checkpointed block's
     * floats (recomputed in the backward), 0 if none}.
     */
    static long[] forward(ModelConfig m, int images, int size, double dropPath, boolean uniform, int checkpointEvery) {
        long d = m.embedDim(), h = m.ffnHidden(), p = m.patchSize(), n = (size / p) * (size / p);
        long rows = images * (1 + m.numRegisterTokens() + n), pix = images * n;
        long kept = images * 3L * size * size + pix * 3 * p * p + 2 * pix * d + 2 * rows * d + images * d + 2 * rows // pixels, im2col,
                + (m.numRegisterTokens() > 0 ? 2 * rows * d : 0);  // patch embedding, tokens, final norm, outputs; registers' copies
        long attn = 5 * d, ffn = m.swiglu() ? 6 * h + d : h + d, recompute = 0;
        for (int i = 0; i < m.depth(); i++) {
            double rate = dropPath <= 0 ? 0 : uniform || m.depth() == 1 ? dropPath : dropPath * i / (m.depth() - 1);
            long block;
            if (rate > 0.1) { // drop_add_residual_stochastic_depth: each branch on a subset of the batch, then index_add
                long sub = Math.max((long) (images * (1 - rate)), 1) * (rows / images);
                block = sub * (attn + ffn + 2 * d + (m.initValues() != null ? 2 * d : 0) + 4) + 2 * rows * d;
            } else block = rows * (attn + ffn + 2 * d + 4);
            if (checkpointEvery > 0 && i % checkpointEvery == 0) {
                kept += rows * d;
                recompute = Math.max(recompute, block);
            } else kept += block;
        }
        return new long[] {kept, recompute};
    }
}
