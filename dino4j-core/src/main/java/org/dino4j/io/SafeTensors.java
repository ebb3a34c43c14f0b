package org.dino4j.io;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * safetensors: 8-byte little-endian header length, a JSON header (name -> dtype, shape, data_offsets, plus
 * {@code __metadata__}), then raw little-endian data. Reading memory-maps the file: tensors are slices of the
 * mapping, so a 4.5 GB checkpoint costs no heap. Every header claim is checked against the file before use.
 */
public final class SafeTensors {
    private static final long MAX_HEADER = 100L << 20;

    private SafeTensors() {}

    /** Maps and validates {@code file}. The returned store owns the mapping; close it when done. */
    public static TensorStore read(Path file) {
        return MappedFile.parse(file, (all, arena) -> parse(file, all, arena));
    }

    /** Parses safetensors bytes already in memory (e.g. a heap array). */
    public static TensorStore parse(Path file, MemorySegment all, Arena owner) {
        long size = all.byteSize();
        if (size < 8) throw new CheckpointException(file, "too short to be a safetensors file (" + size + " bytes)");
        long n = all.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (n <= 0 || n > MAX_HEADER)
            throw new CheckpointException(file, "not a safetensors file: header length " + n + " is implausible");
        if (8 + n > size)
            throw new CheckpointException(file, "truncated: header claims " + n + " bytes but the file has "
                    + (size - 8) + " after the length field");
        byte[] hb = all.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
        Map<String, Object> header;
        try {
            header = Json.parseObject(new String(hb, StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(file, "corrupt safetensors header: " + e.getMessage());
        }
        long dataStart = 8 + n, dataLen = size - dataStart;
        MemorySegment data = all.asSlice(dataStart, dataLen);
        Map<String, TensorEntry> out = new LinkedHashMap<>();
        Map<String, String> meta = new LinkedHashMap<>();
        for (var e : header.entrySet()) {
            String name = e.getKey();
            if (name.equals("__metadata__")) {
                if (e.getValue() instanceof Map<?, ?> m) m.forEach((k, v) -> meta.put(String.valueOf(k), String.valueOf(v)));
                continue;
            }
            if (!(e.getValue() instanceof Map<?, ?> info))
                throw new CheckpointException(file, "tensor '" + name + "': header entry is not an object");
            DType dt = DType.fromSafetensors(String.valueOf(info.get("dtype")));
            if (dt == null)
                throw new CheckpointException(file, "tensor '" + name + "': unsupported dtype " + info.get("dtype"));
            long[] shape = longs(file, name, "shape", info.get("shape"));
            long[] off = longs(file, name, "data_offsets", info.get("data_offsets"));
            if (off.length != 2 || off[0] > off[1])
                throw new CheckpointException(file, "tensor '" + name + "': bad data_offsets");
            long want;
            try {
                want = Math.multiplyExact(TensorEntry.numel(shape), (long) dt.size);
            } catch (ArithmeticException ex) {
                throw new CheckpointException(file, "tensor '" + name + "': shape " + java.util.Arrays.toString(shape) + " has a negative size or overflows");
            }
            if (off[1] - off[0] != want)
                throw new CheckpointException(file, "tensor '" + name + "': header says shape "
                        + java.util.Arrays.toString(shape) + " " + dt + " (" + want + " bytes) but its data_offsets span "
                        + (off[1] - off[0]) + " bytes");
            if (off[1] > dataLen)
                throw new CheckpointException(file, "truncated: tensor '" + name + "' needs data bytes [" + off[0]
                        + ", " + off[1] + ") but the file holds only " + dataLen + " data bytes");
            out.put(name, new TensorEntry(name, dt, shape, data.asSlice(off[0], want)));
        }
        return new TensorStore(file, out, meta, owner);
    }

    private static long[] longs(Path file, String name, String field, Object v) {
        if (!(v instanceof List<?> l)) throw new CheckpointException(file, "tensor '" + name + "': missing " + field);
        long[] r = new long[l.size()];
        for (int k = 0; k < r.length; k++) {
            if (!(l.get(k) instanceof Long x) || x < 0)
                throw new CheckpointException(file, "tensor '" + name + "': bad " + field + " " + l);
            r[k] = x;
        }
        return r;
    }

    /**
     * Writes tensors (in the given order) with optional metadata, atomically: a temporary file beside the target
     * is written, forced to disk and renamed, so a crash never leaves a half file under the final name.
     */
    public static void write(Path file, Collection<TensorEntry> tensors, Map<String, String> metadata) throws IOException {
        Map<String, Object> header = new LinkedHashMap<>();
        if (metadata != null && !metadata.isEmpty()) header.put("__metadata__", new LinkedHashMap<>(metadata));
        long off = 0;
        List<TensorEntry> list = new ArrayList<>(tensors);
        for (TensorEntry t : list) {
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("dtype", t.dtype().name());
            info.put("shape", t.shape());
            long len = t.data().byteSize();
            info.put("data_offsets", new long[] {off, off + len});
            if (header.put(t.name(), info) != null) throw new IllegalArgumentException("duplicate tensor " + t.name());
            off += len;
        }
        byte[] hj = Json.write(header).getBytes(StandardCharsets.UTF_8);
        int pad = (8 - hj.length % 8) % 8;
        byte[] hdr = new byte[hj.length + pad];
        System.arraycopy(hj, 0, hdr, 0, hj.length);
        for (int k = hj.length; k < hdr.length; k++) hdr[k] = ' ';
        AtomicFile.write(file, os -> {
            ByteBuffer lb = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(hdr.length);
            os.write(lb.array());
            os.write(hdr);
            byte[] chunk = new byte[1 << 20];
            for (TensorEntry t : list) {
                MemorySegment d = t.data();
                for (long p = 0; p < d.byteSize(); p += chunk.length) {
                    int len = (int) Math.min(chunk.length, d.byteSize() - p);
                    MemorySegment.copy(d, ValueLayout.JAVA_BYTE, p, chunk, 0, len);
                    os.write(chunk, 0, len);
                }
            }
        });
    }
}
