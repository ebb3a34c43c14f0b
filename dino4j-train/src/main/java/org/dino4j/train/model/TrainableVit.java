package org.dino4j.train.model;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;

import org.dino4j.kernels.Interpolate;
import org.dino4j.model.ModelConfig;
import org.dino4j.train.autograd.Tape;
import org.dino4j.train.autograd.Var;

/**
 * The official DinoVisionTransformer in training mode over the autodiff {@link Tape}: parameters under the official
 * state_dict names; MLP or SwiGLU blocks, LayerScale, register tokens, the mask token, position embeddings resized
 * for any crop size (both bicubic flavours, with their gradient), and stochastic depth (per-sample DropPath, or
 * above a 0.1 rate the official "efficient" variant that runs a branch on a random subset of the batch).
 */
public final class TrainableVit {
    private final ModelConfig cfg;
    private final Map<String, Var> params;
    /** Row-resampling matrices of the position grid, per output grid. */
    private final Map<Long, float[]> posResize = new ConcurrentHashMap<>();

    /** 0: no activation checkpointing; k: blocks 0, k, 2k, ... are checkpointed. */
    private final int checkpointEvery;

    /** @param params official names (patch_embed.proj.weight, blocks.0.attn.qkv.weight, ...) to trainable values */
    public TrainableVit(ModelConfig cfg, Map<String, Var> params) {
        this(cfg, params, false);
    }

    /**
     * @param checkpointBlocks keep only each block's input and recompute the block in the backward (activation
     *     checkpointing: about a third more compute, a fraction of the memory)
     */
    public TrainableVit(ModelConfig cfg, Map<String, Var> params, boolean checkpointBlocks) {
        this(cfg, params, checkpointBlocks ? 1 : 0);
    }

    /**
     * @param checkpointEvery 0: none; k > 0: activation checkpointing for every k-th block (0, k, 2k, ...): 1 keeps
     *     the least memory, 2 recomputes half as much and keeps about half the blocks' activations
     */
    public TrainableVit(ModelConfig cfg, Map<String, Var> params, int checkpointEvery) {
        if (checkpointEvery < 0) throw new IllegalArgumentException("checkpointEvery must be >= 0, got " + checkpointEvery);
        this.cfg = cfg;
        this.params = new LinkedHashMap<>(params);
        this.checkpointEvery = checkpointEvery;
    }

    public ModelConfig config() {
        return cfg;
    }

    public Map<String, Var> params() {
        return params;
    }

    private Var p(String name) {
        Var v = params.get(name);
        if (v == null) throw new IllegalArgumentException("missing parameter " + name);
        return v;
    }

    /** Stochastic depth: the rate per block and the generator of its draws (the run's, for reproducibility). */
    public record DropPath(double rate, boolean uniform, SplittableRandom rng) {
        double rateOf(int block, int depth) {
            return uniform || depth == 1 ? rate : rate * block / (depth - 1);
        }
    }

    /** forward_features(x, masks) outputs the losses use: [B, D] and [B * N, D]. */
    public record Out(Var xNormClstoken, Var xNormPatchtokens, int batch, int patches) {}

    public Out forward(Tape t, float[] pixels, int batch, int height, int width, boolean[] masks) {
        return forward(t, pixels, batch, height, width, masks, null);
    }

    /** pixels [B, 3, H, W]; masks [B * N] or null; drop null for none. */
    public Out forward(Tape t, float[] pixels, int batch, int height, int width, boolean[] masks, DropPath drop) {
        int d = cfg.embedDim(), ps = cfg.patchSize(), gh = height / ps, gw = width / ps, n = gh * gw;
        int nr = cfg.numRegisterTokens(), tok = 1 + nr + n;
        Var x = t.patchEmbed(pixels, batch, 3, height, width, p("patch_embed.proj.weight"), p("patch_embed.proj.bias"));
        x = t.tokens(x, p("cls_token"), p("mask_token"), posEmbed(t, gh, gw, height, width),
                nr > 0 ? p("register_tokens") : null, masks, batch);
        float eps = (float) cfg.layerNormEps();
        for (int i = 0; i < cfg.depth(); i++) {
            String b = "blocks." + i + ".";
            double rate = drop == null ? 0 : drop.rateOf(i, cfg.depth());
            // random draws first: a checkpointed block must compute the same thing again in the backward
            int[] perm1 = rate > 0.1 ? subset(batch, rate, drop.rng()) : null, perm2 = rate > 0.1 ? subset(batch, rate, drop.rng()) : null;
            float[] keep1 = rate > 0 && rate <= 0.1 ? keepScales(batch, rate, drop.rng()) : null;
            float[] keep2 = rate > 0 && rate <= 0.1 ? keepScales(batch, rate, drop.rng()) : null;
            java.util.function.BiFunction<Tape, Var, Var> block = (tt, xin) -> {
                Var y = xin;
                if (perm1 != null) { // drop_add_residual_stochastic_depth, once per branch
                    y = subsetResidual(tt, y, batch, tok, perm1, z -> layerScale(tt, attnBranch(tt, z, b, z.rows() / tok, tok, eps), b + "ls1.gamma"));
                    y = subsetResidual(tt, y, batch, tok, perm2, z -> layerScale(tt, ffnBranch(tt, z, b, eps), b + "ls2.gamma"));
                } else { // x + drop_path(ls(branch(x))) as one op per branch
                    y = tt.residual(y, attnBranch(tt, y, b, batch, tok, eps), params.get(b + "ls1.gamma"), tok, keep1);
                    y = tt.residual(y, ffnBranch(tt, y, b, eps), params.get(b + "ls2.gamma"), tok, keep2);
                }
                return y;
            };
            x = checkpointEvery > 0 && i % checkpointEvery == 0 ? t.checkpoint(x, block) : block.apply(t, x);
        }
        Var xn = t.layerNorm(x, p("norm.weight"), p("norm.bias"), eps);
        int[] clsRows = new int[batch], patchRows = new int[batch * n];
        for (int b = 0; b < batch; b++) {
            clsRows[b] = b * tok;
            for (int i = 0; i < n; i++) patchRows[b * n + i] = b * tok + 1 + nr + i;
        }
        return new Out(t.rows(xn, clsRows), t.rows(xn, patchRows), batch, n);
    }

