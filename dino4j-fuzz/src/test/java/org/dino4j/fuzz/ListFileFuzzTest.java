package org.dino4j.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.Timeout;
import java.nio.file.Path;
import org.dino4j.data.Dataset;
import org.dino4j.data.Datasets;

/** List files ({@code path[,label]} or {@code path<TAB>label} per line) as given to train, eval, embed and curate. */
class ListFileFuzzTest {
    public static void fuzzerTestOneInput(byte[] data) {
        Path list = Contract.write(Contract.scratch("list").resolve("images.csv"), data);
        Contract.holds("images.csv", () -> {
            Dataset ds = Datasets.open(list);
            for (int i = 0; i < ds.size(); i++) {
                var s = ds.get(i);
                int y = s.label();
                if (s.id().isEmpty() || y < -1 || y >= ds.classes().size() || (y >= 0) != !s.className().isEmpty())
                    throw new AssertionError("sample " + i + ": id '" + s.id() + "', label " + y + " '" + s.className() + "'");
            }
        }, IllegalArgumentException.class);
    }

    @FuzzTest(maxDuration = "30s")
    @Timeout(30) // in CI, a hang on a kept input fails its test (fuzzing has its own per-input limit)
    void listFile(byte[] data) {
        fuzzerTestOneInput(data);
    }
}
