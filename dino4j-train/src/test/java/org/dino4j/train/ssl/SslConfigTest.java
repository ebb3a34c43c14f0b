package org.dino4j.train.ssl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The official configuration layering: defaults, preset or file, dotted overrides; typos are errors. */
class SslConfigTest {
    @Test
    void layeringAndDerivedSettings(@TempDir Path dir) throws Exception {
        SslConfig d = SslConfig.load(null, null, List.of());
        assertEquals("vit_large", d.str("student.arch")); // the official defaults, untouched
        assertEquals(65536, d.integer("dino.head_n_prototypes"));
        assertEquals(125_000, d.iterations()); // 100 epochs x 1250
        SslTrainer.Config t = d.trainer();
        assertEquals(0.004 * Math.sqrt(64 / 1024.0), t.lr(), 1e-12); // sqrt_wrt_1024
        assertEquals(12_500, t.warmupIters());
        assertEquals(37_500, t.warmupTeacherTempIters());
        assertEquals(1250, t.freezeLastLayerIters());
        assertEquals(96, t.crops().localSize());

        Path f = Files.writeString(dir.resolve("my.yaml"), "student:\n  arch: vit_base\n  patch_size: 14\ntrain:\n  centering: sinkhorn_knopp\n");
        SslConfig c = SslConfig.load("vits14", f, List.of("optim.epochs=2", "crops.local_crops_scale=[0.1, 0.3]"));
        assertEquals("vit_base", c.str("student.arch")); // the file wins over the preset
        assertEquals(98, c.integer("crops.local_crops_size")); // the preset's, kept
        assertEquals(2500, c.iterations());
        assertTrue(c.trainer().sinkhornKnopp());
        assertEquals(768, c.trainer().model().embedDim());
        assertEquals(0.1, c.trainer().crops().localScaleMin(), 0);

        assertTrue(assertThrows(IllegalArgumentException.class, () -> SslConfig.load(null, null, List.of("optim.lrr=1")))
                .getMessage().contains("unknown config key optim.lrr"));
        Path bad = Files.writeString(dir.resolve("bad.yaml"), "studnet:\n  arch: vit_small\n");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SslConfig.load(null, bad, List.of()))
                .getMessage().contains("unknown config key studnet"));
        var sep = SslConfig.load("small28", null, List.of("ibot.separate_head=true", "ibot.head_n_prototypes=1000",
                "student.drop_path_uniform=false", "crops.high_res_global_crops_size=56", "crops.high_res_iterations=100",
                "ibot.loss_weight=0.5", "crops.paper_blur_probabilities=true")).trainer();
        assertEquals(1000, sep.ibotHead().prototypes());
        assertEquals(4096, sep.prototypes());
        assertTrue(!sep.dropPathUniform() && sep.crops().paperBlur());
        assertEquals(56, sep.highResSize());
        assertEquals(100, sep.highResIters());
        assertEquals(0.5, sep.ibotLossWeight());
        assertEquals(null, SslConfig.load(null, null, List.of()).trainer().ibotHead());
        // a high-resolution size that is no multiple of the patch size is refused when the trainer is built
        var odd = SslConfig.load("small28", null, List.of("crops.high_res_global_crops_size=30", "crops.high_res_iterations=1")).trainer();
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new SslTrainer(odd, 0)).getMessage().contains("multiple of the patch size"));
    }

    @Test
    void overrideWhoseValueIsNotYamlIsRefusedByName() { // found by fuzzing (dino4j-fuzz SslConfigFuzzTest)
        var e = assertThrows(IllegalArgumentException.class, () -> SslConfig.load("small28", null, List.of("optim.base_lr=a: b: c")));
        assertTrue(e.getMessage().startsWith("override 'optim.base_lr=a: b: c': not a YAML value: mapping values are not allowed"), e.getMessage());
    }

    @Test
    void cropScalesThatAreNotAPairOfNumbersAreRefusedByName() { // found reviewing the fuzzed paths
        for (String bad : new String[] {"5", "[0.3]", "[a, b]"}) {
            var e = assertThrows(IllegalArgumentException.class,
                    () -> SslConfig.load("small28", null, List.of("crops.global_crops_scale=" + bad)).trainer());
            assertTrue(e.getMessage().startsWith("config crops.global_crops_scale must be a pair of numbers"), e.getMessage());
        }
    }

    @Test
    void epochsTimesEpochLengthPastAnIntIsRefusedNotWrappedNegative() {
        var c = SslConfig.load("small28", null, List.of("optim.epochs=30000000"));
        var e = assertThrows(IllegalArgumentException.class, c::iterations);
        assertTrue(e.getMessage().startsWith("config optim.epochs x train.OFFICIAL_EPOCH_LENGTH is over"), e.getMessage());
        var big = assertThrows(IllegalArgumentException.class, () -> SslConfig.load("small28", null, List.of("optim.epochs=1e12")).iterations());
        assertTrue(big.getMessage().startsWith("config optim.epochs must be an integer"), big.getMessage());
    }

    @Test
    void configKeyThatIsNotANameIsRefused(@TempDir Path dir) throws Exception { // found by fuzzing (SslConfigFuzzTest)
        Path f = Files.writeString(dir.resolve("train.yaml"), "optim:\n  {a: 1}: 2\n");
        var e = assertThrows(IllegalArgumentException.class, () -> SslConfig.load(null, f, List.of()));
        assertEquals(f + ": config key optim.{a=1} is not a name", e.getMessage());
    }
}
