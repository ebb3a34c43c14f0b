package org.dino4j.model;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.dino4j.io.TensorStore;
import org.dino4j.kernels.Interpolate;
import org.dino4j.kernels.VectorApi;
import org.dino4j.nn.Attention;
import org.dino4j.nn.Block;
import org.dino4j.nn.Ffn;
import org.dino4j.nn.LayerNorm;
import org.dino4j.nn.Linear;
import org.dino4j.nn.Mlp;
import org.dino4j.nn.PatchEmbed;
import org.dino4j.nn.SwiGLUFFN;
import org.dino4j.nn.Workspace;
import org.dino4j.tensor.Tensor;

/**
 * The official {@code DinoVisionTransformer} (dinov2/models/vision_transformer.py) at inference. Token order
 * [CLS, registers, patches]; the mask token replaces masked patch embeddings before position embeddings are
 * added; registers get no position embedding. Immutable after construction, so concurrent calls are safe.
 */
public final class DinoVisionTransformer implements AutoCloseable {
    private final ModelConfig cfg;
    private final PatchEmbed patchEmbed;
    private final float[] clsToken, registerTokens, maskToken, posEmbed;
    private final Block[] blocks;
    private final LayerNorm norm;
    private final AutoCloseable owner;
    // interpolated position embeddings per (rows, cols) grid: tiny, computed once per input size
    private final Map<Long, float[]> posCache = new ConcurrentHashMap<>();
    /** Workspaces of finished calls, reused (never shared: a call owns the one it takes until it ends). */
    private final java.util.concurrent.ConcurrentLinkedDeque<Workspace> spare = new java.util.concurrent.ConcurrentLinkedDeque<>();
    private static final int MAX_SPARE = 2;

    /** The blocks' packed Linear copies, dropped by {@link #weightsChanged()}. */
    private final List<Linear.Prepacked> packs = new ArrayList<>();
    /** Small tensors (biases, norms, tokens) are the store's own arrays where it holds float arrays ({@link #view}). */
    private final boolean shared;

    private DinoVisionTransformer(ModelConfig cfg, TensorStore sd, AutoCloseable owner, boolean shared) {
        this.cfg = cfg;
        this.owner = owner;
        this.shared = shared;
        int d = cfg.embedDim(), pp = cfg.inChans() * cfg.patchSize() * cfg.patchSize();
        patchEmbed = new PatchEmbed(new Linear(w(sd, "patch_embed.proj.weight"), vec(sd, "patch_embed.proj.bias"), pp, d),
                cfg.patchSize(), cfg.inChans());
        clsToken = vec(sd, "cls_token");
        registerTokens = cfg.numRegisterTokens() > 0 ? vec(sd, "register_tokens") : new float[0];
        maskToken = vec(sd, "mask_token");
        posEmbed = vec(sd, "pos_embed");
        float eps = (float) cfg.layerNormEps();
        boolean prepack = prepack(cfg);
        blocks = new Block[cfg.depth()];
        int h = cfg.ffnHidden();
        for (int i = 0; i < blocks.length; i++) {
            String b = "blocks." + i + ".";
            Attention attn = new Attention(
                    new Linear(w(sd, b + "attn.qkv.weight"), cfg.qkvBias() ? vec(sd, b + "attn.qkv.bias") : null, d, 3 * d, pack(prepack)),
                    new Linear(w(sd, b + "attn.proj.weight"), cfg.projBias() ? vec(sd, b + "attn.proj.bias") : null, d, d, pack(prepack)),
                    cfg.numHeads());
            Ffn ffn = cfg.swiglu()
                    ? new SwiGLUFFN(new Linear(w(sd, b + "mlp.w12.weight"), opt(sd, b + "mlp.w12.bias"), d, 2 * h, pack(prepack)),
                            new Linear(w(sd, b + "mlp.w3.weight"), opt(sd, b + "mlp.w3.bias"), h, d, pack(prepack)))
                    : new Mlp(new Linear(w(sd, b + "mlp.fc1.weight"), opt(sd, b + "mlp.fc1.bias"), d, h, pack(prepack)),
                            new Linear(w(sd, b + "mlp.fc2.weight"), opt(sd, b + "mlp.fc2.bias"), h, d, pack(prepack)));
            blocks[i] = new Block(ln(sd, b + "norm1", eps), attn, opt(sd, b + "ls1.gamma"), ln(sd, b + "norm2", eps), ffn,
                    opt(sd, b + "ls2.gamma"));
        }
        norm = ln(sd, "norm", eps);
    }

