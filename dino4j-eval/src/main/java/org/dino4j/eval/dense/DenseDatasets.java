package org.dino4j.eval.dense;

import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

import org.dino4j.data.ClassNames;

/**
 * Readers for the dense benchmarks' folder layouts (nothing is downloaded): which image goes with which target, and
 * the targets decoded as the mmseg pipelines see them.
 * <ul>
 * <li>ADE20K (mmseg {@code ADE20KDataset}): {@code ADEChallengeData2016/images/{training,validation}/*.jpg} with
 * {@code annotations/<split>/<same stem>.png} (8-bit, 0 = "other"); {@code reduce_zero_label=True}: 0 -> 255
 * (ignored), k -> k - 1, so 150 classes.</li>
 * <li>Pascal VOC 2012 (mmseg {@code PascalVOCDataset}): {@code ImageSets/Segmentation/<split>.txt} lists ids,
 * {@code JPEGImages/<id>.jpg} and {@code SegmentationClass/<id>.png} (palette PNG: the pixel values are the palette
 * indices, 21 classes, 255 = boundary/ignore).</li>
 * <li>NYU-Depth v2 as the depth toolbox the paper's protocol follows (BinsFormer's
 * Monocular-Depth-Estimation-Toolbox, {@code depth/datasets/nyu.py}): a split file ({@code nyu_train.txt},
 * {@code nyu_test.txt}) of lines {@code rgb_path depth_path [focal]} relative to the root (a leading slash is
 * dropped; depth "None" lines are skipped), sorted by image path; depth maps are 16-bit PNGs in millimetres
 * ({@code depth_scale=1000}), 0 = no measurement.</li>
 * </ul>
 */
public final class DenseDatasets {
    public static final int ADE20K_CLASSES = 150;
    public static final int VOC_CLASSES = 21;
    public static final double NYU_DEPTH_SCALE = 1000;
    /** The 21 VOC names, 0 = background ({@link ClassNames#voc2012()}). */
    public static final List<String> VOC_CLASS_NAMES = ClassNames.voc2012();

    private DenseDatasets() {}

    /** One image and its target file. */
    public record Item(String id, Path image, Path target) {}

    /** A label map, row-major, 255 = ignore. */
    public record Labels(int width, int height, int[] labels) {}

    /** A depth map in metres, row-major, 0 = no measurement. */
    public record Depth(int width, int height, float[] metres) {}

