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

    /**
     * Writes an input as the images file and (second part, if any) its labels; returns the images file. Parts that
     * start with the gzip magic are written as {@code .gz} (as Fashion-MNIST ships); an input starting with 'Z' has
     * both parts gzipped here, so mutations reach the .gz path through valid deflate streams.
     */
    static Path write(byte[] data, Path dir) {
        boolean zip = data.length > 0 && data[0] == 'Z';
        List<byte[]> p = Contract.parts(zip ? java.util.Arrays.copyOfRange(data, 1, data.length) : data, 2);
        byte[] im = zip ? gzip(p.get(0)) : p.get(0), lab = zip && p.get(1).length > 0 ? gzip(p.get(1)) : p.get(1);
        String gz = im.length > 1 && im[0] == 0x1f && (im[1] & 0xff) == 0x8b ? ".gz" : "";
        Path images = Contract.write(dir.resolve("t10k-images-idx3-ubyte" + gz), im);
        if (lab.length > 0) Contract.write(dir.resolve("t10k-labels-idx1-ubyte" + gz), lab);
        return images;
    }

    private static byte[] gzip(byte[] b) {
        var out = new java.io.ByteArrayOutputStream();
        try (var z = new java.util.zip.GZIPOutputStream(out)) {
            z.write(b);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    public static void fuzzerTestOneInput(byte[] data) {
        Path images = write(data, Contract.scratch("idx"));
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
