package org.dino4j.data;

import java.nio.file.Path;

/**
 * One input of a dataset: an id for the manifest (a path, or {@code file#index} inside a container), its class
 * (-1 and "" when unlabelled) and where its pixels come from. Pixels are loaded on demand so that a dataset of a
 * million files costs a million small records, not a million images.
 */
public record Sample(String id, int label, String className, Source source) {
    /** Where the pixels are. */
    public sealed interface Source permits FileSource, BytesSource, PixelSource, ViewSource {
        RgbImage load(ImageDecoder decoder);
    }

    /** An image file, decoded when loaded. */
    public record FileSource(Path file) implements Source {
        @Override
        public RgbImage load(ImageDecoder decoder) {
            return decoder.decode(file);
        }
    }

    /**
     * An encoded image in memory (a request body, a database blob), decoded when loaded as a file would be; {@code id}
     * names it in errors.
     */
    public record BytesSource(String id, byte[] bytes) implements Source {
        @Override
        public RgbImage load(ImageDecoder decoder) {
            return decoder.decode(Path.of(id), bytes);
        }
    }

    /** Pixels already in memory (e.g. a row of an IDX file). */
    public record PixelSource(RgbImage image) implements Source {
        @Override
        public RgbImage load(ImageDecoder decoder) {
            return image;
        }
    }

    /** Another source's image seen through a {@link View} (copy detection queries with crops and mirror images). */
    public record ViewSource(Source inner, View view) implements Source {
        @Override
        public RgbImage load(ImageDecoder decoder) {
            return view.apply(inner.load(decoder));
        }
    }
}
