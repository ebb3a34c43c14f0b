package org.dino4j.io;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.CRC32;

/**
 * Writes a flat state dict as {@code torch.save(OrderedDict[str, Tensor], path)} does, so that
 * {@code torch.load(path, weights_only=True)} and {@code load_state_dict(strict=True)} accept it. The layout is
 * that of PyTorch 2.7+ (checked against 2.13); older versions ignore the records they do not know. Every
 * {@link DType} is written with its torch storage type, though checkpoints are normally F32.
 *
 * <p>The zip mirrors the one PyTorch's miniz writer makes, byte for byte apart from the serialization id: every
 * record STORED under {@code <file stem>/}, its payload 64-byte aligned by an {@code FB} padding extra field, a
 * data descriptor after each non-empty record, ZIP64 records at the end, ZIP64 extra fields once a size or offset
 * reaches 4 GiB. The exact layout matters: with {@code .format_version} >= 1, torch may compute storage offsets
 * from miniz's rules instead of reading the headers ({@code calculate_storage_offsets}).
 *
 * <p>Storages are streamed from the tensors' memory (a mapped checkpoint stays off the heap); only the pickle and
 * the central directory are built in memory. One storage per tensor, keys {@code "0"}, {@code "1"}, ... in order.
 */
public final class TorchPthWriter {
    static final int ALIGNMENT = 64;
    private static final long MAX32 = 0xffffffffL;

    private static final Map<DType, String> STORAGES = new EnumMap<>(Map.of(
            DType.F32, "FloatStorage", DType.F64, "DoubleStorage", DType.F16, "HalfStorage",
            DType.BF16, "BFloat16Storage", DType.I64, "LongStorage", DType.I32, "IntStorage",
            DType.I16, "ShortStorage", DType.I8, "CharStorage", DType.U8, "ByteStorage", DType.BOOL, "BoolStorage"));

    private TorchPthWriter() {}

    /**
     * Writes {@code tensors} (keys in the given order) atomically: a temporary file beside the target is written,
     * forced to disk and renamed, so a crash never leaves a half file under the final name.
     */
    public static void write(Path file, Collection<TensorEntry> tensors) throws IOException {
        write(file, tensors, MAX32);
    }

    /** {@code zip64From} lowers the ZIP64 threshold so tests can cover those records without writing 4 GiB. */
    static void write(Path file, Collection<TensorEntry> tensors, long zip64From) throws IOException {
        List<TensorEntry> list = List.copyOf(tensors);
        Set<String> seen = new HashSet<>();
        for (TensorEntry t : list) {
            if (!seen.add(t.name()))
                throw new IllegalArgumentException(file + ": duplicate tensor name '" + t.name() + "'");
            if (!StandardCharsets.UTF_8.newEncoder().canEncode(t.name()))
                throw new IllegalArgumentException(file + ": tensor name '" + t.name() + "' is not valid Unicode");
            for (long d : t.shape())
                if (d < 0) throw new IllegalArgumentException(file + ": tensor '" + t.name() + "' has shape "
                        + Arrays.toString(t.shape()));
        }
        byte[] pickle = pickle(list);
        String prefix = archiveName(file) + "/";
        AtomicFile.write(file, os -> {
            Zip zip = new Zip(os, prefix, zip64From);
            zip.record("data.pkl", MemorySegment.ofArray(pickle));
            zip.record(".format_version", ascii("1"));
            zip.record(".storage_alignment", ascii(Integer.toString(ALIGNMENT)));
            zip.record("byteorder", ascii("little"));
            for (int i = 0; i < list.size(); i++) zip.record("data/" + i, list.get(i).data());
            zip.record("version", ascii("3\n"));
            zip.record(".data/serialization_id", ascii(zip.serializationId()));
            zip.finish();
        });
    }

    /** The zip's top folder: the file name up to its last dot, as torch names it ("archive" when that is empty). */
    static String archiveName(Path file) {
        String n = file.getFileName().toString();
        int dot = n.lastIndexOf('.');
        String stem = dot >= 0 ? n.substring(0, dot) : n;
        return stem.isEmpty() ? "archive" : stem;
    }

    /** miniz's ZIP64 extra field in a local header: sizes once the record, offset once its header, reach 4 GiB. */
    static int zip64ExtraLength(long size, long headerOffset, long zip64From) {
        boolean bigSize = size >= zip64From, bigOffset = headerOffset >= zip64From;
        return bigSize || bigOffset ? 4 + (bigSize ? 16 : 0) + (bigOffset ? 8 : 0) : 0;
    }

