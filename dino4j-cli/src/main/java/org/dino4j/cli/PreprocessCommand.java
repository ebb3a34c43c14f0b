package org.dino4j.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import org.dino4j.data.ImageDecoder;
import org.dino4j.data.Preprocess;
import org.dino4j.data.RgbImage;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorEntry;
import org.dino4j.tensor.Tensor;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "preprocess", mixinStandardHelpOptions = true,
        description = {"Writes one image through the official eval transform, as a tensor.",
                "Decodes an image as PIL's convert(\"RGB\") (EXIF orientation applied) and applies the official eval "
                + "transform: PIL bicubic resize of the shorter side, centre crop, /255, ImageNet mean/std.",
                "Writes the tensor pixel_values (1, 3, H, W) to a safetensors file."})
final class PreprocessCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE", description = "JPEG, PNG, WebP, BMP or GIF.")
    Path image;

    @Option(names = "--output", required = true, paramLabel = "FILE", description = "Output .safetensors.")
    Path output;

    @Option(names = "--resize", defaultValue = "256", description = "Shorter side after resizing; 0 = no resize (default: ${DEFAULT-VALUE}).")
    int resize;

    @Option(names = "--crop", defaultValue = "224", description = "Centre crop side; 0 = no crop (default: ${DEFAULT-VALUE}).")
    int crop;

    @Option(names = "--pad", defaultValue = "0", paramLabel = "MULTIPLE",
            description = "Zero-pad the normalised image to a multiple of this (official CenterPadding, e.g. 14); "
                    + "use with --resize 0 --crop 0 for the depth-style input (default: none).")
    int pad;

    @picocli.CommandLine.Mixin
    DecodeOptions decode;

    @Override
    public Integer call() throws IOException {
        RgbImage im = decode.decoder().decode(image);
        Tensor x = new Preprocess(resize, crop, pad).apply(im);
        long[] shape = {1, 3, x.size(2), x.size(3)};
        SafeTensors.write(output, List.of(TensorEntry.of("pixel_values", shape, x.data())),
                Map.of("source", image.getFileName().toString(),
                        "transform", "resize " + resize + ", crop " + crop + ", pad " + pad + ", ImageNet mean/std"));
        System.out.printf("%s: %dx%d -> pixel_values %dx%d -> %s%n", image, im.width(), im.height(), shape[2], shape[3], output);
        return 0;
    }
}