    /**
     * Builds the model from an official (hub-layout) state dict, strictly: any missing, unexpected or mis-shaped
     * key is an error naming it. Large matrices stay in {@code sd}'s memory (mapped file); {@code owner} (may be
     * null) is closed with the model. Every way to a model comes through here, so here a JVM without the Vector
     * API is told which flag it lacks (an {@link IllegalStateException}) before any forward can fail on it.
     */
    public static DinoVisionTransformer fromStateDict(ModelConfig cfg, TensorStore sd, AutoCloseable owner) {
        VectorApi.require();
        StateDictSpec.check(cfg, sd);
        return new DinoVisionTransformer(cfg, sd, owner, false);
    }

    /**
     * As {@link #fromStateDict} with every weight the store's own memory, small tensors included where they are whole
     * float arrays on the heap (a trainer's parameters): changed in place (the EMA of a teacher), they are the model's
     * weights once {@link #weightsChanged()} is called, with no model built again.
     */
    public static DinoVisionTransformer view(ModelConfig cfg, TensorStore sd) {
        VectorApi.require();
        StateDictSpec.check(cfg, sd);
        return new DinoVisionTransformer(cfg, sd, null, true);
    }

    /**
     * The weights of a {@link #view} were changed in place: drops what was derived from them (the blocks' packed Linear
     * copies and the resampled position embeddings, made again by the next call).
     */
    public void weightsChanged() {
        for (Linear.Prepacked p : packs) p.clear();
        posCache.clear();
    }

    /**
     * Whether the blocks' Linear weights get a packed copy (see {@link Linear}): -Ddino4j.prepack=true|false, by
     * default when that copy is at most 1 GB (ViT-S and ViT-B; ViT-L and ViT-g keep packing per call).
     */
    static boolean prepack(ModelConfig cfg) {
        String p = System.getProperty("dino4j.prepack", "auto").trim();
        if (p.equals("true") || p.equals("false")) return Boolean.parseBoolean(p);
        long d = cfg.embedDim(), h = cfg.ffnHidden();
        long bytes = 4L * cfg.depth() * (4 * d * d + (cfg.swiglu() ? 3 : 2) * d * h);
        return bytes <= (1L << 30);
    }

    private Linear.Prepacked pack(boolean prepack) {
        if (!prepack) return null;
        Linear.Prepacked p = new Linear.Prepacked();
        packs.add(p);
        return p;
    }

    private static MemorySegment w(TensorStore sd, String k) {
        return sd.get(k).f32();
    }

    private float[] vec(TensorStore sd, String k) {
        var e = sd.get(k);
        if (shared && e.dtype() == org.dino4j.io.DType.F32 && e.data().heapBase().orElse(null) instanceof float[] a
                && e.data().address() == 0 && (long) a.length * 4 == e.data().byteSize())
            return a;
        return e.toFloatArray();
    }

    private float[] opt(TensorStore sd, String k) {
        return sd.contains(k) ? vec(sd, k) : null;
    }

    private LayerNorm ln(TensorStore sd, String prefix, float eps) {
        return new LayerNorm(vec(sd, prefix + ".weight"), vec(sd, prefix + ".bias"), eps);
    }

    public ModelConfig config() {
        return cfg;
    }

    public int embedDim() {
        return cfg.embedDim();
    }

    public int depth() {
        return blocks.length;
    }

    /** The official forward_features outputs (x_norm_clstoken, x_norm_regtokens, x_norm_patchtokens, x_prenorm, masks). */
    public record Features(Tensor xNormClstoken, Tensor xNormRegtokens, Tensor xNormPatchtokens, Tensor xPrenorm,
                           Tensor masks) {
        /** The outputs under the official dict keys. */
        public Map<String, Tensor> asMap() {
            var m = new java.util.LinkedHashMap<String, Tensor>();
            m.put("x_norm_clstoken", xNormClstoken);
            m.put("x_norm_regtokens", xNormRegtokens);
            m.put("x_norm_patchtokens", xNormPatchtokens);
            m.put("x_prenorm", xPrenorm);
            return m;
        }
    }

    /** One entry of get_intermediate_layers: patch tokens (B, N, D) or reshaped (B, D, H/p, W/p); cls (B, D) if asked. */
    public record Layer(Tensor patch, Tensor cls) {}

