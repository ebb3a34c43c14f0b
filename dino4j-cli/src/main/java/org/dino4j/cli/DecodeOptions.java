package org.dino4j.cli;

import org.dino4j.data.ImageDecoder;

import picocli.CommandLine.Option;

/** --max-pixels, shared by the commands that decode images. */
public final class DecodeOptions {
    @Option(names = "--max-pixels", defaultValue = "178956970",
            description = "Refuse images whose header claims more pixels (PIL's bomb limit; default: ${DEFAULT-VALUE}).")
    long maxPixels;

    ImageDecoder decoder() {
        return new ImageDecoder(maxPixels);
    }
}