    private Var attnBranch(Tape t, Var x, String b, int batch, int tok, float eps) {
        Var h = t.layerNormLinear(x, p(b + "norm1.weight"), p(b + "norm1.bias"), eps, p(b + "attn.qkv.weight"), params.get(b + "attn.qkv.bias"));
        h = t.attention(h, batch, tok, cfg.numHeads());
        return t.linear(h, p(b + "attn.proj.weight"), params.get(b + "attn.proj.bias"));
    }

    /** LayerScale where the model has it (init_values set), else the identity. */
    private Var layerScale(Tape t, Var h, String gamma) {
        return params.containsKey(gamma) ? t.mulCols(h, p(gamma)) : h;
    }

    private Var ffnBranch(Tape t, Var x, String b, float eps) {
        Var ln2w = p(b + "norm2.weight"), ln2b = p(b + "norm2.bias");
        Var h;
        if (cfg.swiglu()) { // SwiGLUFFN: w12 -> chunk(2) -> silu(x1) * x2 -> w3
            h = t.layerNormLinear(x, ln2w, ln2b, eps, p(b + "mlp.w12.weight"), params.get(b + "mlp.w12.bias"));
            int hid = h.cols() / 2;
            h = t.mul(t.silu(t.cols(h, 0, hid)), t.cols(h, hid, 2 * hid));
            h = t.linear(h, p(b + "mlp.w3.weight"), params.get(b + "mlp.w3.bias"));
        } else {
            h = t.layerNormLinear(x, ln2w, ln2b, eps, p(b + "mlp.fc1.weight"), params.get(b + "mlp.fc1.bias"));
            h = t.geluLinear(h, p(b + "mlp.fc2.weight"), params.get(b + "mlp.fc2.bias")); // fc2(gelu(h))
        }
        return h;
    }

    /** DropPath's per-sample factors: 0 with probability rate, else 1 / (1 - rate). */
    private static float[] keepScales(int batch, double rate, SplittableRandom rng) {
        float[] s = new float[batch];
        for (int i = 0; i < batch; i++) s[i] = rng.nextDouble() < 1 - rate ? (float) (1 / (1 - rate)) : 0f;
        return s;
    }

    /**
     * drop_add_residual_stochastic_depth: the branch on max(int(b (1 - rate)), 1) random samples, added back scaled
     * by b / subset (index_add).
     */
    private static Var subsetResidual(Tape t, Var x, int batch, int tok, int[] perm, java.util.function.UnaryOperator<Var> branch) {
        int keep = perm.length;
        int[] rows = new int[keep * tok];
        for (int s = 0; s < keep; s++) for (int r = 0; r < tok; r++) rows[s * tok + r] = perm[s] * tok + r;
        Var residual = branch.apply(t.rows(x, rows));
        return t.indexAddRows(x, rows, residual, (float) batch / keep);
    }

    /** randperm(batch)[:max(int(batch (1 - rate)), 1)]: the samples whose branch is computed. */
    private static int[] subset(int batch, double rate, SplittableRandom rng) {
        int keep = Math.max((int) (batch * (1 - rate)), 1);
        int[] perm = new int[batch];
        for (int i = 0; i < batch; i++) perm[i] = i;
        for (int i = batch - 1; i > 0; i--) { // Fisher-Yates
            int j = rng.nextInt(i + 1), tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
        }
        return java.util.Arrays.copyOf(perm, keep);
    }

    /** interpolate_pos_encoding: the stored table at the native square grid, else its patch part resampled. */
    private Var posEmbed(Tape t, int gh, int gw, int h, int w) {
        Var pos = p("pos_embed");
        int d = cfg.embedDim(), m = cfg.posGrid();
        if (gh * gw == m * m && h == w) return pos;
        float[] a = posResize.computeIfAbsent(((long) gh << 32) | gw, k -> resizeMatrix(m, gh, gw));
        Var flat = t.reshape(pos, 1 + m * m, d);
        int[] patchRows = new int[m * m];
        for (int i = 0; i < patchRows.length; i++) patchRows[i] = 1 + i;
        return t.concatRows(t.rows(flat, new int[] {0}), t.leftMultiply(a, gh * gw, t.rows(flat, patchRows)));
    }

    /** The resize as a matrix [gh * gw, m * m]: Interpolate.bicubic (the inference path) applied to each basis vector. */
    private float[] resizeMatrix(int m, int gh, int gw) {
        double off = cfg.interpolateOffset();
        double sh = off != 0 ? (gh + off) / m : Double.NaN, sw = off != 0 ? (gw + off) / m : Double.NaN;
        float[] a = new float[gh * gw * m * m], e = new float[m * m];
        for (int i = 0; i < m * m; i++) {
            e[i] = 1f;
            float[] col = Interpolate.bicubic(e, m, m, 1, gh, gw, sh, sw, cfg.interpolateAntialias());
            for (int o = 0; o < gh * gw; o++) a[o * m * m + i] = col[o];
            e[i] = 0f;
        }
        return a;
    }
}
