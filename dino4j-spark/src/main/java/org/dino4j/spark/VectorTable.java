package org.dino4j.spark;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;
import org.dino4j.io.Json;

/**
 * A set of vectors as a Parquet table: a folder of chunk files {@code part-00000.parquet}, {@code part-00001.parquet}
 * ..., each written whole by one task (under a hidden name, then renamed, so a killed task leaves no half file),
 * with the columns {@code item} (the image's index among the inputs, or its row in the set the table was cut from),
 * {@code id}, {@code source} (the input it came from) and {@code vector} (d float32, little-endian, as binary: a
 * Spark reader gets bytes, not a million boxed floats). {@code _dino4j.json} holds the dimension, the rows of each
 * chunk and the fingerprint of what made the table; it is written last, when every chunk is there, so its presence
 * says the table is complete. Row r of the set is row r − offset(c) of chunk c, offsets the running sums of the chunk
 * sizes: chunks hold consecutive rows, in order.
 */
public record VectorTable(String dir, String fingerprint, int dim, long[] chunkRows) implements Serializable {
    public static final String META = "_dino4j.json";
    static final MessageType SCHEMA = MessageTypeParser.parseMessageType("""
            message vectors {
              required int64 item;
              required binary id (UTF8);
              required binary source (UTF8);
              required binary vector;
            }""");
    static final String VECTORS_ONLY = "message vectors { required int64 item; required binary vector; }";

    /** One row as written: its item, id, source and vector. */
    public record Rec(long item, String id, String source, float[] v) implements Serializable {}

    /** Consecutive rows [start, start + n) of a table; ids and sources null when read without them. */
    public record Chunk(long start, int n, int d, long[] item, String[] id, String[] source, float[] x) implements Serializable {
        public float[] row(int i) {
            return Arrays.copyOfRange(x, i * d, (i + 1) * d);
        }
    }

    public long rows() {
        long s = 0;
        for (long r : chunkRows) s += r;
        return s;
    }

    public int chunks() {
        return chunkRows.length;
    }

    /** The set's row of each chunk's first row. */
    public long[] offsets() {
        long[] o = new long[chunkRows.length];
        for (int c = 1; c < o.length; c++) o[c] = o[c - 1] + chunkRows[c - 1];
        return o;
    }

    public static String chunkName(int chunk) {
        return String.format(Locale.ROOT, "part-%05d.parquet", chunk);
    }

