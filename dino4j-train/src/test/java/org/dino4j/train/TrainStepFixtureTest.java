package org.dino4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorStore;
import org.dino4j.model.ModelConfig;
import org.dino4j.train.autograd.Tape;
import org.dino4j.train.autograd.Var;
import org.dino4j.train.loss.DinoLoss;
import org.dino4j.train.loss.IbotPatchLoss;
import org.dino4j.train.loss.KoLeoLoss;
import org.dino4j.train.model.DinoHead;
import org.dino4j.train.model.TrainableVit;
import org.junit.jupiter.api.Test;

/**
 * official_train_step.safetensors: DINO + iBOT + 0.1 KoLeo on a tiny official ViT (embed 32, depth 2, 2 heads,
 * 28 px, patch 14) + DINOHead(32, 40, 3 layers, hidden 48, bottleneck 16), teacher targets given; every loss value
 * and every parameter's gradient, max error relative to each tensor's largest magnitude <= 1e-4.
 */
class TrainStepFixtureTest {
    @Test
    void lossesAndEveryGradient() {
        try (TensorStore f = SafeTensors.read(LossFixturesTest.fixture("official_train_step.safetensors"))) {
            ModelConfig cfg = ModelConfig.fromJson("{\"img_size\": 28, \"patch_size\": 14, \"init_values\": 1.0, "
                    + "\"embed_dim\": 32, \"depth\": 2, \"num_heads\": 2}");
            Map<String, Var> backbone = new LinkedHashMap<>(), head = new LinkedHashMap<>();
            for (String n : f.names()) {
                if (!n.startsWith("weights/")) continue;
                String name = n.substring("weights/".length());
                Var v = Var.param(f.get(n).toFloatArray(), f.get(n).intShape());
                if (name.startsWith("backbone.")) backbone.put(name.substring("backbone.".length()), v);
                else head.put(name.substring("head.".length()), v);
            }
            TrainableVit student = new TrainableVit(cfg, backbone);
            DinoHead dinoHead = new DinoHead(head, 3);
            boolean[] masks = LossFixturesTest.masks(f, "input/masks");
            Tape t = new Tape();
            TrainableVit.Out out = student.forward(t, f.get("input/global_crops").toFloatArray(), 4, 28, 28, masks);
            Var cls = dinoHead.forward(t, out.xNormClstoken());
            int m = 0;
            for (boolean b : masks) if (b) m++;
            int[] maskedRows = new int[m];
            for (int i = 0, r = 0; i < masks.length; i++) if (masks[i]) maskedRows[r++] = i;
            Var patchLogits = dinoHead.forward(t, t.rows(out.xNormPatchtokens(), maskedRows));

            int k = 40;
            float[] tcls = f.get("input/teacher_cls_probs").toFloatArray();
            Var s0 = t.rows(cls, new int[] {0, 1}), s1 = t.rows(cls, new int[] {2, 3});
            float[] t0 = java.util.Arrays.copyOfRange(tcls, 0, 2 * k), t1 = java.util.Arrays.copyOfRange(tcls, 2 * k, 4 * k);
            DinoLoss dl = new DinoLoss(k);
            // DINOLoss.forward over the student's two global chunks and the teacher's two chunks (all four pairs), / 2:
            // what the fixture's numbers say its recipe computed (the 2 cross-crop pairs alone give 12.05, not 11.92)
            Var dino = t.affine(dl.forward(t, List.of(s0, s1), List.of(t0, t1)), 0.5f, 0f);
            Var ibot = new IbotPatchLoss(k).forwardMasked(t, patchLogits, f.get("input/teacher_patch_probs").toFloatArray(), masks, 4, null);
            Var c0 = t.rows(out.xNormClstoken(), new int[] {0, 1}), c1 = t.rows(out.xNormClstoken(), new int[] {2, 3});
            Var koleo = t.add(KoLeoLoss.forward(t, c0), KoLeoLoss.forward(t, c1));
            Var total = t.add(t.add(dino, ibot), t.affine(koleo, 0.1f, 0f));
            System.out.printf("dino %.6f (want %.6f)  ibot %.6f (%.6f)  koleo %.6f (%.6f)  total %.6f (%.6f)%n",
                    dino.item(), f.get("loss/dino").toFloatArray()[0], ibot.item(), f.get("loss/ibot").toFloatArray()[0],
                    koleo.item(), f.get("loss/koleo").toFloatArray()[0], total.item(), f.get("loss/total").toFloatArray()[0]);
            assertTrue(LossFixturesTest.rel(f.get("loss/dino").toFloatArray(), new float[] {dino.item()}) <= 1e-4);
            assertTrue(LossFixturesTest.rel(f.get("loss/ibot").toFloatArray(), new float[] {ibot.item()}) <= 1e-4);
            assertTrue(LossFixturesTest.rel(f.get("loss/total").toFloatArray(), new float[] {total.item()}) <= 1e-4);

            t.backward(total);
            int checked = 0;
            double worst = 0;
            for (String n : f.names()) {
                if (!n.startsWith("grad/")) continue;
                String name = n.substring("grad/".length());
                Var p = name.startsWith("backbone.") ? backbone.get(name.substring(9)) : head.get(name.substring(5));
                double e = LossFixturesTest.rel(f.get(n).toFloatArray(), p.grad());
                worst = Math.max(worst, e);
                if (e > 1e-4) System.out.printf("  %-45s rel %.2e%n", name, e);
                assertTrue(e <= 1e-4, name + " rel " + e);
                checked++;
            }
            System.out.printf("%d gradients, worst rel %.2e%n", checked, worst);
            assertEquals(backbone.size() + head.size(), checked);
        }
    }
}
