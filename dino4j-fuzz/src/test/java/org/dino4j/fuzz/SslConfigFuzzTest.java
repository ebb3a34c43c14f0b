package org.dino4j.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.Timeout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.dino4j.train.ssl.SslConfig;

/** The training configuration: a YAML file, then {@code key=value} overrides (one per line of the second part). */
class SslConfigFuzzTest {
    public static void fuzzerTestOneInput(byte[] data) {
        List<byte[]> p = Contract.parts(data, 2);
        Path yaml = Contract.write(Contract.scratch("ssl").resolve("train.yaml"), p.get(0));
        List<String> overrides = new String(p.get(1), StandardCharsets.UTF_8).lines().filter(l -> !l.isEmpty()).toList();
        Contract.holds(null, () -> {
            SslConfig c = SslConfig.load(null, yaml, overrides);
            var t = c.trainer();
            if (c.iterations() < 0 || t.model().embedDim() < 1) throw new AssertionError("accepted " + t);
            SslConfig again = SslConfig.load(null, Contract.write(yaml, c.toYaml().getBytes(StandardCharsets.UTF_8)), List.of());
            if (!again.toYaml().equals(c.toYaml())) throw new AssertionError("toYaml does not read back the same");
        }, IllegalArgumentException.class);
    }

    @FuzzTest(maxDuration = "30s")
    @Timeout(30) // in CI, a hang on a kept input fails its test (fuzzing has its own per-input limit)
    void sslConfig(byte[] data) {
        fuzzerTestOneInput(data);
    }
}
