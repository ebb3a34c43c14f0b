package org.dino4j.heads;

/**
 * Whose forward pass a head converted by Hugging Face runs ({@link HuggingFaceHeads}): the weights are the same, the
 * passes differ in the position-embedding resize, the input size and (depth) the last steps.
 */
public enum Semantics {
    /**
     * Hugging Face's own forward, as {@code from_pretrained(dir)(pixel_values)} computes it: sides floored to multiples of
     * 14 (the patch conv drops the rest), HF's size-based position-embedding resize (no 0.1 offset), and for DPT the raw
     * {@code predicted_depth}: no padding, no {@code + min_depth}, no clamp, no resize to the input.
     */
    HUGGING_FACE,
    /**
     * Meta's hub forward with the converted weights: Meta's position-embedding resize (offset 0.1 without registers),
     * sides that must be multiples of 14 (classifier), and for DPT {@code CenterPadding(14)}, {@code relu + 0.001}, the
     * clamp to the dataset's range and the bilinear resize to the input size.
     */
    META
}
