package org.dino4j.data.ssl;

import java.util.ArrayList;
import java.util.List;

/**
 * The mask half of the official {@code collate_data_and_cast} ({@code dinov2/data/collate.py}), draw for draw:
 * of the {@code B} global crops of a batch, {@code int(B * mask_probability)} get a mask whose target size is drawn
 * from its own slice of {@code torch.linspace(min, max, n + 1)}, the rest none, and the list is shuffled.
 *
 * <p>The ratios stay float32 tensors in the Python code, so {@code random.uniform(prob_min, prob_max)} and
 * {@code N * ...} are float32 tensor arithmetic (the Python float from {@code random()} is rounded to float32
 * first); this reproduces that, and torch's CPU linspace with it.
 */
public record MaskCollator(MaskingGenerator generator, int nTokens, double maskRatioMin, double maskRatioMax,
                           double maskProbability) {
    public MaskCollator {
        if (nTokens != generator.numPatches())
            throw new IllegalArgumentException(nTokens + " tokens but a " + generator.height() + "x"
                    + generator.width() + " mask grid");
        if (!(maskProbability >= 0 && maskProbability <= 1))
            throw new IllegalArgumentException("mask probability " + maskProbability);
    }

    /**
     * train.py's set-up for {@code global_crops_size = imgSize}: {@link MaskingGenerator#official}, n_tokens =
     * {@code (img // p) ** 2}, and the default config's {@code ibot.mask_ratio_min_max = (0.1, 0.5)},
     * {@code ibot.mask_sample_probability = 0.5}.
     */
    public static MaskCollator official(int imgSize, int patchSize) {
        MaskingGenerator g = MaskingGenerator.official(imgSize, patchSize);
        return new MaskCollator(g, g.numPatches(), 0.1, 0.5, 0.5);
    }

    /**
     * The masks of one batch.
     *
     * @param masks        {@code collated_masks}, {@code [batch][tokens]} flattened row-major
     * @param indices      {@code mask_indices_list}: the flat positions of the masked tokens, ascending
     * @param weights      {@code masks_weight}: per masked token, 1 / (masked tokens of its row), in float32
     * @param upperbound   {@code upperbound}: the sum of {@code int(N * prob_max)} over the masked rows
     */
    public record Masks(int batch, int tokens, boolean[] masks, int[] indices, float[] weights, int upperbound) {
        /** {@code n_masked_patches}. */
        public int nMaskedPatches() {
            return indices.length;
        }
    }

    /** Masks for {@code batch} global crops (n_global_crops times the number of images), drawing from {@code random}. */
    public Masks collate(int batch, PyRandom random) {
        int n = (int) (batch * maskProbability);
        float[] probs = linspace(maskRatioMin, maskRatioMax, n + 1, true);
        float tokens = nTokens; // `N * tensor` multiplies in float32
        int upperbound = 0;
        List<boolean[]> list = new ArrayList<>(batch);
        for (int i = 0; i < n; i++) {
            list.add(generator.mask(maskSize(nTokens, probs[i], probs[i + 1], random.random()), random));
            upperbound += (int) (tokens * probs[i + 1]);
        }
        for (int i = n; i < batch; i++) list.add(new boolean[nTokens]);
        random.shuffle(list);

        boolean[] masks = new boolean[batch * nTokens];
        int[] counts = new int[batch];
        int total = 0;
        for (int b = 0; b < batch; b++) {
            boolean[] m = list.get(b);
            System.arraycopy(m, 0, masks, b * nTokens, nTokens);
            for (boolean v : m) if (v) counts[b]++;
            total += counts[b];
        }
        int[] indices = new int[total];
        float[] weights = new float[total];
        for (int i = 0, k = 0; i < masks.length; i++)
            if (masks[i]) {
                indices[k] = i;
                weights[k++] = 1f / Math.max(counts[i / nTokens], 1);
            }
        return new Masks(batch, nTokens, masks, indices, weights, upperbound);
    }

    /**
     * {@code int(N * random.uniform(prob_min, prob_max))} where {@code random()} returned {@code r}: uniform's
     * {@code a + (b - a) * r} on 0-d float32 tensors rounds r to float32 and each step to float32. In Python floats
     * it would give another size about 4 times in a million.
     */
    static int maskSize(int nTokens, float lo, float hi, double r) {
        return (int) (nTokens * (lo + (hi - lo) * (float) r));
    }

    /**
     * {@code torch.linspace(start, end, steps)} in float32 as ATen's CPU kernel computes it: ends cast to float,
     * {@code step = (end - start) / (steps - 1)}, the first half {@code start + step * i}, the second half
     * {@code end - step * (steps - 1 - i)}. With {@code fused} each of those is one fused multiply-add, as the
     * compiler contracts them in the AVX2 kernel that x86 CPUs run (checked against torch 2.13; the AVX512 kernel
     * is built with FMA too); without, the {@code ATEN_CPU_CAPABILITY=default} kernel's separate multiply and add.
     * The two differ in the last bit now and then; the collator uses the fused one.
     */
    public static float[] linspace(double start, double end, int steps, boolean fused) {
        if (steps < 0) throw new IllegalArgumentException("linspace steps " + steps);
        float s = (float) start, e = (float) end;
        float[] out = new float[steps];
        if (steps == 1) out[0] = s;
        if (steps <= 1) return out;
        float step = (e - s) / (steps - 1);
        int half = steps / 2;
        for (int i = 0; i < steps; i++) {
            if (i < half) out[i] = fused ? Math.fma(step, (float) i, s) : s + step * i;
            else out[i] = fused ? Math.fma(-step, (float) (steps - 1 - i), e) : e - step * (steps - 1 - i);
        }
        return out;
    }
}