    /** ADE20K items of split "training" or "validation"; root is ADEChallengeData2016 or the folder holding it. */
    public static List<Item> ade20k(Path root, String split) {
        if (!split.equals("training") && !split.equals("validation"))
            throw new IllegalArgumentException("ADE20K split must be 'training' or 'validation', got '" + split + "'");
        Path base = Files.isDirectory(root.resolve("ADEChallengeData2016")) ? root.resolve("ADEChallengeData2016") : root;
        Path images = base.resolve("images").resolve(split), annotations = base.resolve("annotations").resolve(split);
        if (!Files.isDirectory(images)) throw new IllegalArgumentException(images + ": no such folder (expected the ADEChallengeData2016 layout)");
        List<Item> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(images)) {
            for (Path im : s.filter(p -> p.getFileName().toString().endsWith(".jpg")).sorted(Comparator.comparing(Path::toString)).toList()) {
                String name = im.getFileName().toString(), stem = name.substring(0, name.length() - 4);
                Path ann = annotations.resolve(stem + ".png");
                if (!Files.isRegularFile(ann)) throw new IllegalArgumentException(ann + ": annotation missing for " + im);
                out.add(new Item(stem, im, ann));
            }
        } catch (IOException e) {
            throw new IllegalArgumentException(images + ": cannot list: " + e.getMessage());
        }
        if (out.isEmpty()) throw new IllegalArgumentException(images + ": no .jpg images");
        return out;
    }

    /** ADE20K labels with reduce_zero_label: 0 -> 255, k -> k - 1 (150 classes). */
    public static Labels ade20kLabels(Path png) {
        return readLabels(png, true);
    }

    /** VOC 2012 items of a split listed in ImageSets/Segmentation (train, val, trainval); root is VOC2012 or VOCdevkit. */
    public static List<Item> voc2012(Path root, String split) {
        Path base = Files.isDirectory(root.resolve("VOC2012")) ? root.resolve("VOC2012") : root;
        Path list = base.resolve("ImageSets").resolve("Segmentation").resolve(split + ".txt");
        List<String> ids;
        try {
            ids = Files.readAllLines(list);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(list + ": no such split file (expected the VOC2012 layout)");
        } catch (IOException e) {
            throw new IllegalArgumentException(list + ": cannot read: " + e.getMessage());
        }
        List<Item> out = new ArrayList<>();
        for (int i = 0; i < ids.size(); i++) {
            String id = ids.get(i).strip();
            if (id.isEmpty()) continue;
            if (id.contains(" ") || id.contains("/")) throw new IllegalArgumentException(list + ":" + (i + 1) + ": not an image id: '" + id + "'");
            Path im = base.resolve("JPEGImages").resolve(id + ".jpg"), ann = base.resolve("SegmentationClass").resolve(id + ".png");
            if (!Files.isRegularFile(im)) throw new IllegalArgumentException(list + ":" + (i + 1) + ": " + im + " missing");
            if (!Files.isRegularFile(ann)) throw new IllegalArgumentException(list + ":" + (i + 1) + ": " + ann + " missing");
            out.add(new Item(id, im, ann));
        }
        if (out.isEmpty()) throw new IllegalArgumentException(list + ": no image ids");
        return out;
    }

    /** VOC labels: the palette indices as they are (255 = ignore). */
    public static Labels vocLabels(Path png) {
        return readLabels(png, false);
    }

    /** NYU items from a toolbox split file (e.g. root/nyu_test.txt), sorted by image path as the toolbox does. */
    public static List<Item> nyu(Path root, String splitFile) {
        Path list = root.resolve(splitFile);
        List<String> lines;
        try {
            lines = Files.readAllLines(list);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(list + ": no such split file (lines 'rgb_path depth_path [focal]')");
        } catch (IOException e) {
            throw new IllegalArgumentException(list + ": cannot read: " + e.getMessage());
        }
        List<Item> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty()) continue;
            String[] f = line.split("\\s+");
            if (f.length < 2) throw new IllegalArgumentException(list + ":" + (i + 1) + ": expected 'rgb_path depth_path [focal]', got '" + line + "'");
            if (f[1].equals("None")) continue; // the toolbox counts these as invalid pairs and skips them
            Path im = root.resolve(stripSlash(f[0])), depth = root.resolve(stripSlash(f[1]));
            if (!Files.isRegularFile(im)) throw new IllegalArgumentException(list + ":" + (i + 1) + ": " + im + " missing");
            if (!Files.isRegularFile(depth)) throw new IllegalArgumentException(list + ":" + (i + 1) + ": " + depth + " missing");
            out.add(new Item(stripSlash(f[0]), im, depth));
        }
        out.sort(Comparator.comparing(it -> it.image().toString()));
        if (out.isEmpty()) throw new IllegalArgumentException(list + ": no image/depth pairs");
        return out;
    }

    private static String stripSlash(String s) {
        return s.startsWith("/") || s.startsWith("\\") ? s.substring(1) : s;
    }

    /** A 16-bit (or 8-bit) single-channel PNG depth map divided by depthScale (1000 for NYU: millimetres to metres). */
    public static Depth readDepth(Path png, double depthScale) {
        if (!(depthScale > 0)) throw new IllegalArgumentException("depth scale must be > 0, got " + depthScale);
        Raster r = singleChannel(png);
        int w = r.getWidth(), h = r.getHeight();
        float[] m = new float[w * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) m[y * w + x] = (float) (r.getSample(x, y, 0) / depthScale);
        return new Depth(w, h, m);
    }

    /**
     * A label PNG's pixel values: palette indices for palette PNGs (not their colours), grey levels for 8-bit grey;
     * reduceZeroLabel applies mmseg's 0 -> 255, k -> k - 1 (255 stays 255).
     */
    public static Labels readLabels(Path png, boolean reduceZeroLabel) {
        Raster r = singleChannel(png);
        int w = r.getWidth(), h = r.getHeight();
        int[] l = new int[w * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int v = r.getSample(x, y, 0);
                if (v > 255) throw new IllegalArgumentException(png + ": label value " + v + " at (" + x + ", " + y + ") does not fit 8 bits");
                if (reduceZeroLabel) v = v == 0 || v == 255 ? 255 : v - 1;
                l[y * w + x] = v;
            }
        return new Labels(w, h, l);
    }

    /** The raw raster of a one-band image (grey or palette), refusing RGB label maps whose colours would need a palette. */
    private static Raster singleChannel(Path file) {
        BufferedImage im;
        try {
            ImageIO.setUseCache(false);
            im = ImageIO.read(file.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": cannot read: " + e.getMessage());
        }
        if (im == null) throw new IllegalArgumentException(file + ": not an image ImageIO can read");
        Raster r = im.getRaster();
        if (r.getNumBands() != 1)
            throw new IllegalArgumentException(file + ": expected a single-channel (grey or palette) PNG, got " + r.getNumBands() + " channels");
        return r;
    }
}
