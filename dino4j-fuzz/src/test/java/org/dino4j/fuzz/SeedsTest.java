package org.dino4j.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.dino4j.curate.CurateConfig;
import org.dino4j.data.Datasets;
import org.dino4j.data.ImageDecoder;
import org.dino4j.model.Checkpoints;
import org.dino4j.model.Dinov2;
import org.dino4j.train.ssl.SslConfig;
import org.junit.jupiter.api.Test;

/**
 * The seeds are valid inputs, read in full: the fuzzer starts from the deep paths (a model built, pixels decoded),
 * not from the first error. Seed files are named {@code seed-*}; findings kept for regression have other names.
 */
class SeedsTest {
    private static List<Path> seeds(String dir) throws IOException {
        Path d = Path.of("src/test/resources/org/dino4j/fuzz", dir);
        try (Stream<Path> s = Files.list(d)) {
            List<Path> out = s.filter(p -> p.getFileName().toString().startsWith("seed-")).sorted().toList();
            assertTrue(out.size() >= 1, "no seeds in " + d);
            return out;
        }
    }

    @Test
    void checkpointSeedsLoadAModelOrTheirTensors() throws IOException {
        for (Path p : seeds("PthFuzzTestInputs/pth")) loadsOrReads(p, ".pth");
        for (Path p : seeds("SafeTensorsFuzzTestInputs/safetensors")) loadsOrReads(p, ".safetensors");
        for (Path p : seeds("HfDirFuzzTestInputs/hfDir")) {
            try (var m = Dinov2.load(HfDirFuzzTest.write(Files.readAllBytes(p), Contract.scratch("seed-hf")))) {
                assertEquals(6, m.embedDim(), p.toString());
            }
        }
    }

    private static void loadsOrReads(Path seed, String ext) throws IOException {
        Path f = Contract.write(Contract.scratch("seed").resolve("in" + ext), Files.readAllBytes(seed));
        if (seed.getFileName().toString().contains("dtypes")) { // plain tensors, no model
            try (var st = Checkpoints.open(f)) {
                assertEquals(3, st.names().size(), seed.toString());
            }
            return;
        }
        try (var m = Dinov2.load(f)) {
            assertEquals(64, m.embedDim(), seed.toString());
        }
    }

    @Test
    void imageSeedsDecode() throws IOException {
        ImageDecoder d = new ImageDecoder(ImageFuzzTest.MAX_PIXELS);
        for (Path p : seeds("ImageFuzzTestInputs/image")) {
            var im = d.decode(p);
            assertTrue(im.width() > 0 && im.height() > 0, p.toString());
            if (p.getFileName().toString().startsWith("seed-exif6")) assertEquals(6, im.width(), "EXIF 6 turns 8 x 6 into 6 x 8: " + p);
        }
    }

    @Test
    void datasetSeedsOpen() throws IOException {
        for (Path p : seeds("IdxFuzzTestInputs/idx")) {
            Path images = IdxFuzzTest.write(Files.readAllBytes(p), Contract.scratch("seed-idx"));
            assertEquals(p.getFileName().toString().contains("gz"), images.toString().endsWith(".gz"), p.toString());
            var ds = Datasets.open(images);
            assertTrue(ds.size() >= 2, p.toString());
            if (p.getFileName().toString().contains("fashion")) assertEquals(9, ds.get(0).label(), "Fashion-MNIST t10k starts with an ankle boot");
        }
        for (Path p : seeds("ListFileFuzzTestInputs/listFile")) {
            Path list = Contract.write(Contract.scratch("seed-list").resolve("images.csv"), Files.readAllBytes(p));
            assertEquals(3, Datasets.open(list).size(), p.toString());
        }
    }

    @Test
    void configSeedsLoad() throws IOException {
        for (Path p : seeds("SslConfigFuzzTestInputs/sslConfig")) {
            var in = SslConfigFuzzTest.write(Files.readAllBytes(p), Contract.scratch("seed-ssl"));
            assertTrue(SslConfig.load(null, in.yaml(), in.overrides()).iterations() > 0, p.toString());
        }
        for (Path p : seeds("CurateConfigFuzzTestInputs/curateConfig"))
            assertTrue(CurateConfig.read(p).output() != null, p.toString());
    }
}
