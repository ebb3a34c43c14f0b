package org.dino4j.train.optim;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.dino4j.train.autograd.Var;

/**
 * The official get_params_groups_with_decay (dinov2/utils/param_groups.py), per student submodule: layer-wise lr
 * decay by block ({@code decay^(L + 1 - layer_id)}; patch/position embeddings, mask and cls tokens, registers at layer
 * 0; the final norm at L + 1), {@code patch_embed} lr times {@code patchEmbedLrMult}, no weight decay for biases,
 * norms and LayerScale gammas, and the prototype layer ({@code last_layer}) on its own lr schedule.
 */
public final class ParamGroups {
    private ParamGroups() {}

    /** One parameter with its multipliers; {@code name} is the full name (e.g. backbone.blocks.0.attn.qkv.weight). */
    public record Param(String name, Var var, double lrMultiplier, double wdMultiplier, boolean lastLayer) {}

    /**
     * @param prefix the submodule's name ("backbone", "dino_head", ...), prepended with a dot to the full names
     * @param params names relative to the submodule, as the official code sees them
     * @param nBlocks the backbone's blocks; 0 for heads (multiplier 1)
     */
    public static List<Param> of(String prefix, Map<String, Var> params, int nBlocks, double layerDecay, double patchEmbedLrMult) {
        List<Param> out = new ArrayList<>();
        for (var e : params.entrySet()) {
            String name = e.getKey();
            double lr = Math.pow(layerDecay, nBlocks + 1 - layerId(name, nBlocks));
            if (name.contains("patch_embed")) lr *= patchEmbedLrMult;
            double wd = name.endsWith(".bias") || name.contains("norm") || name.contains("gamma") ? 0.0 : 1.0;
            out.add(new Param(prefix + "." + name, e.getValue(), lr, wd, name.contains("last_layer")));
        }
        return out;
    }

    /** get_vit_lr_decay_rate's layer_id for a name relative to the module (force_is_backbone = nBlocks > 0). */
    static int layerId(String name, int nBlocks) {
        if (nBlocks <= 0) return nBlocks + 1;
        if (name.contains("pos_embed") || name.contains("patch_embed") || name.contains("mask_token")
                || name.contains("cls_token") || name.contains("register_tokens")) return 0;
        int b = name.indexOf("blocks.");
        if (b >= 0 && !name.contains("residual.")) {
            String[] parts = name.substring(b).split("\\.");
            return Integer.parseInt(parts[1]) + 1;
        }
        return nBlocks + 1;
    }
}
