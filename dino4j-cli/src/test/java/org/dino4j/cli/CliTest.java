package org.dino4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

class CliTest {
    @TempDir
    Path dir;

    static Path fixtures() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("fixtures/official"))) p = p.getParent();
        return p.resolve("fixtures");
    }

    record Result(int code, String out, String err) {}

    static Result run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        StringWriter errW = new StringWriter();
        try {
            System.setOut(new PrintStream(out, true));
            System.setErr(new PrintStream(err, true));
            CommandLine cl = Main.commandLine();
            cl.setErr(new PrintWriter(errW, true));
            int code = cl.execute(args);
            return new Result(code, out.toString(), err + errW.toString());
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void everyCommandHasHelp() {
        for (String c : new String[] {"conformance", "features", "bench", "models", "preprocess", "embed", "train", "pca", "match", "download"}) {
            Result r = run(c, "--help");
            assertEquals(0, r.code(), c);
            assertTrue(r.out().contains("Usage: dino4j " + c), r.out());
        }
        assertTrue(run("--help").out().contains("Commands:"));
    }

    @Test
    void conformanceOverEveryBackboneAndHfFixture() {
        Path f = fixtures();
        Result r = run("conformance", f.resolve("official/official_vit_tiny.safetensors").toString(),
                f.resolve("official/official_vit_tiny_reg_swiglu.safetensors").toString(), f.resolve("hf").toString());
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("3 fixture file(s) passed, 0 failed, 0 unsupported"), r.out());
        assertTrue(!r.out().contains("FAIL"));
    }

    @Test
    void preprocessWritesTheOfficialEvalTransform(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path out = dir.resolve("x.safetensors");
        Result r = run("preprocess", fixtures().resolve("official/preprocess_input.png").toString(), "--output", out.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        try (var got = org.dino4j.io.SafeTensors.read(out);
             var want = org.dino4j.io.SafeTensors.read(fixtures().resolve("official/preprocess_expected.safetensors"))) {
            assertEquals(java.util.List.of(1L, 3L, 224L, 224L), java.util.Arrays.stream(got.get("pixel_values").shape()).boxed().toList());
            org.junit.jupiter.api.Assertions.assertArrayEquals(want.get("eval_transform").toFloatArray(),
                    got.get("pixel_values").toFloatArray(), 1e-5f);
        }
        Path bad = java.nio.file.Files.writeString(dir.resolve("bad.jpg"), "not a jpeg");
        Result e = run("preprocess", bad.toString(), "--output", dir.resolve("y.safetensors").toString());
        assertEquals(1, e.code());
        assertTrue(e.err().contains("bad.jpg") && e.err().strip().lines().count() == 1, e.err());
        assertTrue(!java.nio.file.Files.exists(dir.resolve("y.safetensors")));
    }

    @Test
    void conformancePassesThePreprocessingFixture() {
        Result r = run("conformance", fixtures().resolve("official/preprocess_expected.safetensors").toString());
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("PASS") && r.out().contains("eval_transform"), r.out());
        assertTrue(r.out().contains("1 fixture file(s) passed, 0 failed, 0 unsupported"), r.out());
    }

    @Test
    void conformancePassesEveryFixture() {
        Result r = run("conformance", fixtures().resolve("official").toString(), fixtures().resolve("hf").toString(),
                fixtures().resolve("hf_heads").toString());
        assertEquals(0, r.code(), r.out() + r.err());
        // official: tiny, reg+swiglu, heads, losses, train step, preprocessing; hf: the tiny HF model; hf_heads: HF's heads
        assertTrue(r.out().contains("8 fixture file(s) passed, 0 failed, 0 unsupported"), r.out());
        assertTrue(r.out().contains("dpt/output1/predicted_depth") && r.out().contains("regcls/output3/logits"), r.out());
        assertTrue(r.out().contains("grad/backbone.patch_embed.proj.weight") && r.out().contains("koleo/loss"), r.out());
        // the last line sums it up: every PASS line counted, the worst backbone error under the bar
        String[] lines = r.out().strip().split("\n");
        long checks = java.util.Arrays.stream(lines).filter(l -> l.startsWith("PASS ")).count();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("CONFORMANCE PASS: (\\d+) outputs of 8 fixture file\\(s\\) checked "
                + "against Meta's and Hugging Face's code, worst backbone max abs error (\\S+) \\(bar 1e-04\\), worst head max rel error (\\S+) \\(bar 1e-04\\); \\d+-bit vectors \\(CPU prefers \\d+\\)")
                .matcher(lines[lines.length - 1]);
        assertTrue(m.matches(), lines[lines.length - 1]);
        assertEquals(checks, Long.parseLong(m.group(1)));
        double worst = Double.parseDouble(m.group(2));
        assertTrue(worst > 0 && worst < 1e-4, m.group(2));
        double head = Double.parseDouble(m.group(3));
        assertTrue(head > 0 && head < 1e-4, m.group(3));
    }

    @Test
    void conformanceExitCodes() {
        Path f = fixtures();
        Result r = run("conformance", f.resolve("extra/images/pil.safetensors").toString());
        assertEquals(2, r.code());
        assertTrue(r.out().contains("unsupported"), r.out());
        Result tight = run("conformance", "--tolerance", "1e-9", f.resolve("official/official_vit_tiny.safetensors").toString());
        assertEquals(1, tight.code());
        assertTrue(tight.out().contains("FAIL"));
    }

    @Test
    void featuresMatchTheOfficialOutputs() throws IOException {
        Path fx = fixtures().resolve("official/official_vit_tiny_reg_swiglu.safetensors");
        Path out = dir.resolve("out.safetensors");
        Path cfg = dir.resolve("c.json");
        try (TensorStore f = SafeTensors.read(fx)) {
            Files.writeString(cfg, f.metadata().get("config"));
        }
        Path pth = fixtures().resolve("official/official_vit_tiny_reg_swiglu.pth");
        Result r = run("features", "--weights", pth.toString(), "--config", cfg.toString(), "--input", fx.toString(),
                "--output", out.toString(), "--intermediate", "2");
        assertEquals(0, r.code(), r.err());
        try (TensorStore f = SafeTensors.read(fx); TensorStore o = SafeTensors.read(out)) {
            int compared = 0;
            for (int i = 0; i < 3; i++)
                for (String k : List.of("x_norm_clstoken", "x_norm_regtokens", "x_norm_patchtokens", "x_prenorm",
                        "intermediate0/patch_reshaped", "intermediate0/cls", "intermediate1/patch_reshaped", "intermediate1/cls")) {
                    TensorEntry want = f.get("output" + i + "/" + k), got = o.get("input" + i + "/" + k);
                    assertTrue(java.util.Arrays.equals(want.shape(), got.shape()), k);
                    float[] a = want.toFloatArray(), b = got.toFloatArray();
                    for (int j = 0; j < a.length; j++) assertEquals(a[j], b[j], 1e-4, k + "[" + j + "]");
                    compared++;
                }
            assertEquals(24, compared);
        }
    }

    @Test
    void badInputIsAOneLineError() throws IOException {
        Path bad = dir.resolve("broken.pth");
        Files.write(bad, new byte[] {'P', 'K', 3, 4, 0, 0});
        Result r = run("features", "--weights", bad.toString(), "--input", bad.toString(), "--output", dir.resolve("o.safetensors").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("error: " + bad), r.err());
        assertTrue(!r.err().contains("\tat "), "no stack trace: " + r.err());
        assertTrue(!Files.exists(dir.resolve("o.safetensors")));
        Result m = run("features", "--weights", dir.resolve("missing.safetensors").toString(), "--input", bad.toString(), "--output", "x");
        assertEquals(1, m.code());
        assertTrue(m.err().contains("file not found"), m.err());
    }

    @Test
    void modelsListsTheEightHubBackbones() {
        Result r = run("models");
        assertEquals(0, r.code());
        for (String n : List.of("dinov2_vits14", "dinov2_vitb14", "dinov2_vitl14", "dinov2_vitg14"))
            assertTrue(r.out().contains(n + " ") && r.out().contains(n + "_reg"), n);
        assertEquals(9, r.out().strip().split("\n\n")[0].split("\n").length);
    }
}
