package org.dino4j.train.model;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import org.dino4j.model.ModelConfig;
import org.dino4j.train.autograd.Var;

/**
 * Fresh parameters as the official code initialises them: backbone (init_weights: trunc_normal(0.02) Linear weights
 * and pos_embed, cls_token normal(1e-6), zero biases and mask token, LayerNorm 1/0, LayerScale init_values, the
 * patch embedding as PyTorch's Conv2d default) and DINOHead (trunc_normal(0.02) MLP, weight-normalised prototypes with
 * weight_v as PyTorch's Linear default and weight_g filled with 1).
 */
public final class Init {
    private Init() {}

    public static Map<String, Var> vit(ModelConfig cfg, SplittableRandom r) {
        Map<String, Var> p = new LinkedHashMap<>();
        int d = cfg.embedDim(), ps = cfg.patchSize(), m = cfg.posGrid(), hid = cfg.ffnHidden();
        p.put("cls_token", normal(r, 1e-6, 1, 1, d));
        p.put("pos_embed", trunc(r, 0.02, 1, 1 + m * m, d));
        p.put("mask_token", zeros(1, d));
        if (cfg.numRegisterTokens() > 0) p.put("register_tokens", normal(r, 1e-6, 1, cfg.numRegisterTokens(), d));
        p.put("patch_embed.proj.weight", uniform(r, 1 / Math.sqrt(3.0 * ps * ps), d, 3, ps, ps));
        p.put("patch_embed.proj.bias", uniform(r, 1 / Math.sqrt(3.0 * ps * ps), d));
        float ls = cfg.initValues() == null ? 0f : cfg.initValues().floatValue();
        for (int i = 0; i < cfg.depth(); i++) {
            String b = "blocks." + i + ".";
            p.put(b + "norm1.weight", filled(1f, d));
            p.put(b + "norm1.bias", zeros(d));
            p.put(b + "attn.qkv.weight", trunc(r, 0.02, 3 * d, d));
            p.put(b + "attn.qkv.bias", zeros(3 * d));
            p.put(b + "attn.proj.weight", trunc(r, 0.02, d, d));
            p.put(b + "attn.proj.bias", zeros(d));
            if (ls > 0) p.put(b + "ls1.gamma", filled(ls, d));
            p.put(b + "norm2.weight", filled(1f, d));
            p.put(b + "norm2.bias", zeros(d));
            if (cfg.swiglu()) {
                p.put(b + "mlp.w12.weight", trunc(r, 0.02, 2 * hid, d));
                p.put(b + "mlp.w12.bias", zeros(2 * hid));
                p.put(b + "mlp.w3.weight", trunc(r, 0.02, d, hid));
                p.put(b + "mlp.w3.bias", zeros(d));
            } else {
                p.put(b + "mlp.fc1.weight", trunc(r, 0.02, hid, d));
                p.put(b + "mlp.fc1.bias", zeros(hid));
                p.put(b + "mlp.fc2.weight", trunc(r, 0.02, d, hid));
                p.put(b + "mlp.fc2.bias", zeros(d));
            }
            if (ls > 0) p.put(b + "ls2.gamma", filled(ls, d));
        }
        p.put("norm.weight", filled(1f, d));
        p.put("norm.bias", zeros(d));
        return p;
    }

    /** DINOHead(inDim, k, nlayers, hidden, bottleneck) parameters: mlp.{0,2,4}.*, last_layer.weight_g/_v. */
    public static Map<String, Var> dinoHead(int inDim, int k, int nlayers, int hidden, int bottleneck, SplittableRandom r) {
        Map<String, Var> p = new LinkedHashMap<>();
        int in = inDim;
        for (int i = 0; i < nlayers; i++) {
            int out = i == nlayers - 1 ? bottleneck : hidden;
            p.put("mlp." + 2 * i + ".weight", trunc(r, 0.02, out, in));
            p.put("mlp." + 2 * i + ".bias", zeros(out));
            in = out;
        }
        p.put("last_layer.weight_g", filled(1f, k, 1));
        p.put("last_layer.weight_v", uniform(r, 1 / Math.sqrt(bottleneck), k, bottleneck));
        return p;
    }

    static Var zeros(int... shape) {
        return Var.param(new float[n(shape)], shape);
    }

    static Var filled(float v, int... shape) {
        float[] a = new float[n(shape)];
        java.util.Arrays.fill(a, v);
        return Var.param(a, shape);
    }

    static Var normal(SplittableRandom r, double std, int... shape) {
        float[] a = new float[n(shape)];
        for (int i = 0; i < a.length; i++) a[i] = (float) (r.nextGaussian() * std);
        return Var.param(a, shape);
    }

    /** trunc_normal_(std) with PyTorch's default bounds [-2, 2] (absolute, i.e. 100 std at 0.02: a plain normal). */
    static Var trunc(SplittableRandom r, double std, int... shape) {
        float[] a = new float[n(shape)];
        for (int i = 0; i < a.length; i++) {
            double v;
            do v = r.nextGaussian() * std; while (v < -2 || v > 2);
            a[i] = (float) v;
        }
        return Var.param(a, shape);
    }

    static Var uniform(SplittableRandom r, double bound, int... shape) {
        float[] a = new float[n(shape)];
        for (int i = 0; i < a.length; i++) a[i] = (float) ((r.nextDouble() * 2 - 1) * bound);
        return Var.param(a, shape);
    }

    private static int n(int[] shape) {
        int n = 1;
        for (int s : shape) n *= s;
        return n;
    }
}
