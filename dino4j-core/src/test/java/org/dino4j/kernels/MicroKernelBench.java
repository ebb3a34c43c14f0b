package org.dino4j.kernels;

import java.util.Random;

/**
 * One micro-kernel on one thread, its panels hot (kc x NR B panel, MC rows of A): GFLOP/s, best of many reps.
 * The ceiling a GEMM built on it can reach. Run with the test classpath:
 * java --add-modules jdk.incubator.vector -cp dino4j-core/target/classes:dino4j-core/target/test-classes
 *   org.dino4j.kernels.MicroKernelBench [kc] [rows]
 */
public final class MicroKernelBench {
    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("gemm")) {
            gemm(args.length > 1 ? Integer.parseInt(args[1]) : 1);
            return;
        }
        if (args.length > 0 && args[0].equals("train")) {
            train();
            return;
        }
        if (args.length > 0 && args[0].equals("tile")) {
            tile(Integer.parseInt(args[1]), Integer.parseInt(args[2]), args.length > 3 && args[3].equals("compact"));
            return;
        }
        int kc = args.length > 0 ? Integer.parseInt(args[0]) : 384;
        int rows = args.length > 1 ? Integer.parseInt(args[1]) : 96;
        boolean wide = Gemm.WIDE;
        int mr = wide ? 6 : Gemm.NARROW_MR, nr = (wide ? 3 : 2) * VectorWidth.lanes(), panels = rows / mr;
        Random r = new Random(1);
        float[] ap = new float[panels * mr * (kc + 2 * VectorWidth.lanes())], bp = new float[kc * nr], out = new float[rows * nr];
        for (int i = 0; i < ap.length; i++) ap[i] = r.nextFloat();
        for (int i = 0; i < bp.length; i++) bp[i] = r.nextFloat();
        float[] z = MicroKernels.zeros(nr), o = MicroKernels.ones(nr);
        double best = 0;
        for (int rep = 0; rep < 4000; rep++) {
            long t0 = System.nanoTime();
            for (int ip = 0; ip < panels; ip++)
                MicroKernels.micro(wide, mr, ap, ip * mr * kc, bp, 0, kc, out, ip * mr * nr, nr, false, z, o, 0);
            long dt = System.nanoTime() - t0;
            best = Math.max(best, 2.0 * panels * mr * nr * kc / dt);
        }
        System.out.printf("kernel %dx%d (%d-bit), kc=%d, %d rows: %.1f GFLOP/s (best)%n", mr, nr / VectorWidth.lanes(),
                VectorWidth.bits(), kc, rows, best);
    }

    /** ViT-S/14 batch-8 GEMM shapes with a prepacked weight (as the model runs them), on {@code threads} threads. */
    static void gemm(int threads) {
        Parallel.setThreads(threads);
        int m = 8 * 257;
        int[][] shapes = {{384, 1152}, {384, 384}, {384, 1536}, {1536, 384}};
        String[] names = {"qkv", "proj", "fc1", "fc2"};
        Random r = new Random(1);
        for (int s = 0; s < shapes.length; s++) {
            int k = shapes[s][0], n = shapes[s][1];
            float[] a = new float[m * k], w = new float[n * k], c = new float[m * n], bias = new float[n];
            for (int i = 0; i < a.length; i++) a[i] = r.nextFloat();
            for (int i = 0; i < w.length; i++) w[i] = r.nextFloat();
            var ws = java.lang.foreign.MemorySegment.ofArray(w);
            // this machine's kernel against 6 x 3 (the wide one), in turn, in one JVM
            Gemm.PackedWeight pw = Gemm.pack(false, ws, n, k), pw3 = Gemm.pack(true, ws, n, k);
            double best = 0, best3 = 0;
            for (int rep = 0; rep < 60; rep++) {
                long t0 = System.nanoTime();
                Gemm.linear(false, a, 0, k, ws, pw, bias, null, c, 0, n, m, n, k, false);
                best = Math.max(best, 2.0 * m * n * k / (System.nanoTime() - t0));
                t0 = System.nanoTime();
                Gemm.linear(true, a, 0, k, ws, pw3, bias, null, c, 0, n, m, n, k, false);
                best3 = Math.max(best3, 2.0 * m * n * k / (System.nanoTime() - t0));
            }
            System.out.printf("GEMM %-4s M=%d K=%d N=%d, %d thread(s): %dx2 %.1f GFLOP/s, 6x3 %.1f (best of 60)%n", names[s],
                    m, k, n, threads, Gemm.NARROW_MR, best, best3);
        }
    }

    /**
     * The GEMM's tile loop without packing: one A block (96 rows x k) against all n/NR column panels of a packed B
     * (k x n), C either the real m x n rows (ldo = n, a new C region per block) or one compact hot tile.
     */
    static void tile(int k, int n, boolean compact) {
        boolean wide = Gemm.WIDE;
        int mr = wide ? 6 : Gemm.NARROW_MR, nr = (wide ? 3 : 2) * VectorWidth.lanes(), rows = 96, panels = rows / mr;
        int np = n / nr, blocks = 21;
        Random r = new Random(1);
        float[] ap = new float[panels * mr * (k + 2 * VectorWidth.lanes())], bp = new float[k * n], c = new float[blocks * rows * n];
        for (int i = 0; i < ap.length; i++) ap[i] = r.nextFloat();
        for (int i = 0; i < bp.length; i++) bp[i] = r.nextFloat();
        float[] z = MicroKernels.zeros(n), o = MicroKernels.ones(n);
        double best = 0;
        for (int rep = 0; rep < 100; rep++) {
            long t0 = System.nanoTime();
            for (int blk = 0; blk < blocks; blk++)
                for (int jp = 0; jp < np; jp++)
                    for (int ip = 0; ip < panels; ip++) {
                        int co = compact ? 0 : blk * rows * n + ip * mr * n + jp * nr;
                        MicroKernels.micro(wide, mr, ap, ip * mr * k, bp, jp * k * nr, k, c, co, compact ? nr : n,
                                false, z, o, jp * nr);
                    }
            best = Math.max(best, 2.0 * blocks * rows * n * k / (System.nanoTime() - t0));
        }
        System.out.printf("tile loop k=%d n=%d C %s: %.1f GFLOP/s (best of 100)%n", k, n, compact ? "compact" : "rows", best);
    }

    /** A training step's backward products (ViT-S fc1, 9,000 tokens), this machine's narrow kernel against 6 x 3, in turn. */
    static void train() {
        int t = 9000, in = 384, out = 1536;
        Random r = new Random(1);
        float[] x = new float[t * in], dy = new float[t * out], w = new float[out * in], dw = new float[out * in], dx = new float[t * in];
        for (int i = 0; i < x.length; i++) x[i] = r.nextFloat();
        for (int i = 0; i < dy.length; i++) dy[i] = r.nextFloat();
        for (int i = 0; i < w.length; i++) w[i] = r.nextFloat();
        double[] best = new double[4];
        for (int rep = 0; rep < 12; rep++)
            for (int v = 0; v < 4; v++) {
                boolean wide = v % 2 == 1;
                long t0 = System.nanoTime();
                if (v < 2) Gemm.matmulTransA(wide, dy, 0, out, x, 0, in, dw, 0, in, out, in, t, false); // dW = dYᵀ X
                else Gemm.matmul(wide, dy, 0, out, w, 0, in, dx, 0, in, t, in, out, false); // dX = dY W
                best[v] = Math.max(best[v], 2.0 * t * in * out / (System.nanoTime() - t0));
            }
        System.out.printf("dW = dYᵀX (%dx%d, K=%d): %dx2 %.1f GFLOP/s, 6x3 %.1f%n", out, in, t, Gemm.NARROW_MR, best[0], best[1]);
        System.out.printf("dX = dY W (%dx%d, K=%d): %dx2 %.1f GFLOP/s, 6x3 %.1f%n", t, in, out, Gemm.NARROW_MR, best[2], best[3]);
    }
}
