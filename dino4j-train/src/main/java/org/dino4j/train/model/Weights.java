package org.dino4j.train.model;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import org.dino4j.io.DType;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;
import org.dino4j.train.autograd.Var;

/** Moving trainable parameters between the autodiff world and the inference engine. */
public final class Weights {
    private Weights() {}

    /** A teacher: copies of the values, without gradients. */
    public static Map<String, Var> constantCopy(Map<String, Var> params) {
        Map<String, Var> out = new LinkedHashMap<>();
        params.forEach((k, v) -> out.put(k, Var.constant(v.value().clone(), v.shape())));
        return out;
    }

    /**
     * A state dict over the arrays themselves, for {@code DinoVisionTransformer.fromStateDict}: no copy of the Linear
     * weights (the engine keeps their segments), so in-place updates such as the EMA are seen by the next model built.
     */
    public static TensorStore stateDict(Map<String, Var> params) {
        Map<String, TensorEntry> m = new LinkedHashMap<>();
        params.forEach((k, v) -> m.put(k, new TensorEntry(k, DType.F32, Arrays.stream(v.shape()).asLongStream().toArray(),
                MemorySegment.ofArray(v.value()))));
        return TensorStore.inMemory(m);
    }
}
