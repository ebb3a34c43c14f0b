package org.dino4j.data;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/**
 * Builds datasets from what a user points at:
 * <ul>
 * <li>a folder with one sub-folder per class: torchvision's {@code ImageFolder} (classes sorted, files of the image
 *     extensions found under each class folder, sorted; files at the top level are not samples);</li>
 * <li>a folder of images without class folders: every image in it, sorted, unlabelled;</li>
 * <li>a list file ({@code .txt}, {@code .csv}, {@code .tsv}, {@code .lst}): one {@code path[,label]} per line (tab
 *     also separates; {@code #} starts a comment; relative paths are relative to the list file; labels are class
 *     names, sorted into indices, or integers);</li>
 * <li>an IDX image file ({@code *-images-idx3-ubyte[.gz]}, MNIST and Fashion-MNIST) with the labels file beside it;</li>
 * <li>a single image file.</li>
 * </ul>
 * Several inputs are concatenated in the order given; class names are then merged and re-indexed in sorted order.
 */
public final class Datasets {
    /** torchvision's IMG_EXTENSIONS, plus .gif. */
    public static final Set<String> IMAGE_EXTENSIONS = Set.of(".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif",
            ".tiff", ".webp", ".gif");
    static final List<String> FASHION_MNIST = List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
            "Shirt", "Sneaker", "Bag", "Ankle boot");

    private Datasets() {}

    public static Dataset of(List<Path> inputs) {
        List<Dataset> parts = new ArrayList<>();
        for (Path p : inputs) parts.add(open(p));
        return concat(parts);
    }

    /**
     * Concatenation. Inputs that agree on their class list (or have none) keep their label indices (Fashion-MNIST
     * keeps 0-9 as in the file); otherwise the class names are merged, sorted and re-indexed.
     */
    public static Dataset concat(List<Dataset> parts) {
        List<String> common = null;
        boolean agree = true;
        for (Dataset d : parts) {
            if (d.classes().isEmpty()) continue;
            if (common == null) common = d.classes();
            else agree &= common.equals(d.classes());
        }
        List<Sample> all = new ArrayList<>();
        for (Dataset d : parts) for (int i = 0; i < d.size(); i++) all.add(d.get(i));
        if (agree) return Dataset.of(all, common == null ? List.of() : common);
        TreeSet<String> names = new TreeSet<>();
        for (Sample s : all) if (!s.className().isEmpty()) names.add(s.className());
        List<String> classes = sortedClasses(names);
        java.util.Map<String, Integer> index = new java.util.HashMap<>();
        for (String c : classes) index.put(c, index.size());
        List<Sample> out = new ArrayList<>(all.size());
        for (Sample s : all)
            out.add(s.className().isEmpty() ? s : new Sample(s.id(), index.get(s.className()), s.className(), s.source()));
        return Dataset.of(out, classes);
    }

    /** Sorted names, numerically when they are all integers. */
    static List<String> sortedClasses(java.util.Collection<String> names) {
        List<String> classes = new ArrayList<>(new TreeSet<>(names));
        if (classes.stream().allMatch(c -> c.matches("-?\\d{1,9}"))) classes.sort(Comparator.comparingInt(Integer::parseInt));
        return classes;
    }

    /** The same samples (ids, labels) with every image seen through the view (ds itself for the identity). */
    public static Dataset view(Dataset ds, View view) {
        if (view.identity()) return ds;
        List<Sample> out = new ArrayList<>(ds.size());
        for (int i = 0; i < ds.size(); i++) {
            Sample s = ds.get(i);
            out.add(new Sample(s.id(), s.label(), s.className(), new Sample.ViewSource(s.source(), view)));
        }
        return Dataset.of(out, ds.classes());
    }

    /** One input as a dataset with its own class list. */
    public static Dataset open(Path p) {
        List<Sample> samples = samples(p);
        List<String> classes;
        if (p.getFileName() != null && p.getFileName().toString().contains("idx3-ubyte") && !samples.isEmpty() && samples.get(0).label() >= 0) {
            boolean fashion = p.toAbsolutePath().toString().toLowerCase(Locale.ROOT).contains("fashion");
            int max = samples.stream().mapToInt(Sample::label).max().orElse(-1);
            classes = new ArrayList<>();
            for (int y = 0; y <= max; y++) classes.add(fashion && y < 10 ? FASHION_MNIST.get(y) : String.valueOf(y));
            return Dataset.of(samples, classes);
        }
        TreeSet<String> names = new TreeSet<>();
        for (Sample s : samples) if (!s.className().isEmpty()) names.add(s.className());
        classes = sortedClasses(names);
        java.util.Map<String, Integer> index = new java.util.HashMap<>();
        for (String c : classes) index.put(c, index.size());
        List<Sample> out = new ArrayList<>(samples.size());
        for (Sample s : samples)
            out.add(s.className().isEmpty() ? s : new Sample(s.id(), index.get(s.className()), s.className(), s.source()));
        return Dataset.of(out, classes);
    }

    static List<Sample> samples(Path p) {
        if (Files.isDirectory(p)) return folder(p);
        if (!Files.exists(p)) throw new IllegalArgumentException(p + ": no such file or folder");
        String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
        if (n.contains("idx3-ubyte")) return idx(p);
        if (n.endsWith(".txt") || n.endsWith(".csv") || n.endsWith(".tsv") || n.endsWith(".lst")) return listFile(p);
        return List.of(new Sample(p.toString(), -1, "", new Sample.FileSource(p)));
    }

    static boolean isImage(Path p) {
        String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
        int dot = n.lastIndexOf('.');
        return dot >= 0 && IMAGE_EXTENSIONS.contains(n.substring(dot)) && Files.isRegularFile(p);
    }

    private static List<Sample> folder(Path root) {
        try {
            List<Path> classDirs;
            try (Stream<Path> s = Files.list(root)) {
                classDirs = s.filter(Files::isDirectory).sorted(Comparator.comparing(q -> q.getFileName().toString())).toList();
            }
            List<Sample> out = new ArrayList<>();
            if (classDirs.isEmpty()) {
                try (Stream<Path> s = Files.list(root)) {
                    s.filter(Datasets::isImage).sorted().forEach(f -> out.add(new Sample(f.toString(), -1, "", new Sample.FileSource(f))));
                }
                return out;
            }
            for (Path c : classDirs) {
                String cls = c.getFileName().toString();
                try (Stream<Path> s = Files.walk(c)) {
                    s.filter(Datasets::isImage).sorted().forEach(f -> out.add(new Sample(f.toString(), -1, cls, new Sample.FileSource(f))));
                }
            }
            return out;
        } catch (IOException e) {
            throw new IllegalArgumentException(root + ": cannot list: " + e.getMessage());
        }
    }

    private static List<Sample> listFile(Path list) {
        List<String> lines;
        try {
            lines = Files.readAllLines(list);
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new IllegalArgumentException(list + ": not a list file (not UTF-8 text)");
        } catch (IOException e) {
            throw new IllegalArgumentException(list + ": cannot read: " + e.getMessage());
        }
        Path base = list.toAbsolutePath().getParent();
        List<Sample> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) continue;
            int sep = Math.max(line.lastIndexOf(','), line.lastIndexOf('\t'));
            String path = sep < 0 ? line : line.substring(0, sep).strip(), label = sep < 0 ? "" : line.substring(sep + 1).strip();
            if (path.isEmpty()) throw new IllegalArgumentException(list + ":" + (i + 1) + ": no path before the label");
            Path f;
            try {
                f = base.resolve(path);
            } catch (java.nio.file.InvalidPathException e) {
                throw new IllegalArgumentException(list + ":" + (i + 1) + ": not a path (" + e.getReason() + ")");
            }
            out.add(new Sample(f.toString(), -1, label, new Sample.FileSource(f)));
        }
        return out;
    }

    /** The most images an IDX file may announce (EMNIST's largest split has 814,255). */
    public static final int MAX_IDX_IMAGES = 1 << 22;

    /** MNIST-style IDX: images (magic 0x803, n, rows, cols, uint8) and labels (0x801, n, uint8) beside them. */
    private static List<Sample> idx(Path images) {
        String name = images.getFileName().toString();
        Path labels = images.resolveSibling(name.replace("images-idx3", "labels-idx1"));
        boolean fashion = images.toAbsolutePath().toString().toLowerCase(Locale.ROOT).contains("fashion");
        try (DataInputStream in = openIdx(images)) {
            int magic = in.readInt(), n = in.readInt(), rows = in.readInt(), cols = in.readInt();
            if (magic != 0x803 || n < 0 || rows < 1 || cols < 1)
                throw new IllegalArgumentException(images + ": not an IDX image file (magic 0x" + Integer.toHexString(magic) + ")");
            // sizes from the header are not trusted: an image within the decoder's pixel limit, and (uncompressed)
            // the file must hold every image it announces, before anything is allocated for them
            long pixels = (long) rows * cols;
            if (pixels > ImageDecoder.DEFAULT_MAX_PIXELS)
                throw new IllegalArgumentException(images + ": IDX images of " + rows + " x " + cols + " pixels, over the limit of "
                        + ImageDecoder.DEFAULT_MAX_PIXELS);
            if (n > MAX_IDX_IMAGES) // each image is a sample in memory; a .gz cannot be measured before it is read
                throw new IllegalArgumentException(images + ": " + n + " IDX images, over the limit of " + MAX_IDX_IMAGES);
            long size = name.endsWith(".gz") ? Long.MAX_VALUE : Files.size(images);
            if (16 + n * pixels > size)
                throw new IllegalArgumentException(images + ": truncated IDX file: the header announces " + n + " images of "
                        + rows + " x " + cols + " (" + (16 + n * pixels) + " bytes), the file has " + size);
            byte[] lab = null;
            if (Files.exists(labels)) {
                try (DataInputStream l = openIdx(labels)) {
                    int lm = l.readInt(), ln = l.readInt();
                    if (lm != 0x801 || ln != n)
                        throw new IllegalArgumentException(labels + ": not the labels of " + images + " (magic 0x"
                                + Integer.toHexString(lm) + ", " + ln + " labels for " + n + " images)");
                    lab = l.readNBytes(n);
                    if (lab.length != n) throw new IllegalArgumentException(labels + ": truncated");
                }
            }
            List<Sample> out = new ArrayList<>(Math.min(n, 1 << 16)); // grows with what is really read (a .gz may lie)
            byte[] px = new byte[(int) pixels];
            for (int i = 0; i < n; i++) {
                in.readFully(px);
                byte[] rgb = new byte[3 * px.length];
                for (int j = 0; j < px.length; j++) rgb[3 * j] = rgb[3 * j + 1] = rgb[3 * j + 2] = px[j];
                int y = lab == null ? -1 : lab[i] & 0xff;
                String cls = y < 0 ? "" : fashion && y < 10 ? FASHION_MNIST.get(y) : String.valueOf(y);
                out.add(new Sample(images + "#" + i, y, cls, new Sample.PixelSource(new RgbImage(cols, rows, rgb))));
            }
            return out;
        } catch (java.io.EOFException e) {
            throw new IllegalArgumentException(images + ": truncated IDX file");
        } catch (IOException e) {
            throw new IllegalArgumentException(images + ": cannot read: " + e.getMessage());
        }
    }

    private static DataInputStream openIdx(Path p) throws IOException {
        InputStream in = new BufferedInputStream(Files.newInputStream(p), 1 << 16);
        if (p.getFileName().toString().endsWith(".gz")) in = new GZIPInputStream(in, 1 << 16);
        return new DataInputStream(in);
    }
}
