package org.dino4j.train;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.dino4j.conformance.Conformance.Check;
import org.dino4j.conformance.Conformance.Extension;
import org.dino4j.conformance.Conformance.Kind;
import org.dino4j.io.TensorStore;
import org.dino4j.model.ModelConfig;
import org.dino4j.train.autograd.Tape;
import org.dino4j.train.autograd.Var;
import org.dino4j.train.loss.DinoLoss;
import org.dino4j.train.loss.IbotPatchLoss;
import org.dino4j.train.loss.KoLeoLoss;
import org.dino4j.train.model.DinoHead;
import org.dino4j.train.model.TrainableVit;

/**
 * The training fixtures of {@code dino4j conformance}: official_losses (Meta's DINOLoss, iBOTPatchLoss, KoLeoLoss
 * values) and official_train_step (every loss and every parameter gradient of one step on a tiny ViT + DINOHead).
 * The bar is the issue's: max error relative to each expected tensor's largest magnitude <= 1e-4.
 */
public final class TrainConformance {
    static final double TOLERANCE = 1e-4;

    private TrainConformance() {}

    public static final class Losses implements Extension {
        @Override
        public Kind kind() {
            return Kind.LOSSES;
        }

        @Override
        public void check(Path fixture, TensorStore f, List<Check> checks) {
            String fx = fixture.getFileName().toString();
            int k = f.get("sk/teacher_logits").intShape()[1];
            float[] logits = f.get("sk/teacher_logits").toFloatArray();
            DinoLoss dino = new DinoLoss(k);
            add(checks, fx, "sk/temp0.07_iter3", f, dino.sinkhornKnoppTeacher(logits, 0.07f, 3));
            dino.setCenter(f.get("softmax_center/center").toFloatArray());
            add(checks, fx, "softmax_center/temp0.04", f, dino.softmaxCenterTeacher(logits, 0.04f));
            dino.updateCenter(logits);
            add(checks, fx, "softmax_center/center_after_update_m0.9", f, dino.center());
            Tape t = new Tape();
            int rows = f.get("dino/student0").intShape()[0];
            List<Var> students = new java.util.ArrayList<>();
            for (int i = 0; f.contains("dino/student" + i); i++) students.add(Var.constant(f.get("dino/student" + i).toFloatArray(), rows, k));
            List<float[]> teachers = new java.util.ArrayList<>();
            for (int i = 0; f.contains("dino/teacher" + i); i++) teachers.add(f.get("dino/teacher" + i).toFloatArray());
            add(checks, fx, "dino/loss_temp0.1", f, new float[] {new DinoLoss(k).forward(t, students, teachers).item()});
            boolean[] masks = masks(f, "ibot/masks");
            int images = f.get("ibot/masks").intShape()[0], m = f.get("ibot/student_masked").intShape()[0];
            IbotPatchLoss ibot = new IbotPatchLoss(k);
            Var s = Var.constant(f.get("ibot/student_masked").toFloatArray(), m, k);
            float[] teacher = f.get("ibot/teacher_masked").toFloatArray();
            add(checks, fx, "ibot/loss_forward_masked", f, new float[] {ibot.forwardMasked(t, s, teacher, masks, images, null).item()});
            // Meta's iBOT sinkhorn_knopp_teacher all-reduces unconditionally: without torch.distributed the fixture
            // holds NaN. Ours is checked for what it must be instead: rows of probabilities.
            float[] want = f.get("ibot/sk_temp0.07").toFloatArray(), sk = ibot.sinkhornKnoppTeacher(teacher, k, 0.07f, m, 3);
            double worst = 0;
            for (int r = 0; r < m; r++) {
                double sum = 0;
                for (int j = 0; j < k; j++) sum += sk[r * k + j];
                worst = Math.max(worst, Math.abs(sum - 1));
            }
            boolean refNaN = Arrays.stream(toDouble(want)).allMatch(Double::isNaN);
            checks.add(new Check(fx, "java", "ibot/sk_temp0.07 (reference is NaN; ours: |row sum - 1|)", worst, worst,
                    refNaN && worst <= 1e-5));
            add(checks, fx, "koleo/loss", f, new float[] {KoLeoLoss.forward(t, Var.constant(f.get("koleo/x").toFloatArray(), f.get("koleo/x").intShape())).item()});
        }
    }

    public static final class TrainStep implements Extension {
        @Override
        public Kind kind() {
            return Kind.TRAIN_STEP;
        }

        @Override
        public void check(Path fixture, TensorStore f, List<Check> checks) {
            String fx = fixture.getFileName().toString();
            Step s = step(f);
            add(checks, fx, "loss/dino", f, new float[] {s.dino});
            add(checks, fx, "loss/ibot", f, new float[] {s.ibot});
            add(checks, fx, "loss/koleo", f, new float[] {s.koleo});
            add(checks, fx, "loss/total", f, new float[] {s.total});
            for (String n : f.names()) {
                if (!n.startsWith("grad/")) continue;
                Var p = s.params.get(n.substring("grad/".length()));
                if (p == null) checks.add(new Check(fx, "java", n + " (no such parameter)", Double.NaN, Double.NaN, false));
                else add(checks, fx, n, f, p.grad());
            }
        }
    }

