package org.dino4j.data.ssl;

import static org.dino4j.data.ssl.SslFixtures.doubles;
import static org.dino4j.data.ssl.SslFixtures.longs;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

import org.dino4j.io.TensorStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** PyRandom against CPython 3.11's random module (masking.safetensors, rng/*): every value bit for bit. */
class PyRandomTest {
    // the draws of tools/make_masking_fixture.py, in its order
    static final long[][] RANDINT = {{0, 0}, {0, 1}, {0, 9}, {3, 17}, {-5, 5}, {0, (1L << 31) - 1}, {0, 1L << 32},
            {1, 1L << 40}, {0, 1L << 62}};
    static final double[][] UNIFORM = {{0.0, 1.0}, {4, 128.0}, {Math.log(0.3), Math.log(1 / 0.3)}, {5.0, -2.5}};
    static final int[] BITS = {1, 5, 31, 32, 33, 64};
    static final long[] SEEDS = {0, 1, 42, (1L << 32) - 1, (1L << 32) + 5, 123456789012345L, -7};

    static TensorStore fx;

    @BeforeAll
    static void open() {
        fx = SslFixtures.masking();
    }

    @AfterAll
    static void close() {
        fx.close();
    }

    static String key(long seed) {
        return "rng/" + Long.toString(seed).replace('-', 'm');
    }

    /** Every draw the generator script makes after random.seed(seed), in its order. */
    @Test
    void streamsEqualCPython() {
        for (long seed : SEEDS) {
            String k = key(seed);
            PyRandom r = new PyRandom(seed);
            double[] random = new double[8];
            for (int i = 0; i < 8; i++) random[i] = r.random();
            assertArrayEquals(doubles(fx, k + "/random"), random, k + " random()");

            long[] randint = new long[RANDINT.length];
            for (int i = 0; i < RANDINT.length; i++) randint[i] = r.randint(RANDINT[i][0], RANDINT[i][1]);
            assertArrayEquals(longs(fx, k + "/randint"), randint, k + " randint");

            double[] uniform = new double[UNIFORM.length];
            for (int i = 0; i < UNIFORM.length; i++) uniform[i] = r.uniform(UNIFORM[i][0], UNIFORM[i][1]);
            assertArrayEquals(doubles(fx, k + "/uniform"), uniform, k + " uniform");

            long[] bits = new long[BITS.length];
            for (int i = 0; i < BITS.length; i++) bits[i] = r.getrandbits(BITS[i]);
            assertArrayEquals(longs(fx, k + "/getrandbits"), bits, k + " getrandbits");

            long[] ranges = {r.randrange(10), r.randrange(1), r.randrange(3, 40), r.randrange(0, 100, 7),
                    r.randrange(50, 0, -3), r.randrange(-10, 10, 4)};
            assertArrayEquals(longs(fx, k + "/randrange"), ranges, k + " randrange");

            // shuffle(list(range(10))) twice: the list version, then the int[] one on the same stream
            List<Integer> list = new ArrayList<>(IntStream.range(0, 10).boxed().toList());
            r.shuffle(list);
            int[] array = IntStream.range(0, 10).toArray();
            r.shuffle(array);
            long[] shuffled = new long[20];
            for (int i = 0; i < 10; i++) {
                shuffled[i] = list.get(i);
                shuffled[10 + i] = array[i];
            }
            assertArrayEquals(longs(fx, k + "/shuffle"), shuffled, k + " shuffle");

            if (fx.contains(k + "/state"))
                assertArrayEquals(longs(fx, k + "/state"), r.state().toPython(), k + " getstate()[1]");
            assertArrayEquals(doubles(fx, k + "/after"), new double[] {r.random(), r.random(), r.random(), r.random()},
                    k + " random() after");
        }
    }

    /** -7 seeds like 7 (CPython takes abs), and the 2^32 boundary is two key words, not one. */
    @Test
    void seedsLikeCPython() {
        assertEquals(new PyRandom(7).random(), new PyRandom(-7).random());
        assertNotEquals(new PyRandom(1L << 32).random(), new PyRandom(0).random());
        PyRandom r = new PyRandom(5);
        double first = r.random();
        r.random();
        r.seed(5);
        assertEquals(first, r.random());
    }

    /** A state from CPython's getstate() continues here exactly, and a snapshot resumes the same stream. */
    @Test
    void stateRestoresTheStream() {
        for (long seed : new long[] {0, (1L << 32) + 5}) {
            String k = key(seed);
            PyRandom fromPython = PyRandom.of(PyRandom.State.fromPython(longs(fx, k + "/state")));
            assertArrayEquals(doubles(fx, k + "/after"),
                    new double[] {fromPython.random(), fromPython.random(), fromPython.random(), fromPython.random()});
        }
        PyRandom r = new PyRandom(2024);
        for (int i = 0; i < 700; i++) r.getrandbits(7); // past one regeneration of the 624 words
        PyRandom.State snap = r.state();
        long[] first = new long[1500];
        for (int i = 0; i < first.length; i++) first[i] = i % 3 == 0 ? r.getrandbits(64) : r.randint(0, 1000);
        PyRandom other = new PyRandom(1);
        other.setState(snap);
        PyRandom copy = PyRandom.of(snap);
        for (int i = 0; i < first.length; i++) {
            assertEquals(first[i], i % 3 == 0 ? other.getrandbits(64) : other.randint(0, 1000), "setState, draw " + i);
            assertEquals(first[i], i % 3 == 0 ? copy.getrandbits(64) : copy.randint(0, 1000), "of(state), draw " + i);
        }
        assertEquals(snap, PyRandom.State.fromPython(snap.toPython()));
        assertEquals(r.state(), other.state());
        int[] words = snap.words();
        words[0] ^= 1; // the snapshot is a copy: neither its array nor the generator's can change it
        assertNotEquals(words[0], snap.words()[0]);
    }

    @Test
    void refusesWhatPythonRefuses() {
        PyRandom r = new PyRandom(0);
        assertThrows(IllegalArgumentException.class, () -> r.randrange(0));
        assertThrows(IllegalArgumentException.class, () -> r.randrange(5, 5));
        assertThrows(IllegalArgumentException.class, () -> r.randrange(0, 10, 0));
        assertThrows(IllegalArgumentException.class, () -> r.randrange(0, 10, -1));
        assertThrows(IllegalArgumentException.class, () -> r.randint(3, 2));
        assertThrows(IllegalArgumentException.class, () -> r.getrandbits(-1));
        assertThrows(IllegalArgumentException.class, () -> r.getrandbits(65));
        assertThrows(IllegalArgumentException.class, () -> new PyRandom.State(new int[623], 0));
        assertThrows(IllegalArgumentException.class, () -> new PyRandom.State(new int[624], 625));
        assertEquals(0, r.getrandbits(0));
        assertEquals(0, r.randint(0, 0));
        assertTrue(r.randrange(-3, -1) < -1);
    }
}
