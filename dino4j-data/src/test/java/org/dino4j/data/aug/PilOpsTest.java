package org.dino4j.data.aug;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

import org.dino4j.data.RgbImage;
import org.dino4j.io.SafeTensors;
import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;
import org.junit.jupiter.api.Test;

/** Every augmentation op against torchvision 0.15's PIL path (fixtures/extra/augment.safetensors). */
class PilOpsTest {
    static RgbImage image(TensorEntry e) {
        return new RgbImage((int) e.shape()[1], (int) e.shape()[0], e.data().toArray(ValueLayout.JAVA_BYTE));
    }

    static int maxDiff(RgbImage got, TensorEntry want) {
        assertEquals(want.shape()[0], got.height());
        assertEquals(want.shape()[1], got.width());
        byte[] w = want.data().toArray(ValueLayout.JAVA_BYTE);
        int m = 0;
        for (int i = 0; i < w.length; i++) m = Math.max(m, Math.abs((w[i] & 0xff) - (got.rgb()[i] & 0xff)));
        return m;
    }

    @Test
    void everyOpAsTorchvisionOnPil() {
        try (TensorStore f = SafeTensors.read(org.dino4j.data.ImageFixtures.root().resolve("extra/augment.safetensors"))) {
            RgbImage in = image(f.get("in"));
            Map<String, Integer> diffs = new TreeMap<>();
            for (String name : f.names()) {
                if (name.equals("in")) continue;
                String[] parts = name.split("/");
                double x = parts.length > 1 && !parts[0].equals("crop_resize") ? Double.parseDouble(parts[1]) : 0;
                Function<RgbImage, RgbImage> op = switch (parts[0]) {
                    case "crop_resize" -> {
                        String[] a = parts[1].split(",");
                        int t = Integer.parseInt(a[0]), l = Integer.parseInt(a[1]), h = Integer.parseInt(a[2]), w = Integer.parseInt(a[3]), s = Integer.parseInt(a[4]);
                        yield im -> PilOps.resizedCrop(im, t, l, h, w, s, s);
                    }
                    case "brightness" -> im -> PilOps.brightness(im, x);
                    case "contrast" -> im -> PilOps.contrast(im, x);
                    case "saturation" -> im -> PilOps.saturation(im, x);
                    case "hue" -> im -> PilOps.hue(im, x);
                    case "grayscale" -> PilOps::grayscale;
                    case "solarize" -> im -> PilOps.solarize(im, 128);
                    case "blur" -> im -> PilOps.gaussianBlur(im, x);
                    case "hflip" -> PilOps::hflip;
                    default -> throw new IllegalStateException(name);
                };
                diffs.put(name, maxDiff(op.apply(in), f.get(name)));
            }
            System.out.println("max |dino4j - torchvision/PIL|: " + diffs);
            assertEquals(29, diffs.size());
            // all bit-exact, the blur too (its float32 sums could in principle round the other way at a .5)
            diffs.forEach((k, d) -> assertEquals(0, d, k + " differs by " + d));
        }
    }

}
