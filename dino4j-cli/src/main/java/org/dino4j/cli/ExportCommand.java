package org.dino4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;
import org.dino4j.io.TorchPthWriter;
import org.dino4j.model.ModelConfig;
import org.dino4j.model.StateDictSpec;
import org.dino4j.train.ssl.SslConfig;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "export", mixinStandardHelpOptions = true,
        description = {"Writes a run's backbone in the official hub layout, as a safetensors or pth file.",
                "Writes the backbone of a `dino4j train` or `dino4j distill` run in the official hub layout "
                + "(the keys of DinoVisionTransformer.state_dict(), block_chunks = 0): the teacher of a training run, "
                + "the EMA student of a distillation run.",
                "A .safetensors output carries the model config in its metadata (`dino4j embed --weights FILE` needs "
                        + "nothing else); a .pth output is what torch.save(state_dict) writes, with the config as JSON beside "
                        + "it (FILE.json), for PyTorch's DinoVisionTransformer(**config).load_state_dict(..., strict=True)."})
final class ExportCommand implements Callable<Integer> {
    @Parameters(paramLabel = "RUN", description = "A run folder (its newest checkpoint is exported) or one ckpt-*.safetensors.")
    Path run;

    @Option(names = "--output", required = true, paramLabel = "FILE.safetensors|FILE.pth",
            description = "The backbone file: .safetensors (config in its metadata) or .pth (config in FILE.pth.json).")
    Path output;

    @Option(names = "--student", description = "Export the student instead of the teacher / EMA.")
    boolean student;

    @Override
    public Integer call() throws IOException {
        Path ckpt = org.dino4j.train.ssl.TrainingRun.newestCheckpoint(run);
        Path yaml = ckpt.resolveSibling("config.yaml");
        if (!Files.exists(yaml)) throw new IllegalArgumentException(yaml + ": missing (the run's configuration)");
        ModelConfig cfg = SslConfig.load(null, yaml, List.of()).trainer().model();
        String name = output.getFileName().toString().toLowerCase(Locale.ROOT);
        boolean pth = name.endsWith(".pth") || name.endsWith(".pt");
        if (!pth && !name.endsWith(".safetensors"))
            throw new IllegalArgumentException(output + ": the output must end in .safetensors or .pth");
        String prefix = (student ? "student" : "teacher") + "/backbone.";
        try (TensorStore f = SafeTensors.read(ckpt)) {
            TensorStore bb = f.withPrefix(prefix);
            if (bb.names().isEmpty()) throw new IllegalArgumentException(ckpt + ": no " + prefix + "* tensors (not a dino4j training checkpoint)");
            StateDictSpec.check(cfg, bb); // the names and shapes the official model expects, nothing else
            List<TensorEntry> out = new ArrayList<>(bb.tensors().values());
            if (output.toAbsolutePath().getParent() != null) Files.createDirectories(output.toAbsolutePath().getParent());
            if (pth) {
                TorchPthWriter.write(output, out);
                Path json = output.resolveSibling(output.getFileName() + ".json");
                Files.writeString(json, cfg.toJson());
                System.out.println("wrote " + output + " (" + out.size() + " tensors) and its config " + json);
            } else {
                SafeTensors.write(output, out, Map.of("config", cfg.toJson(), "source", ckpt.toString(),
                        "what", student ? "student backbone" : "teacher backbone"));
                System.out.println("wrote " + output + " (" + out.size() + " tensors, config in the metadata)");
            }
        }
        return 0;
    }
}
