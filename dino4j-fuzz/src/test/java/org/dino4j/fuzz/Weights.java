package org.dino4j.fuzz;

import java.nio.file.Path;
import java.util.function.Function;

import org.dino4j.io.CheckpointException;
import org.dino4j.io.TensorStore;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;

/** The two things a user does with a weights file: open it and read every tensor, and load a model from it. */
final class Weights {
    private Weights() {}

    static void readAndLoad(Path input, Function<Path, TensorStore> reader) {
        String name = input.getFileName().toString();
        Contract.holds(name, () -> {
            try (TensorStore st = reader.apply(input)) {
                for (String k : st.names()) {
                    // numel is exact (a wrapped or negative shape throws); every byte of every tensor can be read
                    st.get(k).toFloatArray();
                }
            }
        }, CheckpointException.class);
        Contract.holds(name, () -> {
            try (DinoVisionTransformer m = Dinov2.load(input)) {
                if (m.config().embedDim() < 1) throw new AssertionError("model with embed_dim " + m.config().embedDim());
            }
        }, CheckpointException.class);
    }
}
