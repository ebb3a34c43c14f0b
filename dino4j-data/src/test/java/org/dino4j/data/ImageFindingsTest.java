package org.dino4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
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

    @Test
    void webpChunkLengthThatWrapsTheExifWalkBackwardsEndsTheWalk() {
        // RIFF/WEBP with a chunk of length 0xFFFFFFF8: p += 8 + len went back to the same chunk, forever
        byte[] b = new byte[32];
        System.arraycopy("RIFF\0\0\0\0WEBPVP8X".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1), 0, b, 0, 16);
        b[16] = (byte) 0xF8; b[17] = b[18] = b[19] = (byte) 0xFF;
        assertEquals(1, assertTimeoutPreemptively(Duration.ofSeconds(10), () -> Exif.orientation(b)));
        // the input the fuzzer made of it (a timeout in ImageFuzzTest): its VP8L image decodes, orientation 1
        byte[] found = Base64.getDecoder().decode("UklGRl4AAABXRUJQVlA4WAoAAAAIAAAABwAABQAAVlD//////////////////////////////////////////////////////////////////////////////////zhMHgD3////////ARoALwdAAQC5ysrKysrKysrKjOh/7CKi/wEhAWGO/xslCzScFGIKAAMAAAABAAYAAAAAAAA=");
        RgbImage im = assertTimeoutPreemptively(Duration.ofSeconds(10), () -> new ImageDecoder().decode(Path.of("wrap.webp"), found));
        assertEquals(3 * im.width() * im.height(), im.rgb().length);
    }
}
