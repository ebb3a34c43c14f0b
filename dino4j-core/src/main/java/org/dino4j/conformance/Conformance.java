package org.dino4j.conformance;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.ServiceLoader;
import java.util.stream.Stream;

import org.dino4j.io.Json;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;
import org.dino4j.model.Checkpoints;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.DinoVisionTransformer.Features;
import org.dino4j.model.DinoVisionTransformer.Layer;
import org.dino4j.model.Dinov2;
import org.dino4j.model.HuggingFace;
import org.dino4j.model.ModelConfig;
import org.dino4j.tensor.Tensor;

/**
 * Checks our outputs against the reference fixtures (shared/fixtures, README there): Meta's official backbone
 * outputs and Hugging Face's Dinov2Model outputs, each with the weights loaded through every route the fixture
 * offers (the safetensors itself, the .pth beside it, the HF model directory beside it).
 */
public final class Conformance {
    public enum Kind { OFFICIAL_BACKBONE, HF_BACKBONE, PREPROCESS, LOSSES, TRAIN_STEP, HEADS, HF_HEADS, UNSUPPORTED }

    /**
     * Checks for fixture kinds whose code lives in a later module (e.g. preprocessing in dino4j-data), found with
     * {@link ServiceLoader}: the core stays free of image decoding.
     */
    public interface Extension {
        Kind kind();

        void check(Path fixture, TensorStore f, List<Check> checks);
    }

    /** One compared output. {@code maxRel} is the max abs error divided by the expected tensor's largest magnitude. */
    public record Check(String fixture, String route, String output, double maxAbs, double maxRel, boolean pass) {}

    public record Report(Path fixture, Kind kind, String why, List<Check> checks) {
        public boolean passed() {
            return kind != Kind.UNSUPPORTED && !checks.isEmpty() && checks.stream().allMatch(Check::pass);
        }
    }

    private final double tolerance;

    public Conformance(double tolerance) {
        this.tolerance = tolerance;
    }

    public static Kind kindOf(TensorStore f) {
        if (f.contains("weights/pos_embed") && f.contains("output0/x_norm_clstoken")) return Kind.OFFICIAL_BACKBONE;
        if (f.names().stream().anyMatch(n -> n.startsWith("weights/backbone/")) && f.contains("classifier/input0")) return Kind.HEADS;
        // tools/make_hf_heads_fixture.py: HF's model directories beside the fixture, named in the metadata
        if (f.metadata().containsKey("cls/model_dir") || f.metadata().containsKey("dpt/model_dir")) return Kind.HF_HEADS;
        if (f.contains("weights/embeddings.cls_token") && f.contains("output0/last_hidden_state")) return Kind.HF_BACKBONE;
        if (f.contains("eval_transform")) return Kind.PREPROCESS;
        if (f.names().stream().anyMatch(n -> n.startsWith("grad/"))) return Kind.TRAIN_STEP;
        if (f.names().stream().anyMatch(n -> n.startsWith("dino/") || n.startsWith("koleo/"))) return Kind.LOSSES;
        return Kind.UNSUPPORTED;
    }

    public Report run(Path fixture) {
        try (TensorStore f = SafeTensors.read(fixture)) {
            Kind kind = kindOf(f);
            List<Check> checks = new ArrayList<>();
            switch (kind) {
                case OFFICIAL_BACKBONE -> official(fixture, f, checks);
                case HF_BACKBONE -> hf(fixture, f, checks);
                case PREPROCESS, LOSSES, TRAIN_STEP, HEADS, HF_HEADS -> {
                    var ext = ServiceLoader.load(Extension.class).stream().map(ServiceLoader.Provider::get)
                            .filter(e -> e.kind() == kind).findFirst();
                    if (ext.isEmpty())
                        return new Report(fixture, Kind.UNSUPPORTED, switch (kind) {
                            case PREPROCESS -> "preprocessing needs dino4j-data on the class path";
                            case HEADS, HF_HEADS -> "the released heads need dino4j-heads on the class path";
                            default -> "losses and gradients need dino4j-train on the class path";
                        }, checks);
                    ext.get().check(fixture, f, checks);
                }
                case UNSUPPORTED -> {
                    return new Report(fixture, kind, unsupportedWhy(f), checks);
                }
            }
            return new Report(fixture, kind, null, checks);
        }
    }

