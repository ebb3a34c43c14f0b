package org.dino4j.data.ssl;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * CPython's {@code random.Random}, draw for draw: the Mersenne Twister MT19937 of {@code _randommodule.c}, seeded
 * from an int the way CPython does it, and the methods of {@code random.py} the official training code calls. The
 * official iBOT masks ({@code dinov2/data/masking.py}, {@code collate.py}) draw all their randomness from Python's
 * global {@code random}, so the same seed gives the same masks here. Not thread-safe (neither is CPython's without
 * its GIL); give each data-loading thread its own.
 */
public final class PyRandom {
    private static final int N = 624, M = 397;
    private static final int MATRIX_A = 0x9908b0df, UPPER_MASK = 0x80000000, LOWER_MASK = 0x7fffffff;

    private final int[] mt = new int[N];
    private int index;

    /** {@code random.Random(seed)}. */
    public PyRandom(long seed) {
        seed(seed);
    }

    private PyRandom(State state) {
        setState(state);
    }

    /** A generator continuing exactly from {@code state}. */
    public static PyRandom of(State state) {
        return new PyRandom(state);
    }

    /**
     * {@code random.seed(seed)} for an int: CPython keys {@code init_by_array} with the 32-bit words of
     * {@code abs(seed)}, least significant first (a single 0 word for 0), so -5 seeds like 5.
     */
    public void seed(long seed) {
        long n = seed == Long.MIN_VALUE ? seed : Math.abs(seed); // abs(MIN_VALUE) = 2^63: same bits, read unsigned
        int hi = (int) (n >>> 32);
        initByArray(hi == 0 ? new int[] {(int) n} : new int[] {(int) n, hi});
    }

    private void initGenrand(int s) {
        mt[0] = s;
        for (int i = 1; i < N; i++) mt[i] = 1812433253 * (mt[i - 1] ^ (mt[i - 1] >>> 30)) + i;
        index = N;
    }

