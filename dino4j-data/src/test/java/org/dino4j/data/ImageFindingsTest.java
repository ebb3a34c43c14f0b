package org.dino4j.data;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Base64;
import org.junit.jupiter.api.Test;

/** Images found by fuzzing (dino4j-fuzz ImageFuzzTest). */
class ImageFindingsTest {
    @Test
    void webpLosslessThatReadsPastItsEndIsRefusedNotDecodedFromZerosForSeconds() {
        // 94 bytes: VP8X + a truncated VP8L stream. TwelveMonkeys' bit reader pads with zeros on EOF; decoding
        // those zeros took 17 s (a timeout under the fuzzer). Now the stream stops it after 4096 reads past the end.
        byte[] webp = Base64.getDecoder().decode("UklGRl4AAABXRUJQVlA4WAoAAAAIAAAABwAABQAAVlA4TB4A9wAvB0ABALmM6H/sIqj/ASHAeWFGCcZweBV6amF6LlokO3LOcgcge9aVTgS9gY3wFUFcYC5Hoe35fnV2209Zs9W9DwAA");
        ImageException e = assertThrows(ImageException.class, () -> new ImageDecoder().decode(Path.of("hang.webp"), webp));
        assertTrue(e.getMessage().contains("hang.webp") && e.getMessage().contains("read past the end"), e.getMessage());
    }
}
