package org.dino4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.dino4j.Fixtures;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;
import org.junit.jupiter.api.Test;

/** Both bicubic flavours against PyTorch's F.interpolate (fixtures/extra/interp_bicubic.safetensors, tools/make_interp_fixture.py). */
class InterpolateTest {
    @Test
    void matchesPytorch() {
        try (TensorStore f = SafeTensors.read(Fixtures.file("extra/interp_bicubic.safetensors"))) {
            float[] grid = f.get("grid37").toFloatArray();
            int cases = 0;
            for (String name : f.names()) {
                if (name.equals("grid37")) continue;
                TensorEntry want = f.get(name);
                String kind = name.substring(0, name.indexOf('_'));
                int h = want.intShape()[0], w = want.intShape()[1], c = want.intShape()[2];
                double sh = kind.equals("offset") ? (h + 0.1) / 37 : Double.NaN;
                double sw = kind.equals("offset") ? (w + 0.1) / 37 : Double.NaN;
                float[] got = Interpolate.bicubic(grid, 37, 37, c, h, w, sh, sw, kind.equals("aa"));
                float[] exp = want.toFloatArray();
                assertEquals(exp.length, got.length, name);
                double max = 0;
                for (int i = 0; i < exp.length; i++) max = Math.max(max, Math.abs(exp[i] - got[i]));
                assertTrue(max < 1e-5, name + ": max abs diff " + max);
                cases++;
            }
            assertEquals(21, cases);
        }
    }

    @Test
    void offsetPathUsesTheUserScaleNotTheSizeRatio() {
        // 37 -> 16 with scale (16.1/37) samples at step 2.298..., the size path at 2.3125: results must differ
        float[] g = new float[37 * 37];
        for (int i = 0; i < g.length; i++) g[i] = (float) Math.sin(i * 0.37);
        float[] a = Interpolate.bicubic(g, 37, 37, 1, 16, 16, 16.1 / 37, 16.1 / 37, false);
        float[] b = Interpolate.bicubic(g, 37, 37, 1, 16, 16, Double.NaN, Double.NaN, false);
        double max = 0;
        for (int i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
        assertTrue(max > 1e-3, "paths should differ, max diff " + max);
    }
}
