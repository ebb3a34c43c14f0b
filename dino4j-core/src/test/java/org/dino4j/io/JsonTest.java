package org.dino4j.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;

import org.junit.jupiter.api.Test;

class JsonTest {
    @Test
    void parsesAndWritesBack() {
        Map<String, Object> m = Json.parseObject("{\"a\": [1, 2.5, -3e2, true, null], \"s\": \"x\\\"\\u00e9\\n\", \"o\": {}}");
        assertEquals(java.util.Arrays.asList(1L, 2.5, -300.0, true, null), m.get("a"));
        assertEquals("x\"é\n", m.get("s"));
        assertEquals(m, Json.parseObject(Json.write(m)));
    }

    @Test
    void rejectsMalformedInput() {
        for (String bad : new String[] {"{", "{\"a\":}", "[1,]x", "{\"a\":1,\"a\":2}", "\"open", "{1:2}"})
            assertThrows(IllegalArgumentException.class, () -> Json.parse(bad), bad);
    }
}
