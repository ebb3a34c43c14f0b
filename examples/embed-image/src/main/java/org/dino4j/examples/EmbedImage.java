package org.dino4j.examples;

import java.nio.file.Path;
import java.util.Arrays;

import org.dino4j.data.ImageDecoder;
import org.dino4j.data.ImageException;
import org.dino4j.data.Preprocess;
import org.dino4j.data.RgbImage;
import org.dino4j.io.CheckpointException;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.model.Dinov2;
import org.dino4j.model.ModelConfig;
import org.dino4j.tensor.Tensor;

/**
 * Image file to DINOv2 CLS vector, as the official code computes it: decode, {@code
 * make_classification_eval_transform()}, {@code forward_features(x)["x_norm_clstoken"]}.
 * <p>
 * {@code java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp ... org.dino4j.examples.EmbedImage
 * IMAGE [WEIGHTS]}; WEIGHTS: a hub {@code .pth}, a {@code .safetensors} or a Hugging Face model folder.
 */
public final class EmbedImage {
    public static void main(String[] args) {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: EmbedImage IMAGE [WEIGHTS]");
            System.exit(2);
        }
        Path weights = args.length < 2 || args[1].isBlank() ? null : Path.of(args[1]); // exec:exec passes -Dweights= as ""
        try {
            embed(Path.of(args[0]), weights);
        } catch (ImageException | CheckpointException | IllegalStateException e) {
            System.err.println("error: " + e.getMessage()); // one line naming the file, or the missing JVM flag
            System.exit(1);
        }
    }

    static void embed(Path imageFile, Path weights) {
        RgbImage image = new ImageDecoder().decode(imageFile); // as PIL: EXIF orientation applied, RGB
        Tensor pixels = Preprocess.EVAL.apply(image); // resize 256 (bicubic), centre crop 224, ImageNet mean/std: (1, 3, 224, 224)
        // No weights: ViT-S/14's shape with random weights, so that the example runs without a download
        try (DinoVisionTransformer model = weights == null ? Dinov2.random(ModelConfig.preset("dinov2_vits14"), 42)
                                                           : Dinov2.load(weights)) { // config read or inferred from the file
            Tensor cls = model.forwardFeatures(pixels).xNormClstoken(); // x_norm_clstoken: (1, embed_dim)
            float[] v = cls.data();
            double sq = 0;
            for (float x : v) sq += (double) x * x;
            System.out.println("model: " + (weights == null ? "dinov2_vits14 with RANDOM weights (no WEIGHTS given): the vector means nothing" : weights));
            System.out.printf("image: %s (%d x %d), input %s%n", imageFile, image.width(), image.height(), Arrays.toString(pixels.shape()));
            System.out.println("CLS dimension: " + cls.size(1));
            System.out.println("CLS first 5: " + Arrays.toString(Arrays.copyOf(v, 5)));
            System.out.printf("CLS L2 norm: %.4f%n", Math.sqrt(sq));
        }
    }
}
