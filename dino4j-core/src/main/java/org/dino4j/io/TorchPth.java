package org.dino4j.io;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * Reads {@code torch.save} checkpoints in the zip format of PyTorch 1.6 and later: {@code <prefix>/data.pkl} (a
 * pickle describing the object), {@code <prefix>/data/<key>} (one raw little-endian blob per storage) and small
 * records such as {@code version} and {@code byteorder}.
 *
 * <p>The file is memory-mapped and the zip parsed here (ZIP64 included: ViT-g checkpoints are 4.5 GB). torch
 * writes storages uncompressed and 64-byte aligned, so contiguous tensors are slices of the mapping; only views
 * and (rare) deflated records are copied, into memory owned by the returned store.
 *
 * <p>A pickle can run arbitrary code, so this is not a Python unpickler: it interprets the opcodes torch emits
 * and accepts only the globals torch writes for tensors and dicts. Nothing named by the file is ever called; a
 * whitelisted global is just a marker the interpreter recognises. Any other global ends the load.
 */
public final class TorchPth {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final long MAX_PICKLE = 1L << 30;
    private static final String REFUSE_TAIL = "; dino4j only loads tensors and dicts (a .pth can carry code)";

    private TorchPth() {}

    /** Maps and validates {@code file}. The returned store owns the mapping; close it when done. */
    public static TensorStore read(Path file) {
        return MappedFile.parse(file, (all, arena) -> {
            if (all.byteSize() == 0) throw new CheckpointException(file, "empty file: not a PyTorch zip checkpoint");
            return new Reader(file, all, arena).read();
        });
    }

    // ---- values the unpickler builds ----

    /** A Python tuple (immutable, compared by content so it can be a dict key). */
    private record Tuple(List<Object> items) {}

    private enum Kind { ORDERED_DICT, REBUILD_TENSOR_V2, REBUILD_TENSOR, REBUILD_PARAMETER, REBUILD_PARAMETER_STATE, STORAGE, DTYPE }

    /** A whitelisted global: a marker only, never resolved to anything callable. */
    private record Global(String qualified, Kind kind, DType dtype) {}

    /** A persistent id {@code ('storage', storage_type, key, location, numel)}. */
    private record StorageRef(String key, Global type, long numel) {}

    /** The arguments of {@code _rebuild_tensor_v2}; bytes are resolved once the tensor's name is known. */
    private record TensorSpec(StorageRef storage, long offset, long[] size, long[] stride) {}

    private static final Map<String, DType> STORAGES = Map.of(
            "FloatStorage", DType.F32, "HalfStorage", DType.F16, "BFloat16Storage", DType.BF16,
            "DoubleStorage", DType.F64, "LongStorage", DType.I64, "IntStorage", DType.I32,
            "ShortStorage", DType.I16, "CharStorage", DType.I8, "ByteStorage", DType.U8, "BoolStorage", DType.BOOL);