    /** One step's losses and the parameters (with their gradients) under the fixture's names. */
    public record Step(float dino, float ibot, float koleo, float total, Map<String, Var> params) {}

    /**
     * The fixture's recipe (its metadata): student = the tiny backbone on the global crops with masks, DINOHead on the
     * CLS tokens and on the masked patch tokens; dino = DINOLoss over the two student and two teacher chunks / 2,
     * ibot = forward_masked with the default weights, koleo = KoLeo per global crop on x_norm_clstoken, summed;
     * total = dino + ibot + 0.1 koleo; then backward.
     */
    public static Step step(TensorStore f) {
        String arch = f.metadata().getOrDefault("backbone", "");
        int embed = intArg(arch, "embed_dim", 32), depth = intArg(arch, "depth", 2), heads = intArg(arch, "num_heads", 2);
        int img = intArg(arch, "img_size", 28), patch = intArg(arch, "patch_size", 14);
        ModelConfig cfg = ModelConfig.fromJson(String.format(
                "{\"img_size\": %d, \"patch_size\": %d, \"init_values\": 1.0, \"embed_dim\": %d, \"depth\": %d, \"num_heads\": %d}",
                img, patch, embed, depth, heads));
        Map<String, Var> all = new LinkedHashMap<>(), backbone = new LinkedHashMap<>(), head = new LinkedHashMap<>();
        for (String n : f.names()) {
            if (!n.startsWith("weights/")) continue;
            String name = n.substring("weights/".length());
            Var v = Var.param(f.get(n).toFloatArray(), f.get(n).intShape());
            all.put(name, v);
            if (name.startsWith("backbone.")) backbone.put(name.substring("backbone.".length()), v);
            else if (name.startsWith("head.")) head.put(name.substring("head.".length()), v);
        }
        int nlayers = (int) head.keySet().stream().filter(n -> n.startsWith("mlp.") && n.endsWith(".weight")).count();
        TrainableVit student = new TrainableVit(cfg, backbone);
        DinoHead dinoHead = new DinoHead(head, nlayers);
        int[] shape = f.get("input/global_crops").intShape();
        int batch = shape[0], k = f.get("input/teacher_cls_probs").intShape()[1];
        boolean[] masks = masks(f, "input/masks");
        Tape t = new Tape();
        TrainableVit.Out out = student.forward(t, f.get("input/global_crops").toFloatArray(), batch, shape[2], shape[3], masks);
        Var cls = dinoHead.forward(t, out.xNormClstoken());
        int m = 0;
        for (boolean b : masks) if (b) m++;
        int[] maskedRows = new int[m];
        for (int i = 0, r = 0; i < masks.length; i++) if (masks[i]) maskedRows[r++] = i;
        Var patchLogits = dinoHead.forward(t, t.rows(out.xNormPatchtokens(), maskedRows));
        int half = batch / 2;
        float[] tcls = f.get("input/teacher_cls_probs").toFloatArray();
        Var s0 = t.rows(cls, range(0, half)), s1 = t.rows(cls, range(half, batch));
        List<float[]> tt = List.of(Arrays.copyOfRange(tcls, 0, half * k), Arrays.copyOfRange(tcls, half * k, batch * k));
        Var dino = t.affine(new DinoLoss(k).forward(t, List.of(s0, s1), tt), 0.5f, 0f);
        Var ibot = new IbotPatchLoss(k).forwardMasked(t, patchLogits, f.get("input/teacher_patch_probs").toFloatArray(), masks, batch, null);
        Var koleo = t.add(KoLeoLoss.forward(t, t.rows(out.xNormClstoken(), range(0, half))),
                KoLeoLoss.forward(t, t.rows(out.xNormClstoken(), range(half, batch))));
        Var total = t.add(t.add(dino, ibot), t.affine(koleo, 0.1f, 0f));
        t.backward(total);
        return new Step(dino.item(), ibot.item(), koleo.item(), total.item(), all);
    }

    static void add(List<Check> checks, String fx, String name, TensorStore f, float[] got) {
        checks.add(org.dino4j.conformance.Conformance.relative(fx, "java", name, got, null, f.get(name), TOLERANCE));
    }

    static boolean[] masks(TensorStore f, String name) {
        byte[] b = f.get(name).data().toArray(ValueLayout.JAVA_BYTE);
        boolean[] m = new boolean[b.length];
        for (int i = 0; i < b.length; i++) m[i] = b[i] != 0;
        return m;
    }

    private static int[] range(int a, int b) {
        int[] r = new int[b - a];
        for (int i = 0; i < r.length; i++) r[i] = a + i;
        return r;
    }

    private static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    /** "name=value" from the fixture's description of the backbone, e.g. "vit_small(img_size=28, ...)". */
    private static int intArg(String s, String name, int fallback) {
        var m = java.util.regex.Pattern.compile("\\b" + name + "=(\\d+)").matcher(s);
        return m.find() ? Integer.parseInt(m.group(1)) : fallback;
    }
}
