package org.dino4j.train.optim;

/**
 * The official CosineScheduler (dinov2/utils/utils.py): {@code freezeIters} zeros, then a linear warmup from
 * {@code startWarmupValue} to {@code base} over {@code warmupIters} (numpy linspace: both ends included), then
 * {@code final + 0.5 (base - final)(1 + cos(pi i / n))} for the remaining n iterations; {@code final} from
 * {@code totalIters} on.
 */
public final class CosineScheduler {
    private final double[] schedule;
    private final double finalValue;

    public CosineScheduler(double base, double finalValue, int totalIters, int warmupIters, double startWarmupValue, int freezeIters) {
        int n = totalIters - warmupIters - freezeIters;
        if (n < 0) throw new IllegalArgumentException("warmup + freeze iterations exceed the total");
        this.finalValue = finalValue;
        schedule = new double[totalIters];
        for (int i = 0; i < warmupIters; i++)
            schedule[freezeIters + i] = warmupIters == 1 ? startWarmupValue
                    : startWarmupValue + (base - startWarmupValue) * i / (warmupIters - 1);
        for (int i = 0; i < n; i++)
            schedule[freezeIters + warmupIters + i] = finalValue + 0.5 * (base - finalValue) * (1 + Math.cos(Math.PI * i / n));
    }

    public CosineScheduler(double base, double finalValue, int totalIters) {
        this(base, finalValue, totalIters, 0, 0, 0);
    }

    public double get(long it) {
        return it >= schedule.length ? finalValue : schedule[(int) it];
    }

    /** The official last-layer schedule: this one with the first {@code iters} set to 0. */
    public CosineScheduler zeroFirst(int iters) {
        for (int i = 0; i < Math.min(iters, schedule.length); i++) schedule[i] = 0;
        return this;
    }
}