    /** forward_features(x, masks): pixels (B, C, H, W); masks (B, N) with non-zero = masked, or null. */
    public Features forwardFeatures(Tensor pixels, Tensor masks) {
        Run r = run(pixels, masks, new boolean[blocks.length], false);
        int b = r.batch, t = r.tokens, d = cfg.embedDim(), nr = cfg.numRegisterTokens(), n = t - 1 - nr;
        float[] xn = new float[r.x.length];
        norm.forward(r.x, b * t, xn);
        float[] cls = new float[b * d], reg = new float[b * nr * d], pt = new float[b * n * d];
        for (int i = 0; i < b; i++) {
            System.arraycopy(xn, i * t * d, cls, i * d, d);
            System.arraycopy(xn, (i * t + 1) * d, reg, i * nr * d, nr * d);
            System.arraycopy(xn, (i * t + 1 + nr) * d, pt, i * n * d, n * d);
        }
        return new Features(new Tensor(cls, b, d), new Tensor(reg, b, nr, d), new Tensor(pt, b, n, d),
                new Tensor(r.x, b, t, d), masks);
    }

    public Features forwardFeatures(Tensor pixels) {
        return forwardFeatures(pixels, null);
    }

    /** {@code model(x)} of the official code: the final-normed CLS token (B, D). */
    public Tensor forward(Tensor pixels) {
        return forwardFeatures(pixels).xNormClstoken();
    }

    /** get_intermediate_layers with n = the last {@code n} blocks. */
    public List<Layer> intermediateLayers(Tensor pixels, int n, boolean reshape, boolean returnClassToken, boolean norm) {
        return intermediateLayers(pixels, lastBlocks(n), reshape, returnClassToken, norm);
    }

