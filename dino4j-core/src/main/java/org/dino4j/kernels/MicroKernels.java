package org.dino4j.kernels;

import java.lang.invoke.VarHandle;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The register-blocked micro-kernels of the Vector API implementation, shared by its two drivers: the packed GEMM
 * ({@link Gemm}, which picks the 14 x 2, 6 x 3 or 6 x 2 shape for the machine) and fused attention ({@link Ops#attention},
 * which runs the 6 x 2 one, and its A-blocked variant, on its own panels). Each computes one MR x NR tile of C from
 * an A micro-panel (MR rows; k-major, or in k blocks for 14 x 2) and a k-major B micro-panel (NR columns), arrays in
 * and out.
 * The kernels are unrolled by hand, deliberately: see {@link #kernel4x2} and {@link #kernel6x2} for why.
 */
final class MicroKernels {
    private static final VectorSpecies<Float> S = VectorWidth.FLOAT;
    private static final int L = S.length();
    /** Width of the narrow kernels' B micro-panel (2 vectors). */
    static final int W2 = 2 * L;
    private static final int W2_SHIFT = Integer.numberOfTrailingZeros(W2); // W2 is a power of two

    private MicroKernels() {}

    /** The micro-kernel of this shape: 6 x 3 vectors (wide), else 14 x 2, 6 x 2 or 4 x 2 by rows. Arrays in, no vectors: nothing to box. */
    static void micro(boolean wide, int mr, float[] ap, int ao, float[] bp, int bo, int kc, float[] out, int oo, int ldo,
                              boolean load, float[] bs, float[] gs, int bj) {
        if (wide) kernel6x3(ap, ao, bp, bo, kc, out, oo, ldo, load, bs, gs, bj);
        else if (mr == 14) { // raw sums: see kernel14x2
            if (load || bs[bj] != 0f || gs[bj] != 1f) throw new IllegalArgumentException("kernel14x2 has no epilogue");
            kernel14x2(ap, ao, bp, bo, kc, out, oo, ldo);
        }
        else if (mr == 6) kernel6x2(ap, ao, bp, bo, kc, out, oo, ldo, load, bs, gs, bj);
        else kernel4x2(ap, ao, bp, bo, kc, out, oo, ldo, load, bs, gs, bj);
    }

    /**
     * out[4 x 2L] = (load ? out : 0) + A micro-panel (kc x 4, k-major) x B micro-panel (kc x 2L, k-major).
     * C2 schedules all of an iteration's broadcasts before the FMAs, so the live set is rows*vectors accumulators
     * + rows broadcasts + vectors B loads: 8 + 4 + 2 = 14 of AVX2's 16 registers. (6 x 2 written the same way needs
     * 20 and spills an accumulator to the stack every iteration, which halves the speed: see {@link #kernel6x2}.)
     */
    static void kernel4x2(float[] ap, int ao, float[] bp, int bo, int kc, float[] out, int oo, int ldo,
                                  boolean load, float[] bs, float[] gs, int bj) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
                c30 = c00, c31 = c00;
        for (int p = 0; p < kc; p++) {
            int bi = bo + p * (2 * L), ai = ao + p * 4;
            FloatVector b0 = FloatVector.fromArray(S, bp, bi);
            FloatVector b1 = FloatVector.fromArray(S, bp, bi + L);
            FloatVector x = FloatVector.broadcast(S, ap[ai]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            x = FloatVector.broadcast(S, ap[ai + 1]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            x = FloatVector.broadcast(S, ap[ai + 2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            x = FloatVector.broadcast(S, ap[ai + 3]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
        }
        // out = (sum + bias) * gamma (+ out when load); partial sums pass all-zero bias and all-one gamma arrays.
        // Written out here rather than through a helper taking vectors: if C2 ever declines to inline such a
        // helper (its compiled size grows once every epilogue path has run), each call boxes its vector
        // arguments and the GEMM runs ~4x slower. The only branch ends in the stores (no vector phi).
        FloatVector bb0 = FloatVector.fromArray(S, bs, bj), bb1 = FloatVector.fromArray(S, bs, bj + L);
        FloatVector g0 = FloatVector.fromArray(S, gs, bj), g1 = FloatVector.fromArray(S, gs, bj + L);
        c00 = c00.add(bb0).mul(g0); c01 = c01.add(bb1).mul(g1);
        c10 = c10.add(bb0).mul(g0); c11 = c11.add(bb1).mul(g1);
        c20 = c20.add(bb0).mul(g0); c21 = c21.add(bb1).mul(g1);
        c30 = c30.add(bb0).mul(g0); c31 = c31.add(bb1).mul(g1);
        int o1 = oo + ldo, o2 = oo + 2 * ldo, o3 = oo + 3 * ldo;
        if (load) {
            c00.add(FloatVector.fromArray(S, out, oo)).intoArray(out, oo);
            c01.add(FloatVector.fromArray(S, out, oo + L)).intoArray(out, oo + L);
            c10.add(FloatVector.fromArray(S, out, o1)).intoArray(out, o1);
            c11.add(FloatVector.fromArray(S, out, o1 + L)).intoArray(out, o1 + L);
            c20.add(FloatVector.fromArray(S, out, o2)).intoArray(out, o2);
            c21.add(FloatVector.fromArray(S, out, o2 + L)).intoArray(out, o2 + L);
            c30.add(FloatVector.fromArray(S, out, o3)).intoArray(out, o3);
            c31.add(FloatVector.fromArray(S, out, o3 + L)).intoArray(out, o3 + L);
        } else {
            c00.intoArray(out, oo); c01.intoArray(out, oo + L);
            c10.intoArray(out, o1); c11.intoArray(out, o1 + L);
            c20.intoArray(out, o2); c21.intoArray(out, o2 + L);
            c30.intoArray(out, o3); c31.intoArray(out, o3 + L);
        }
    }

    /**
     * As {@link #kernel4x2} with 6 rows: 12 accumulators. C2 would schedule all six broadcasts first (20 live
     * registers, a spill per iteration); a load-load fence after each row keeps the next row's broadcast below it, so
     * only one broadcast is live (12 + 2 B + 1 = 15). On x86 the fence emits no instruction: it only orders C2's
     * schedule. The loop takes four k steps per iteration, so that the loads use constant offsets from one index and
     * the loop's own instructions are amortised (MLAS's AVX2 kernel has the same shape): ViT-S/14 forwards in one JVM
     * took 0.913-0.966 of the time of the one-step loop (batch 8), 0.944 (batch 1). The four steps and the remainder
     * loop are written out, not a helper per step: a helper taking vectors boxes them once C2 declines to inline it
     * (see {@link #kernel4x2}'s epilogue). The same unrolling of the 4 x 2 kernel (then attention's QKᵀ, 64 k steps)
     * was slower, so it keeps one step.
     */
    static void kernel6x2(float[] ap, int ao, float[] bp, int bo, int kc, float[] out, int oo, int ldo,
                          boolean load, float[] bs, float[] gs, int bj) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
                c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        FloatVector b0, b1, x;
        int bi, ai, p = 0;
        for (; p + 3 < kc; p += 4) {
            bi = bo + p * (2 * L); ai = ao + p * 6;
            b0 = FloatVector.fromArray(S, bp, bi);
            b1 = FloatVector.fromArray(S, bp, bi + L);
            x = FloatVector.broadcast(S, ap[ai]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 1]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 3]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 4]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 5]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
            VarHandle.loadLoadFence();
            bi = bo + (p + 1) * (2 * L); ai = ao + (p + 1) * 6;
            b0 = FloatVector.fromArray(S, bp, bi);
            b1 = FloatVector.fromArray(S, bp, bi + L);
            x = FloatVector.broadcast(S, ap[ai]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 1]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 3]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 4]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 5]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
            VarHandle.loadLoadFence();
            bi = bo + (p + 2) * (2 * L); ai = ao + (p + 2) * 6;
            b0 = FloatVector.fromArray(S, bp, bi);
            b1 = FloatVector.fromArray(S, bp, bi + L);
            x = FloatVector.broadcast(S, ap[ai]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 1]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 3]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 4]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 5]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
            VarHandle.loadLoadFence();
            bi = bo + (p + 3) * (2 * L); ai = ao + (p + 3) * 6;
            b0 = FloatVector.fromArray(S, bp, bi);
            b1 = FloatVector.fromArray(S, bp, bi + L);
            x = FloatVector.broadcast(S, ap[ai]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 1]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 3]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 4]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 5]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
        }
        for (; p < kc; p++) {
            bi = bo + p * (2 * L); ai = ao + p * 6;
            b0 = FloatVector.fromArray(S, bp, bi);
            b1 = FloatVector.fromArray(S, bp, bi + L);
            x = FloatVector.broadcast(S, ap[ai]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 1]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 3]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 4]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 5]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
        }
        FloatVector bb0 = FloatVector.fromArray(S, bs, bj), bb1 = FloatVector.fromArray(S, bs, bj + L);
        FloatVector g0 = FloatVector.fromArray(S, gs, bj), g1 = FloatVector.fromArray(S, gs, bj + L);
        c00 = c00.add(bb0).mul(g0); c01 = c01.add(bb1).mul(g1);
        c10 = c10.add(bb0).mul(g0); c11 = c11.add(bb1).mul(g1);
        c20 = c20.add(bb0).mul(g0); c21 = c21.add(bb1).mul(g1);
        c30 = c30.add(bb0).mul(g0); c31 = c31.add(bb1).mul(g1);
        c40 = c40.add(bb0).mul(g0); c41 = c41.add(bb1).mul(g1);
        c50 = c50.add(bb0).mul(g0); c51 = c51.add(bb1).mul(g1);
        int o1 = oo + ldo, o2 = oo + 2 * ldo, o3 = oo + 3 * ldo, o4 = oo + 4 * ldo, o5 = oo + 5 * ldo;
        if (load) { // as kernel4x2: no helper taking vectors, no vector phi
            c00.add(FloatVector.fromArray(S, out, oo)).intoArray(out, oo);
            c01.add(FloatVector.fromArray(S, out, oo + L)).intoArray(out, oo + L);
            c10.add(FloatVector.fromArray(S, out, o1)).intoArray(out, o1);
            c11.add(FloatVector.fromArray(S, out, o1 + L)).intoArray(out, o1 + L);
            c20.add(FloatVector.fromArray(S, out, o2)).intoArray(out, o2);
            c21.add(FloatVector.fromArray(S, out, o2 + L)).intoArray(out, o2 + L);
            c30.add(FloatVector.fromArray(S, out, o3)).intoArray(out, o3);
            c31.add(FloatVector.fromArray(S, out, o3 + L)).intoArray(out, o3 + L);
            c40.add(FloatVector.fromArray(S, out, o4)).intoArray(out, o4);
            c41.add(FloatVector.fromArray(S, out, o4 + L)).intoArray(out, o4 + L);
            c50.add(FloatVector.fromArray(S, out, o5)).intoArray(out, o5);
            c51.add(FloatVector.fromArray(S, out, o5 + L)).intoArray(out, o5 + L);
        } else {
            c00.intoArray(out, oo); c01.intoArray(out, oo + L);
            c10.intoArray(out, o1); c11.intoArray(out, o1 + L);
            c20.intoArray(out, o2); c21.intoArray(out, o2 + L);
            c30.intoArray(out, o3); c31.intoArray(out, o3 + L);
            c40.intoArray(out, o4); c41.intoArray(out, o4 + L);
            c50.intoArray(out, o5); c51.intoArray(out, o5 + L);
        }
    }

    /**
     * {@link #kernel6x2} with A as [k/W2][6][W2] (W2 = 2L, the kernel's width: row r's k values in blocks of W2, the
     * six rows' blocks side by side) instead of [k][6]: the layout kernel6x2 itself writes when its 6 x W2 C tiles go
     * to consecutive 6·W2-float blocks (ldo = W2), so attention's scores feed P·V with no repacking. No epilogue: C is
     * stored. Written out as kernel6x2 is (see there).
     */
    static void kernel6x2Blocked(float[] ap, int ao, float[] bp, int bo, int kc, float[] out, int oo, int ldo) {
        kernel6x2Blocked(ap, ao, 6 * W2, bp, bo, kc, out, oo, ldo);
    }

    /**
     * As {@link #kernel6x2Blocked(float[], int, float[], int, int, float[], int, int)} with A's k blocks {@code as}
     * floats apart instead of 6·W2 (the six rows' W2-float pieces of one block stay W2 apart): attention's backward
     * reads dS from key-block column panels, [key block][query][W2].
     */
    static void kernel6x2Blocked(float[] ap, int ao, int as, float[] bp, int bo, int kc, float[] out, int oo, int ldo) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
                c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        FloatVector b0, b1, x;
        int bi, ai, p = 0;
        for (; p + 3 < kc; p += 4) { // p % 4 == 0: the four steps lie in one block
            ai = ao + (p >> W2_SHIFT) * as + (p & (W2 - 1));
            bi = bo + p * (2 * L);
            b0 = FloatVector.fromArray(S, bp, bi);
            b1 = FloatVector.fromArray(S, bp, bi + L);
            x = FloatVector.broadcast(S, ap[ai]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + W2]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 2 * W2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 3 * W2]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 4 * W2]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 5 * W2]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
            VarHandle.loadLoadFence();
            bi = bo + (p + 1) * (2 * L);
            b0 = FloatVector.fromArray(S, bp, bi);
            b1 = FloatVector.fromArray(S, bp, bi + L);
            x = FloatVector.broadcast(S, ap[ai + 1]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + W2 + 1]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 2 * W2 + 1]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 3 * W2 + 1]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 4 * W2 + 1]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 5 * W2 + 1]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
            VarHandle.loadLoadFence();
            bi = bo + (p + 2) * (2 * L);
            b0 = FloatVector.fromArray(S, bp, bi);
            b1 = FloatVector.fromArray(S, bp, bi + L);
            x = FloatVector.broadcast(S, ap[ai + 2]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + W2 + 2]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 2 * W2 + 2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 3 * W2 + 2]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 4 * W2 + 2]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 5 * W2 + 2]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
            VarHandle.loadLoadFence();
            bi = bo + (p + 3) * (2 * L);
            b0 = FloatVector.fromArray(S, bp, bi);
            b1 = FloatVector.fromArray(S, bp, bi + L);
            x = FloatVector.broadcast(S, ap[ai + 3]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + W2 + 3]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 2 * W2 + 3]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 3 * W2 + 3]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 4 * W2 + 3]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 5 * W2 + 3]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
        }
        for (; p < kc; p++) {
            bi = bo + p * (2 * L); ai = ao + (p >> W2_SHIFT) * as + (p & (W2 - 1));
            b0 = FloatVector.fromArray(S, bp, bi);
            b1 = FloatVector.fromArray(S, bp, bi + L);
            x = FloatVector.broadcast(S, ap[ai]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + W2]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 2 * W2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 3 * W2]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 4 * W2]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 5 * W2]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51);
        }
        int o1 = oo + ldo, o2 = oo + 2 * ldo, o3 = oo + 3 * ldo, o4 = oo + 4 * ldo, o5 = oo + 5 * ldo;
        c00.intoArray(out, oo); c01.intoArray(out, oo + L);
        c10.intoArray(out, o1); c11.intoArray(out, o1 + L);
        c20.intoArray(out, o2); c21.intoArray(out, o2 + L);
        c30.intoArray(out, o3); c31.intoArray(out, o3 + L);
        c40.intoArray(out, o4); c41.intoArray(out, o4 + L);
        c50.intoArray(out, o5); c51.intoArray(out, o5 + L);
    }

    private static volatile float[] zeros = new float[4096], ones = filled(4096);

    private static float[] filled(int n) {
        float[] a = new float[n];
        Arrays.fill(a, 1f);
        return a;
    }

    /** A shared all-zero array of length >= n (never written). */
    static float[] zeros(int n) {
        float[] z = zeros;
        if (z.length < n) zeros = z = new float[Math.max(n, 2 * z.length)];
        return z;
    }

    /** A shared all-one array of length >= n (never written). */
    static float[] ones(int n) {
        float[] a = ones;
        if (a.length < n) ones = a = filled(Math.max(n, 2 * a.length));
        return a;
    }

    /**
     * As {@link #kernel4x2} with 6 rows x 3 vectors, for 32-register ISAs (AVX-512, NEON/SVE): 18 accumulators +
     * 6 broadcasts + 3 B = 27 registers.
     */
    private static void kernel6x3(float[] ap, int ao, float[] bp, int bo, int kc, float[] out, int oo, int ldo,
                                  boolean load, float[] bs, float[] gs, int bj) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00,
                c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00,
                c40 = c00, c41 = c00, c42 = c00, c50 = c00, c51 = c00, c52 = c00;
        for (int p = 0; p < kc; p++) {
            int bi = bo + p * (3 * L), ai = ao + p * 6;
            FloatVector b0 = FloatVector.fromArray(S, bp, bi);
            FloatVector b1 = FloatVector.fromArray(S, bp, bi + L);
            FloatVector b2 = FloatVector.fromArray(S, bp, bi + 2 * L);
            FloatVector x = FloatVector.broadcast(S, ap[ai]);
            c00 = x.fma(b0, c00); c01 = x.fma(b1, c01); c02 = x.fma(b2, c02);
            x = FloatVector.broadcast(S, ap[ai + 1]);
            c10 = x.fma(b0, c10); c11 = x.fma(b1, c11); c12 = x.fma(b2, c12);
            x = FloatVector.broadcast(S, ap[ai + 2]);
            c20 = x.fma(b0, c20); c21 = x.fma(b1, c21); c22 = x.fma(b2, c22);
            x = FloatVector.broadcast(S, ap[ai + 3]);
            c30 = x.fma(b0, c30); c31 = x.fma(b1, c31); c32 = x.fma(b2, c32);
            x = FloatVector.broadcast(S, ap[ai + 4]);
            c40 = x.fma(b0, c40); c41 = x.fma(b1, c41); c42 = x.fma(b2, c42);
            x = FloatVector.broadcast(S, ap[ai + 5]);
            c50 = x.fma(b0, c50); c51 = x.fma(b1, c51); c52 = x.fma(b2, c52);
        }
        FloatVector bb0 = FloatVector.fromArray(S, bs, bj), bb1 = FloatVector.fromArray(S, bs, bj + L),
                bb2 = FloatVector.fromArray(S, bs, bj + 2 * L);
        FloatVector g0 = FloatVector.fromArray(S, gs, bj), g1 = FloatVector.fromArray(S, gs, bj + L),
                g2 = FloatVector.fromArray(S, gs, bj + 2 * L);
        c00 = c00.add(bb0).mul(g0); c01 = c01.add(bb1).mul(g1); c02 = c02.add(bb2).mul(g2);
        c10 = c10.add(bb0).mul(g0); c11 = c11.add(bb1).mul(g1); c12 = c12.add(bb2).mul(g2);
        c20 = c20.add(bb0).mul(g0); c21 = c21.add(bb1).mul(g1); c22 = c22.add(bb2).mul(g2);
        c30 = c30.add(bb0).mul(g0); c31 = c31.add(bb1).mul(g1); c32 = c32.add(bb2).mul(g2);
        c40 = c40.add(bb0).mul(g0); c41 = c41.add(bb1).mul(g1); c42 = c42.add(bb2).mul(g2);
        c50 = c50.add(bb0).mul(g0); c51 = c51.add(bb1).mul(g1); c52 = c52.add(bb2).mul(g2);
        int o1 = oo + ldo, o2 = oo + 2 * ldo, o3 = oo + 3 * ldo, o4 = oo + 4 * ldo, o5 = oo + 5 * ldo;
        if (load) { // as kernel4x2: no helper taking vectors, no vector phi
            c00.add(FloatVector.fromArray(S, out, oo)).intoArray(out, oo);
            c01.add(FloatVector.fromArray(S, out, oo + L)).intoArray(out, oo + L);
            c02.add(FloatVector.fromArray(S, out, oo + 2 * L)).intoArray(out, oo + 2 * L);
            c10.add(FloatVector.fromArray(S, out, o1)).intoArray(out, o1);
            c11.add(FloatVector.fromArray(S, out, o1 + L)).intoArray(out, o1 + L);
            c12.add(FloatVector.fromArray(S, out, o1 + 2 * L)).intoArray(out, o1 + 2 * L);
            c20.add(FloatVector.fromArray(S, out, o2)).intoArray(out, o2);
            c21.add(FloatVector.fromArray(S, out, o2 + L)).intoArray(out, o2 + L);
            c22.add(FloatVector.fromArray(S, out, o2 + 2 * L)).intoArray(out, o2 + 2 * L);
            c30.add(FloatVector.fromArray(S, out, o3)).intoArray(out, o3);
            c31.add(FloatVector.fromArray(S, out, o3 + L)).intoArray(out, o3 + L);
            c32.add(FloatVector.fromArray(S, out, o3 + 2 * L)).intoArray(out, o3 + 2 * L);
            c40.add(FloatVector.fromArray(S, out, o4)).intoArray(out, o4);
            c41.add(FloatVector.fromArray(S, out, o4 + L)).intoArray(out, o4 + L);
            c42.add(FloatVector.fromArray(S, out, o4 + 2 * L)).intoArray(out, o4 + 2 * L);
            c50.add(FloatVector.fromArray(S, out, o5)).intoArray(out, o5);
            c51.add(FloatVector.fromArray(S, out, o5 + L)).intoArray(out, o5 + L);
            c52.add(FloatVector.fromArray(S, out, o5 + 2 * L)).intoArray(out, o5 + 2 * L);
        } else {
            c00.intoArray(out, oo); c01.intoArray(out, oo + L); c02.intoArray(out, oo + 2 * L);
            c10.intoArray(out, o1); c11.intoArray(out, o1 + L); c12.intoArray(out, o1 + 2 * L);
            c20.intoArray(out, o2); c21.intoArray(out, o2 + L); c22.intoArray(out, o2 + 2 * L);
            c30.intoArray(out, o3); c31.intoArray(out, o3 + L); c32.intoArray(out, o3 + 2 * L);
            c40.intoArray(out, o4); c41.intoArray(out, o4 + L); c42.intoArray(out, o4 + 2 * L);
            c50.intoArray(out, o5); c51.intoArray(out, o5 + L); c52.intoArray(out, o5 + 2 * L);
        }
    }

    /**
     * 14 rows x 2 vectors for 32-register ISAs (AVX-512): 28 accumulators + 2 B + 1 broadcast = 31 registers, each
     * row's broadcast fenced below the previous row's FMAs as in {@link #kernel6x2}, two k steps per iteration.
     * Per k step it loads 2 B vectors for 28 FMAs where 6 x 3 loads 3 for 18: the B micro-panel (kc x 2L) streams
     * from L2 2.3x less per FMA. In a GEMM's tile loop on a 2-core Xeon (AVX-512, 2026-12-07) it ran 1.15-1.28x the
     * 6 x 3 kernel (k 384, n 384-1536: KernelShapes); 12 x 2 and 10 x 2 were between, 8 x 3 slower than 6 x 3.
     * It stores the raw sums (out = A x B): the caller applies bias, gamma and accumulation ({@link Gemm}'s
     * epilogue). A comes in k blocks of W2 ({@link #at14}), as {@link #kernel6x2Blocked} reads it: packing it is then
     * a copy of whole row pieces ({@link #block14}), where the [k][14] layout took a scalar transpose (~5 % of a
     * ViT-S forward's samples). With the epilogue inside, the method grew past what C1 can compile ("out of virtual registers"),
     * and was left in C1's non-profiling tier, where Vector API calls are not intrinsics: 100x slower, for good.
     */
    static void kernel14x2(float[] ap, int ao, float[] bp, int bo, int kc, float[] out, int oo, int ldo) {
        FloatVector c0_0 = FloatVector.zero(S), c0_1 = c0_0, c1_0 = c0_0, c1_1 = c0_0, c2_0 = c0_0, c2_1 = c0_0, c3_0 = c0_0,
                c3_1 = c0_0, c4_0 = c0_0, c4_1 = c0_0, c5_0 = c0_0, c5_1 = c0_0, c6_0 = c0_0, c6_1 = c0_0,
                c7_0 = c0_0, c7_1 = c0_0, c8_0 = c0_0, c8_1 = c0_0, c9_0 = c0_0, c9_1 = c0_0, c10_0 = c0_0,
                c10_1 = c0_0, c11_0 = c0_0, c11_1 = c0_0, c12_0 = c0_0, c12_1 = c0_0, c13_0 = c0_0, c13_1 = c0_0;
        FloatVector b0, b1, x;
        int bi, ai, p = 0;
        for (; p + 1 < kc; p += 2) { // p % 2 == 0: both steps lie in one block
            ai = ao + (p >> W2_SHIFT) * (14 * W2) + (p & (W2 - 1));
            bi = bo + p * W2;
            b0 = FloatVector.fromArray(S, bp, bi);
            b1 = FloatVector.fromArray(S, bp, bi + L);
            x = FloatVector.broadcast(S, ap[ai]);
            c0_0 = x.fma(b0, c0_0); c0_1 = x.fma(b1, c0_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + W2]);
            c1_0 = x.fma(b0, c1_0); c1_1 = x.fma(b1, c1_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 2 * W2]);
            c2_0 = x.fma(b0, c2_0); c2_1 = x.fma(b1, c2_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 3 * W2]);
            c3_0 = x.fma(b0, c3_0); c3_1 = x.fma(b1, c3_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 4 * W2]);
            c4_0 = x.fma(b0, c4_0); c4_1 = x.fma(b1, c4_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 5 * W2]);
            c5_0 = x.fma(b0, c5_0); c5_1 = x.fma(b1, c5_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 6 * W2]);
            c6_0 = x.fma(b0, c6_0); c6_1 = x.fma(b1, c6_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 7 * W2]);
            c7_0 = x.fma(b0, c7_0); c7_1 = x.fma(b1, c7_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 8 * W2]);
            c8_0 = x.fma(b0, c8_0); c8_1 = x.fma(b1, c8_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 9 * W2]);
            c9_0 = x.fma(b0, c9_0); c9_1 = x.fma(b1, c9_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 10 * W2]);
            c10_0 = x.fma(b0, c10_0); c10_1 = x.fma(b1, c10_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 11 * W2]);
            c11_0 = x.fma(b0, c11_0); c11_1 = x.fma(b1, c11_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 12 * W2]);
            c12_0 = x.fma(b0, c12_0); c12_1 = x.fma(b1, c12_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 13 * W2]);
            c13_0 = x.fma(b0, c13_0); c13_1 = x.fma(b1, c13_1);
            VarHandle.loadLoadFence();
            bi = bo + (p + 1) * W2;
            b0 = FloatVector.fromArray(S, bp, bi);
            b1 = FloatVector.fromArray(S, bp, bi + L);
            x = FloatVector.broadcast(S, ap[ai + 1]);
            c0_0 = x.fma(b0, c0_0); c0_1 = x.fma(b1, c0_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + W2 + 1]);
            c1_0 = x.fma(b0, c1_0); c1_1 = x.fma(b1, c1_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 2 * W2 + 1]);
            c2_0 = x.fma(b0, c2_0); c2_1 = x.fma(b1, c2_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 3 * W2 + 1]);
            c3_0 = x.fma(b0, c3_0); c3_1 = x.fma(b1, c3_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 4 * W2 + 1]);
            c4_0 = x.fma(b0, c4_0); c4_1 = x.fma(b1, c4_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 5 * W2 + 1]);
            c5_0 = x.fma(b0, c5_0); c5_1 = x.fma(b1, c5_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 6 * W2 + 1]);
            c6_0 = x.fma(b0, c6_0); c6_1 = x.fma(b1, c6_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 7 * W2 + 1]);
            c7_0 = x.fma(b0, c7_0); c7_1 = x.fma(b1, c7_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 8 * W2 + 1]);
            c8_0 = x.fma(b0, c8_0); c8_1 = x.fma(b1, c8_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 9 * W2 + 1]);
            c9_0 = x.fma(b0, c9_0); c9_1 = x.fma(b1, c9_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 10 * W2 + 1]);
            c10_0 = x.fma(b0, c10_0); c10_1 = x.fma(b1, c10_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 11 * W2 + 1]);
            c11_0 = x.fma(b0, c11_0); c11_1 = x.fma(b1, c11_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 12 * W2 + 1]);
            c12_0 = x.fma(b0, c12_0); c12_1 = x.fma(b1, c12_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 13 * W2 + 1]);
            c13_0 = x.fma(b0, c13_0); c13_1 = x.fma(b1, c13_1);
            VarHandle.loadLoadFence();
        }
        for (; p < kc; p++) {
            ai = ao + (p >> W2_SHIFT) * (14 * W2) + (p & (W2 - 1));
            bi = bo + p * W2;
            b0 = FloatVector.fromArray(S, bp, bi);
            b1 = FloatVector.fromArray(S, bp, bi + L);
            x = FloatVector.broadcast(S, ap[ai]);
            c0_0 = x.fma(b0, c0_0); c0_1 = x.fma(b1, c0_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + W2]);
            c1_0 = x.fma(b0, c1_0); c1_1 = x.fma(b1, c1_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 2 * W2]);
            c2_0 = x.fma(b0, c2_0); c2_1 = x.fma(b1, c2_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 3 * W2]);
            c3_0 = x.fma(b0, c3_0); c3_1 = x.fma(b1, c3_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 4 * W2]);
            c4_0 = x.fma(b0, c4_0); c4_1 = x.fma(b1, c4_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 5 * W2]);
            c5_0 = x.fma(b0, c5_0); c5_1 = x.fma(b1, c5_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 6 * W2]);
            c6_0 = x.fma(b0, c6_0); c6_1 = x.fma(b1, c6_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 7 * W2]);
            c7_0 = x.fma(b0, c7_0); c7_1 = x.fma(b1, c7_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 8 * W2]);
            c8_0 = x.fma(b0, c8_0); c8_1 = x.fma(b1, c8_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 9 * W2]);
            c9_0 = x.fma(b0, c9_0); c9_1 = x.fma(b1, c9_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 10 * W2]);
            c10_0 = x.fma(b0, c10_0); c10_1 = x.fma(b1, c10_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 11 * W2]);
            c11_0 = x.fma(b0, c11_0); c11_1 = x.fma(b1, c11_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 12 * W2]);
            c12_0 = x.fma(b0, c12_0); c12_1 = x.fma(b1, c12_1);
            VarHandle.loadLoadFence();
            x = FloatVector.broadcast(S, ap[ai + 13 * W2]);
            c13_0 = x.fma(b0, c13_0); c13_1 = x.fma(b1, c13_1);
            VarHandle.loadLoadFence();
        }
        c0_0.intoArray(out, oo); c0_1.intoArray(out, oo + L);
        c1_0.intoArray(out, oo + 1 * ldo); c1_1.intoArray(out, oo + 1 * ldo + L);
        c2_0.intoArray(out, oo + 2 * ldo); c2_1.intoArray(out, oo + 2 * ldo + L);
        c3_0.intoArray(out, oo + 3 * ldo); c3_1.intoArray(out, oo + 3 * ldo + L);
        c4_0.intoArray(out, oo + 4 * ldo); c4_1.intoArray(out, oo + 4 * ldo + L);
        c5_0.intoArray(out, oo + 5 * ldo); c5_1.intoArray(out, oo + 5 * ldo + L);
        c6_0.intoArray(out, oo + 6 * ldo); c6_1.intoArray(out, oo + 6 * ldo + L);
        c7_0.intoArray(out, oo + 7 * ldo); c7_1.intoArray(out, oo + 7 * ldo + L);
        c8_0.intoArray(out, oo + 8 * ldo); c8_1.intoArray(out, oo + 8 * ldo + L);
        c9_0.intoArray(out, oo + 9 * ldo); c9_1.intoArray(out, oo + 9 * ldo + L);
        c10_0.intoArray(out, oo + 10 * ldo); c10_1.intoArray(out, oo + 10 * ldo + L);
        c11_0.intoArray(out, oo + 11 * ldo); c11_1.intoArray(out, oo + 11 * ldo + L);
        c12_0.intoArray(out, oo + 12 * ldo); c12_1.intoArray(out, oo + 12 * ldo + L);
        c13_0.intoArray(out, oo + 13 * ldo); c13_1.intoArray(out, oo + 13 * ldo + L);
    }


    /** ap[d + kk*6 + r] = a[s + r*lda + kk] for r < 6, kk < len: six rows read side by side, written in order. */
    static void interleave6(float[] a, int s, int lda, int len, float[] ap, int d) {
        int s1 = s + lda, s2 = s1 + lda, s3 = s2 + lda, s4 = s3 + lda, s5 = s4 + lda;
        for (int kk = 0; kk < len; kk++) {
            int o = d + kk * 6;
            ap[o] = a[s + kk];
            ap[o + 1] = a[s1 + kk];
            ap[o + 2] = a[s2 + kk];
            ap[o + 3] = a[s3 + kk];
            ap[o + 4] = a[s4 + kk];
            ap[o + 5] = a[s5 + kk];
        }
    }

    /** Offset of row r's k-th value in a 14-row micro-panel as {@link #kernel14x2} reads it: k blocks of W2, rows W2 apart. */
    static int at14(int r, int kk) {
        return (kk >> W2_SHIFT) * (14 * W2) + r * W2 + (kk & (W2 - 1));
    }

    /**
     * Packs the first {@code rows} (<= 14) of 14 rows (a[s + r*lda + kk], kk < len) into the layout of {@link #at14} at
     * ap[d..], the missing rows as zeros: row pieces copied, never a row past {@code rows} read.
     */
    static void block14(float[] a, int s, int lda, int len, int rows, float[] ap, int d) {
        for (int kb = 0; kb < len; kb += W2) {
            int w = Math.min(W2, len - kb), o = d + (kb >> W2_SHIFT) * (14 * W2);
            for (int r = 0; r < 14; r++) {
                int src = s + r * lda + kb, dst = o + r * W2;
                if (r >= rows) Arrays.fill(ap, dst, dst + w, 0f);
                else if (w == W2) {
                    FloatVector.fromArray(S, a, src).intoArray(ap, dst);
                    FloatVector.fromArray(S, a, src + L).intoArray(ap, dst + L);
                } else System.arraycopy(a, src, ap, dst, w);
            }
        }
    }
}