    private static String unsupportedWhy(TensorStore f) {
        String what = f.metadata().getOrDefault("what", "");
        return "unknown fixture kind" + (what.isEmpty() ? "" : " (" + what + ")");
    }

    // ---------------------------------------------------------------- official
    private void official(Path fixture, TensorStore f, List<Check> checks) {
        ModelConfig cfg = ModelConfig.fromJson(f.metadata().get("config"));
        String name = fixture.getFileName().toString();
        try (DinoVisionTransformer m = DinoVisionTransformer.fromStateDict(cfg, Checkpoints.normalize(f.withPrefix("weights/")), null)) {
            officialOutputs(name, "safetensors", m, f, checks);
        }
        Path pth = fixture.resolveSibling(name.replaceFirst("\\.safetensors$", ".pth"));
        if (Files.exists(pth)) {
            try (DinoVisionTransformer m = Dinov2.load(pth, cfg)) {
                officialOutputs(name, "pth", m, f, checks);
            }
        }
    }

    private void officialOutputs(String fx, String route, DinoVisionTransformer m, TensorStore f, List<Check> checks) {
        for (int i = 0; f.contains("input" + i); i++) {
            Tensor x = tensor(f, "input" + i);
            String o = "output" + i + "/";
            Features ft = m.forwardFeatures(x);
            for (var e : ft.asMap().entrySet()) compare(fx, route, o + e.getKey(), e.getValue(), f, checks);
            List<Layer> layers = m.intermediateLayers(x, 2, true, true, true);
            for (int j = 0; j < layers.size(); j++) {
                compare(fx, route, o + "intermediate" + j + "/patch_reshaped", layers.get(j).patch(), f, checks);
                compare(fx, route, o + "intermediate" + j + "/cls", layers.get(j).cls(), f, checks);
            }
            if (f.contains(o + "block0_unnormed_patch"))
                compare(fx, route, o + "block0_unnormed_patch", m.intermediateLayers(x, new int[] {0}, false, false, false).get(0).patch(), f, checks);
            if (f.contains("masks" + i) && f.contains("output" + i + "_masked/x_norm_clstoken")) {
                Features mf = m.forwardFeatures(x, tensor(f, "masks" + i));
                String mo = "output" + i + "_masked/";
                for (var e : mf.asMap().entrySet())
                    if (f.contains(mo + e.getKey())) compare(fx, route, mo + e.getKey(), e.getValue(), f, checks);
            }
        }
    }

    // ---------------------------------------------------------------- Hugging Face
    private void hf(Path fixture, TensorStore f, List<Check> checks) {
        ModelConfig cfg = HuggingFace.config(Json.parseObject(f.metadata().get("config")));
        String name = fixture.getFileName().toString();
        try (DinoVisionTransformer m = DinoVisionTransformer.fromStateDict(cfg, Checkpoints.normalize(f.withPrefix("weights/")), null)) {
            hfOutputs(name, "safetensors", m, f, checks);
        }
        for (Path dir : hfDirsBeside(fixture)) {
            try (DinoVisionTransformer m = Dinov2.load(dir)) {
                hfOutputs(name, "hf-dir " + dir.getFileName(), m, f, checks);
            }
        }
    }