    private void initByArray(int[] key) {
        initGenrand(19650218);
        int i = 1, j = 0;
        for (int k = Math.max(N, key.length); k > 0; k--) {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >>> 30)) * 1664525)) + key[j] + j;
            i++;
            j++;
            if (i >= N) {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if (j >= key.length) j = 0;
        }
        for (int k = N - 1; k > 0; k--) {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >>> 30)) * 1566083941)) - i;
            i++;
            if (i >= N) {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x80000000; // MSB is 1, assuring a non-zero initial array
    }

    /** genrand_uint32: the next 32 random bits. */
    private int next32() {
        if (index >= N) {
            int kk = 0;
            for (; kk < N - M; kk++) {
                int y = (mt[kk] & UPPER_MASK) | (mt[kk + 1] & LOWER_MASK);
                mt[kk] = mt[kk + M] ^ (y >>> 1) ^ ((y & 1) * MATRIX_A);
            }
            for (; kk < N - 1; kk++) {
                int y = (mt[kk] & UPPER_MASK) | (mt[kk + 1] & LOWER_MASK);
                mt[kk] = mt[kk + (M - N)] ^ (y >>> 1) ^ ((y & 1) * MATRIX_A);
            }
            int y = (mt[N - 1] & UPPER_MASK) | (mt[0] & LOWER_MASK);
            mt[N - 1] = mt[M - 1] ^ (y >>> 1) ^ ((y & 1) * MATRIX_A);
            index = 0;
        }
        int y = mt[index++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        return y ^ (y >>> 18);
    }

    /** {@code random()}: 53 random bits in [0, 1), from two 32-bit draws (27 + 26 bits). */
    public double random() {
        long a = (next32() >>> 5) & 0xffffffffL, b = (next32() >>> 6) & 0xffffffffL;
        return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
    }

    /**
     * {@code getrandbits(k)} for 0 <= k <= 64, as the unsigned bits of the result (k = 64 may come back negative).
     * Above 32 bits CPython fills 32-bit words least significant first, the last one shifted down to fit.
     */
    public long getrandbits(int k) {
        if (k < 0 || k > 64) throw new IllegalArgumentException("getrandbits(" + k + "): 0..64 bits supported");
        if (k == 0) return 0;
        if (k <= 32) return (next32() >>> (32 - k)) & 0xffffffffL;
        long lo = next32() & 0xffffffffL;
        long hi = (next32() >>> (64 - k)) & 0xffffffffL;
        return lo | hi << 32;
    }

    /** {@code _randbelow(n)}: getrandbits(n.bit_length()) until the draw is below n (n > 0). */
    public long randbelow(long n) {
        if (n <= 0) throw new IllegalArgumentException("randbelow(" + n + ")");
        int k = 64 - Long.numberOfLeadingZeros(n);
        long r = getrandbits(k);
        while (r >= n) r = getrandbits(k);
        return r;
    }

    /** {@code randrange(stop)}. */
    public long randrange(long stop) {
        if (stop <= 0) throw new IllegalArgumentException("empty range for randrange(" + stop + ")");
        return randbelow(stop);
    }

    /** {@code randrange(start, stop)}. */
    public long randrange(long start, long stop) {
        long width = Math.subtractExact(stop, start);
        if (width <= 0) throw new IllegalArgumentException("empty range for randrange(" + start + ", " + stop + ")");
        return start + randbelow(width);
    }

    /** {@code randrange(start, stop, step)}. */
    public long randrange(long start, long stop, long step) {
        if (step == 1) return randrange(start, stop);
        if (step == 0) throw new IllegalArgumentException("zero step for randrange()");
        long width = Math.subtractExact(stop, start);
        long n = step > 0 ? Math.floorDiv(width + step - 1, step) : Math.floorDiv(width + step + 1, step);
        if (n <= 0) throw new IllegalArgumentException("empty range for randrange()");
        return start + step * randbelow(n);
    }

    /** {@code randint(a, b)}: a <= result <= b, i.e. randrange(a, b + 1). */
    public long randint(long a, long b) {
        return randrange(a, Math.addExact(b, 1));
    }

    /** {@code uniform(a, b)}: {@code a + (b - a) * random()}, in double as Python computes it for floats. */
    public double uniform(double a, double b) {
        return a + (b - a) * random();
    }

    /** {@code shuffle(x)}: Fisher-Yates from the end, j = _randbelow(i + 1). */
    public void shuffle(List<?> x) {
        for (int i = x.size() - 1; i > 0; i--) Collections.swap(x, i, (int) randbelow(i + 1));
    }

    /** {@code shuffle(x)} on an int array, the same draws and swaps as on a list. */
    public void shuffle(int[] x) {
        for (int i = x.length - 1; i > 0; i--) {
            int j = (int) randbelow(i + 1), t = x[i];
            x[i] = x[j];
            x[j] = t;
        }
    }

    /** A copy of the generator's state ({@code getstate()}), for checkpoints. */
    public State state() {
        return new State(mt, index);
    }

    /** Continues from {@code state} ({@code setstate()}). */
    public void setState(State state) {
        System.arraycopy(state.words, 0, mt, 0, N);
        index = state.index;
    }

    /**
     * The Mersenne Twister state: its 624 words and the position of the next one (624: regenerate first). It holds
     * what {@code getstate()[1]} holds in CPython, so a Python checkpoint's generator can continue here and back.
     */
    public record State(int[] words, int index) {
        public State {
            if (words.length != N) throw new IllegalArgumentException(words.length + " words, not " + N);
            if (index < 0 || index > N) throw new IllegalArgumentException("index " + index + " outside 0.." + N);
            words = words.clone();
        }

        @Override
        public int[] words() {
            return words.clone();
        }

        /** CPython's {@code getstate()[1]}: the 624 words as unsigned ints, then the index. */
        public long[] toPython() {
            long[] t = new long[N + 1];
            for (int i = 0; i < N; i++) t[i] = words[i] & 0xffffffffL;
            t[N] = index;
            return t;
        }

        /** From CPython's {@code getstate()[1]} (625 ints). */
        public static State fromPython(long[] t) {
            if (t.length != N + 1) throw new IllegalArgumentException(t.length + " ints, not " + (N + 1));
            int[] w = new int[N];
            for (int i = 0; i < N; i++) {
                if (t[i] >>> 32 != 0) throw new IllegalArgumentException("word " + i + " is not 32-bit: " + t[i]);
                w[i] = (int) t[i];
            }
            return new State(w, Math.toIntExact(t[N]));
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof State s && index == s.index && Arrays.equals(words, s.words);
        }

        @Override
        public int hashCode() {
            return 31 * Arrays.hashCode(words) + index;
        }

        @Override
        public String toString() {
            return "State[index=" + index + ", words[0]=" + Integer.toUnsignedString(words[0]) + ", ...]";
        }
    }
}
