package org.dino4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.dino4j.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {
    @TempDir
    Path dir;

    @Test
    void roundTripKeepsValuesShapesAndMetadata() throws IOException {
        Path f = dir.resolve("a.safetensors");
        TensorEntry a = TensorEntry.of("a", new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, -6.5f});
        TensorEntry b = TensorEntry.ofBytes("m", DType.U8, new long[] {3}, new byte[] {0, 1, (byte) 255});
        TensorEntry e = TensorEntry.of("empty", new long[] {2, 0, 4}, new float[0]);
        SafeTensors.write(f, List.of(a, b, e), Map.of("config", "{\"x\": 1}"));
        try (TensorStore s = SafeTensors.read(f)) {
            assertEquals(List.of("a", "m", "empty"), List.copyOf(s.names()));
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, -6.5f}, s.get("a").toFloatArray());
            assertArrayEquals(new long[] {2, 3}, s.get("a").shape());
            assertArrayEquals(new float[] {0, 1, 255}, s.get("m").toFloatArray());
            assertEquals(0, s.get("empty").numel());
            assertEquals("{\"x\": 1}", s.metadata().get("config"));
        }
        // header is padded to a multiple of 8 so data is aligned
        long n = ByteBuffer.wrap(Files.readAllBytes(f), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8);
    }

    @Test
    void readsTheFixtures() {
        try (TensorStore s = SafeTensors.read(Fixtures.file("official/official_vit_tiny.safetensors"))) {
            assertArrayEquals(new long[] {1, 17, 48}, s.get("weights/pos_embed").shape());
            assertEquals(DType.U8, s.get("masks0").dtype());
            assertTrue(s.metadata().get("config").contains("\"embed_dim\": 48"));
        }
    }

    private Path truncatedCopy(long keep) throws IOException {
        byte[] all = Files.readAllBytes(Fixtures.file("official/official_vit_tiny.safetensors"));
        Path f = dir.resolve("cut_" + keep + ".safetensors");
        Files.write(f, java.util.Arrays.copyOf(all, (int) keep));
        return f;
    }

    @Test
    void truncatedFilesGiveAClearError() throws IOException {
        long size = Files.size(Fixtures.file("official/official_vit_tiny.safetensors"));
        for (long keep : new long[] {0, 5, 8, 100, size / 2, size - 1}) {
            Path f = truncatedCopy(keep);
            CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensors.read(f).close());
            assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
            assertTrue(e.getMessage().contains("truncated") || e.getMessage().contains("too short")
                    || e.getMessage().contains("header"), e.getMessage());
        }
    }

    private Path withHeader(String json, int dataBytes) throws IOException {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer bb = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        bb.putLong(h.length).put(h);
        Path f = dir.resolve("h" + Math.abs(json.hashCode()) + ".safetensors");
        Files.write(f, bb.array());
        return f;
    }

    @Test
    void headerThatLiesAboutSizesIsRefused() throws IOException {
        // shape says 4 floats = 16 bytes, offsets span 8
        Path f = withHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,8]}}", 16);
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensors.read(f));
        assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("16 bytes") && e.getMessage().contains("8 bytes"), e.getMessage());
        // offsets beyond the end of the file
        Path g = withHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 12);
        e = assertThrows(CheckpointException.class, () -> SafeTensors.read(g));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        // header length larger than the file
        Path h = dir.resolve("len.safetensors");
        Files.write(h, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1000).array());
        e = assertThrows(CheckpointException.class, () -> SafeTensors.read(h));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void corruptHeaderAndUnknownDtypeAreRefused() throws IOException {
        Path f = withHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],", 16);
        assertTrue(assertThrows(CheckpointException.class, () -> SafeTensors.read(f)).getMessage().contains("corrupt"));
        Path g = withHeader("{\"w\":{\"dtype\":\"Q4\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16);
        assertTrue(assertThrows(CheckpointException.class, () -> SafeTensors.read(g)).getMessage().contains("unsupported dtype"));
        Path missing = dir.resolve("nope.safetensors");
        assertTrue(assertThrows(CheckpointException.class, () -> SafeTensors.read(missing)).getMessage().contains("not found"));
    }

    @Test
    void writeIsAtomicAndLeavesNoTemporaryFiles() throws IOException {
        Path f = dir.resolve("out.safetensors");
        SafeTensors.write(f, List.of(TensorEntry.of("x", new long[] {1}, new float[] {3})), Map.of());
        SafeTensors.write(f, List.of(TensorEntry.of("y", new long[] {1}, new float[] {4})), Map.of());
        try (TensorStore s = SafeTensors.read(f)) {
            assertEquals(List.of("y"), List.copyOf(s.names()));
        }
        try (var l = Files.list(dir)) {
            assertEquals(List.of(f), l.toList());
        }
    }
}
