package org.dino4j.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.DinoVisionTransformer.Features;
import org.dino4j.model.DinoVisionTransformer.Layer;
import org.dino4j.tensor.Tensor;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "features", mixinStandardHelpOptions = true,
        description = {"Runs the backbone on the image tensors of a safetensors file; writes forward_features.",
                "Per (B,3,H,W) tensor NAME: NAME/x_norm_clstoken, NAME/x_norm_regtokens, NAME/x_norm_patchtokens, NAME/x_prenorm, and with",
                "--intermediate N, NAME/intermediate{j}/patch_reshaped and NAME/intermediate{j}/cls",
                "(get_intermediate_layers(n=N, reshape=True, return_class_token=True, norm=True))."})
final class FeaturesCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--input", required = true, paramLabel = "in.safetensors", description = "Input tensors (B,3,H,W), float.")
    Path input;

    @Option(names = "--output", required = true, paramLabel = "out.safetensors", description = "Where to write the outputs (atomically).")
    Path output;

    @Option(names = "--intermediate", paramLabel = "N", description = "Also write the last N blocks' outputs.")
    Integer intermediate;

    @Override
    public Integer call() throws Exception {
        try (DinoVisionTransformer model = modelOptions.load(); TensorStore in = SafeTensors.read(input)) {
            List<TensorEntry> out = new ArrayList<>();
            List<String> skipped = new ArrayList<>();
            int c = model.config().inChans();
            for (TensorEntry e : in.tensors().values()) {
                long[] s = e.shape();
                boolean floaty = switch (e.dtype()) { case F32, F16, BF16, F64 -> true; default -> false; };
                if (s.length != 4 || s[1] != c || !floaty) {
                    skipped.add(e.name());
                    continue;
                }
                Tensor x = new Tensor(e.toFloatArray(), e.intShape());
                String n = e.name() + "/";
                long t0 = System.nanoTime();
                Features f;
                try {
                    f = model.forwardFeatures(x);
                } catch (IllegalArgumentException ex) {
                    throw new IllegalArgumentException(input + ": tensor '" + e.name() + "': " + ex.getMessage());
                }
                for (Map.Entry<String, Tensor> o : f.asMap().entrySet()) out.add(entry(n + o.getKey(), o.getValue()));
                if (intermediate != null) {
                    List<Layer> layers = model.intermediateLayers(x, intermediate, true, true, true);
                    for (int j = 0; j < layers.size(); j++) {
                        out.add(entry(n + "intermediate" + j + "/patch_reshaped", layers.get(j).patch()));
                        out.add(entry(n + "intermediate" + j + "/cls", layers.get(j).cls()));
                    }
                }
                System.err.printf("%s %s: %.1f ms%n", e.name(), java.util.Arrays.toString(s), (System.nanoTime() - t0) / 1e6);
            }
            if (out.isEmpty())
                throw new IllegalArgumentException(input + ": no (B," + c + ",H,W) float tensor found");
            if (!skipped.isEmpty()) System.err.println("skipped (not (B," + c + ",H,W) float): " + String.join(", ", skipped));
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("config", model.config().toJson());
            meta.put("producer", "dino4j features");
            SafeTensors.write(output, out, meta);
            System.err.println("wrote " + out.size() + " tensors to " + output);
        }
        return 0;
    }

    private static TensorEntry entry(String name, Tensor t) {
        long[] shape = new long[t.dim()];
        for (int i = 0; i < shape.length; i++) shape[i] = t.size(i);
        return new TensorEntry(name, org.dino4j.io.DType.F32, shape, java.lang.foreign.MemorySegment.ofArray(t.data()));
    }
}
