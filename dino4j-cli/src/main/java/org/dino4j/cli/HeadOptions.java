package org.dino4j.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Collectors;

import org.dino4j.hub.HubCache;
import org.dino4j.hub.HubHead;

import org.dino4j.heads.HeadWeights;

import picocli.CommandLine.Option;

/** Where a released head comes from: a file, or random weights of the released shape. */
public final class HeadOptions {
    @Option(names = "--head-file", paramLabel = "FILE|NAME",
            description = {"The head's weights as Meta publishes them (.pth, or the same tensors in .safetensors), a Hugging Face model directory",
                    "(Dinov2ForImageClassification, DPTForDepthEstimation: it brings its backbone, run as Meta's code runs it), or a released",
                    "head's name (dinov2_vits14_linear4, dinov2_vits14_nyu_dpt, ...: `dino4j models`) found in the caches.",
                    "Default with --model NAME: that backbone's released head for the options given, from the caches."})
    Path file;

    @Option(names = "--random-head", paramLabel = "SEED",
            description = "No head file: random weights of the released shape (for trying the command; the answers mean nothing).")
    Long randomSeed;

    /**
     * The head file, a released head found in the caches (named by --head-file, else {@code released}: the one the
     * command's options pick for the --model backbone, or null), or the random head {@code random} makes.
     */
    HeadWeights open(String what, java.util.function.LongFunction<HeadWeights> random, String released) {
        if (file != null && randomSeed != null) throw new IllegalArgumentException("give --head-file or --random-head, not both");
        if (randomSeed != null) {
            System.err.println("note: random head (seed " + randomSeed + "): the answers mean nothing");
            return random.apply(randomSeed);
        }
        if (file == null && released == null)
            throw new IllegalArgumentException("--head-file is required for the " + what
                    + " (or --model NAME of a hub backbone with its released head downloaded, or --random-head SEED to try the command)");
        String name = file != null ? file.toString() : released;
        if (file != null && (Files.exists(file) || !HubHead.isHeadName(name))) return HeadWeights.open(file);
        HubHead h = HubHead.of(name);
        HubCache cache = DownloadCommand.cache();
        Path p = cache.find(h).orElseThrow(() -> new IllegalArgumentException("the " + what + " " + h.name()
                + " is in no cache (looked in " + cache.places(h).stream().map(Path::toString).collect(Collectors.joining(", "))
                + "); run `dino4j download " + h.name() + "`, or give --head-file FILE"));
        return HeadWeights.open(p);
    }

    /** --head-file is a Hugging Face model directory (config.json + model.safetensors): it holds the backbone too. */
    boolean huggingFaceDir() {
        return file != null && Files.isDirectory(file) && Files.exists(file.resolve("config.json"));
    }

    /** Where a head came from, for messages. */
    String describe() {
        return file != null ? file.toString() : randomSeed != null ? "the random head" : "the released head";
    }
}
