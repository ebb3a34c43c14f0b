import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The machine's fp32 FMA peak as Java reaches it: each thread runs 12 independent FMA chains on the preferred vector
 * species (more chains than FMA latency x ports, so nothing waits), no memory traffic. Prints GFLOP/s for 1 and N
 * threads: the ceiling the GEMM and forward figures are a fraction of.
 * Run: java --add-modules jdk.incubator.vector tools/peak/FmaPeak.java [THREADS]
 */
public class FmaPeak {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static volatile float sink;

    static long chains(long iters) {
        FloatVector a = FloatVector.broadcast(S, 0.999f), b = FloatVector.broadcast(S, 1e-7f);
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0,
                c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (long i = 0; i < iters; i++) {
            c0 = c0.fma(a, b); c1 = c1.fma(a, b); c2 = c2.fma(a, b); c3 = c3.fma(a, b);
            c4 = c4.fma(a, b); c5 = c5.fma(a, b); c6 = c6.fma(a, b); c7 = c7.fma(a, b);
            c8 = c8.fma(a, b); c9 = c9.fma(a, b); c10 = c10.fma(a, b); c11 = c11.fma(a, b);
        }
        sink = c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11)
                .reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
        return iters * 12L * S.length() * 2;
    }

    static double run(int threads, long iters) throws InterruptedException {
        Thread[] ts = new Thread[threads];
        long t0 = System.nanoTime();
        for (int t = 0; t < threads; t++) (ts[t] = new Thread(() -> chains(iters))).start();
        for (Thread t : ts) t.join();
        return (double) iters * 12 * S.length() * 2 * threads / (System.nanoTime() - t0);
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : Runtime.getRuntime().availableProcessors();
        for (int w = 0; w < 3; w++) chains(20_000_000);
        long iters = 200_000_000L;
        for (int t : new int[] {1, n}) {
            double best = 0;
            for (int r = 0; r < 5; r++) best = Math.max(best, run(t, iters));
            System.out.printf("FMA peak, %d-bit vectors, %d thread(s): %.1f GFLOP/s (best of 5)%n", S.vectorBitSize(), t, best);
        }
    }
}
