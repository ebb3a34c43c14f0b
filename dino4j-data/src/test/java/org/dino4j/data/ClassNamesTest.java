package org.dino4j.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;

import org.junit.jupiter.api.Test;

class ClassNamesTest {
    @Test
    void imagenet1kIsTorchvisionsOrder() {
        List<String> n = ClassNames.imagenet1k();
        assertEquals(1000, n.size());
        assertEquals("tench", n.get(0));
        assertEquals("goldfish", n.get(1));
        assertEquals("golden retriever", n.get(207));
        assertEquals("tabby", n.get(281));
        assertEquals("toilet tissue", n.get(999));
        assertEquals(1000, new HashSet<>(n).size(), "torchvision's names are unique");
    }

    @Test
    void ade20kIsMmsegsOrder() {
        List<String> n = ClassNames.ade20k();
        assertEquals(150, n.size());
        assertEquals("wall", n.get(0));
        assertEquals("bed", n.get(7)); // mmseg's 'bed ' without its trailing space
        assertEquals("person", n.get(12));
        assertEquals("chest of drawers", n.get(44));
        assertEquals("flag", n.get(149));
    }

    @Test
    void voc2012StartsWithBackground() {
        List<String> n = ClassNames.voc2012();
        assertEquals(21, n.size());
        assertEquals("background", n.get(0));
        assertEquals("aeroplane", n.get(1));
        assertEquals("tvmonitor", n.get(20));
    }

    @Test
    void listsAreCleanAndImmutable() {
        for (List<String> n : List.of(ClassNames.imagenet1k(), ClassNames.ade20k(), ClassNames.voc2012()))
            for (String s : n) assertTrue(!s.isBlank() && s.equals(s.strip()), "'" + s + "'");
        assertThrows(UnsupportedOperationException.class, () -> ClassNames.voc2012().set(0, "x"));
    }
}
