package org.dino4j.cli;

import java.nio.file.Path;
import java.util.List;

import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** What classify, depth and segment share: a backbone, a released head, images, decoding and threads. */
abstract class HeadCommand {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    HeadOptions headOptions;

    @Mixin
    DecodeOptions decode;

    @Mixin
    ThreadsOption threads;

    @Parameters(arity = "1..*", paramLabel = "IMAGE", description = "Image files, folders of images, or list files (one path per line).")
    List<Path> images;
}
