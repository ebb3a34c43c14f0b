package org.dino4j.curate;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;

import org.dino4j.data.Dataset;
import org.dino4j.data.ImageDecoder;
import org.dino4j.data.RgbImage;
import org.dino4j.data.aug.PilOps;
import org.dino4j.viz.Png;

/**
 * A deduplication benchmark: images of a dataset written out as PNG files, plus near-duplicates of some of them made
 * the way copies arise: a horizontal flip, a crop of the border resized back, a JPEG re-encoding (quality 75), small
 * Gaussian noise (σ 8/255). Each copy's file name says what it copies: {@code d000012-of-003456-crop.png}.
 */
public final class NearDuplicates {
    public enum Kind { FLIP, CROP, JPEG, NOISE }

    /** A written copy of original image {@code original} (its index in the written originals). */
    public record Copy(Path file, int original, Kind kind) {}

    private NearDuplicates() {}

    /** The first n images of ds as {@code dir/000000.png ...}. */
    public static void writeOriginals(Dataset ds, int n, Path dir) throws IOException {
        Files.createDirectories(dir);
        ImageDecoder dec = new ImageDecoder();
        for (int i = 0; i < n; i++) Png.write(Png.toBufferedImage(ds.get(i).source().load(dec)), dir.resolve(String.format(Locale.ROOT, "%06d.png", i)));
    }

    /**
     * Copies of {@code count} distinct images among the first n of ds (chosen with the seed), kinds in turn, written to dir.
     * @param cropBorder pixels cut from each side before resizing back (bicubic) for CROP
     */
    public static List<Copy> writeCopies(Dataset ds, int n, int count, int cropBorder, long seed, Path dir) throws IOException {
        return writeCopies(ds, n, count, cropBorder, false, seed, dir);
    }

    /**
     * As above; anyCorner: each CROP copy cuts its 2·cropBorder pixels per axis at a random one of the centre and the
     * four corners (a crop from one side), not always at the centre.
     */
    public static List<Copy> writeCopies(Dataset ds, int n, int count, int cropBorder, boolean anyCorner, long seed, Path dir)
            throws IOException {
        if (count > n) throw new IllegalArgumentException(count + " copies of " + n + " images");
        Files.createDirectories(dir);
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] pick = rnd.ints(0, n).distinct().limit(count).toArray();
        ImageDecoder dec = new ImageDecoder();
        List<Copy> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            Kind kind = Kind.values()[i % 4];
            RgbImage im = ds.get(pick[i]).source().load(dec);
            String name = String.format(Locale.ROOT, "d%06d-of-%06d-%s.%s", i, pick[i], kind.name().toLowerCase(Locale.ROOT),
                    kind == Kind.JPEG ? "jpg" : "png");
            Path f = dir.resolve(name);
            switch (kind) {
                case FLIP -> Png.write(Png.toBufferedImage(PilOps.hflip(im)), f);
                case CROP -> {
                    int top = cropBorder, left = cropBorder;
                    if (anyCorner) {
                        int where = rnd.nextInt(5); // 0: centre, 1..4: a corner
                        if (where > 0) {
                            top = where <= 2 ? 0 : 2 * cropBorder;
                            left = where % 2 == 1 ? 0 : 2 * cropBorder;
                        }
                    }
                    Png.write(Png.toBufferedImage(PilOps.resizedCrop(im, top, left, im.height() - 2 * cropBorder,
                            im.width() - 2 * cropBorder, im.width(), im.height())), f);
                }
                case JPEG -> jpeg(Png.toBufferedImage(im), f, 0.75f);
                case NOISE -> {
                    byte[] px = im.rgb().clone();
                    for (int p = 0; p < px.length; p += 3) { // the same noise on R, G, B: gray stays gray
                        int v = (int) Math.round((px[p] & 0xff) + 8 * gaussian(rnd));
                        byte b = (byte) Math.max(0, Math.min(255, v));
                        px[p] = b;
                        px[p + 1] = b;
                        px[p + 2] = b;
                    }
                    Png.write(Png.toBufferedImage(new RgbImage(im.width(), im.height(), px)), f);
                }
            }
            out.add(new Copy(f, pick[i], kind));
        }
        return out;
    }

    private static double gaussian(SplittableRandom rnd) {
        double u = 1 - rnd.nextDouble(), v = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }

    private static void jpeg(BufferedImage img, Path f, float quality) throws IOException {
        ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
        ImageWriteParam p = w.getDefaultWriteParam();
        p.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
        p.setCompressionQuality(quality);
        try (OutputStream os = Files.newOutputStream(f); ImageOutputStream ios = ImageIO.createImageOutputStream(os)) {
            w.setOutput(ios);
            w.write(null, new IIOImage(img, null, null), p);
        } finally {
            w.dispose();
        }
    }
}
