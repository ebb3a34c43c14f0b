package org.dino4j.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.Timeout;
import java.nio.file.Path;
import org.dino4j.curate.CurateConfig;

/** The curation configuration (YAML): every section, its types and its ranges. */
class CurateConfigFuzzTest {
    public static void fuzzerTestOneInput(byte[] data) {
        Path yaml = Contract.write(Contract.scratch("curate").resolve("curate.yaml"), data);
        Contract.holds("curate.yaml", () -> CurateConfig.read(yaml), IllegalArgumentException.class);
    }

    @FuzzTest(maxDuration = "30s")
    @Timeout(30) // in CI, a hang on a kept input fails its test (fuzzing has its own per-input limit)
    void curateConfig(byte[] data) {
        fuzzerTestOneInput(data);
    }
}