    static FileSystem fs(String dir) {
        try {
            return new Path(dir).getFileSystem(new Configuration());
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": " + e.getMessage(), e);
        }
    }

    /** Whether chunk {@code chunk} of the table at dir has been written (a finished task's file). */
    public static boolean chunkDone(String dir, int chunk) {
        try {
            return fs(dir).exists(new Path(dir, chunkName(chunk)));
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": " + e.getMessage(), e);
        }
    }

    /** The complete table at dir, or null when it is not complete or was made from something else. */
    public static VectorTable open(String dir, String fingerprint) {
        try {
            FileSystem fs = fs(dir);
            Path meta = new Path(dir, META);
            if (!fs.exists(meta)) return null;
            String json;
            try (var in = fs.open(meta)) {
                json = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            }
            Map<?, ?> m = (Map<?, ?>) Json.parse(json);
            String fp = String.valueOf(m.get("fingerprint"));
            if (fingerprint != null && !fp.equals(fingerprint)) return null;
            List<?> rows = (List<?>) m.get("chunk_rows");
            long[] r = new long[rows.size()];
            for (int i = 0; i < r.length; i++) r[i] = ((Number) rows.get(i)).longValue();
            return new VectorTable(dir, fp, ((Number) m.get("dim")).intValue(), r);
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(dir + "/" + META + ": not a dino4j vector table (" + e.getMessage() + ")", e);
        }
    }

    /**
     * Seals a table whose chunks 0..chunks-1 are all written: reads each chunk's row count from its footer and writes
     * {@code _dino4j.json}.
     */
    public static VectorTable seal(String dir, String fingerprint, int dim, int chunks) {
        try {
            FileSystem fs = fs(dir);
            Configuration conf = new Configuration();
            long[] rows = new long[chunks];
            for (int c = 0; c < chunks; c++) {
                Path p = new Path(dir, chunkName(c));
                if (!fs.exists(p)) throw new IllegalStateException(p + " is missing: the table is not complete");
                try (ParquetFileReader r = ParquetFileReader.open(HadoopInputFile.fromPath(p, conf))) {
                    rows[c] = r.getRecordCount();
                }
            }
            VectorTable t = new VectorTable(dir, fingerprint, dim, rows);
            Map<String, Object> m = new java.util.LinkedHashMap<>();
            m.put("fingerprint", fingerprint);
            m.put("dim", dim);
            m.put("rows", t.rows());
            List<Long> l = new ArrayList<>();
            for (long r : rows) l.add(r);
            m.put("chunk_rows", l);
            Path tmp = new Path(dir, "." + META + ".tmp");
            try (var out = fs.create(tmp, true)) {
                out.write((Json.write(m) + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
            }
            fs.delete(new Path(dir, META), false);
            if (!fs.rename(tmp, new Path(dir, META))) throw new IOException("cannot rename " + tmp);
            return t;
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": " + e.getMessage(), e);
        }
    }

    /** Deletes the table at dir (all of it: a table made from something else is not reused). */
    public static void delete(String dir) {
        try {
            fs(dir).delete(new Path(dir), true);
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * Writes chunk {@code chunk} (executor side): to a hidden file first, renamed when complete. Returns the rows
     * written. Vectors must have length dim.
     */
    public static long writeChunk(String dir, int chunk, int dim, Iterator<Rec> rows) {
        org.apache.spark.TaskContext task = org.apache.spark.TaskContext.get(); // attempts of one chunk must not share a file
        Path dest = new Path(dir, chunkName(chunk)),
                tmp = new Path(dir, "." + chunkName(chunk) + "." + (task == null ? "driver" : task.taskAttemptId()) + ".tmp");
        Configuration conf = new Configuration();
        SimpleGroupFactory f = new SimpleGroupFactory(SCHEMA);
        long n = 0;
        try {
            FileSystem fs = fs(dir);
            fs.mkdirs(new Path(dir));
            try (ParquetWriter<Group> w = ExampleParquetWriter.builder(tmp).withConf(conf).withType(SCHEMA)
                    .withWriteMode(org.apache.parquet.hadoop.ParquetFileWriter.Mode.OVERWRITE)
                    .withCompressionCodec(CompressionCodecName.UNCOMPRESSED).withDictionaryEncoding(false)
                    .withRowGroupSize(16L << 20).withPageSize(1 << 20).build()) {
                ByteBuffer bb = ByteBuffer.allocate(4 * dim).order(ByteOrder.LITTLE_ENDIAN);
                while (rows.hasNext()) {
                    Rec r = rows.next();
                    if (r.v().length != dim) throw new IllegalArgumentException(r.id() + ": vector of " + r.v().length + " floats, want " + dim);
                    bb.clear();
                    bb.asFloatBuffer().put(r.v());
                    w.write(f.newGroup().append("item", r.item()).append("id", r.id()).append("source", r.source())
                            .append("vector", Binary.fromConstantByteArray(bb.array().clone())));
                    n++;
                }
            }
            fs.delete(dest, false);
            if (!fs.rename(tmp, dest)) throw new IOException("cannot rename " + tmp + " to " + dest);
            return n;
        } catch (IOException e) {
            throw new UncheckedIOException(dest + ": " + e.getMessage(), e);
        }
    }

    /** Chunk c of this table (executor side); ids and sources only when asked (they cost more than the vectors). */
    public Chunk read(int c, boolean withIds) {
        return read(dir, c, offsets()[c], dim, withIds);
    }

    public static Chunk read(String dir, int c, long start, int dim, boolean withIds) {
        Path p = new Path(dir, chunkName(c));
        Configuration conf = new Configuration();
        if (!withIds) conf.set("parquet.read.schema", VECTORS_ONLY);
        long[] item = new long[64];
        String[] id = withIds ? new String[64] : null, src = withIds ? new String[64] : null;
        float[] x = new float[64 * dim];
        int n = 0;
        try (ParquetReader<Group> r = ParquetReader.builder(new GroupReadSupport(), p).withConf(conf).build()) {
            for (Group g; (g = r.read()) != null; n++) {
                if (n == item.length) {
                    item = Arrays.copyOf(item, 2 * n);
                    x = Arrays.copyOf(x, 2 * n * dim);
                    if (withIds) {
                        id = Arrays.copyOf(id, 2 * n);
                        src = Arrays.copyOf(src, 2 * n);
                    }
                }
                item[n] = g.getLong("item", 0);
                ByteBuffer v = g.getBinary("vector", 0).toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                if (v.remaining() != 4 * dim) throw new IllegalStateException(p + ": row " + n + " holds " + v.remaining() / 4 + " floats, want " + dim);
                v.asFloatBuffer().get(x, n * dim, dim);
                if (withIds) {
                    id[n] = g.getString("id", 0);
                    src[n] = g.getString("source", 0);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(p + ": " + e.getMessage(), e);
        }
        return new Chunk(start, n, dim, Arrays.copyOf(item, n), withIds ? Arrays.copyOf(id, n) : null,
                withIds ? Arrays.copyOf(src, n) : null, Arrays.copyOf(x, n * dim));
    }

    /** The chunks that are written, by index (driver side: what a rerun can skip). */
    public static boolean[] written(String dir, int chunks) {
        boolean[] done = new boolean[chunks];
        try {
            FileSystem fs = fs(dir);
            if (!fs.exists(new Path(dir))) return done;
            for (FileStatus s : fs.listStatus(new Path(dir))) {
                String name = s.getPath().getName();
                if (!name.startsWith("part-") || !name.endsWith(".parquet")) continue;
                int c = Integer.parseInt(name.substring(5, name.length() - 8));
                if (c < chunks) done[c] = true;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": " + e.getMessage(), e);
        }
        return done;
    }
}
