package org.dino4j.jmh;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.dino4j.kernels.Gemm;
import org.dino4j.kernels.Parallel;
import org.dino4j.kernels.ScalarKernels;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Gemm.linear against its scalar twin on the ViT-S/14 linear layers: m = tokens (257 = batch 1, 2056 = batch 8),
 * kn = "K x N" of qkv, attention projection, MLP fc1 and fc2. GFLOP/s = ops/s x 2 m k n / 1e9.
 *
 * <p>Example: {@code java --add-modules jdk.incubator.vector -jar dino4j-jmh/target/benchmarks.jar GemmBench
 * -f 1 -wi 2 -i 3 -p m=2056 -p kn=384x1536 -p threads=2}. The scalar twin takes seconds per op at m = 2056.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class GemmBench {
    @Param({"257", "2056"})
    int m;

    @Param({"384x1152", "384x384", "384x1536", "1536x384"})
    String kn;

    /** Compute threads (dino4j's pool); 0 = one per core. */
    @Param({"0"})
    int threads;

    int k, n;
    float[] a, bias, c;
    MemorySegment w;
    Arena arena;

    @Setup(Level.Trial)
    public void setup() {
        if (threads > 0) Parallel.setThreads(threads);
        String[] p = kn.split("x");
        k = Integer.parseInt(p[0]);
        n = Integer.parseInt(p[1]);
        SplittableRandom r = new SplittableRandom(42);
        a = new float[m * k];
        for (int i = 0; i < a.length; i++) a[i] = (float) r.nextDouble(-1, 1);
        bias = new float[n];
        for (int i = 0; i < n; i++) bias[i] = (float) r.nextDouble(-1, 1);
        c = new float[m * n];
        // off-heap little-endian weights, as a memory-mapped checkpoint slice would be
        arena = Arena.ofShared();
        w = arena.allocate((long) n * k * Float.BYTES, 64);
        ValueLayout.OfFloat le = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        for (long i = 0; i < (long) n * k; i++) w.setAtIndex(le, i, (float) r.nextDouble(-0.1, 0.1));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public float[] gemm() {
        Gemm.linear(a, 0, k, w, bias, null, c, 0, n, m, n, k, false);
        return c;
    }

    @Benchmark
    public float[] scalar() {
        ScalarKernels.linear(a, 0, k, w, bias, null, c, 0, n, m, n, k, false);
        return c;
    }
}
