package org.dino4j.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.Timeout;
import java.nio.file.Path;
import org.dino4j.io.SafeTensors;

/** {@code .safetensors} files: the header length, the header JSON, dtypes, shapes and offsets, then a model. */
class SafeTensorsFuzzTest {
    public static void fuzzerTestOneInput(byte[] data) {
        Path f = Contract.write(Contract.scratch("safetensors").resolve("input.safetensors"), data);
        Weights.readAndLoad(f, SafeTensors::read);
    }

    @FuzzTest(maxDuration = "30s")
    @Timeout(30) // in CI, a hang on a kept input fails its test (fuzzing has its own per-input limit)
    void safetensors(byte[] data) {
        fuzzerTestOneInput(data);
    }
}
