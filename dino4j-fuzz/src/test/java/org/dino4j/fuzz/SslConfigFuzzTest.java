package org.dino4j.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.Timeout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.dino4j.train.ssl.SslConfig;

/** The training configuration: a YAML file, then {@code key=value} overrides (one per line of the second part). */
class SslConfigFuzzTest {
    record Input(Path yaml, List<String> overrides) {}

    /** Writes the first part as {@code dir/train.yaml}; the second part's non-empty lines are the overrides. */
    static Input write(byte[] data, Path dir) {
        List<byte[]> p = Contract.parts(data, 2);
        return new Input(Contract.write(dir.resolve("train.yaml"), p.get(0)),
                new String(p.get(1), StandardCharsets.UTF_8).lines().filter(l -> !l.isEmpty()).toList());
    }

    public static void fuzzerTestOneInput(byte[] data) {
        Input in = write(data, Contract.scratch("ssl"));
        Path yaml = in.yaml();
        List<String> overrides = in.overrides();
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
