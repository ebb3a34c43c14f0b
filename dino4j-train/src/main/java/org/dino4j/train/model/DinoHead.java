package org.dino4j.train.model;

import java.util.LinkedHashMap;
import java.util.Map;

import org.dino4j.train.autograd.Tape;
import org.dino4j.train.autograd.Var;

/**
 * The official DINOHead: mlp (Linear, GELU, ..., Linear to the bottleneck) -> F.normalize(eps 1e-12) ->
 * weight-normalised last layer without bias (last_layer.weight_g [K, 1], last_layer.weight_v [K, bottleneck]).
 */
public final class DinoHead {
    private final Map<String, Var> params;
    private final int nlayers;

    public DinoHead(Map<String, Var> params, int nlayers) {
        this.params = new LinkedHashMap<>(params);
        this.nlayers = nlayers;
    }

    public Map<String, Var> params() {
        return params;
    }

    public Var forward(Tape t, Var x) {
        x = t.linear(x, params.get("mlp.0.weight"), params.get("mlp.0.bias"));
        for (int i = 1; i < nlayers; i++) // the GELU between two Linears applied as the next one packs its input: never kept
            x = t.geluLinear(x, params.get("mlp." + 2 * i + ".weight"), params.get("mlp." + 2 * i + ".bias"));
        x = t.normalize(x, 1e-12f);
        Var w = t.weightNorm(params.get("last_layer.weight_g"), params.get("last_layer.weight_v"));
        return t.linear(x, w, null);
    }
}
