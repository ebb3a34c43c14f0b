package org.dino4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.dino4j.train.ssl.SslConfig;
import org.dino4j.train.ssl.SslTrainer;
import org.dino4j.train.ssl.TrainingRun;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "distill", mixinStandardHelpOptions = true,
        description = {"Distils a trained backbone into a smaller one (paper section 5).",
                "A trained, frozen teacher gives the targets; a smaller student "
                + "learns them with the DINO, iBOT and KoLeo losses, without masking or drop-path, iBOT on every patch "
                + "of the global crops; the EMA of the student is the result (export it with `dino4j export`).",
                "The student is configured as for train (--preset, --config, key=value, e.g. student.embed_dim=96 "
                        + "student.num_heads=3); its head gets the teacher's number of prototypes. Output, checkpoints, "
                        + "--resume and the k-NN evaluation work as for train."})
final class DistillCommand extends TrainCommand {
    @Option(names = "--teacher", required = true, paramLabel = "RUN",
            description = "A `dino4j train` run folder (its newest checkpoint) or one of its ckpt-*.safetensors files.")
    Path teacher;

    @Override
    SslTrainer.Frozen frozenTeacher(List<String> overrides) {
        Path ckpt;
        try {
            ckpt = TrainingRun.newestCheckpoint(teacher);
        } catch (IOException e) {
            throw new IllegalArgumentException(teacher + ": cannot list: " + e.getMessage());
        }
        Path yaml = ckpt.resolveSibling("config.yaml");
        if (!Files.exists(yaml)) throw new IllegalArgumentException(yaml + ": missing (the teacher run's configuration)");
        SslConfig tc = SslConfig.load(null, yaml, List.of());
        SslTrainer.Config cfg = tc.trainer();
        overrides.addFirst("dino.head_n_prototypes=" + cfg.prototypes()); // the user's own value, if any, comes later and wins
        System.out.println("teacher: " + ckpt + " (" + cfg.model().embedDim() + " wide, " + cfg.model().depth() + " blocks)");
        return SslTrainer.frozenFrom(ckpt, cfg);
    }
}
