package org.dino4j.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.Timeout;
import java.nio.file.Path;
import java.util.List;
import org.dino4j.model.Checkpoints;

/** A Hugging Face model folder: {@code config.json} and {@code model.safetensors} (one input, split at the marker). */
class HfDirFuzzTest {
    /** Writes an input as the folder {@code dir}: the first part {@code config.json}, the second the weights. */
    static Path write(byte[] data, Path dir) {
        List<byte[]> p = Contract.parts(data, 2);
        Contract.write(dir.resolve("config.json"), p.get(0));
        Contract.write(dir.resolve("model.safetensors"), p.get(1));
        return dir;
    }

    public static void fuzzerTestOneInput(byte[] data) {
        Weights.readAndLoad(write(data, Contract.scratch("hf_model")), Checkpoints::open);
    }

    @FuzzTest(maxDuration = "30s")
    @Timeout(30) // in CI, a hang on a kept input fails its test (fuzzing has its own per-input limit)
    void hfDir(byte[] data) {
        fuzzerTestOneInput(data);
    }
}
