package org.dino4j.heads;

import static org.dino4j.heads.HeadsConformance.add;
import static org.dino4j.heads.HeadsConformance.tensor;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.dino4j.conformance.Conformance.Check;
import org.dino4j.conformance.Conformance.Extension;
import org.dino4j.conformance.Conformance.Kind;
import org.dino4j.heads.Grids.Grid;
import org.dino4j.io.TensorStore;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.tensor.Tensor;

/**
 * {@code hf_heads_tiny} in {@code dino4j conformance}: Hugging Face's {@code Dinov2[WithRegisters]ForImageClassification}
 * and {@code DPTForDepthEstimation}, loaded from the model directories beside the fixture ({@code <group>/model_dir} in
 * its metadata) and run with {@link Semantics#HUGGING_FACE}: logits, the linear layer's input and every hidden state of
 * both classifiers; the DPT's depth and what HF's hooks saw on the way (backbone feature maps, reassemble, neck convs,
 * fusion, first head conv), and the depth of HF's image processor's output, whose padding is Meta's CenterPadding.
 * Relative bar 1e-4, as {@link HeadsConformance}.
 */
public final class HfHeadsConformance implements Extension {
    static final String[] CLASSIFIERS = {"cls", "regcls"};
    static final String[] DPT_TRACE = {"reassemble", "neck_convs", "fusion"};
    /** DPTImageProcessor of the conversion: ImageNet mean and std in 0-255 units, no rescale. */
    static final double[] MEAN = {123.675, 116.28, 103.53}, STD = {58.395, 57.12, 57.375};

    @Override
    public Kind kind() {
        return Kind.HF_HEADS;
    }

    @Override
    public void check(Path fixture, TensorStore f, List<Check> checks) {
        String fx = fixture.getFileName().toString();
        Path dir = fixture.toAbsolutePath().getParent();
        for (String tag : CLASSIFIERS) {
            String md = f.metadata().get(tag + "/model_dir");
            if (md == null) continue;
            Classifier c = Classifier.loadHuggingFace(dir.resolve(md), Semantics.HUGGING_FACE);
            try {
                classifier(fx, "hf-dir " + md, tag, c, f, checks);
            } finally {
                c.backbone().close();
            }
        }
        String md = f.metadata().get("dpt/model_dir");
        if (md != null) {
            Depther d = Depther.loadHuggingFace(dir.resolve(md), Semantics.HUGGING_FACE, null);
            try {
                dpt(fx, "hf-dir " + md, d, f, checks);
            } finally {
                d.backbone().close();
            }
        }
    }

    private static void classifier(String fx, String route, String tag, Classifier c, TensorStore f, List<Check> checks) {
        DinoVisionTransformer m = c.backbone();
        for (int i = 0; f.contains("cls/input" + i); i++) {
            Tensor x = tensor(f, "cls/input" + i);
            String o = tag + "/output" + i + "/";
            add(checks, fx, route, o + "logits", c.logits(x), f);
            add(checks, fx, route, o + "linear_input", c.linearInput(x), f);
            List<Tensor> hs = m.hiddenStates(Grids.floorCrop(x, m.config().patchSize()), null);
            add(checks, fx, route, o + "last_hidden_state", m.applyNorm(hs.getLast()), f);
            for (int j = 0; j < hs.size(); j++)
                if (f.contains(o + "hidden_states." + j)) add(checks, fx, route, o + "hidden_states." + j, hs.get(j), f);
        }
    }

    private static void dpt(String fx, String route, Depther d, TensorStore f, List<Check> checks) {
        for (int i = 0; f.contains("dpt/input" + i); i++) {
            Tensor x = tensor(f, "dpt/input" + i);
            String o = "dpt/output" + i + "/";
            add(checks, fx, route, o + "predicted_depth", squeeze(d.depth(x)), f);
            Grid[][] g = d.grids(x);
            for (int j = 0; j < g[0].length; j++) add(checks, fx, route, o + "feature_maps." + j, tokens(g, j), f);
            Map<String, Tensor> trace = trace((DptHead) d.decoder(), g);
            for (String k : DPT_TRACE)
                for (int j = 0; j < 4; j++) add(checks, fx, route, o + k + "." + j, trace.get(k + "." + j), f);
            add(checks, fx, route, o + "head.0", trace.get("head.0"), f);
        }
        if (f.contains("dpt/processor_image_u8")) {
            Tensor pv = Grids.centerPad(normalize(tensor(f, "dpt/processor_image_u8")), d.backbone().config().patchSize());
            add(checks, fx, route + " processor", "dpt/processor_pixel_values", pv, f);
            add(checks, fx, route + " processor", "dpt/processor_predicted_depth", squeeze(d.depth(pv)), f);
        }
    }

    /** (B, 1, h, w) → HF's (B, h, w). */
    private static Tensor squeeze(Tensor t) {
        return t.reshape(t.size(0), t.size(2), t.size(3));
    }

    /** Block j of every image as HF's feature map: (B, 1 + N, D), CLS first. */
    private static Tensor tokens(Grid[][] g, int j) {
        int b = g.length, n = g[0][j].h() * g[0][j].w(), d = g[0][j].dim();
        float[] out = new float[b * (1 + n) * d];
        for (int i = 0; i < b; i++) {
            System.arraycopy(g[i][j].cls(), 0, out, i * (1 + n) * d, d);
            System.arraycopy(g[i][j].patch(), 0, out, (i * (1 + n) + 1) * d, n * d);
        }
        return new Tensor(out, b, 1 + n, d);
    }

    /** The head's intermediate maps for every image, stacked as (B, C, h, w) like HF's hooks return them. */
    private static Map<String, Tensor> trace(DptHead head, Grid[][] g) {
        int b = g.length;
        Map<String, float[]> data = new LinkedHashMap<>();
        Map<String, int[]> shape = new LinkedHashMap<>();
        for (int i = 0; i < b; i++) {
            int img = i;
            head.forward(g[i], (k, m) -> {
                int hw = m.h() * m.w(), c = m.values().length / hw;
                float[] all = data.computeIfAbsent(k, z -> new float[b * c * hw]);
                shape.putIfAbsent(k, new int[] {b, c, m.h(), m.w()});
                for (int p = 0; p < hw; p++)
                    for (int ch = 0; ch < c; ch++) all[(img * c + ch) * hw + p] = m.values()[p * c + ch];
            });
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        data.forEach((k, v) -> out.put(k, new Tensor(v, shape.get(k))));
        return out;
    }

    /** DPTImageProcessor without resize or rescale: (u8 - mean) / std of an (H, W, 3) image → (1, 3, H, W). */
    static Tensor normalize(Tensor hwc) {
        int h = hwc.size(0), w = hwc.size(1);
        float[] in = hwc.data(), out = new float[3 * h * w];
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < h * w; p++) out[c * h * w + p] = (float) ((in[p * 3 + c] - MEAN[c]) / STD[c]);
        return new Tensor(out, 1, 3, h, w);
    }
}
