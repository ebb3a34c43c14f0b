package org.dino4j.eval.dense;

/**
 * How a dense head is trained: optimiser, learning-rate schedule (the mmcv hooks the mmseg-style configs use), batch
 * and iterations. The heads draw their batches with {@code seed}.
 *
 * <p>{@link #segmentation()}: the linear setting of the released {@code *_linear_config.py} heads - AdamW lr 1e-3,
 * weight decay 1e-4, betas (0.9, 0.999), poly decay (power 1, to 0) after a linear warm-up of 1500 iterations from
 * 1e-6 x lr, 40k iterations of batch 16 (8 GPUs x 2). The configs live on the CDN, not in the repository;
 * the optimiser and poly schedule match the public reproduction zshn25/DINOv2_mmseg
 * ({@code configs/dinov2_vitb14_ade20k_ms_config.py}, "based on the configs provided by the authors"); the warm-up
 * (1500 iterations, ratio 1e-6) and the 40k iterations are the released config as remembered, not checkable offline
 * (they are the usual mmseg transformer-head schedule).
 *
 * <p>{@link #depth()}: the BinsFormer NYU recipe the paper follows (Li et al. 2022; Monocular-Depth-Estimation-Toolbox
 * {@code configs/binsformer/binsformer_swinl_22k_w7_nyu.py}): AdamW max lr 1e-4, weight decay 0.01, one-cycle (cosine,
 * 30% up from lr/25, down to lr/25/100), 38.4k iterations, gradient clipping at norm 35; batch 8 (the toolbox's NYU
 * {@code samples_per_gpu}, per GPU).
 */
public record TrainConfig(Optimizer optimizer, double lr, double weightDecay, double beta1, double beta2,
                          double momentum, Schedule schedule, int warmupIters, double warmupRatio, int iterations,
                          int batchSize, double gradClip, long seed) {
    public enum Optimizer { ADAMW, SGD }

    /** CONSTANT; POLY = mmcv poly (power 1, min 0) with linear warm-up; ONE_CYCLE = mmcv OneCycle (cos, pct 0.3, div 25, final div 100). */
    public enum Schedule { CONSTANT, POLY, ONE_CYCLE }

    public TrainConfig {
        if (!(lr > 0)) throw new IllegalArgumentException("lr must be > 0, got " + lr);
        if (weightDecay < 0) throw new IllegalArgumentException("weight decay must be >= 0, got " + weightDecay);
        if (iterations < 1 || batchSize < 1) throw new IllegalArgumentException("iterations and batch size must be >= 1");
        if (warmupIters < 0) throw new IllegalArgumentException("warm-up iterations must be >= 0");
    }

    public static TrainConfig segmentation() {
        return new TrainConfig(Optimizer.ADAMW, 1e-3, 1e-4, 0.9, 0.999, 0, Schedule.POLY, 1500, 1e-6, 40_000, 16, 0, 0);
    }

    public static TrainConfig depth() {
        return new TrainConfig(Optimizer.ADAMW, 1e-4, 0.01, 0.9, 0.999, 0, Schedule.ONE_CYCLE, 0, 0, 38_400, 8, 35, 0);
    }

    public TrainConfig withSteps(int iterations, int batchSize) {
        return new TrainConfig(optimizer, lr, weightDecay, beta1, beta2, momentum, schedule,
                Math.min(warmupIters, iterations / 10), warmupRatio, iterations, batchSize, gradClip, seed);
    }

    public TrainConfig withLr(double lr) {
        return new TrainConfig(optimizer, lr, weightDecay, beta1, beta2, momentum, schedule, warmupIters, warmupRatio,
                iterations, batchSize, gradClip, seed);
    }

    public TrainConfig withSeed(long seed) {
        return new TrainConfig(optimizer, lr, weightDecay, beta1, beta2, momentum, schedule, warmupIters, warmupRatio,
                iterations, batchSize, gradClip, seed);
    }

    /** The learning rate of 0-based iteration {@code it}, as the mmcv LR hooks set it before that step. */
    public double lrAt(int it) {
        return switch (schedule) {
            case CONSTANT -> lr;
            case POLY -> {
                double regular = lr * (1 - (double) it / iterations); // power 1, min_lr 0
                if (it < warmupIters) regular *= 1 - (1 - (double) it / warmupIters) * (1 - warmupRatio);
                yield regular;
            }
            case ONE_CYCLE -> {
                double initial = lr / 25, min = initial / 100;
                double end1 = 0.3 * iterations - 1, end2 = iterations - 1;
                yield it <= end1 ? cos(initial, lr, end1 <= 0 ? 1 : it / end1)
                        : cos(lr, min, (it - end1) / (end2 - end1));
            }
        };
    }

    private static double cos(double start, double end, double f) {
        return end + (start - end) / 2 * (Math.cos(Math.PI * f) + 1);
    }
}