    /** The 0-based indices of the last n blocks, as get_intermediate_layers with an int n takes them. */
    public int[] lastBlocks(int n) {
        if (n < 1 || n > blocks.length) throw new IllegalArgumentException("n must be in [1, " + blocks.length + "], got " + n);
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) idx[i] = blocks.length - n + i;
        return idx;
    }

    /** get_intermediate_layers with n = a list of 0-based block indices (returned in ascending block order, as the official loop). */
    public List<Layer> intermediateLayers(Tensor pixels, int[] blockIndices, boolean reshape, boolean returnClassToken,
                                          boolean norm) {
        boolean[] take = new boolean[blocks.length];
        for (int i : blockIndices) {
            if (i < 0 || i >= blocks.length)
                throw new IllegalArgumentException("block index " + i + " out of range [0, " + blocks.length + ")");
            take[i] = true;
        }
        Run r = run(pixels, null, take, false);
        int b = r.batch, t = r.tokens, d = cfg.embedDim(), nr = cfg.numRegisterTokens(), n = t - 1 - nr;
        int gh = pixels.size(2) / cfg.patchSize(), gw = pixels.size(3) / cfg.patchSize();
        List<Layer> out = new ArrayList<>();
        for (int li = 0; li < blocks.length; li++) {
            if (!take[li]) continue;
            float[] x = r.layers.get(li);
            if (norm) this.norm.forward(x, b * t, x);
            float[] cls = new float[b * d], pt = new float[b * n * d];
            for (int i = 0; i < b; i++) {
                System.arraycopy(x, i * t * d, cls, i * d, d);
                if (reshape) { // (N, D) -> (D, gh, gw)
                    int src = (i * t + 1 + nr) * d, dst = i * n * d;
                    for (int p = 0; p < n; p++)
                        for (int c = 0; c < d; c++) pt[dst + c * n + p] = x[src + p * d + c];
                } else System.arraycopy(x, (i * t + 1 + nr) * d, pt, i * n * d, n * d);
            }
            Tensor patch = reshape ? new Tensor(pt, b, d, gh, gw) : new Tensor(pt, b, n, d);
            out.add(new Layer(patch, returnClassToken ? new Tensor(cls, b, d) : null));
        }
        return out;
    }

    /** Hidden states as Hugging Face returns them: the embeddings, then every block's output (B, T, D). */
    public List<Tensor> hiddenStates(Tensor pixels, Tensor masks) {
        boolean[] all = new boolean[blocks.length];
        java.util.Arrays.fill(all, true);
        Run r = run(pixels, masks, all, true);
        List<Tensor> hs = new ArrayList<>();
        hs.add(new Tensor(r.embeddings, r.batch, r.tokens, cfg.embedDim()));
        for (int i = 0; i < blocks.length; i++) hs.add(new Tensor(r.layers.get(i), r.batch, r.tokens, cfg.embedDim()));
        return hs;
    }

    /** Final LayerNorm applied to (rows, D) data, e.g. to a hidden state. */
    public Tensor applyNorm(Tensor x) {
        float[] out = new float[x.numel()];
        norm.forward(x.data(), x.numel() / cfg.embedDim(), out);
        return new Tensor(out, x.shape());
    }

    private record Run(float[] x, int batch, int tokens, List<float[]> layers, float[] embeddings) {}

    private Run run(Tensor pixels, Tensor masks, boolean[] collect, boolean keepEmbeddings) {
        if (pixels.dim() != 4 || pixels.size(1) != cfg.inChans())
            throw new IllegalArgumentException("expected pixels of shape (B, " + cfg.inChans() + ", H, W), got "
                    + java.util.Arrays.toString(pixels.shape()));
        int b = pixels.size(0), hgt = pixels.size(2), wid = pixels.size(3), p = cfg.patchSize();
        if (hgt % p != 0 || wid % p != 0 || hgt == 0 || wid == 0)
            throw new IllegalArgumentException("image size " + hgt + "x" + wid + " is not a positive multiple of the patch size " + p);
        int gh = hgt / p, gw = wid / p, n = gh * gw, nr = cfg.numRegisterTokens(), t = 1 + nr + n, d = cfg.embedDim();
        if (masks != null && (masks.dim() != 2 || masks.size(0) != b || masks.size(1) != n))
            throw new IllegalArgumentException("masks must be (" + b + ", " + n + "), got " + java.util.Arrays.toString(masks.shape()));
        float[] x = new float[b * t * d];
        float[] pos = posEmbedFor(gh, gw, hgt, wid);
        float[] px = pixels.data();
        for (int i = 0; i < b; i++) {
            int row0 = i * t;
            patchEmbed.forward(px, i, hgt, wid, x, row0 + 1 + nr);
            for (int c = 0; c < d; c++) x[row0 * d + c] = clsToken[c] + pos[c];
            System.arraycopy(registerTokens, 0, x, (row0 + 1) * d, nr * d);
            addPositions(x, (row0 + 1 + nr) * d, pos, masks == null ? null : masks.data(), i * n, n, d);
        }
        float[] emb = keepEmbeddings ? x.clone() : null;
        List<float[]> layers = new ArrayList<>(java.util.Collections.nCopies(blocks.length, (float[]) null));
        Workspace ws = spare.pollFirst();
        if (ws == null || ws.rows() < b * t) ws = new Workspace(b * t, d, cfg.ffnHidden(), cfg.swiglu());
        for (int li = 0; li < blocks.length; li++) {
            blocks[li].forward(x, b, t, ws);
            if (collect[li]) layers.set(li, x.clone());
        }
        if (spare.size() < MAX_SPARE) spare.offerFirst(ws);
        return new Run(x, b, t, layers, emb);
    }

    /**
     * x[o + j·d + c] = (masked j ? mask token : x[...]) + pos[(1 + j)·d + c] for the n patch tokens of one image (mask
     * value j at masks[m0 + j]). A method of its own: this loop over n·d values inside run had C2 compile all of run
     * on stack in a one-photo run, time the one C2 thread then lacked for the kernels (2026-12-07).
     */
    private void addPositions(float[] x, int o, float[] pos, float[] masks, int m0, int n, int d) {
        for (int j = 0; j < n; j++, o += d) {
            boolean masked = masks != null && masks[m0 + j] != 0f;
            for (int c = 0; c < d; c++) x[o + c] = (masked ? maskToken[c] : x[o + c]) + pos[(1 + j) * d + c];
        }
    }

    /**
     * interpolate_pos_encoding: the stored (1 + M², D) table when the input is square at the native grid, else
     * the patch part resampled to (gh, gw) — offset > 0: scale-factor path, (g + offset) / M, classic bicubic;
     * offset 0: size path, antialiased or not as configured.
     */
    private float[] posEmbedFor(int gh, int gw, int h, int w) {
        int m = cfg.posGrid(), d = cfg.embedDim();
        if (gh * gw == m * m && h == w) return posEmbed;
        return posCache.computeIfAbsent(((long) gh << 32) | gw, key -> {
            float[] grid = java.util.Arrays.copyOfRange(posEmbed, d, posEmbed.length);
            double off = cfg.interpolateOffset();
            double sh = off != 0 ? (gh + off) / m : Double.NaN, sw = off != 0 ? (gw + off) / m : Double.NaN;
            float[] r = Interpolate.bicubic(grid, m, m, d, gh, gw, sh, sw, cfg.interpolateAntialias());
            float[] out = new float[(1 + gh * gw) * d];
            System.arraycopy(posEmbed, 0, out, 0, d);
            System.arraycopy(r, 0, out, d, r.length);
            return out;
        });
    }

    /** Closes the owner given at creation (the mapped file); the scratch memory kept for the next call is dropped. */
    @Override
    public void close() {
        spare.clear();
        if (owner != null) {
            try {
                owner.close();
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        }
    }
}
