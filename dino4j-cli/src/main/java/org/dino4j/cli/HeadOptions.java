package org.dino4j.cli;

import java.nio.file.Path;

import org.dino4j.heads.HeadWeights;

import picocli.CommandLine.Option;

/** Where a released head comes from: a file, or random weights of the released shape. */
public final class HeadOptions {
    @Option(names = "--head-file", paramLabel = "FILE",
            description = "The head's weights as Meta publishes them (.pth, or the same tensors in .safetensors).")
    Path file;

    @Option(names = "--random-head", paramLabel = "SEED",
            description = "No head file: random weights of the released shape (for trying the command; the answers mean nothing).")
    Long randomSeed;

    /** The head file, or the random head {@code random} makes; {@code what} names the head for the error. */
    HeadWeights open(String what, java.util.function.LongFunction<HeadWeights> random) {
        if (file != null && randomSeed != null) throw new IllegalArgumentException("give --head-file or --random-head, not both");
        if (randomSeed != null) {
            System.err.println("note: random head (seed " + randomSeed + "): the answers mean nothing");
            return random.apply(randomSeed);
        }
        if (file == null)
            throw new IllegalArgumentException("--head-file is required for the " + what + " (or --random-head SEED to try the command)");
        return HeadWeights.open(file);
    }
}
