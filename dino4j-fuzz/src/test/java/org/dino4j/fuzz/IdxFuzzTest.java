package org.dino4j.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.Timeout;
import java.nio.file.Path;
import java.util.List;
import org.dino4j.data.Dataset;
import org.dino4j.data.Datasets;
import org.dino4j.data.ImageDecoder;
import org.dino4j.data.RgbImage;

/** MNIST-style IDX files: an images file and the labels file beside it (one input, split at the marker). */
class IdxFuzzTest {
    private static final ImageDecoder DECODER = new ImageDecoder(ImageFuzzTest.MAX_PIXELS);

    public static void fuzzerTestOneInput(byte[] data) {
        List<byte[]> p = Contract.parts(data, 2);
        Path dir = Contract.scratch("idx");
        String gz = p.get(0).length > 1 && p.get(0)[0] == 0x1f && (p.get(0)[1] & 0xff) == 0x8b ? ".gz" : ""; // as Fashion-MNIST ships
        Path images = Contract.write(dir.resolve("t10k-images-idx3-ubyte" + gz), p.get(0));
        if (p.get(1).length > 0) Contract.write(dir.resolve("t10k-labels-idx1-ubyte" + gz), p.get(1));
        Contract.holds("ubyte", () -> { // names the images file or the labels file
            Dataset ds = Datasets.open(images);
            for (int i = 0; i < ds.size(); i++) {
                RgbImage im = ds.get(i).source().load(DECODER);
                int y = ds.get(i).label();
                if (im.rgb().length != 3L * im.width() * im.height() || y >= ds.classes().size())
                    throw new AssertionError("sample " + i + ": " + im.width() + " x " + im.height() + ", label " + y);
            }
        }, IllegalArgumentException.class);
    }

    @FuzzTest(maxDuration = "30s")
    @Timeout(30) // in CI, a hang on a kept input fails its test (fuzzing has its own per-input limit)
    void idx(byte[] data) {
        fuzzerTestOneInput(data);
    }
}
