package org.dino4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorStore;
import org.dino4j.model.Checkpoints;
import org.dino4j.model.ModelConfig;
import org.dino4j.train.autograd.Tape;
import org.dino4j.train.autograd.Var;
import org.dino4j.train.model.TrainableVit;
import org.junit.jupiter.api.Test;

/**
 * The training forward against Meta's outputs (the backbone fixtures: non-square inputs that need the position grid
 * resized up and down, masks, registers, SwiGLU, antialiased resize), and its gradients through the resize and
 * stochastic depth against finite differences.
 */
class TrainableVitTest {
    static TrainableVit load(TensorStore f) {
        ModelConfig cfg = ModelConfig.fromJson(f.metadata().get("config"));
        Map<String, Var> params = new LinkedHashMap<>();
        var sd = Checkpoints.normalize(f.withPrefix("weights/"));
        for (String n : sd.names()) params.put(n, Var.param(sd.get(n).toFloatArray(), sd.get(n).intShape()));
        return new TrainableVit(cfg, params);
    }

    @Test
    void forwardMatchesMetasOutputs() {
        for (String fx : List.of("official_vit_tiny.safetensors", "official_vit_tiny_reg_swiglu.safetensors")) {
            try (TensorStore f = SafeTensors.read(LossFixturesTest.fixture(fx))) {
                TrainableVit vit = load(f);
                int compared = 0;
                for (int i = 0; f.contains("input" + i); i++) {
                    int[] s = f.get("input" + i).intShape();
                    for (boolean masked : new boolean[] {false, true}) {
                        String o = masked ? "output" + i + "_masked/" : "output" + i + "/";
                        if (masked && !f.contains("masks" + i)) continue;
                        boolean[] m = masked ? LossFixturesTest.masksOf(f, "masks" + i) : null;
                        TrainableVit.Out out = vit.forward(new Tape(), f.get("input" + i).toFloatArray(), s[0], s[2], s[3], m);
                        double e1 = LossFixturesTest.relErr(f.get(o + "x_norm_clstoken").toFloatArray(), out.xNormClstoken().value());
                        double e2 = LossFixturesTest.relErr(f.get(o + "x_norm_patchtokens").toFloatArray(), out.xNormPatchtokens().value());
                        System.out.printf("%s %s: cls rel %.1e, patches rel %.1e%n", fx, o, e1, e2);
                        assertTrue(e1 < 1e-5 && e2 < 1e-5, fx + " " + o);
                        compared++;
                    }
                }
                assertEquals(4, compared);
            }
        }
    }

    @Test
    void gradientsThroughResizeAndStochasticDepth() {
        ModelConfig[] cfgs = {
            ModelConfig.fromJson("{\"img_size\": 28, \"patch_size\": 7, \"embed_dim\": 8, \"depth\": 2, \"num_heads\": 2, \"init_values\": 0.5}"),
            ModelConfig.fromJson("{\"img_size\": 28, \"patch_size\": 7, \"embed_dim\": 8, \"depth\": 2, \"num_heads\": 2, \"init_values\": 0.5, "
                    + "\"ffn_layer\": \"swiglufused\", \"num_register_tokens\": 2, \"interpolate_antialias\": true, \"interpolate_offset\": 0.0}")};
        for (ModelConfig cfg : cfgs) {
            // random parameters with non-trivial biases, norms and LayerScale
            Map<String, Var> params = new LinkedHashMap<>();
            SplittableRandom r = new SplittableRandom(5);
            for (var e : paramsOf(cfg, r).entrySet()) params.put(e.getKey(), e.getValue());
            TrainableVit vit = new TrainableVit(cfg, params);
            float[] px = new float[2 * 3 * 21 * 14]; // 3 x 2 patches: the 4 x 4 position grid resized down, non-square
            for (int i = 0; i < px.length; i++) px[i] = (float) r.nextGaussian();
            for (double rate : new double[] {0.0, 0.05, 0.4}) {
                long seed = 9;
                new GradCheckTest().check("vit " + cfg.ffnLayer() + " drop " + rate, List.of(params.get("pos_embed"), params.get("blocks.1.norm1.weight")),
                        (t, v) -> {
                            TrainableVit.DropPath dp = rate == 0 ? null : new TrainableVit.DropPath(rate, true, new SplittableRandom(seed));
                            TrainableVit.Out o = vit.forward(t, px, 2, 21, 14, new boolean[] {true, false, false, false, true, false, false, true, false, false, false, true}, dp);
                            return t.concatRows(o.xNormClstoken(), o.xNormPatchtokens());
                        });
            }
        }
    }

