package org.dino4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TorchPthTest {
    @TempDir
    Path tmp;

    static Path repoRoot() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent())
            if (Files.isDirectory(p.resolve("fixtures"))) return p;
        throw new IllegalStateException("no fixtures/ folder above " + Path.of("").toAbsolutePath());
    }

    static Path official(String name) {
        return repoRoot().resolve("fixtures/official").resolve(name);
    }

    static Path resource(String name) {
        Path p = repoRoot().resolve("dino4j-core/src/test/resources/pth").resolve(name);
        assertTrue(Files.isRegularFile(p), p.toString());
        return p;
    }

    /** Same names, dtypes, shapes and bytes. */
    static void assertSameTensors(TensorStore expected, TensorStore actual) {
        assertEquals(expected.names(), actual.names());
        for (String n : expected.names()) {
            TensorEntry e = expected.get(n), a = actual.get(n);
            assertEquals(e.dtype(), a.dtype(), n);
            assertArrayEquals(e.shape(), a.shape(), n);
            assertArrayEquals(e.data().toArray(ValueLayout.JAVA_BYTE), a.data().toArray(ValueLayout.JAVA_BYTE), n);
        }
    }

    @Test
    void officialCheckpointsMatchTheirSafetensors() {
        for (String stem : List.of("official_vit_tiny", "official_vit_tiny_reg_swiglu")) {
            try (TensorStore st = SafeTensors.read(official(stem + ".safetensors"));
                 TensorStore pth = TorchPth.read(official(stem + ".pth"))) {
                TensorStore expected = st.withPrefix("weights/");
                assertFalse(expected.names().isEmpty());
                assertSameTensors(expected, pth);
                // Stored records: every (contiguous) tensor is a slice of the mapping, not a copy.
                for (TensorEntry t : pth.tensors().values()) assertTrue(t.data().isMapped(), t.name());
            }
        }
    }

    @Test
    void teacherCheckpointIsFlattenedWithDots() {
        try (TensorStore exp = SafeTensors.read(resource("teacher_checkpoint.expected.safetensors"));
             TensorStore pth = TorchPth.read(resource("teacher_checkpoint.pth"))) {
            assertSameTensors(exp, pth);
            assertEquals(List.of("teacher.backbone.cls_token", "teacher.backbone.blocks.0.0.norm1.weight",
                    "teacher.backbone.blocks.0.0.norm1.bias", "teacher.dino_head.mlp.0.weight"), List.copyOf(pth.names()));
            assertEquals("7", pth.metadata().get("iteration"));
            assertEquals(0.375f, pth.get("teacher.backbone.blocks.0.0.norm1.weight").toFloatArray()[3]);
        }
    }

    @Test
    void trainingCheckpointKeepsModelAndOptimizerTensors() {
        try (TensorStore exp = SafeTensors.read(resource("training_checkpoint.expected.safetensors"));
             TensorStore pth = TorchPth.read(resource("training_checkpoint.pth"))) {
            assertSameTensors(exp, pth);
            assertEquals("model.module.backbone.cls_token", pth.names().iterator().next());
            assertTrue(pth.contains("optimizer.state.0.exp_avg"));
            assertArrayEquals(new long[0], pth.get("optimizer.state.0.step").shape());
            exp.metadata().forEach((k, v) -> assertEquals(v, pth.metadata().get(k), k));
            assertEquals("5", pth.metadata().get("iteration"));
            assertEquals("run-a", pth.metadata().get("tag"));
        }
    }

    @Test
    void everyDtypeViewsScalarsAndParameters() {
        try (TensorStore exp = SafeTensors.read(resource("dtypes.expected.safetensors"));
             TensorStore pth = TorchPth.read(resource("dtypes.pth"))) {
            assertSameTensors(exp, pth);
            exp.metadata().forEach((k, v) -> assertEquals(v, pth.metadata().get(k), k));
            assertEquals(List.of("f32", "f16", "bf16", "f64", "i64", "i32", "i16", "i8", "u8", "bool", "scalar", "empty",
                    "base", "tail", "transposed", "strided", "param", "linear.weight", "linear.bias"), List.copyOf(pth.names()));
            assertEquals(DType.F16, pth.get("f16").dtype());
            assertEquals(DType.BF16, pth.get("bf16").dtype());
            assertEquals(DType.BOOL, pth.get("bool").dtype());
            assertArrayEquals(new float[] {-1, -0.5f, 0, 0.5f, 1}, pth.get("f16").toFloatArray());
            assertArrayEquals(new float[] {3, 3.25f, 3.5f, 3.75f, 4}, pth.get("bf16").toFloatArray());
            assertArrayEquals(new long[0], pth.get("scalar").shape());
            assertArrayEquals(new float[] {3.5f}, pth.get("scalar").toFloatArray());
            assertArrayEquals(new long[] {0, 3}, pth.get("empty").shape());
            assertArrayEquals(new float[] {4, 5, 6, 7, 8, 9, 10, 11}, pth.get("tail").toFloatArray());
            assertTrue(pth.get("tail").data().isMapped(), "a contiguous view at an offset stays a slice");
            assertArrayEquals(new long[] {4, 3}, pth.get("transposed").shape());
            assertArrayEquals(new float[] {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}, pth.get("transposed").toFloatArray());
            assertFalse(pth.get("transposed").data().isMapped(), "a non-contiguous view is copied");
            assertArrayEquals(new float[] {1, 4, 7, 10}, pth.get("strided").toFloatArray());
            assertEquals("1099511627776", pth.metadata().get("big"));
            assertEquals("torch.float16", pth.metadata().get("dtype"));
            assertEquals("0.5", pth.metadata().get("lr"));
            assertFalse(pth.metadata().containsKey("list"));
            // The state_dict's BUILD state (_metadata: {"": {"version": 1}}) is not a leaf of the dict.
            assertTrue(pth.metadata().keySet().stream().noneMatch(k -> k.startsWith("linear")), pth.metadata()::toString);
        }
    }

    @Test
    void closingUnmaps() {
        TensorStore pth = TorchPth.read(resource("teacher_checkpoint.pth"));
        TensorEntry t = pth.get("teacher.dino_head.mlp.0.weight");
        pth.close();
        assertThrows(IllegalStateException.class, t::toFloatArray);
    }

    // ---- refusals ----

    static CheckpointException refused(Path p) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> TorchPth.read(p).close());
        assertTrue(e.getMessage().contains(p.getFileName().toString()), e.getMessage());
        return e;
    }

    @Test
    void legacyAndNonZipFilesAreRefused() throws IOException {
        assertTrue(refused(resource("legacy.pth")).getMessage().contains("legacy (pre-1.6)"));
        Path text = Files.writeString(tmp.resolve("notes.pth"), "hello, this is not a checkpoint at all");
        assertTrue(refused(text).getMessage().contains("not a PyTorch zip checkpoint"));
        assertTrue(refused(Files.write(tmp.resolve("empty.pth"), new byte[0])).getMessage().contains("empty"));
        assertTrue(refused(tmp.resolve("missing.pth")).getMessage().contains("not found"));
    }

    @Test
    void truncatedFilesAreRefused() throws IOException {
        byte[] full = Files.readAllBytes(official("official_vit_tiny.pth"));
        for (int len : new int[] {1, 4, 30, 100, 4096, full.length / 2, full.length - 3000, full.length - 100,
                full.length - 22, full.length - 1}) {
            Path p = Files.write(tmp.resolve("cut_" + len + ".pth"), Arrays.copyOf(full, len));
            refused(p);
        }
    }

    @Test
    void randomByteCorruptionNeverEscapesAsAnotherException() throws IOException {
        byte[] full = Files.readAllBytes(official("official_vit_tiny.pth"));
        Random rnd = new Random(42);
        int refusedCount = 0;
        for (int i = 0; i < 400; i++) {
            byte[] b = full.clone();
            // Half the trials hit the zip directory and the pickle, where a flip changes structure; the rest anywhere.
            for (int k = 0, n = 1 + rnd.nextInt(4); k < n; k++) {
                int at = i % 2 == 0 ? b.length - 1 - rnd.nextInt(6000) : i % 4 == 1 ? rnd.nextInt(5000) : rnd.nextInt(b.length);
                b[at] ^= (byte) (1 + rnd.nextInt(255));
            }
            refusedCount += loadsOrRefuses(b, "flip_" + i + ".pth");
        }
        assertTrue(refusedCount > 100, "only " + refusedCount + " corruptions were noticed");
    }

    @Test
    void corruptPicklesNeverEscapeAsAnotherException() throws IOException {
        List<Rec> recs = records(official("official_vit_tiny.pth"));
        Rec pkl = recs.getFirst();
        assertTrue(pkl.name().endsWith("/data.pkl"));
        Random rnd = new Random(7);
        for (int i = 0; i < 400; i++) {
            byte[] p = pkl.data().clone();
            if (i % 5 == 0) p = Arrays.copyOf(p, rnd.nextInt(p.length));
            else for (int k = 0, n = 1 + rnd.nextInt(3); k < n; k++) p[rnd.nextInt(p.length)] = (byte) rnd.nextInt(256);
            List<Rec> copy = new ArrayList<>(recs);
            copy.set(0, new Rec(pkl.name(), p, false));
            loadsOrRefuses(zip(copy, false), "pkl_" + i + ".pth");
        }
    }

    /** 1 when refused, 0 when loaded; fails on any other outcome. */
    int loadsOrRefuses(byte[] bytes, String name) throws IOException {
        Path p = Files.write(tmp.resolve(name), bytes);
        try (TensorStore s = TorchPth.read(p)) {
            for (TensorEntry t : s.tensors().values()) t.data().toArray(ValueLayout.JAVA_BYTE); // touch every byte
            return 0;
        } catch (CheckpointException e) {
            assertTrue(e.getMessage().contains(name), e.getMessage());
            // The safety net (wrapping a stray RuntimeException) must not be what caught it.
            assertFalse(e.getCause() instanceof RuntimeException, () -> "unvalidated failure: " + e.getMessage());
            return 1;
        } catch (Throwable t) {
            fail(name + ": " + t, t);
            return -1;
        } finally {
            Files.delete(p);
        }
    }

    @Test
    void foreignGlobalsAreRefusedWithoutRunningAnything() throws IOException {
        for (String[] g : new String[][] {{"os", "system"}, {"posix", "system"}, {"builtins", "eval"},
                {"subprocess", "Popen"}, {"numpy.core.multiarray", "_reconstruct"}, {"torch.nn.modules.linear", "Linear"},
                {"torch", "load"}, {"torch._utils", "_rebuild_qtensor"}}) {
            for (boolean stackGlobal : new boolean[] {false, true}) {
                ByteArrayOutputStream pk = new ByteArrayOutputStream();
                pk.write(0x80);
                pk.write(2);
                if (stackGlobal) {
                    shortUnicode(pk, g[0]);
                    shortUnicode(pk, g[1]);
                    pk.write(0x93);
                } else {
                    pk.writeBytes(("c" + g[0] + "\n" + g[1] + "\n").getBytes(StandardCharsets.US_ASCII));
                }
                shortUnicode(pk, "touch /tmp/dino4j_pwned");
                pk.write(0x85); // TUPLE1
                pk.write('R');
                pk.write('.');
                Path p = Files.write(tmp.resolve("evil.pth"),
                        zip(List.of(new Rec("evil/data.pkl", pk.toByteArray(), false),
                                new Rec("evil/version", "3\n".getBytes(StandardCharsets.US_ASCII), false)), false));
                String msg = refused(p).getMessage();
                assertTrue(msg.contains("refusing to load") && msg.contains("'" + g[0] + "." + g[1] + "'"), msg);
                assertTrue(msg.contains("can carry code"), msg);
            }
        }
        assertFalse(Files.exists(Path.of("/tmp/dino4j_pwned")));
    }

    @Test
    void selfReferencingAndExplodingDictsAreRefused() throws IOException {
        // d = {}; d["a"] = d
        byte[] cyclic = {(byte) 0x80, 2, '}', 'q', 0, (byte) 0x8c, 1, 'a', 'h', 0, 's', '.'};
        assertTrue(refused(pickleOnly("cyclic.pth", cyclic)).getMessage().contains("contains itself"));

        // d0 = {"x": 1}; d(i+1) = {"a": d(i), "b": d(i)}: a few hundred bytes that name 2^40 leaves.
        ByteArrayOutputStream pk = new ByteArrayOutputStream();
        pk.writeBytes(new byte[] {(byte) 0x80, 2, '}', 'q', 0, (byte) 0x8c, 1, 'x', 'K', 1, 's'});
        for (int i = 1; i <= 40; i++)
            pk.writeBytes(new byte[] {'}', '(', (byte) 0x8c, 1, 'a', 'h', (byte) (i - 1), (byte) 0x8c, 1, 'b', 'h',
                    (byte) (i - 1), 'u', 'q', (byte) i});
        pk.write('.');
        assertTrue(refused(pickleOnly("dag.pth", pk.toByteArray())).getMessage().contains("too often"));
    }

    Path pickleOnly(String name, byte[] pickle) throws IOException {
        return Files.write(tmp.resolve(name), zip(List.of(new Rec("x/data.pkl", pickle, false)), false));
    }

    static void shortUnicode(ByteArrayOutputStream o, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        o.write(0x8c);
        o.write(b.length);
        o.writeBytes(b);
    }

    @Test
    void zip64AndDeflatedRecordsAreRead() throws IOException {
        List<Rec> recs = records(resource("teacher_checkpoint.pth"));
        List<Rec> deflated = recs.stream().map(r -> new Rec(r.name(), r.data(), true)).toList();
        for (boolean z64 : new boolean[] {false, true}) {
            for (List<Rec> variant : List.of(recs, deflated)) {
                Path p = Files.write(tmp.resolve("re_" + z64 + "_" + (variant == deflated) + ".pth"), zip(variant, z64));
                try (TensorStore exp = SafeTensors.read(resource("teacher_checkpoint.expected.safetensors"));
                     TensorStore pth = TorchPth.read(p)) {
                    assertSameTensors(exp, pth);
                    assertEquals(variant != deflated, pth.get("teacher.backbone.cls_token").data().isMapped());
                }
            }
        }
    }

    @Test
    void bigEndianByteorderIsRefused() throws IOException {
        List<Rec> recs = new ArrayList<>(records(resource("teacher_checkpoint.pth")));
        recs.replaceAll(r -> r.name().endsWith("/byteorder") ? new Rec(r.name(), "big".getBytes(), false) : r);
        Path p = Files.write(tmp.resolve("big.pth"), zip(recs, false));
        assertTrue(refused(p).getMessage().contains("big-endian"));
    }

    @Test
    void missingPickleOrShortStorageIsRefused() throws IOException {
        List<Rec> recs = records(resource("teacher_checkpoint.pth"));
        Path noPkl = Files.write(tmp.resolve("nopkl.pth"),
                zip(recs.stream().filter(r -> !r.name().endsWith("data.pkl")).toList(), false));
        assertTrue(refused(noPkl).getMessage().contains("data.pkl"));

        List<Rec> shortened = new ArrayList<>(recs);
        shortened.replaceAll(r -> r.name().endsWith("/data/3") ? new Rec(r.name(), Arrays.copyOf(r.data(), 40), false) : r);
        String msg = refused(Files.write(tmp.resolve("short.pth"), zip(shortened, false))).getMessage();
        assertTrue(msg.contains("truncated/corrupt") && msg.contains("'3'"), msg);

        List<Rec> noBlob = recs.stream().filter(r -> !r.name().endsWith("/data/0")).toList();
        assertTrue(refused(Files.write(tmp.resolve("noblob.pth"), zip(noBlob, false))).getMessage().contains("data/0"));
    }

    // ---- a minimal zip writer laid out like torch's (64-byte aligned data), optionally all-ZIP64 ----

    record Rec(String name, byte[] data, boolean deflate) {}

    static List<Rec> records(Path pth) throws IOException {
        List<Rec> out = new ArrayList<>();
        try (ZipFile z = new ZipFile(pth.toFile())) {
            for (var e : Collections.list(z.entries())) {
                try (InputStream in = z.getInputStream(e)) {
                    out.add(new Rec(e.getName(), in.readAllBytes(), false));
                }
            }
        }
        return out;
    }

    static byte[] zip(List<Rec> recs, boolean zip64) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream cd = new ByteArrayOutputStream();
        for (Rec r : recs) {
            byte[] name = r.name().getBytes(StandardCharsets.UTF_8);
            byte[] body = r.data();
            if (r.deflate()) {
                Deflater d = new Deflater(Deflater.DEFAULT_COMPRESSION, true);
                d.setInput(body);
                d.finish();
                ByteArrayOutputStream c = new ByteArrayOutputStream();
                byte[] buf = new byte[4096];
                while (!d.finished()) c.write(buf, 0, d.deflate(buf));
                d.end();
                body = c.toByteArray();
            }
            CRC32 crc = new CRC32();
            crc.update(r.data());
            long offset = out.size();
            byte[] local64 = zip64 ? le(2, 1, 2, 16, 8, r.data().length, 8, body.length) : new byte[0];
            int pad = (int) ((64 - (offset + 30 + name.length + local64.length + 4) % 64) % 64);
            out.writeBytes(le(4, 0x04034b50, 2, 45, 2, 0, 2, r.deflate() ? 8 : 0, 4, 0, 4, crc.getValue(),
                    4, zip64 ? 0xffffffffL : body.length, 4, zip64 ? 0xffffffffL : r.data().length,
                    2, name.length, 2, local64.length + 4 + pad));
            out.writeBytes(name);
            out.writeBytes(local64);
            out.writeBytes(le(2, 0x4246, 2, pad)); // torch's "FB" padding field
            out.writeBytes(new byte[pad]);
            out.writeBytes(body);
            byte[] extra = zip64 ? le(2, 1, 2, 24, 8, r.data().length, 8, body.length, 8, offset) : new byte[0];
            cd.writeBytes(le(4, 0x02014b50, 2, 45, 2, 45, 2, 0, 2, r.deflate() ? 8 : 0, 4, 0, 4, crc.getValue(),
                    4, zip64 ? 0xffffffffL : body.length, 4, zip64 ? 0xffffffffL : r.data().length,
                    2, name.length, 2, extra.length, 2, 0, 2, 0, 2, 0, 4, 0, 4, zip64 ? 0xffffffffL : offset));
            cd.writeBytes(name);
            cd.writeBytes(extra);
        }
        long cdOffset = out.size(), cdSize = cd.size();
        out.writeBytes(cd.toByteArray());
        if (zip64) {
            long z64 = out.size();
            out.writeBytes(le(4, 0x06064b50, 8, 44, 2, 45, 2, 45, 4, 0, 4, 0, 8, recs.size(), 8, recs.size(),
                    8, cdSize, 8, cdOffset));
            out.writeBytes(le(4, 0x07064b50, 4, 0, 8, z64, 4, 1));
            out.writeBytes(le(4, 0x06054b50, 2, 0, 2, 0, 2, 0xffff, 2, 0xffff, 4, 0xffffffffL, 4, 0xffffffffL, 2, 0));
        } else {
            out.writeBytes(le(4, 0x06054b50, 2, 0, 2, 0, 2, recs.size(), 2, recs.size(), 4, cdSize, 4, cdOffset, 2, 0));
        }
        return out.toByteArray();
    }

    /** Little-endian fields given as (width, value) pairs. */
    static byte[] le(long... widthValue) {
        int n = 0;
        for (int i = 0; i < widthValue.length; i += 2) n += (int) widthValue[i];
        ByteBuffer b = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < widthValue.length; i += 2) {
            long v = widthValue[i + 1];
            switch ((int) widthValue[i]) {
                case 2 -> b.putShort((short) v);
                case 4 -> b.putInt((int) v);
                case 8 -> b.putLong(v);
                default -> throw new IllegalArgumentException();
            }
        }
        return b.array();
    }
}
