package org.dino4j.data.ssl;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorStore;

/** fixtures/extra/masking.safetensors (made by tools/make_masking_fixture.py with CPython's random and torch). */
final class SslFixtures {
    private SslFixtures() {}

    static TensorStore masking() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("fixtures/official"))) p = p.getParent();
        if (p == null) throw new IllegalStateException("fixtures/ not found above " + Path.of("").toAbsolutePath());
        return SafeTensors.read(p.resolve("fixtures/extra/masking.safetensors"));
    }

    static long[] longs(TensorStore s, String name) {
        return s.get(name).data().toArray(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
    }

    static double[] doubles(TensorStore s, String name) {
        return s.get(name).data().toArray(ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
    }

    static float[] floats(TensorStore s, String name) {
        return s.get(name).data().toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
    }

    static byte[] bytes(TensorStore s, String name) {
        return s.get(name).data().toArray(ValueLayout.JAVA_BYTE);
    }
}
