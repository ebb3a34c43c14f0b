package org.dino4j.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.Timeout;
import java.nio.file.Path;
import org.dino4j.io.TorchPth;

/** {@code .pth} files: the zip directory, the pickle opcodes, storages and views, then a model from them. */
class PthFuzzTest {
    public static void fuzzerTestOneInput(byte[] data) {
        Path f = Contract.write(Contract.scratch("pth").resolve("input.pth"), data);
        Weights.readAndLoad(f, TorchPth::read);
    }

    @FuzzTest(maxDuration = "30s")
    @Timeout(30) // in CI, a hang on a kept input fails its test (fuzzing has its own per-input limit)
    void pth(byte[] data) {
        fuzzerTestOneInput(data);
    }
}
