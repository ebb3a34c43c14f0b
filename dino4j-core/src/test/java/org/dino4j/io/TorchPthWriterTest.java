package org.dino4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TorchPthWriterTest {
    @TempDir
    Path tmp;

    /**
     * data.pkl of {@code torch.save(OrderedDict(a.weight=arange(6).reshape(2, 3), b=tensor(3.5), c=zeros(1, 2, 3,
     * 4)), "ref.pth")} written by PyTorch 2.13.
     */
    static final String TORCH_PICKLE = "800263636f6c6c656374696f6e730a4f726465726564446963740a710029527101285808000000"
            + "612e776569676874710263746f7263682e5f7574696c730a5f72656275696c645f74656e736f725f76320a710328285807000000"
            + "73746f72616765710463746f7263680a466c6f617453746f726167650a71055801000000307106580300000063707571074b0674"
            + "7108514b004b024b038671094b034b0186710a8968002952710b74710c52710d580100000062710e680328286804680558010000"
            + "0031710f68074b01747110514b0029298968002952711174711252711358010000006371146803282868046805580100000032"
            + "711568074b18747116514b00284b014b024b034b04747117284b184b0c4b044b017471188968002952711974711a52711b752e";

    static List<TensorEntry> torchReference() {
        return List.of(
                TensorEntry.of("a.weight", new long[] {2, 3}, new float[] {0, 1, 2, 3, 4, 5}),
                TensorEntry.of("b", new long[] {}, new float[] {3.5f}),
                TensorEntry.of("c", new long[] {1, 2, 3, 4}, new float[24]));
    }

    static float[] random(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    static List<TensorEntry> mixed() {
        Random r = new Random(7);
        return List.of(
                TensorEntry.of("z.first", new long[] {3}, random(r, 3)),   // not alphabetical: order must survive
                TensorEntry.of("scalar", new long[] {}, new float[] {-2.25f}),
                TensorEntry.of("one", new long[] {1}, new float[] {42f}),
                TensorEntry.of("patch_embed.proj.weight", new long[] {4, 3, 2, 5}, random(r, 120)),
                TensorEntry.of("empty", new long[] {2, 0}, new float[0]),
                TensorEntry.ofBytes("half", DType.F16, new long[] {2}, new byte[] {0, 0x3c, 0, (byte) 0xc0}),
                TensorEntry.ofBytes("steps", DType.I64, new long[] {1}, new byte[] {9, 0, 0, 0, 0, 0, 0, 0}),
                TensorEntry.of("blocks.0.ls1.gamma", new long[] {6}, random(r, 6)));
    }

    static void assertRoundTrip(List<TensorEntry> written, Path file) {
        try (TensorStore s = TorchPth.read(file)) {
            assertEquals(written.stream().map(TensorEntry::name).toList(), List.copyOf(s.names()));
            for (TensorEntry w : written) {
                TensorEntry t = s.get(w.name());
                assertEquals(w.dtype(), t.dtype(), w.name());
                assertArrayEquals(w.shape(), t.shape(), w.name());
                assertArrayEquals(w.data().toArray(ValueLayout.JAVA_BYTE), t.data().toArray(ValueLayout.JAVA_BYTE), w.name());
            }
            assertTrue(s.metadata().isEmpty(), s.metadata().toString());
        }
    }

    // ---- a minimal zip reader, independent of TorchPth's ----

    record Rec(String name, long header, long dataStart, long size, int crc, int flags, int method) {}

    static List<Rec> records(byte[] f) {
        ByteBuffer b = ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN);
        int eocd = f.length - 22;
        assertEquals(0x06054b50, b.getInt(eocd), "EOCD at the very end (no comment)");
        int loc = eocd - 20;
        assertEquals(0x07064b50, b.getInt(loc), "torch always writes the ZIP64 locator");
        int z64 = (int) b.getLong(loc + 8);
        assertEquals(0x06064b50, b.getInt(z64));
        long n = b.getLong(z64 + 32), cdStart = b.getLong(z64 + 48);
        assertEquals(z64, cdStart + b.getLong(z64 + 40), "the central directory ends at the ZIP64 record");
        List<Rec> out = new ArrayList<>();
        int p = (int) cdStart;
        for (long i = 0; i < n; i++) {
            assertEquals(0x02014b50, b.getInt(p));
            int flags = b.getShort(p + 8) & 0xffff, method = b.getShort(p + 10), crc = b.getInt(p + 16);
            long comp = b.getInt(p + 20) & 0xffffffffL, size = b.getInt(p + 24) & 0xffffffffL;
            long header = b.getInt(p + 42) & 0xffffffffL;
            int nameLen = b.getShort(p + 28), extraLen = b.getShort(p + 30);
            String name = new String(f, p + 46, nameLen, StandardCharsets.UTF_8);
            for (int x = p + 46 + nameLen; x < p + 46 + nameLen + extraLen; x += 4 + b.getShort(x + 2)) {
                if (b.getShort(x) != 1) continue;
                int q = x + 4;
                if (size == 0xffffffffL) { size = b.getLong(q); q += 8; }
                if (comp == 0xffffffffL) { comp = b.getLong(q); q += 8; }
                if (header == 0xffffffffL) header = b.getLong(q);
            }
            assertEquals(size, comp, name);
            int h = (int) header;
            assertEquals(0x04034b50, b.getInt(h), name);
            int lName = b.getShort(h + 26), lExtra = b.getShort(h + 28);
            assertEquals(name, new String(f, h + 30, lName, StandardCharsets.UTF_8));
            boolean padded = false;
            for (int x = h + 30 + lName; x < h + 30 + lName + lExtra; x += 4 + (b.getShort(x + 2) & 0xffff))
                padded |= f[x] == 'F' && f[x + 1] == 'B';
            assertTrue(padded, name + ": torch's FB padding field");
            out.add(new Rec(name, header, h + 30 + lName + lExtra, size, crc, flags, method));
            p += 46 + nameLen + extraLen + b.getShort(p + 32);
        }
        return out;
    }

    static void assertTorchLayout(byte[] f, String prefix, int storages) {
        List<Rec> recs = records(f);
        List<String> names = new ArrayList<>(List.of("data.pkl", ".format_version", ".storage_alignment", "byteorder"));
        for (int i = 0; i < storages; i++) names.add("data/" + i);
        names.addAll(List.of("version", ".data/serialization_id"));
        assertEquals(names.stream().map(s -> prefix + "/" + s).toList(), recs.stream().map(Rec::name).toList());
        long expectHeader = 0;
        for (Rec r : recs) {
            assertEquals(0, r.method(), r.name() + " STORED");
            assertEquals(0, r.dataStart() % 64, r.name() + " payload at " + r.dataStart());
            assertEquals(expectHeader, r.header(), r.name() + " follows the previous record");
            CRC32 crc = new CRC32();
            crc.update(f, (int) r.dataStart(), (int) r.size());
            assertEquals((int) crc.getValue(), r.crc(), r.name());
            long end = r.dataStart() + r.size();
            if (r.size() > 0) {
                assertEquals(0x0808, r.flags(), r.name());
                ByteBuffer b = ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN);
                assertEquals(0x08074b50, b.getInt((int) end), r.name() + " data descriptor");
                assertEquals(r.crc(), b.getInt((int) end + 4));
                boolean zip64 = b.getInt((int) end + 8) == r.size() && b.getInt((int) end + 12) == 0
                        && b.getLong((int) end + 16) == r.size();
                end += zip64 ? 24 : 16;
            } else {
                assertEquals(0x0800, r.flags(), r.name() + ": miniz writes no descriptor for an empty record");
            }
            expectHeader = end;
        }
        assertEquals("little", text(f, recs.get(3)));
        assertEquals("1", text(f, recs.get(1)));
        assertEquals("64", text(f, recs.get(2)));
        assertEquals("3\n", text(f, recs.get(recs.size() - 2)));
        assertTrue(text(f, recs.getLast()).matches("[0-9]{40}"), text(f, recs.getLast()));
    }

    static String text(byte[] f, Rec r) {
        return new String(f, (int) r.dataStart(), (int) r.size(), StandardCharsets.US_ASCII);
    }

    /** Keeps a copy for tools/check_pth.py when DINO4J_PTH_KEEP names a folder. */
    static void keep(Path file) throws IOException {
        String dir = System.getenv("DINO4J_PTH_KEEP");
        if (dir == null) return;
        Files.createDirectories(Path.of(dir));
        Files.copy(file, Path.of(dir).resolve(file.getFileName()), StandardCopyOption.REPLACE_EXISTING);
    }

    // ---- tests ----

    @Test
    void pickleIsByteForByteWhatTorchWrites() {
        assertEquals(TORCH_PICKLE, HexFormat.of().formatHex(TorchPthWriter.pickle(torchReference())));
    }

    @Test
    void zipLayoutMatchesTorchSave() throws IOException {
        Path file = tmp.resolve("ref.pth");
        TorchPthWriter.write(file, torchReference());
        keep(file);
        byte[] f = Files.readAllBytes(file);
        // torch.save of the same dict (PyTorch 2.13): 2045 bytes, local headers at these offsets.
        assertEquals(2045, f.length);
        assertEquals(List.of(0L, 377L, 465L, 594L, 726L, 872L, 980L, 1136L, 1234L),
                records(f).stream().map(Rec::header).toList());
        assertTorchLayout(f, "ref", 3);
        assertRoundTrip(torchReference(), file);
    }

    @Test
    void roundTripsShapesValuesAndOrder() throws IOException {
        Path file = tmp.resolve("mixed.pth");
        List<TensorEntry> t = mixed();
        TorchPthWriter.write(file, t);
        keep(file);
        assertRoundTrip(t, file);
        assertTorchLayout(Files.readAllBytes(file), "mixed", t.size());
        // java.util.zip agrees on the entries and their bytes
        try (ZipFile z = new ZipFile(file.toFile())) {
            ZipEntry e = z.getEntry("mixed/data/3");
            assertEquals(ZipEntry.STORED, e.getMethod());
            try (InputStream in = z.getInputStream(e)) {
                assertArrayEquals(t.get(3).data().toArray(ValueLayout.JAVA_BYTE), in.readAllBytes());
            }
        }
    }

    @Test
    void zip64RecordsReadBack() throws IOException {
        // Thresholds low enough to give every combination: big size only (data.pkl at 0), big offset, both.
        for (long from : new long[] {0, 300, 1000}) {
            Path file = tmp.resolve("zip64_" + from + ".pth");
            List<TensorEntry> t = mixed();
            TorchPthWriter.write(file, t, from);
            keep(file);
            assertRoundTrip(t, file);
            byte[] f = Files.readAllBytes(file);
            assertTorchLayout(f, "zip64_" + from, t.size());
            try (ZipFile z = new ZipFile(file.toFile())) {
                try (InputStream in = z.getInputStream(z.getEntry("zip64_" + from + "/byteorder"))) {
                    assertEquals("little", new String(in.readAllBytes(), StandardCharsets.US_ASCII));
                }
            }
        }
    }

    @Test
    void manyTensorsUseBatchesAndLongMemo() throws IOException {
        // > 1000 items: several SETITEMS batches; > 256 memo entries: LONG_BINPUT / LONG_BINGET.
        Random r = new Random(1);
        List<TensorEntry> t = new ArrayList<>();
        for (int i = 0; i < 1001; i++) {
            if (i >= 990) t.add(TensorEntry.ofBytes("h" + i, DType.F16, new long[] {1}, new byte[] {(byte) i, 0x3c}));
            else t.add(TensorEntry.of("blocks." + i + ".w", new long[] {2, i % 3 + 1}, random(r, 2 * (i % 3 + 1))));
        }
        Path file = tmp.resolve("many.pth");
        TorchPthWriter.write(file, t);
        keep(file);
        assertRoundTrip(t, file);
        assertTorchLayout(Files.readAllBytes(file), "many", t.size());
        byte[] single = TorchPthWriter.pickle(t.subList(0, 1));
        assertEquals('s', single[single.length - 2], "one item: SETITEM");
    }

    @Test
    void archiveNameIsTheFileStem() {
        assertEquals("model.v2", TorchPthWriter.archiveName(Path.of("/x/model.v2.pth")));
        assertEquals("noext", TorchPthWriter.archiveName(Path.of("noext")));
        assertEquals("archive", TorchPthWriter.archiveName(Path.of(".pth")));
    }

    @Test
    void overwritesAtomicallyAndRefusesBadInput() throws IOException {
        Path file = tmp.resolve("out.pth");
        Files.writeString(file, "old");
        TorchPthWriter.write(file, torchReference());
        assertRoundTrip(torchReference(), file);
        try (var files = Files.list(tmp)) {
            assertEquals(List.of(file), files.toList(), "no temporary file left behind");
        }
        List<TensorEntry> dup = List.of(TensorEntry.of("w", new long[] {1}, new float[1]),
                TensorEntry.of("w", new long[] {1}, new float[1]));
        Path other = tmp.resolve("dup.pth");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TorchPthWriter.write(other, dup));
        assertTrue(e.getMessage().contains("dup.pth") && e.getMessage().contains("'w'"), e.getMessage());
        assertFalse(Files.exists(other));
    }

    @Test
    void payloadOffsetsMatchTorchAboveFourGiB() {
        // torch._C.PyTorchFileReader(...).get_record_offset_no_read(cursor, name, size, 64) in PyTorch 2.13, for
        // records named ref/<name>: what torch.load assumes with calculate_storage_offsets.
        long m = 0xffffffffL;
        long[][] cases = { // cursor, name length, size, payload offset
                {726, 10, 24, 832}, {m - 100, 10, 100, 4294967296L}, {m - 1, 10, 100, 4294967360L},
                {m, 10, 100, 4294967360L}, {m + 5, 11, 10, 4294967360L}, {974, 10, m - 1, 1024},
                {974, 10, m, 1088}, {m + 77, 10, m + 1, 4294967488L}, {5L * (1 << 30) + 3, 12, 4, 5368709184L},
                {m - 54, 10, 100, 4294967296L}, {m - 1, 10, 0, 4294967360L}};
        for (long[] c : cases)
            assertEquals(c[3], TorchPthWriter.payloadOffset(c[0], (int) c[1], c[2], m), Arrays.toString(c));
    }

    @Test
    void stridesAreTorchContiguousStrides() {
        assertArrayEquals(new long[] {24, 12, 4, 1}, TorchPthWriter.strides(new long[] {1, 2, 3, 4}));
        assertArrayEquals(new long[] {1, 1}, TorchPthWriter.strides(new long[] {3, 0}));
        assertArrayEquals(new long[] {}, TorchPthWriter.strides(new long[] {}));
    }
}
