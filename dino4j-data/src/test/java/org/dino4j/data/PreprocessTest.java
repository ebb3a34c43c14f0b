package org.dino4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The text form a run.json records is read back to the same transform (search uses an index's own). */
class PreprocessTest {
    @Test
    void recordedFormReadsBack() {
        assertEquals("Preprocess[resize=256, crop=224, padMultiple=0]", Preprocess.EVAL.toString());
        for (Preprocess p : new Preprocess[] {Preprocess.EVAL, Preprocess.centerPadding(14), new Preprocess(28, 28, 0),
                Preprocess.shorterSideRounded(448, 14)})
            assertEquals(p, Preprocess.parse(p.toString()));
        assertThrows(IllegalArgumentException.class, () -> Preprocess.parse("Preprocess[resize=256, crop=224]"));
    }
}
