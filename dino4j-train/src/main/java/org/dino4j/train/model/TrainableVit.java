package org.dino4j.train.model;

import java.util.LinkedHashMap;
import java.util.Map;

import org.dino4j.model.ModelConfig;
import org.dino4j.train.autograd.Tape;
import org.dino4j.train.autograd.Var;

/**
 * The official DinoVisionTransformer in training mode (MLP blocks with LayerScale, no registers yet) over the
 * autodiff {@link Tape}: parameters under the official state_dict names, a forward that records its backward.
 */
public final class TrainableVit {
    private final ModelConfig cfg;
    private final Map<String, Var> params;

    /** @param params official names (patch_embed.proj.weight, blocks.0.attn.qkv.weight, ...) to trainable values */
    public TrainableVit(ModelConfig cfg, Map<String, Var> params) {
        this.cfg = cfg;
        this.params = new LinkedHashMap<>(params);
        if (cfg.numRegisterTokens() != 0 || cfg.swiglu())
            throw new UnsupportedOperationException("training with registers or SwiGLU is not implemented yet");
    }

    public Map<String, Var> params() {
        return params;
    }

    private Var p(String name) {
        Var v = params.get(name);
        if (v == null) throw new IllegalArgumentException("missing parameter " + name);
        return v;
    }

    /** forward_features(x, masks) outputs that the losses use. */
    public record Out(Var xNormClstoken, Var xNormPatchtokens, int batch, int patches) {}

    /** pixels [B, 3, H, W] at the native grid (no position-embedding resize yet); masks [B * N] or null. */
    public Out forward(Tape t, float[] pixels, int batch, int height, int width, boolean[] masks) {
        int d = cfg.embedDim(), ps = cfg.patchSize(), n = (height / ps) * (width / ps), tok = n + 1;
        if (n + 1 != p("pos_embed").numel() / d)
            throw new UnsupportedOperationException("position-embedding resize in training is not implemented yet");
        Var x = t.patchEmbed(pixels, batch, 3, height, width, p("patch_embed.proj.weight"), p("patch_embed.proj.bias"));
        x = t.tokens(x, p("cls_token"), p("mask_token"), p("pos_embed"), masks, batch);
        float eps = 1e-6f;
        for (int i = 0; i < cfg.depth(); i++) {
            String b = "blocks." + i + ".";
            Var h = t.layerNorm(x, p(b + "norm1.weight"), p(b + "norm1.bias"), eps);
            h = t.linear(h, p(b + "attn.qkv.weight"), params.get(b + "attn.qkv.bias"));
            h = t.attention(h, batch, tok, cfg.numHeads());
            h = t.linear(h, p(b + "attn.proj.weight"), params.get(b + "attn.proj.bias"));
            if (params.containsKey(b + "ls1.gamma")) h = t.mulCols(h, p(b + "ls1.gamma"));
            x = t.add(x, h);
            h = t.layerNorm(x, p(b + "norm2.weight"), p(b + "norm2.bias"), eps);
            h = t.linear(h, p(b + "mlp.fc1.weight"), params.get(b + "mlp.fc1.bias"));
            h = t.gelu(h);
            h = t.linear(h, p(b + "mlp.fc2.weight"), params.get(b + "mlp.fc2.bias"));
            if (params.containsKey(b + "ls2.gamma")) h = t.mulCols(h, p(b + "ls2.gamma"));
            x = t.add(x, h);
        }
        Var xn = t.layerNorm(x, p("norm.weight"), p("norm.bias"), eps);
        int[] clsRows = new int[batch], patchRows = new int[batch * n];
        for (int b = 0; b < batch; b++) {
            clsRows[b] = b * tok;
            for (int i = 0; i < n; i++) patchRows[b * n + i] = b * tok + 1 + i;
        }
        return new Out(t.rows(xn, clsRows), t.rows(xn, patchRows), batch, n);
    }
}
