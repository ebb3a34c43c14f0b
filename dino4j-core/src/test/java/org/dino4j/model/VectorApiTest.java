package org.dino4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.dino4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** A JVM without --add-modules jdk.incubator.vector is told so when it creates a model, not at its first forward. */
class VectorApiTest {
    /** The child JVM: a tiny random-weight model (embed_dim 48, one block, 28 px), then one forward. */
    public static void main(String[] args) {
        if (args.length > 0) { // the kernels alone, as k-NN, k-means or a head use them, with no model made first
            float[] a = {1, 2, 3, 4}, c = new float[4];
            org.dino4j.kernels.Kernels.get().matmul(org.dino4j.kernels.Mat.of(a, 2), org.dino4j.kernels.Mat.of(a, 2),
                    org.dino4j.kernels.Mat.of(c, 2), 2, 2, 2, false);
            System.out.println("product " + java.util.Arrays.toString(c));
            return;
        }
        ModelConfig cfg = new ModelConfig(28, 14, 3, 48, 1, 3, 4.0, true, true, true, null, "mlp", 0, false, 0.1, 1e-6);
        try (DinoVisionTransformer m = Dinov2.random(cfg, 0)) {
            System.out.println("created");
            Tensor cls = m.forwardFeatures(new Tensor(new float[3 * 28 * 28], 1, 3, 28, 28)).xNormClstoken();
            System.out.println("cls " + cls.shape()[0] + "x" + cls.shape()[1]);
        }
    }

    record Child(int code, String out) {}

    static Child run(String... jvmFlags) throws IOException, InterruptedException {
        return run(false, jvmFlags);
    }

    static Child run(boolean kernelsOnly, String... jvmFlags) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(List.of(jvmFlags));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), VectorApiTest.class.getName()));
        if (kernelsOnly) cmd.add("kernels");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Child(p.waitFor(), out);
    }

    @Test
    void withoutTheFlagModelCreationNamesIt() throws Exception {
        Child c = run();
        assertEquals(1, c.code(), c.out());
        assertTrue(c.out().contains("java.lang.IllegalStateException: dino4j needs the JDK's Vector API: run java with "
                + "--add-modules jdk.incubator.vector"), c.out());
        assertTrue(c.out().contains("at org.dino4j.model.DinoVisionTransformer.fromStateDict"), c.out());
        assertFalse(c.out().contains("created") || c.out().contains("NoClassDefFoundError"), c.out());
    }

    @Test
    void withoutTheFlagTheKernelsAloneNameIt() throws Exception {
        Child c = run(true);
        assertEquals(1, c.code(), c.out());
        assertTrue(c.out().contains("java.lang.IllegalStateException: dino4j needs the JDK's Vector API: run java with "
                + "--add-modules jdk.incubator.vector"), c.out());
        assertFalse(c.out().contains("product"), c.out());
        Child ok = run(true, "--add-modules", "jdk.incubator.vector");
        assertEquals(0, ok.code(), ok.out());
        assertTrue(ok.out().contains("product [7.0, 10.0, 15.0, 22.0]"), ok.out());
    }

    @Test
    void withTheFlagsTheSameChildRuns() throws Exception {
        Child c = run("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED");
        assertEquals(0, c.code(), c.out());
        assertTrue(c.out().contains("created\ncls 1x48\n"), c.out());
    }
}