    /**
     * Where a record's payload starts: after the 30-byte local header, the name, miniz's ZIP64 field and torch's
     * {@code FB} field (4 bytes plus padding to the next multiple of 64). Mirrors torch's getPadding, which
     * torch.load relies on when it computes offsets instead of reading headers.
     */
    static long payloadOffset(long headerOffset, int nameLength, long size, long zip64From) {
        long start = headerOffset + 30 + nameLength + zip64ExtraLength(size, headerOffset, zip64From) + 4;
        return (start + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    private static MemorySegment ascii(String s) {
        return MemorySegment.ofArray(s.getBytes(StandardCharsets.US_ASCII));
    }

    // ---- data.pkl ----

    /**
     * The opcodes CPython's pickler (protocol 2) emits for torch.save of an OrderedDict of tensors, memo included,
     * so the pickle matches torch's byte for byte.
     */
    static byte[] pickle(List<TensorEntry> tensors) {
        Pickler p = new Pickler();
        p.op(0x80).op(2);                                   // PROTO 2
        int orderedDict = p.global("collections", "OrderedDict");
        p.op(')').op('R').put();                            // OrderedDict()
        int rebuild = -1, storageStr = -1, cpu = -1;
        Map<DType, Integer> storageGlobals = new EnumMap<>(DType.class);
        // CPython writes dict items in batches of 1000, a lone item with SETITEM.
        for (int start = 0; start < tensors.size(); start += 1000) {
            int end = Math.min(tensors.size(), start + 1000);
            if (end - start > 1) p.op('(');
            for (int i = start; i < end; i++) {
                TensorEntry t = tensors.get(i);
                p.str(t.name());
                rebuild = p.globalOrGet(rebuild, "torch._utils", "_rebuild_tensor_v2");
                p.op('(');                                  // the arguments of _rebuild_tensor_v2
                p.op('(');                                  // persistent id ('storage', type, key, 'cpu', numel)
                storageStr = p.strOrGet(storageStr, "storage");
                Integer g = storageGlobals.get(t.dtype());
                storageGlobals.put(t.dtype(), p.globalOrGet(g == null ? -1 : g, "torch", STORAGES.get(t.dtype())));
                p.str(Integer.toString(i));
                cpu = p.strOrGet(cpu, "cpu");
                p.integer(t.numel());
                p.op('t').put();
                p.op('Q');                                  // BINPERSID
                p.integer(0);                               // storage_offset
                p.tuple(t.shape());
                p.tuple(strides(t.shape()));
                p.op(0x89);                                 // requires_grad=False
                p.get(orderedDict).op(')').op('R').put();   // backward_hooks=OrderedDict()
                p.op('t').put().op('R').put();
            }
            p.op(end - start > 1 ? 'u' : 's');
        }
        p.op('.');
        return p.out.toByteArray();
    }

    /** C-contiguous strides as torch computes them: size-0/1 dimensions count as 1. */
    static long[] strides(long[] shape) {
        long[] s = new long[shape.length];
        long acc = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            s[d] = acc;
            acc *= Math.max(shape[d], 1);
        }
        return s;
    }

    private static final class Pickler {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        int memo;

        Pickler op(int b) {
            out.write(b);
            return this;
        }

        void le(long v, int n) {
            for (int i = 0; i < n; i++) out.write((int) (v >>> (8 * i)));
        }

        /** BINPUT of the object on top; returns its memo index. */
        Pickler put() {
            if (memo < 256) op('q').op(memo);
            else { op('r'); le(memo, 4); }
            memo++;
            return this;
        }

        Pickler get(int index) {
            if (index < 256) op('h').op(index);
            else { op('j'); le(index, 4); }
            return this;
        }

        int global(String module, String name) {
            op('c');
            out.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.UTF_8));
            put();
            return memo - 1;
        }

        /** Torch passes the same global / string object each time: the pickler writes it once, then refers to it. */
        int globalOrGet(int index, String module, String name) {
            if (index >= 0) { get(index); return index; }
            return global(module, name);
        }

        int strOrGet(int index, String s) {
            if (index >= 0) { get(index); return index; }
            str(s);
            return memo - 1;
        }