    @Test
    void checkpointedBlocksGiveTheSameGradients() {
        ModelConfig cfg = ModelConfig.fromJson("{\"img_size\": 28, \"patch_size\": 7, \"embed_dim\": 8, \"depth\": 3, \"num_heads\": 2, \"init_values\": 0.5}");
        for (double rate : new double[] {0.0, 0.05, 0.4}) {
            float[][] grads = new float[3][];
            for (int v = 0; v < 3; v++) { // none, every block, every other block (0 and 2 of 3)
                Map<String, Var> params = paramsOf(cfg, new SplittableRandom(5));
                TrainableVit vit = new TrainableVit(cfg, params, v);
                float[] px = new float[4 * 3 * 28 * 21];
                SplittableRandom r = new SplittableRandom(8);
                for (int i = 0; i < px.length; i++) px[i] = (float) r.nextGaussian();
                Tape t = new Tape();
                TrainableVit.Out o = vit.forward(t, px, 4, 28, 21, null, rate == 0 ? null : new TrainableVit.DropPath(rate, false, new SplittableRandom(1)));
                t.backward(t.sum(t.gelu(t.concatRows(o.xNormClstoken(), o.xNormPatchtokens()))));
                grads[v] = params.values().stream().map(Var::grad).reduce(new float[0], (a, b) -> {
                    float[] c = java.util.Arrays.copyOf(a, a.length + b.length);
                    System.arraycopy(b, 0, c, a.length, b.length);
                    return c;
                });
            }
            assertEquals(0, LossFixturesTest.relErr(grads[0], grads[1]), 1e-6, "drop rate " + rate);
            assertEquals(0, LossFixturesTest.relErr(grads[0], grads[2]), 1e-6, "every other block, drop rate " + rate);
        }
    }

    /** Random parameters with the official names and shapes for cfg. */
    static Map<String, Var> paramsOf(ModelConfig cfg, SplittableRandom r) {
        Map<String, Var> p = new LinkedHashMap<>();
        int d = cfg.embedDim(), ps = cfg.patchSize(), m = cfg.posGrid(), hid = cfg.ffnHidden();
        p.put("cls_token", rand(r, 1, 1, 1, d));
        p.put("mask_token", rand(r, 1, 1, d));
        p.put("pos_embed", rand(r, 0.5, 1, 1 + m * m, d));
        if (cfg.numRegisterTokens() > 0) p.put("register_tokens", rand(r, 1, 1, cfg.numRegisterTokens(), d));
        p.put("patch_embed.proj.weight", rand(r, 0.2, d, 3, ps, ps));
        p.put("patch_embed.proj.bias", rand(r, 0.1, d));
        for (int i = 0; i < cfg.depth(); i++) {
            String b = "blocks." + i + ".";
            p.put(b + "norm1.weight", rand(r, 0.3, d));
            p.put(b + "norm1.bias", rand(r, 0.1, d));
            p.put(b + "attn.qkv.weight", rand(r, 0.3, 3 * d, d));
            p.put(b + "attn.qkv.bias", rand(r, 0.1, 3 * d));
            p.put(b + "attn.proj.weight", rand(r, 0.3, d, d));
            p.put(b + "attn.proj.bias", rand(r, 0.1, d));
            p.put(b + "ls1.gamma", rand(r, 0.5, d));
            p.put(b + "norm2.weight", rand(r, 0.3, d));
            p.put(b + "norm2.bias", rand(r, 0.1, d));
            if (cfg.swiglu()) {
                p.put(b + "mlp.w12.weight", rand(r, 0.3, 2 * hid, d));
                p.put(b + "mlp.w12.bias", rand(r, 0.1, 2 * hid));
                p.put(b + "mlp.w3.weight", rand(r, 0.3, d, hid));
                p.put(b + "mlp.w3.bias", rand(r, 0.1, d));
            } else {
                p.put(b + "mlp.fc1.weight", rand(r, 0.3, hid, d));
                p.put(b + "mlp.fc1.bias", rand(r, 0.1, hid));
                p.put(b + "mlp.fc2.weight", rand(r, 0.3, d, hid));
                p.put(b + "mlp.fc2.bias", rand(r, 0.1, d));
            }
            p.put(b + "ls2.gamma", rand(r, 0.5, d));
        }
        p.put("norm.weight", rand(r, 0.3, d));
        p.put("norm.bias", rand(r, 0.1, d));
        for (Var v : p.values()) if (v.shape().length == 1 && p.entrySet().stream().anyMatch(e -> e.getValue() == v && e.getKey().endsWith("weight")))
            for (int i = 0; i < v.numel(); i++) v.value()[i] += 1f; // norm weights around 1
        return p;
    }

    static Var rand(SplittableRandom r, double scale, int... shape) {
        int n = 1;
        for (int s : shape) n *= s;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextGaussian() * scale);
        return Var.param(v, shape);
    }
}