    private static List<Path> hfDirsBeside(Path fixture) {
        Path parent = fixture.toAbsolutePath().getParent();
        try (Stream<Path> s = Files.list(parent)) {
            return s.filter(p -> Files.isDirectory(p) && Files.exists(p.resolve("config.json"))
                    && Files.exists(p.resolve("model.safetensors"))).sorted().toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    private void hfOutputs(String fx, String route, DinoVisionTransformer m, TensorStore f, List<Check> checks) {
        for (int i = 0; f.contains("input" + i); i++) {
            Tensor x = tensor(f, "input" + i);
            String o = "output" + i + "/";
            List<Tensor> hs = m.hiddenStates(x, null);
            Tensor last = m.applyNorm(hs.get(hs.size() - 1));
            compare(fx, route, o + "last_hidden_state", last, f, checks);
            int d = m.embedDim(), b = x.size(0), t = last.size(1);
            float[] pool = new float[b * d];
            for (int k = 0; k < b; k++) System.arraycopy(last.data(), k * t * d, pool, k * d, d);
            compare(fx, route, o + "pooler_output", new Tensor(pool, b, d), f, checks);
            for (int j = 0; j < hs.size(); j++)
                if (f.contains(o + "hidden_states." + j)) compare(fx, route, o + "hidden_states." + j, hs.get(j), f, checks);
            String mk = "mask" + i;
            if (f.contains(mk) && f.contains("output" + i + "_masked/last_hidden_state")) {
                List<Tensor> mhs = m.hiddenStates(x, tensor(f, mk));
                compare(fx, route, "output" + i + "_masked/last_hidden_state", m.applyNorm(mhs.get(mhs.size() - 1)), f, checks);
            }
        }
    }

    // ---------------------------------------------------------------- helpers
    private static Tensor tensor(TensorStore f, String name) {
        TensorEntry e = f.get(name);
        return new Tensor(e.toFloatArray(), e.intShape());
    }

    private void compare(String fx, String route, String name, Tensor got, TensorStore f, List<Check> checks) {
        TensorEntry want = f.get(name);
        if (!Arrays.equals(got.shape(), want.intShape())) {
            checks.add(new Check(fx, route, name + " shape " + Arrays.toString(got.shape()) + " != "
                    + Arrays.toString(want.intShape()), Double.NaN, Double.NaN, false));
            return;
        }
        float[] w = want.toFloatArray(), g = got.data();
        double maxAbs = 0, maxMag = 0;
        boolean finite = true;
        for (int k = 0; k < w.length; k++) {
            if (!Float.isFinite(g[k])) finite = false;
            maxAbs = Math.max(maxAbs, Math.abs((double) g[k] - w[k]));
            maxMag = Math.max(maxMag, Math.abs(w[k]));
        }
        double rel = maxMag == 0 ? maxAbs : maxAbs / maxMag;
        checks.add(new Check(fx, route, name, maxAbs, rel, finite && maxAbs <= tolerance));
    }

    /**
     * One output compared relative to the expected tensor's largest magnitude (the training and heads fixtures, whose
     * values reach 80 m or sums of many terms): passes when finite and within {@code tolerance} of it.
     */
    public static Check relative(String fx, String route, String name, float[] got, int[] gotShape, TensorEntry want, double tolerance) {
        if (gotShape != null ? !Arrays.equals(gotShape, want.intShape()) : got.length != want.numel())
            return new Check(fx, route, name + " shape " + (gotShape != null ? Arrays.toString(gotShape) : "[" + got.length + "]") + " != "
                    + Arrays.toString(want.intShape()), Double.NaN, Double.NaN, false);
        float[] w = want.toFloatArray();
        double maxAbs = 0, maxMag = 0;
        boolean finite = true;
        for (int k = 0; k < w.length; k++) {
            finite &= Float.isFinite(got[k]);
            maxAbs = Math.max(maxAbs, Math.abs((double) got[k] - w[k]));
            maxMag = Math.max(maxMag, Math.abs(w[k]));
        }
        double rel = maxAbs / Math.max(maxMag, 1e-30);
        return new Check(fx, route, name, maxAbs, rel, finite && rel <= tolerance);
    }

    /** Human-readable lines for a report. */
    public static List<String> format(Report r) {
        List<String> out = new ArrayList<>();
        if (r.kind() == Kind.UNSUPPORTED) {
            out.add(String.format("%s: unsupported: %s", r.fixture(), r.why()));
            return out;
        }
        for (Check c : r.checks())
            out.add(String.format("%-4s %-40s %-22s %-45s max_abs %.3e  max_rel %.3e", c.pass() ? "PASS" : "FAIL",
                    c.fixture(), c.route(), c.output(), c.maxAbs(), c.maxRel()));
        return out;
    }
}