        void str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            op('X');
            le(b.length, 4);
            out.writeBytes(b);
            put();
        }

        void integer(long v) {
            if (v >= 0 && v <= 0xff) op('K').op((int) v);
            else if (v >= 0 && v <= 0xffff) { op('M'); le(v, 2); }
            else if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) { op('J'); le(v, 4); }
            else {
                byte[] be = BigInteger.valueOf(v).toByteArray(); // minimal two's complement, as CPython's LONG1
                op(0x8a).op(be.length);
                for (int i = be.length - 1; i >= 0; i--) out.write(be[i]);
            }
        }

        void tuple(long[] items) {
            if (items.length == 0) { op(')'); return; } // the empty tuple is a singleton: never memoized
            if (items.length > 3) op('(');
            for (long v : items) integer(v);
            op(switch (items.length) { case 1 -> 0x85; case 2 -> 0x86; case 3 -> 0x87; default -> 't'; });
            put();
        }
    }

    // ---- zip ----

    private record Central(byte[] name, int flags, int crc, long size, long offset) {}

    /** Appends STORED records to a stream as miniz (torch's zip library) lays them out, then the directory. */
    private static final class Zip {
        final OutputStream out;
        final String prefix;
        final long zip64From;
        final List<Central> central = new ArrayList<>();
        final byte[] chunk = new byte[1 << 20];
        final ByteBuffer hdr = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        long pos, nameHash, crcHash;

        Zip(OutputStream out, String prefix, long zip64From) {
            this.out = out;
            this.prefix = prefix;
            this.zip64From = zip64From;
        }

        void flushHeader() throws IOException {
            out.write(hdr.array(), 0, hdr.position());
            pos += hdr.position();
            hdr.clear();
        }

        void record(String name, MemorySegment data) throws IOException {
            byte[] nb = (prefix + name).getBytes(StandardCharsets.UTF_8);
            long size = data.byteSize(), offset = pos;
            boolean bigSize = size >= zip64From, bigOffset = offset >= zip64From, zip64 = bigSize || bigOffset;
            int zip64Len = zip64ExtraLength(size, offset, zip64From);
            int extraLen = (int) (payloadOffset(offset, nb.length, size, zip64From) - offset - 30 - nb.length);
            int pad = extraLen - zip64Len - 4;
            // Empty records get no data descriptor in miniz, hence no bit 3.
            int flags = size > 0 ? 0x0808 : 0x0800;
            hdr.putInt(0x04034b50).putShort((short) 0).putShort((short) flags).putShort((short) 0) // version, flags, STORED
                    .putInt(0)                          // DOS time and date: torch writes zeros
                    .putInt(0).putInt(0).putInt(0)      // CRC and sizes follow in the data descriptor
                    .putShort((short) nb.length).putShort((short) extraLen).put(nb);
            if (zip64) {
                hdr.putShort((short) 1).putShort((short) (zip64Len - 4));
                if (bigSize) hdr.putLong(0).putLong(0);
                if (bigOffset) hdr.putLong(offset);
            }
            hdr.put((byte) 'F').put((byte) 'B').putShort((short) pad);
            for (int i = 0; i < pad; i++) hdr.put((byte) 'Z');
            flushHeader();
            CRC32 crc = new CRC32();
            for (long p = 0; p < size; p += chunk.length) {
                int len = (int) Math.min(chunk.length, size - p);
                MemorySegment.copy(data, ValueLayout.JAVA_BYTE, p, chunk, 0, len);
                crc.update(chunk, 0, len);
                out.write(chunk, 0, len);
            }
            pos += size;
            int c = (int) crc.getValue();
            if (size > 0) {
                hdr.putInt(0x08074b50).putInt(c);
                if (zip64) hdr.putLong(size).putLong(size);
                else hdr.putInt((int) size).putInt((int) size);
                flushHeader();
            }
            central.add(new Central(nb, flags, c, size, offset));
            CRC32 n = new CRC32();
            n.update(nb);
            nameHash = hashCombine(nameHash, n.getValue());
            crcHash = hashCombine(crcHash, c & MAX32);
        }

        /**
         * 40 decimal digits as torch writes (a hash of the record names, then of their CRCs). torch only logs it;
         * deriving it from the content keeps the output reproducible.
         */
        String serializationId() {
            return digits20(nameHash) + digits20(crcHash);
        }

        static String digits20(long v) {
            String s = Long.toUnsignedString(v);
            return "0".repeat(20 - s.length()) + s;
        }

        static long hashCombine(long seed, long value) { // c10::hash_combine
            return seed ^ (value + 0x9e3779b9L + (seed << 6) + (seed >>> 2));
        }

        void finish() throws IOException {
            long cdStart = pos;
            for (Central e : central) {
                boolean bigSize = e.size() >= zip64From, bigOffset = e.offset() >= zip64From;
                int zip64Len = zip64ExtraLength(e.size(), e.offset(), zip64From);
                hdr.putInt(0x02014b50).putShort((short) 0).putShort((short) 0)
                        .putShort((short) e.flags()).putShort((short) 0).putInt(0).putInt(e.crc())
                        .putInt((int) (bigSize ? MAX32 : e.size())).putInt((int) (bigSize ? MAX32 : e.size()))
                        .putShort((short) e.name().length).putShort((short) zip64Len)
                        .putShort((short) 0).putShort((short) 0).putShort((short) 0).putInt(0) // comment, disk, attributes
                        .putInt((int) (bigOffset ? MAX32 : e.offset())).put(e.name());
                if (zip64Len > 0) {
                    hdr.putShort((short) 1).putShort((short) (zip64Len - 4));
                    if (bigSize) hdr.putLong(e.size()).putLong(e.size());
                    if (bigOffset) hdr.putLong(e.offset());
                }
                flushHeader();
            }
            long cdSize = pos - cdStart, eocd64 = pos, n = central.size();
            // miniz always writes the ZIP64 end records; the classic ones saturate when they overflow.
            hdr.putInt(0x06064b50).putLong(44).putShort((short) 0x031e).putShort((short) 0x2d).putInt(0).putInt(0)
                    .putLong(n).putLong(n).putLong(cdSize).putLong(cdStart);
            hdr.putInt(0x07064b50).putInt(0).putLong(eocd64).putInt(1);
            hdr.putInt(0x06054b50).putShort((short) 0).putShort((short) 0)
                    .putShort((short) Math.min(n, 0xffff)).putShort((short) Math.min(n, 0xffff))
                    .putInt((int) Math.min(cdSize, MAX32)).putInt((int) Math.min(cdStart, MAX32)).putShort((short) 0);
            flushHeader();
        }
    }
}
