package org.dino4j.jmh;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import org.dino4j.kernels.Ops;
import org.dino4j.kernels.ScalarOps;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Non-GEMM kernels on ViT-S/14 shapes at 224 px (257 tokens, D = 384, 6 heads), fast vs scalar twin.
 * Run: java --add-modules jdk.incubator.vector -jar dino4j-jmh/target/benchmarks.jar OpsBench
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class OpsBench {
    @Param({"1", "8"})
    int batch;

    final int tokens = 257, dim = 384, heads = 6, hidden = 1536;
    float[] qkv, ctx, x, y, w, b, h;

    @Setup
    public void setup() {
        SplittableRandom r = new SplittableRandom(0);
        qkv = fill(r, batch * tokens * 3 * dim);
        ctx = new float[batch * tokens * dim];
        x = fill(r, batch * tokens * dim);
        y = new float[x.length];
        w = fill(r, dim);
        b = fill(r, dim);
        h = fill(r, batch * tokens * hidden);
    }

    static float[] fill(SplittableRandom r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    @Benchmark
    public float[] attention() {
        Ops.attention(qkv, ctx, batch, tokens, dim, heads);
        return ctx;
    }

    @Benchmark
    public float[] attentionScalar() {
        ScalarOps.attention(qkv, ctx, batch, tokens, dim, heads);
        return ctx;
    }

    @Benchmark
    public float[] layerNorm() {
        Ops.layerNorm(x, 0, y, 0, batch * tokens, dim, w, b, 1e-6f);
        return y;
    }

    @Benchmark
    public float[] layerNormScalar() {
        ScalarOps.layerNorm(x, 0, y, 0, batch * tokens, dim, w, b, 1e-6f);
        return y;
    }

    @Benchmark
    public float[] gelu() {
        Ops.geluParallel(h, 0, h.length);
        return h;
    }

    @Benchmark
    public float[] geluScalar() {
        ScalarOps.gelu(h, 0, h.length);
        return h;
    }
}