    // torch.<dtype> objects appear as plain values (e.g. a config entry holding torch.float16).
    private static final Set<String> DTYPES = Set.of("float32", "float", "float64", "double", "float16", "half",
            "bfloat16", "int64", "long", "int32", "int", "int16", "short", "int8", "uint8", "bool", "uint16",
            "uint32", "uint64", "complex32", "chalf", "complex64", "cfloat", "complex128", "cdouble", "float8_e4m3fn",
            "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "qint8", "quint8", "qint32", "quint4x2");

    /** The whitelist; null for anything else. */
    private static Global global(String module, String name) {
        String q = module + "." + name;
        return switch (module) {
            case "collections" -> name.equals("OrderedDict") ? new Global(q, Kind.ORDERED_DICT, null) : null;
            case "torch._utils" -> switch (name) {
                case "_rebuild_tensor_v2" -> new Global(q, Kind.REBUILD_TENSOR_V2, null);
                case "_rebuild_tensor" -> new Global(q, Kind.REBUILD_TENSOR, null);
                case "_rebuild_parameter" -> new Global(q, Kind.REBUILD_PARAMETER, null);
                case "_rebuild_parameter_with_state" -> new Global(q, Kind.REBUILD_PARAMETER_STATE, null);
                default -> null;
            };
            case "torch" -> {
                // Other storage types (complex, quantized, float8) are inert markers too: rejected with a dtype
                // message when a tensor uses them, rather than as "foreign code".
                if (name.matches("[A-Za-z0-9_]+Storage")) yield new Global(q, Kind.STORAGE, STORAGES.get(name));
                yield DTYPES.contains(name) ? new Global(q, Kind.DTYPE, null) : null;
            }
            default -> null;
        };
    }

    private record ZipEntry(String name, int method, int flags, int crc, long compSize, long size, long dataStart) {}

    private static final class Reader {
        final Path file;
        final MemorySegment all;
        final Arena arena;
        final long fileSize;
        final Map<String, ZipEntry> entries = new LinkedHashMap<>();
        final Map<String, MemorySegment> contents = new HashMap<>();
        String prefix;

        Reader(Path file, MemorySegment all, Arena arena) {
            this.file = file;
            this.all = all;
            this.arena = arena;
            this.fileSize = all.byteSize();
        }

        CheckpointException fail(String problem) {
            return new CheckpointException(file, problem);
        }

        TensorStore read() {
            readZipDirectory();
            for (String n : entries.keySet()) {
                int slash = n.indexOf('/');
                if (slash > 0 && n.indexOf('/', slash + 1) < 0 && n.endsWith("/data.pkl")) {
                    prefix = n.substring(0, slash + 1);
                    break;
                }
            }
            if (prefix == null) {
                List<String> some = entries.keySet().stream().limit(5).toList();
                throw fail("no <folder>/data.pkl record: not a torch.save checkpoint (zip holds " + entries.size()
                        + " entries, e.g. " + some + ")");
            }
            ZipEntry bo = entries.get(prefix + "byteorder");
            if (bo != null) {
                String order = new String(bytes(bo, 64), StandardCharsets.US_ASCII).strip();
                if (order.equals("big"))
                    throw fail("big-endian checkpoint (its byteorder record says 'big'); dino4j reads little-endian "
                            + "checkpoints only: re-save it on a little-endian machine");
                if (!order.equals("little")) throw fail("corrupt byteorder record '" + printable(order) + "'");
            }
            ZipEntry pklEntry = entries.get(prefix + "data.pkl");
            Object root = new Unpickler(this, bytes(pklEntry, MAX_PICKLE)).run();
            if (!(root instanceof Map<?, ?> dict)) {
                String hint = entries.containsKey(prefix + "constants.pkl") ? " (a TorchScript archive?)" : "";
                throw fail("the pickle holds " + describe(root) + ", not a dict of tensors" + hint);
            }
            Map<String, TensorEntry> tensors = new LinkedHashMap<>();
            Map<String, String> meta = new LinkedHashMap<>();
            new Flattener(tensors, meta).flatten(dict, "", 0);
            return new TensorStore(file, tensors, meta, arena);
        }

        // ---- zip ----

        void need(long off, long len, String what) {
            if (off < 0 || len < 0 || off > fileSize || len > fileSize - off)
                throw fail("truncated or corrupt zip: " + what + " needs " + len + " bytes at offset " + off
                        + " but the file has " + fileSize);
        }

        int u16(long off) {
            return all.get(U16, off) & 0xffff;
        }

        long u32(long off) {
            return all.get(U32, off) & 0xffffffffL;
        }

        void readZipDirectory() {
            long eocd = findEndOfCentralDirectory();
            long entryCount = u16(eocd + 10), cdSize = u32(eocd + 12), cdOffset = u32(eocd + 16);
            if (u16(eocd + 4) != 0 || u16(eocd + 6) != 0) throw fail("multi-disk zip archives are not supported");
            long cdLimit = eocd;
            // torch (miniz) always writes the ZIP64 records; they are mandatory once a field overflows.
            long loc = eocd - 20;
            if (loc >= 0 && all.get(U32, loc) == 0x07064b50) {
                long z64 = all.get(U64, loc + 8);
                need(z64, 56, "ZIP64 end-of-central-directory record");
                if (z64 > loc - 56 || all.get(U32, z64) != 0x06064b50)
                    throw fail("corrupt zip: bad ZIP64 end-of-central-directory record at " + z64);
                if (all.get(U32, z64 + 16) != 0 || all.get(U32, z64 + 20) != 0)
                    throw fail("multi-disk zip archives are not supported");
                entryCount = all.get(U64, z64 + 32);
                cdSize = all.get(U64, z64 + 40);
                cdOffset = all.get(U64, z64 + 48);
                cdLimit = z64;
            } else if (entryCount == 0xffff || cdSize == 0xffffffffL || cdOffset == 0xffffffffL) {
                throw fail("truncated or corrupt zip: ZIP64 fields without a ZIP64 locator");
            }
            if (cdOffset < 0 || cdSize < 0 || cdOffset > cdLimit || cdSize > cdLimit - cdOffset)
                throw fail("truncated or corrupt zip: central directory [" + cdOffset + ", +" + cdSize
                        + ") lies outside the file");
            if (entryCount < 0 || entryCount > cdSize / 46)
                throw fail("corrupt zip: " + entryCount + " entries cannot fit a " + cdSize + "-byte central directory");
            long p = cdOffset, end = cdOffset + cdSize;
            for (long i = 0; i < entryCount; i++) {
                if (p + 46 > end || all.get(U32, p) != 0x02014b50)
                    throw fail("corrupt zip: central directory entry " + i + " at offset " + p + " is malformed");
                int flags = u16(p + 8), method = u16(p + 10), crc = all.get(U32, p + 16);
                long comp = u32(p + 20), size = u32(p + 24), local = u32(p + 42);
                int nameLen = u16(p + 28), extraLen = u16(p + 30), commentLen = u16(p + 32);
                long next = p + 46 + nameLen + extraLen + commentLen;
                if (next > end) throw fail("corrupt zip: central directory entry " + i + " overruns the directory");
                String name = new String(all.asSlice(p + 46, nameLen).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
                // ZIP64 extended information: only the fields whose 32-bit slot is saturated, in this order.
                long x = p + 46 + nameLen, xEnd = x + extraLen;
                while (x + 4 <= xEnd) {
                    int id = u16(x), len = u16(x + 2);
                    long d = x + 4;
                    if (d + len > xEnd) throw fail("corrupt zip: extra field of '" + printable(name) + "' overruns");
                    if (id == 1) {
                        long q = d;
                        if (size == 0xffffffffL) { if (q + 8 > d + len) throw zip64Short(name); size = all.get(U64, q); q += 8; }
                        if (comp == 0xffffffffL) { if (q + 8 > d + len) throw zip64Short(name); comp = all.get(U64, q); q += 8; }
                        if (local == 0xffffffffL) { if (q + 8 > d + len) throw zip64Short(name); local = all.get(U64, q); }
                    }
                    x = d + len;
                }
                if (size < 0 || comp < 0) throw fail("corrupt zip: entry '" + printable(name) + "' has a negative size");
                if ((flags & 1) != 0) throw fail("zip entry '" + printable(name) + "' is encrypted");
                if (method != 0 && method != 8)
                    throw fail("zip entry '" + printable(name) + "' uses unsupported compression method " + method);
                if (method == 0 && comp != size)
                    throw fail("corrupt zip: stored entry '" + printable(name) + "' has compressed size " + comp
                            + " but size " + size);
                need(local, 30, "local header of '" + printable(name) + "'");
                if (all.get(U32, local) != 0x04034b50)
                    throw fail("corrupt zip: no local header for '" + printable(name) + "' at offset " + local);
                // The local copy of the name must agree: a mismatch means the offset (or the header) is corrupt.
                need(local + 30, nameLen, "local header of '" + printable(name) + "'");
                if (u16(local + 26) != nameLen || MemorySegment.mismatch(all, local + 30, local + 30 + nameLen,
                        all, p + 46, p + 46 + nameLen) >= 0)
                    throw fail("corrupt zip: local header of '" + printable(name) + "' disagrees with the central directory");
                long dataStart = local + 30 + nameLen + u16(local + 28);
                need(dataStart, comp, "entry '" + printable(name) + "'");
                if (entries.put(name, new ZipEntry(name, method, flags, crc, comp, size, dataStart)) != null)
                    throw fail("corrupt zip: duplicate entry '" + printable(name) + "'");
                p = next;
            }
        }

        CheckpointException zip64Short(String name) {
            return fail("corrupt zip: ZIP64 extra field of '" + printable(name) + "' is too short");
        }

        long findEndOfCentralDirectory() {
            // The record is 22 bytes plus a comment of up to 65535: the last signature whose comment ends the file.
            for (long p = fileSize - 22; p >= Math.max(0, fileSize - 22 - 0xffff); p--) {
                if (all.get(U32, p) == 0x06054b50 && p + 22 + u16(p + 20) == fileSize) return p;
            }
            byte first = all.get(ValueLayout.JAVA_BYTE, 0);
            if (first == (byte) 0x80)
                throw fail("not a PyTorch zip checkpoint: this is the legacy (pre-1.6) torch.save format, which "
                        + "dino4j does not read; re-save it with torch.save in PyTorch >= 1.6");
            if (fileSize >= 4 && all.get(U32, 0) == 0x04034b50)
                throw fail("truncated zip: no end-of-central-directory record (the file was cut short?)");
            throw fail("not a PyTorch zip checkpoint (no zip end-of-central-directory record)");
        }

        /** An entry's bytes: a slice of the mapping when stored, else inflated into the store's arena. */
        MemorySegment content(ZipEntry e) {
            MemorySegment cached = contents.get(e.name());
            if (cached != null) return cached;
            MemorySegment raw = all.asSlice(e.dataStart(), e.compSize());
            MemorySegment out = e.method() == 0 ? raw : inflate(e, raw);
            contents.put(e.name(), out);
            return out;
        }

        MemorySegment inflate(ZipEntry e, MemorySegment raw) {
            // Deflate cannot expand more than ~1032:1; a larger claim is corruption, not a reason to allocate.
            if (e.size() > e.compSize() * 1100 + 1024)
                throw fail("corrupt zip: deflated entry '" + printable(e.name()) + "' claims " + e.size()
                        + " bytes from " + e.compSize());
            MemorySegment out = arena.allocate(Math.max(1, e.size()), 64).asSlice(0, e.size());
            final long chunk = 1 << 30;
            Inflater inf = new Inflater(true);
            try {
                long in = 0, done = 0;
                while (true) {
                    if (inf.needsInput() && in < raw.byteSize()) {
                        long n = Math.min(chunk, raw.byteSize() - in);
                        inf.setInput(raw.asSlice(in, n).asByteBuffer());
                        in += n;
                    }
                    if (inf.finished() || done == e.size()) break;
                    int n = inf.inflate(out.asSlice(done, Math.min(chunk, e.size() - done)).asByteBuffer());
                    done += n;
                    if (n == 0 && (inf.needsDictionary() || (inf.needsInput() && in >= raw.byteSize())))
                        throw fail("corrupt zip: deflated entry '" + printable(e.name()) + "' ends early");
                }
                if (done != e.size() || !inf.finished() && inf.inflate(ByteBuffer.allocate(1)) > 0)
                    throw fail("corrupt zip: deflated entry '" + printable(e.name()) + "' inflates to a size other than "
                            + e.size());
            } catch (DataFormatException ex) {
                throw new CheckpointException(file, "corrupt zip: cannot inflate '" + printable(e.name()) + "': "
                        + ex.getMessage(), ex);
            } finally {
                inf.end();
            }
            return out;
        }

        /** A small record on the heap, CRC-checked (storages are not: that would read gigabytes on every load). */
        byte[] bytes(ZipEntry e, long max) {
            if (e.size() > max) throw fail("record '" + e.name() + "' is implausibly large (" + e.size() + " bytes)");
            byte[] b = content(e).toArray(ValueLayout.JAVA_BYTE);
            CRC32 crc = new CRC32();
            crc.update(b);
            if ((int) crc.getValue() != e.crc()) throw fail("corrupt: CRC mismatch in record '" + e.name() + "'");
            return b;
        }

        // ---- tensors ----

        TensorEntry tensor(String name, TensorSpec t) {
            StorageRef s = t.storage();
            DType dt = s.type().dtype();
            if (dt == null) throw fail("tensor '" + name + "' has unsupported element type " + s.type().qualified());
            ZipEntry blob = entries.get(prefix + "data/" + s.key());
            if (blob == null)
                throw fail("tensor '" + name + "' refers to storage '" + printable(s.key()) + "' but the zip has no "
                        + prefix + "data/" + printable(s.key()) + " record");
            long el = dt.size, numel = 1, storageBytes, needBytes, last = t.offset();
            try {
                for (int d = 0; d < t.size().length; d++) {
                    numel = Math.multiplyExact(numel, t.size()[d]);
                    if (t.size()[d] > 0) last = Math.addExact(last, Math.multiplyExact(t.size()[d] - 1, t.stride()[d]));
                }
                storageBytes = Math.multiplyExact(s.numel(), el);
                // One past the last element the view touches (an empty view only needs its offset to be valid).
                needBytes = Math.multiplyExact(numel == 0 ? t.offset() : Math.addExact(last, 1), el);
            } catch (ArithmeticException ex) {
                throw fail("tensor '" + name + "': shape " + Arrays.toString(t.size()) + " overflows");
            }
            if (storageBytes > blob.size())
                throw fail("truncated/corrupt: storage '" + printable(s.key()) + "' claims " + s.numel() + " elements ("
                        + storageBytes + " bytes) but its record has " + blob.size() + " bytes");
            if (needBytes > storageBytes)
                throw fail("truncated/corrupt: tensor '" + name + "' needs " + needBytes + " bytes but storage '"
                        + printable(s.key()) + "' has " + storageBytes);
            // a view is gathered into new memory: only as many elements as its storage holds (a stride-0 view of one
            // float could otherwise ask for gigabytes from a 1 KB file); torch.save never writes such views of weights
            if (numel > s.numel())
                throw fail("tensor '" + name + "' is an overlapping view (" + numel + " elements of a storage of " + s.numel()
                        + ", strides " + Arrays.toString(t.stride()) + "): not supported");
            if (numel == 0) return new TensorEntry(name, dt, t.size(), MemorySegment.ofArray(new byte[0]));
            MemorySegment data = content(blob);
            if (contiguous(t.size(), t.stride()))
                return new TensorEntry(name, dt, t.size(), data.asSlice(t.offset() * el, numel * el));
            return new TensorEntry(name, dt, t.size(), gather(data, t, el, numel));
        }

        /** Copies a strided view into fresh C-contiguous memory owned by the store. */
        MemorySegment gather(MemorySegment src, TensorSpec t, long el, long numel) {
            long[] size = t.size(), stride = t.stride();
            int nd = size.length;
            MemorySegment dst = arena.allocate(numel * el, 64);
            long inner = size[nd - 1], innerStride = stride[nd - 1];
            long[] idx = new long[nd];
            long base = t.offset(), out = 0;
            for (long row = 0, rows = numel / inner; row < rows; row++) {
                if (innerStride == 1) {
                    MemorySegment.copy(src, base * el, dst, out, inner * el);
                    out += inner * el;
                } else {
                    for (long k = 0; k < inner; k++, out += el)
                        MemorySegment.copy(src, (base + k * innerStride) * el, dst, out, el);
                }
                for (int d = nd - 2; d >= 0; d--) { // odometer over the outer dimensions
                    base += stride[d];
                    if (++idx[d] < size[d]) break;
                    base -= stride[d] * size[d];
                    idx[d] = 0;
                }
            }
            return dst;
        }

        static boolean contiguous(long[] size, long[] stride) {
            long expect = 1;
            for (int d = size.length - 1; d >= 0; d--) {
                if (size[d] != 1 && stride[d] != expect) return false;
                expect *= size[d];
            }
            return true;
        }

        /** Nested dicts to dotted names, tensors in pickle order; scalars become metadata, the rest is skipped. */
        final class Flattener {
            final Map<String, TensorEntry> tensors;
            final Map<String, String> meta;
            final IdentityHashMap<Object, Boolean> path = new IdentityHashMap<>();
            long budget = 200_000; // a dict referenced many times over (a memo DAG) must not explode; real ones hold thousands

            Flattener(Map<String, TensorEntry> tensors, Map<String, String> meta) {
                this.tensors = tensors;
                this.meta = meta;
            }

            void flatten(Map<?, ?> dict, String prefix, int depth) {
                if (depth > 64) throw fail("dicts nested deeper than 64 levels");
                if (path.put(dict, Boolean.TRUE) != null) throw fail("the pickle holds a dict that contains itself");
                for (var e : dict.entrySet()) {
                    if (--budget < 0) throw fail("the pickle's dicts reference each other too often");
                    String key = scalar(e.getKey());
                    if (key == null) continue;
                    String name = prefix + key;
                    Object v = e.getValue();
                    if (v instanceof TensorSpec t) {
                        if (tensors.put(name, tensor(name, t)) != null) throw fail("duplicate tensor name '" + name + "'");
                    } else if (v instanceof Map<?, ?> sub) {
                        flatten(sub, name + ".", depth + 1);
                    } else {
                        String s = scalar(v);
                        if (s != null) meta.put(name, s);
                    }
                }
                path.remove(dict);
            }
        }
    }

    /** Text for a scalar leaf or key; null for anything else (containers, None). */
    private static String scalar(Object v) {
        return switch (v) {
            case String s -> s;
            case Long l -> l.toString();
            case BigInteger b -> b.toString();
            case Double d -> d.toString();
            case Boolean b -> b ? "True" : "False";
            case Global g when g.kind() == Kind.DTYPE -> g.qualified();
            case null, default -> null;
        };
    }

    /** A value's type for messages (never its content: containers may be cyclic or huge). */
    private static String describe(Object v) {
        return switch (v) {
            case null -> "None";
            case String _ -> "a string";
            case Long _ -> "an int";
            case BigInteger _ -> "an int";
            case Double _ -> "a float";
            case Boolean _ -> "a bool";
            case byte[] _ -> "bytes";
            case Tuple _ -> "a tuple";
            case List<?> _ -> "a list";
            case Map<?, ?> _ -> "a dict";
            case Global g -> g.qualified();
            case StorageRef _ -> "a storage";
            case TensorSpec _ -> "a tensor";
            default -> v.getClass().getSimpleName();
        };
    }

    private static String printable(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length() && i < 200; i++) {
            char c = s.charAt(i);
            b.append(c >= 0x20 && c < 0x7f ? String.valueOf(c) : String.format("\\u%04x", (int) c));
        }
        return s.length() > 200 ? b + "…" : b.toString();
    }

    /** Interprets the pickle opcodes torch.save emits (protocol 2, plus harmless later ones). */
    private static final class Unpickler {
        private final Reader r;
        private final byte[] b;
        private int pos, opAt;
        private ArrayList<Object> stack = new ArrayList<>();
        private final ArrayList<ArrayList<Object>> metastack = new ArrayList<>();
        private final HashMap<Long, Object> memo = new HashMap<>();

        Unpickler(Reader r, byte[] b) {
            this.r = r;
            this.b = b;
        }

        CheckpointException bad(String problem) {
            return r.fail("malformed pickle in data.pkl at offset " + opAt + ": " + problem);
        }

        void need(long n) {
            if (n < 0 || n > b.length - pos) throw bad("the pickle ends early");
        }

        int u8() {
            need(1);
            return b[pos++] & 0xff;
        }

        long le(int n) {
            need(n);
            long v = 0;
            for (int i = n - 1; i >= 0; i--) v = (v << 8) | (b[pos + i] & 0xff);
            pos += n;
            return v;
        }

        String utf8(long n) {
            need(n);
            String s = new String(b, pos, (int) n, StandardCharsets.UTF_8);
            pos += (int) n;
            return s;
        }

        byte[] raw(long n) {
            need(n);
            byte[] out = Arrays.copyOfRange(b, pos, pos + (int) n);
            pos += (int) n;
            return out;
        }

        String line() {
            int start = pos;
            while (pos < b.length && b[pos] != '\n') if (pos++ - start > 256) throw bad("GLOBAL name too long");
            if (pos >= b.length) throw bad("the pickle ends early");
            return new String(b, start, pos++ - start, StandardCharsets.UTF_8);
        }

        // A method, not stack.add(...): the receiver must be read after popMark() has switched stacks.
        void push(Object o) {
            stack.add(o);
        }

        Object pop() {
            if (stack.isEmpty()) throw bad("stack underflow");
            return stack.removeLast();
        }

        Object peek() {
            if (stack.isEmpty()) throw bad("stack underflow");
            return stack.getLast();
        }

        ArrayList<Object> popMark() {
            if (metastack.isEmpty()) throw bad("no MARK to pop to");
            ArrayList<Object> items = stack;
            stack = metastack.removeLast();
            return items;
        }

        Tuple tuple(List<Object> items) {
            return new Tuple(Collections.unmodifiableList(new ArrayList<>(items)));
        }

        Object run() {
            while (true) {
                opAt = pos;
                int op = u8();
                switch (op) {
                    case 0x80 -> { if (u8() > 5) throw bad("unsupported pickle protocol"); } // PROTO
                    case 0x95 -> le(8);                                          // FRAME: a framing hint only
                    case '.' -> { return pop(); }                                // STOP
                    case '(' -> { metastack.add(stack); stack = new ArrayList<>(); } // MARK
                    case '0' -> pop();                                           // POP
                    case '1' -> popMark();                                       // POP_MARK
                    case '2' -> push(peek());                               // DUP
                    case '}' -> push(new LinkedHashMap<>());                // EMPTY_DICT
                    case ']' -> push(new ArrayList<>());                    // EMPTY_LIST
                    case ')' -> push(tuple(List.of()));                     // EMPTY_TUPLE
                    case 'N' -> push(null);                                 // NONE
                    case 0x88 -> push(Boolean.TRUE);                        // NEWTRUE
                    case 0x89 -> push(Boolean.FALSE);                       // NEWFALSE
                    case 'J' -> push((long) (int) le(4));                   // BININT
                    case 'K' -> push((long) u8());                          // BININT1
                    case 'M' -> push(le(2));                                // BININT2
                    case 0x8a -> push(longN(u8()));                         // LONG1
                    case 0x8b -> push(longN((int) le(4)));                  // LONG4
                    case 'G' -> { need(8); push(ByteBuffer.wrap(b, pos, 8).getDouble()); pos += 8; } // BINFLOAT
                    case 'X' -> push(utf8(le(4)));                          // BINUNICODE
                    case 0x8c -> push(utf8(u8()));                          // SHORT_BINUNICODE
                    case 0x8d -> push(utf8(le(8)));                         // BINUNICODE8
                    case 'T' -> push(latin1(raw(le(4) & 0xffffffffL)));     // BINSTRING (Python 2 str)
                    case 'U' -> push(latin1(raw(u8())));                    // SHORT_BINSTRING
                    case 'B' -> push(raw(le(4)));                           // BINBYTES
                    case 'C' -> push(raw(u8()));                            // SHORT_BINBYTES
                    case 0x8e -> push(raw(le(8)));                          // BINBYTES8
                    case 't' -> push(tuple(popMark()));                     // TUPLE
                    case 0x85 -> push(tuple(Collections.singletonList(pop()))); // TUPLE1
                    case 0x86 -> { Object c = pop(), a = pop(); push(tuple(Arrays.asList(a, c))); } // TUPLE2
                    case 0x87 -> { Object c = pop(), m = pop(), a = pop(); push(tuple(Arrays.asList(a, m, c))); } // TUPLE3
                    case 'l' -> push(new ArrayList<>(popMark()));           // LIST
                    case 'd' -> { var d = new LinkedHashMap<Object, Object>(); putPairs(d, popMark()); push(d); } // DICT
                    case 's' -> { Object v = pop(), k = pop(); putPairs(dictOnTop(), Arrays.asList(k, v)); } // SETITEM
                    case 'u' -> { var items = popMark(); putPairs(dictOnTop(), items); } // SETITEMS
                    case 'a' -> { Object v = pop(); listOnTop().add(v); }        // APPEND
                    case 'e' -> { var items = popMark(); listOnTop().addAll(items); } // APPENDS
                    case 'q' -> memo.put((long) u8(), peek());                   // BINPUT
                    case 'r' -> memo.put(le(4), peek());                         // LONG_BINPUT
                    case 0x94 -> memo.put((long) memo.size(), peek());           // MEMOIZE
                    case 'h' -> push(memoGet(u8()));                        // BINGET
                    case 'j' -> push(memoGet(le(4)));                       // LONG_BINGET
                    case 'c' -> { String m = line(), n = line(); push(resolve(m, n)); } // GLOBAL
                    case 0x93 -> {                                               // STACK_GLOBAL
                        Object n = pop(), m = pop();
                        if (!(m instanceof String ms) || !(n instanceof String ns)) throw bad("STACK_GLOBAL needs two strings");
                        push(resolve(ms, ns));
                    }
                    case 'Q' -> push(persistent(pop()));                    // BINPERSID
                    case 'R' -> { Object args = pop(), fn = pop(); push(reduce(fn, args)); } // REDUCE
                    case 'b' -> {                                                // BUILD
                        pop(); // the state: torch puts the state_dict's _metadata here, which carries no weights
                        if (!(peek() instanceof Map<?, ?>)) throw bad("BUILD on " + describe(peek()) + " is not supported");
                    }
                    default -> throw bad(String.format("unsupported opcode 0x%02x", op));
                }
            }
        }

        Object longN(int n) {
            if (n < 0) throw bad("negative LONG length");
            if (n == 0) return 0L;
            byte[] le = raw(n), be = new byte[n];
            for (int i = 0; i < n; i++) be[i] = le[n - 1 - i];
            BigInteger v = new BigInteger(be);
            return v.bitLength() < 64 ? (Object) v.longValue() : v;
        }

        static String latin1(byte[] x) {
            return new String(x, StandardCharsets.ISO_8859_1);
        }

        Object memoGet(long key) {
            if (!memo.containsKey(key)) throw bad("memo entry " + key + " is missing");
            return memo.get(key);
        }

        @SuppressWarnings("unchecked")
        Map<Object, Object> dictOnTop() {
            if (peek() instanceof Map<?, ?> m) return (Map<Object, Object>) m;
            throw bad("SETITEM on " + describe(peek()));
        }

        @SuppressWarnings("unchecked")
        List<Object> listOnTop() {
            if (peek() instanceof ArrayList<?> l) return (List<Object>) l;
            throw bad("APPEND on " + describe(peek()));
        }

        void putPairs(Map<Object, Object> d, List<Object> kv) {
            if (kv.size() % 2 != 0) throw bad("odd number of items for a dict");
            for (int i = 0; i < kv.size(); i += 2) d.put(key(kv.get(i)), kv.get(i + 1));
        }

        /** Keys must hash safely: a mutable or self-referencing key could recurse forever. */
        Object key(Object k) {
            boolean flat = k == null || k instanceof String || k instanceof Long || k instanceof BigInteger
                    || k instanceof Double || k instanceof Boolean;
            if (flat) return k;
            if (k instanceof Tuple t && t.items().stream().allMatch(x -> x == null || x instanceof String
                    || x instanceof Long || x instanceof BigInteger || x instanceof Double || x instanceof Boolean))
                return k;
            throw bad("unsupported dict key: " + describe(k));
        }

        Global resolve(String module, String name) {
            Global g = global(module, name);
            if (g == null)
                throw r.fail("refusing to load: the pickle names the global '" + printable(module) + "."
                        + printable(name) + "' (data.pkl offset " + opAt + ")" + REFUSE_TAIL);
            return g;
        }

        StorageRef persistent(Object pid) {
            if (pid instanceof Tuple(List<Object> t) && t.size() == 5 && "storage".equals(t.get(0))
                    && t.get(1) instanceof Global g && g.kind() == Kind.STORAGE && t.get(2) instanceof String key
                    && t.get(4) instanceof Long numel && numel >= 0)
                return new StorageRef(key, g, numel);
            throw bad("unsupported persistent id (expected ('storage', type, key, location, numel))");
        }

        Object reduce(Object fn, Object argsObj) {
            if (!(fn instanceof Global g)) throw bad("REDUCE on " + describe(fn));
            if (!(argsObj instanceof Tuple(List<Object> a))) throw bad("REDUCE arguments are not a tuple");
            return switch (g.kind()) {
                case ORDERED_DICT -> {
                    var d = new LinkedHashMap<Object, Object>();
                    if (a.size() == 1 && a.getFirst() instanceof List<?> || a.size() == 1 && a.getFirst() instanceof Tuple) {
                        List<?> pairs = a.getFirst() instanceof Tuple(List<Object> items) ? items : (List<?>) a.getFirst();
                        for (Object p : pairs) {
                            if (!(p instanceof Tuple(List<Object> kv)) || kv.size() != 2) throw bad("OrderedDict item is not a pair");
                            putPairs(d, kv);
                        }
                    } else if (!a.isEmpty()) throw bad("unexpected OrderedDict arguments");
                    yield d;
                }
                case REBUILD_TENSOR_V2, REBUILD_TENSOR -> {
                    int min = g.kind() == Kind.REBUILD_TENSOR ? 4 : 6, max = g.kind() == Kind.REBUILD_TENSOR ? 4 : 7;
                    if (a.size() < min || a.size() > max) throw bad(g.qualified() + " with " + a.size() + " arguments");
                    if (!(a.get(0) instanceof StorageRef s)) throw bad(g.qualified() + " without a storage");
                    if (!(a.get(1) instanceof Long off) || off < 0) throw bad("bad storage offset");
                    long[] size = dims(a.get(2), "size"), stride = dims(a.get(3), "stride");
                    if (size.length != stride.length) throw bad("size and stride differ in length");
                    yield new TensorSpec(s, off, size, stride);
                }
                case REBUILD_PARAMETER, REBUILD_PARAMETER_STATE -> {
                    int n = g.kind() == Kind.REBUILD_PARAMETER ? 3 : 4;
                    if (a.size() != n || !(a.getFirst() instanceof TensorSpec t)) throw bad("bad " + g.qualified() + " arguments");
                    yield t; // requires_grad, hooks and Python attributes do not matter for inference
                }
                case STORAGE, DTYPE -> throw bad("the pickle calls " + g.qualified() + ", which dino4j does not do");
            };
        }

        long[] dims(Object o, String what) {
            if (!(o instanceof Tuple(List<Object> t)) || t.size() > 64) throw bad("tensor " + what + " is not a tuple");
            long[] out = new long[t.size()];
            for (int i = 0; i < out.length; i++) {
                if (!(t.get(i) instanceof Long v) || v < 0) throw bad("tensor " + what + " holds " + describe(t.get(i)));
                out[i] = v;
            }
            return out;
        }
    }
}
