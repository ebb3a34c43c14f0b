package org.dino4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.dino4j.io.Json;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorStore;
import org.dino4j.train.autograd.Var;
import org.dino4j.train.optim.AdamW;
import org.dino4j.train.optim.CosineScheduler;
import org.dino4j.train.optim.ParamGroups;
import org.dino4j.train.optim.ParamGroups.Param;
import org.junit.jupiter.api.Test;

/**
 * fixtures/extra/optim.safetensors (tools/make_optim_fixture.py: PyTorch's AdamW and clip_grad_norm_, the official
 * CosineScheduler and parameter groups): schedules, every parameter's multipliers, and six steps of per-submodule
 * clipping + AdamW + EMA teacher, against PyTorch's parameters after each step.
 */
class OptimFixtureTest {
    static double[] f64(TensorStore f, String name) {
        return f.get(name).data().toArray(ValueLayout.JAVA_DOUBLE_UNALIGNED);
    }

    @Test
    void schedulesGroupsAndSixSteps() {
        try (TensorStore f = SafeTensors.read(LossFixturesTest.fixture("../extra/optim.safetensors"))) {
            Map<String, Object> c = Json.parseObject(f.metadata().get("config"));
            int len = ((Number) c.get("epoch_length")).intValue(), total = ((Number) c.get("epochs")).intValue() * len;
            int warm = ((Number) c.get("warmup_epochs")).intValue() * len;
            double lr = ((Number) c.get("base_lr")).doubleValue() * Math.sqrt(((Number) c.get("batch")).doubleValue() / 1024);
            double minLr = ((Number) c.get("min_lr")).doubleValue();
            int ttWarm = ((Number) c.get("warmup_teacher_temp_epochs")).intValue() * len;
            Map<String, CosineScheduler> s = new LinkedHashMap<>();
            s.put("lr", new CosineScheduler(lr, minLr, total, warm, 0, 0));
            s.put("wd", new CosineScheduler(num(c, "wd"), num(c, "wd_end"), total));
            s.put("momentum", new CosineScheduler(num(c, "momentum"), 1.0, total));
            s.put("teacher_temp", new CosineScheduler(num(c, "teacher_temp"), num(c, "teacher_temp"), ttWarm, ttWarm, num(c, "warmup_teacher_temp"), 0));
            s.put("last_layer_lr", new CosineScheduler(lr, minLr, total, warm, 0, 0).zeroFirst(((Number) c.get("freeze_last_layer_epochs")).intValue() * len));
            for (var e : s.entrySet()) {
                double[] want = f64(f, "sched/" + e.getKey());
                for (int i = 0; i < want.length; i++) assertEquals(want[i], e.getValue().get(i), 1e-15, e.getKey() + "[" + i + "]");
            }

            // the student's submodules and their parameter groups
            Map<String, Var> backbone = new LinkedHashMap<>(), head = new LinkedHashMap<>();
            Map<String, float[]> teacher = new LinkedHashMap<>();
            try (TensorStore w = SafeTensors.read(LossFixturesTest.fixture("official_train_step.safetensors"))) {
                for (String n : w.names()) {
                    if (!n.startsWith("weights/")) continue;
                    String name = n.substring(8);
                    Var v = Var.param(w.get(n).toFloatArray(), w.get(n).intShape());
                    (name.startsWith("backbone.") ? backbone : head).put(name.substring(name.indexOf('.') + 1), v);
                    teacher.put(name, w.get(n).toFloatArray());
                }
            }
            List<Param> bb = ParamGroups.of("backbone", backbone, 2, num(c, "layerwise_decay"), num(c, "patch_embed_lr_mult"));
            List<Param> hd = ParamGroups.of("head", head, 0, num(c, "layerwise_decay"), num(c, "patch_embed_lr_mult"));
            List<Param> all = new ArrayList<>(bb);
            all.addAll(hd);
            for (Param p : all) {
                float[] g = f.get("group/" + p.name()).toFloatArray();
                assertEquals(g[0], p.lrMultiplier(), 1e-7, p.name());
                assertEquals(g[1], p.wdMultiplier(), 0, p.name());
                assertEquals(g[2] != 0, p.lastLayer(), p.name());
            }

            AdamW opt = new AdamW();
            double worst = 0;
            int steps = ((Number) c.get("steps")).intValue();
            for (int it = 0; it < steps; it++) {
                for (Param p : all) p.var().setGrad(f.get("step" + it + "/grad/" + p.name()).toFloatArray());
                AdamW.clipGradNorm(bb.stream().map(Param::var).toList(), num(c, "clip_grad"));
                AdamW.clipGradNorm(hd.stream().map(Param::var).toList(), num(c, "clip_grad"));
                for (Param p : all) {
                    double plr = (p.lastLayer() ? s.get("last_layer_lr") : s.get("lr")).get(it) * p.lrMultiplier();
                    opt.step(p.var(), p.var().grad(), plr, s.get("wd").get(it) * p.wdMultiplier());
                    AdamW.ema(teacher.get(p.name()), p.var().value(), s.get("momentum").get(it));
                }
                for (Param p : all) {
                    worst = Math.max(worst, LossFixturesTest.relErr(f.get("step" + it + "/student/" + p.name()).toFloatArray(), p.var().value()));
                    worst = Math.max(worst, LossFixturesTest.relErr(f.get("step" + it + "/teacher/" + p.name()).toFloatArray(), teacher.get(p.name())));
                }
            }
            System.out.printf("AdamW + clipping + EMA over %d steps: worst relative error %.2e%n", steps, worst);
            assertTrue(worst < 1e-5, "worst " + worst);
        }
    }

    static double num(Map<String, Object> c, String k) {
        return ((Number) c.get(k)).doubleValue();
    }
}
