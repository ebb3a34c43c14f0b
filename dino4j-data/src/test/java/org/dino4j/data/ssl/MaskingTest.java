package org.dino4j.data.ssl;

import static org.dino4j.data.ssl.SslFixtures.bytes;
import static org.dino4j.data.ssl.SslFixtures.doubles;
import static org.dino4j.data.ssl.SslFixtures.floats;
import static org.dino4j.data.ssl.SslFixtures.longs;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;

import org.dino4j.io.TensorStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * MaskingGenerator and MaskCollator against the official masking.py and collate.py run by CPython and torch 2.13
 * (masking.safetensors): masks, indices and weights bit for bit, and the random stream left where Python left it.
 */
class MaskingTest {
    static TensorStore fx;

    @BeforeAll
    static void open() {
        fx = SslFixtures.masking();
    }

    @AfterAll
    static void close() {
        fx.close();
    }

    static Set<String> cases() {
        Set<String> names = new TreeSet<>();
        for (String n : fx.names()) if (n.startsWith("mask/")) names.add(n.split("/")[1]);
        return names;
    }

    static boolean[] bools(byte[] b) {
        boolean[] out = new boolean[b.length];
        for (int i = 0; i < b.length; i++) out[i] = b[i] != 0;
        return out;
    }

    @Test
    void collateEqualsOfficial() {
        Set<String> names = cases();
        assertEquals(9, names.size(), names.toString());
        for (String name : names) {
            String k = "mask/" + name;
            long[] s = longs(fx, k + "/scalars"); // upperbound, n_masked_patches, B, N, h, w
            double[] c = doubles(fx, k + "/config"); // max_num_patches, ratio min, max, probability, min_aspect
            int batch = (int) s[2], n = (int) s[3], h = (int) s[4], w = (int) s[5];
            long seed = Long.parseLong(name.substring(name.lastIndexOf("_s") + 2));
            MaskingGenerator g = new MaskingGenerator(h, w, 4, c[0], c[4], 1 / c[4]);
            MaskCollator collator = new MaskCollator(g, n, c[1], c[2], c[3]);

            PyRandom r = new PyRandom(seed);
            MaskCollator.Masks m = collator.collate(batch, r);
            assertArrayEquals(bools(bytes(fx, k + "/masks")), m.masks(), name + " masks");
            assertEquals(s[0], m.upperbound(), name + " upperbound");
            assertEquals(s[1], m.nMaskedPatches(), name + " n_masked_patches");
            if (fx.contains(k + "/indices")) {
                assertArrayEquals(longs(fx, k + "/indices"), Arrays.stream(m.indices()).asLongStream().toArray(),
                        name + " mask_indices_list");
                assertArrayEquals(floats(fx, k + "/weights"), m.weights(), name + " masks_weight");
            }
            assertArrayEquals(doubles(fx, k + "/after"), new double[] {r.random(), r.random()}, name + " stream after");

            PyRandom fresh = new PyRandom(seed + 1000);
            assertArrayEquals(bools(bytes(fx, k + "/single")), g.mask(n / 4, fresh), name + " one mask");
        }
    }

    /** train.py's max_num_patches = 0.5 * img // p * img // p, evaluated left to right in floats as Python does. */
    @Test
    void officialSetUp() {
        long[] sizes = longs(fx, "official/sizes");
        double[] max = doubles(fx, "official/max_num_patches");
        for (int i = 0; i < max.length; i++) {
            int img = (int) sizes[2 * i], p = (int) sizes[2 * i + 1];
            MaskingGenerator g = MaskingGenerator.official(img, p);
            assertEquals(max[i], g.maxNumPatches(), img + "/" + p);
            assertEquals(img / p, g.height());
            assertEquals(img / p, g.width());
        }
        assertEquals(666.0, MaskingGenerator.official(518, 14).maxNumPatches()); // not 1369 / 2

        MaskCollator c = MaskCollator.official(224, 14);
        assertEquals(new MaskCollator(new MaskingGenerator(16, 16, 4, 128.0, 0.3, 1 / 0.3), 256, 0.1, 0.5, 0.5), c);
        // the fixture's default-config case, through the factory
        MaskCollator.Masks m = c.collate(32, new PyRandom(0));
        assertArrayEquals(bools(bytes(fx, "mask/vit224p14_b32_s0/masks")), m.masks());
        assertEquals(longs(fx, "mask/vit224p14_b32_s0/scalars")[0], m.upperbound());
    }

    /** torch.linspace(0.1, 0.5, s), s = 1..65: the AVX2 kernel (fused) and ATEN_CPU_CAPABILITY=default, bit for bit. */
    @Test
    void linspaceEqualsTorch() {
        float[] fused = floats(fx, "linspace/fused"), plain = floats(fx, "linspace/default");
        int at = 0, differ = 0;
        for (int steps = 1; at < fused.length; steps++) {
            float[] f = MaskCollator.linspace(0.1, 0.5, steps, true), d = MaskCollator.linspace(0.1, 0.5, steps, false);
            assertArrayEquals(Arrays.copyOfRange(fused, at, at + steps), f, "fused, steps " + steps);
            assertArrayEquals(Arrays.copyOfRange(plain, at, at + steps), d, "default, steps " + steps);
            if (!Arrays.equals(f, d)) differ++;
            at += steps;
        }
        assertTrue(differ > 10, "the two kernels should differ somewhere: " + differ);
        assertEquals(0, MaskCollator.linspace(0.1, 0.5, 0, true).length);
    }

    /** int(N * uniform(prob_min, prob_max)) in float32 tensors, including 12 draws where Python floats differ. */
    @Test
    void maskSizeIsFloat32() {
        float[] lohi = floats(fx, "uniform32/lohi");
        double[] r = doubles(fx, "uniform32/r");
        long[] n = longs(fx, "uniform32/n"), size = longs(fx, "uniform32/size");
        int wideDiffers = 0;
        for (int i = 0; i < r.length; i++) {
            float lo = lohi[2 * i], hi = lohi[2 * i + 1];
            assertEquals(size[i], MaskCollator.maskSize((int) n[i], lo, hi, r[i]), "row " + i);
            if (size[i] != (long) (n[i] * ((double) lo + ((double) hi - lo) * r[i]))) wideDiffers++;
        }
        assertEquals(12, wideDiffers);
    }

    @Test
    void maskingGeneratorEdges() {
        MaskingGenerator g = MaskingGenerator.official(224, 14);
        PyRandom r = new PyRandom(3);
        PyRandom.State before = r.state();
        assertFalse(contains(g.mask(0, r), true));
        assertEquals(before, r.state()); // mask_generator(0) draws nothing
        // a 1x1 grid can never fit a rectangle (w < width fails): ten tries, then give up with nothing masked
        assertFalse(contains(new MaskingGenerator(1, 1, 4).mask(1, r), true));
        assertEquals(-0.0, MaskingGenerator.floorDiv(-0.0, 3)); // Python keeps the sign
        assertEquals(-1.0, MaskingGenerator.floorDiv(-0.5, 3));
        assertEquals(2.0, MaskingGenerator.floorDiv(7.5, 3));
        assertThrows(IllegalArgumentException.class,
                () -> new MaskCollator(new MaskingGenerator(4, 4, 8), 15, 0.1, 0.5, 0.5));
    }

    static boolean contains(boolean[] a, boolean v) {
        for (boolean x : a) if (x == v) return true;
        return false;
    }
}
