package org.dino4j.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.Timeout;
import java.nio.file.Path;
import org.dino4j.data.ImageDecoder;
import org.dino4j.data.ImageException;
import org.dino4j.data.RgbImage;

/**
 * The image decoders (JPEG, PNG, WebP, BMP, GIF, TIFF through ImageIO and TwelveMonkeys) and the EXIF orientation
 * that follows every decode. The pixel limit is lowered so a header's claimed size, not the heap, is what is tested.
 */
class ImageFuzzTest {
    static final long MAX_PIXELS = 1 << 22;
    private static final ImageDecoder DECODER = new ImageDecoder(MAX_PIXELS);
    private static final Path NAME = Path.of("input.img");

    public static void fuzzerTestOneInput(byte[] data) {
        Contract.holds(NAME.toString(), () -> {
            RgbImage im = DECODER.decode(NAME, data);
            if (im.width() < 1 || im.height() < 1 || (long) im.width() * im.height() > MAX_PIXELS
                    || im.rgb().length != 3L * im.width() * im.height())
                throw new AssertionError("decoded " + im.width() + " x " + im.height() + " with " + im.rgb().length + " bytes");
        }, ImageException.class);
    }

    @FuzzTest(maxDuration = "30s")
    @Timeout(30) // in CI, a hang on a kept input fails its test (fuzzing has its own per-input limit)
    void image(byte[] data) {
        fuzzerTestOneInput(data);
    }
}
