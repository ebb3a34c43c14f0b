package org.dino4j.curate;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.Image;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

import org.dino4j.data.RgbImage;
import org.dino4j.io.AtomicFile;
import org.dino4j.io.Json;
import org.dino4j.viz.Charts;
import org.dino4j.viz.Png;

/**
 * Writes a curation's results: {@code curated.tsv} (path, source, reason), {@code removed.tsv} (path, source, stage,
 * reason, similarity), {@code report.json} (counts per stage and the parameters), and the pictures: the histogram of
 * each pool image's nearest-neighbour similarity, the cluster-size histogram, and a contact sheet of removed
 * duplicates beside the image kept for them.
 */
public final class CurationReport {
    private CurationReport() {}

    /** @param images an image by id, or null where it cannot be shown (the contact sheet leaves a grey tile) */
    public static void write(Curator.Curation c, CurateConfig cfg, String engine, double seconds, Path out,
                             Function<String, RgbImage> images) throws IOException {
        Files.createDirectories(out);
        StringBuilder cur = new StringBuilder("path\tsource\treason\n");
        for (Curator.Entry e : c.curated()) cur.append(tsv(e.id())).append('\t').append(tsv(e.source())).append('\t').append(tsv(e.reason())).append('\n');
        text(out.resolve("curated.tsv"), cur.toString());
        StringBuilder rem = new StringBuilder("path\tsource\tstage\treason\tsimilarity\n");
        for (Curator.Removal r : c.removed())
            rem.append(tsv(r.id())).append('\t').append(tsv(r.source())).append('\t').append(r.stage()).append('\t').append(tsv(r.reason()))
                    .append('\t').append(Float.isNaN(r.sim()) ? "" : String.format(Locale.ROOT, "%.4f", r.sim())).append('\n');
        text(out.resolve("removed.tsv"), rem.toString());

        Map<String, Object> rep = new LinkedHashMap<>();
        rep.put("engine", engine);
        rep.put("seconds", Math.round(seconds * 10) / 10.0);
        rep.put("embedding", cfg.embedding().kind() + (cfg.embedding().weights() != null ? " " + cfg.embedding().weights() : ""));
        rep.put("dimension", c.pool().dim());
        rep.put("counts", new LinkedHashMap<>(c.counts()));
        Map<String, Object> params = new LinkedHashMap<>();
        params.put("dedup_k", cfg.dedup().k());
        params.put("dedup_threshold", cfg.dedup().threshold());
        params.put("dedup_views", cfg.dedup().views().stream().map(org.dino4j.data.View::name).toList());
        params.put("center", cfg.embedding().center());
        params.put("eval_threshold", cfg.evalThreshold());
        rep.put("parameters", params);
        if (c.clusterSizes().length > 0) {
            rep.put("clusters", c.clusterSizes().length);
            if (!Double.isNaN(c.kmeansObjective())) rep.put("kmeans_objective", c.kmeansObjective());
        }
        text(out.resolve("report.json"), Json.write(rep) + "\n");

        similarityHistogram(c.nearestSim(), cfg.dedup().threshold(), out.resolve("similarity_histogram.png"));
        if (c.clusterSizes().length > 0) clusterSizeHistogram(c.clusterSizes(), out.resolve("cluster_sizes.png"));
        if (!c.groups().isEmpty()) contactSheet(c, images, out.resolve("duplicates.png"));
    }

    /** The pool's images by id for the contact sheet (null for "embedded" pools, whose inputs are vectors). */
    public static Function<String, RgbImage> poolImages(CurateConfig cfg) {
        if (cfg.embedding().kind().equals("embedded")) return null;
        org.dino4j.data.Dataset ds = org.dino4j.data.Datasets.of(cfg.pool());
        Map<String, org.dino4j.data.Sample> byId = new java.util.HashMap<>();
        for (int i = 0; i < ds.size(); i++) byId.put(ds.get(i).id(), ds.get(i));
        org.dino4j.data.ImageDecoder dec = new org.dino4j.data.ImageDecoder();
        return id -> {
            org.dino4j.data.Sample s = byId.get(id);
            try {
                return s == null ? null : s.source().load(dec);
            } catch (RuntimeException e) {
                return null; // a grey tile: the picture is not worth failing the run for
            }
        };
    }

    /** The counts per stage, one per line, and where the list went. */
    public static String summary(Curator.Curation c, double seconds, Path out) {
        return summary(c.counts(), seconds, out.resolve("curated.tsv"));
    }

    public static String summary(Map<String, Long> counts, double seconds, Path curated) {
        StringBuilder sb = new StringBuilder();
        for (var e : counts.entrySet()) sb.append(String.format(Locale.ROOT, "%-28s %,d%n", e.getKey(), e.getValue()));
        return sb.append(String.format(Locale.ROOT, "%.1f s -> %s%n", seconds, curated)).toString();
    }

    private static void text(Path file, String s) throws IOException {
        AtomicFile.write(file, os -> os.write(s.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }

    private static String tsv(String s) {
        return s.replace('\t', ' ').replace('\n', ' ');
    }

    /**
     * One bin below (threshold − 0.2), then bins of 0.01 up to 1: the region around the threshold is what a user
     * tunes. Counts as log10(1 + count) so that the duplicate tail is visible.
     */
    static void similarityHistogram(float[] sim, double threshold, Path file) throws IOException {
        long[] h = new long[histogramBins(threshold)];
        for (float s : sim) h[histogramBin(s, threshold)]++;
        similarityHistogram(h, sim.length, threshold, file);
    }

    /** Bins of the similarity histogram: below (threshold − 0.2), [lo, lo+0.01), ..., [1, ...]. */
    public static int histogramBins(double threshold) {
        double lo = Math.floor((threshold - 0.2) * 100) / 100;
        return 1 + (int) Math.round((1 - lo) * 100) + 1;
    }

    public static int histogramBin(float s, double threshold) {
        double lo = Math.floor((threshold - 0.2) * 100) / 100;
        return s < lo ? 0 : Math.min(histogramBins(threshold) - 1, 1 + (int) Math.floor((s - lo) * 100 + 1e-6));
    }

    /** The histogram from its counts (h: histogramBins entries; n the images counted). */
    public static void similarityHistogram(long[] h, long n, double threshold, Path file) throws IOException {
        double lo = Math.floor((threshold - 0.2) * 100) / 100;
        int bins = h.length;
        List<String> labels = new ArrayList<>();
        double[] v = new double[bins];
        double max = 0;
        for (int b = 0; b < bins; b++) {
            String edge = b == 0 ? String.format(Locale.ROOT, "<%.2f", lo) : String.format(Locale.ROOT, "%.2f", lo + (b - 1) * 0.01);
            labels.add(edge + " " + h[b]);
            v[b] = Math.log10(1 + h[b]);
            max = Math.max(max, v[b]);
        }
        Charts.bars(file, String.format(Locale.ROOT, "similarity of each of %d pool images to its nearest neighbour (bar: log10(1+count); "
                + "label: bin start, count); duplicates: above %s", n, threshold), labels, v, Math.max(1, Math.ceil(max)));
    }

    /** Cluster sizes in powers of two. */
    public static void clusterSizeHistogram(long[] sizes, Path file) throws IOException {
        long max = 0;
        for (long s : sizes) max = Math.max(max, s);
        int bins = 2 + (int) (63 - Long.numberOfLeadingZeros(Math.max(1, max)));
        long[] h = new long[bins];
        for (long s : sizes) h[s == 0 ? 0 : 1 + (63 - Long.numberOfLeadingZeros(s))]++;
        List<String> labels = new ArrayList<>();
        double[] v = new double[bins];
        double top = 0;
        for (int b = 0; b < bins; b++) {
            labels.add(b == 0 ? "empty" : b == 1 ? "1" : (1L << (b - 1)) + "-" + ((1L << b) - 1));
            v[b] = h[b];
            top = Math.max(top, v[b]);
        }
        Charts.bars(file, sizes.length + " clusters: how many have each size", labels, v, Math.max(1, top));
    }

    /**
     * Twelve groups: the six largest, then six of the smallest (one removed image: usually a plain copy): the kept
     * image (green) then up to 7 removed ones (red) with their similarity.
     */
    public static void contactSheet(Curator.Curation c, Function<String, RgbImage> images, Path file) throws IOException {
        contactSheet(c, images, null, file);
    }

    /** As above; sizes: each group's size where its list holds only the members shown (null: the lists' sizes). */
    public static void contactSheet(Curator.Curation c, Function<String, RgbImage> images, Map<Integer, Long> sizes, Path file)
            throws IOException {
        Map<Integer, Float> simOf = new LinkedHashMap<>();
        for (Curator.Removal r : c.removed()) if (r.stage().equals("self-dedup")) simOf.put(r.row(), r.sim());
        java.util.function.ToLongFunction<Map.Entry<Integer, List<Integer>>> size =
                e -> sizes != null ? sizes.get(e.getKey()) : e.getValue().size();
        List<Map.Entry<Integer, List<Integer>>> groups = new ArrayList<>(c.groups().entrySet());
        groups.sort((a, b) -> size.applyAsLong(b) != size.applyAsLong(a) ? Long.compare(size.applyAsLong(b), size.applyAsLong(a))
                : Integer.compare(a.getKey(), b.getKey()));
        if (groups.size() > 12) {
            List<Map.Entry<Integer, List<Integer>>> shown = new ArrayList<>(groups.subList(0, 6));
            List<Map.Entry<Integer, List<Integer>>> small = new ArrayList<>(groups.subList(6, groups.size()));
            small.sort((a, b) -> size.applyAsLong(a) != size.applyAsLong(b) ? Long.compare(size.applyAsLong(a), size.applyAsLong(b))
                    : Integer.compare(a.getKey(), b.getKey()));
            shown.addAll(small.subList(0, 6));
            groups = shown;
        }
        int rowsN = Math.min(12, groups.size()), cols = 8, tile = 96, pad = 6, label = 14;
        BufferedImage img = new BufferedImage(pad + cols * (tile + pad), 24 + rowsN * (tile + label + pad), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = Charts.canvas(img);
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
        g.setColor(Color.BLACK);
        g.drawString("removed duplicates (red, cosine similarity) beside the image kept for them (green)", pad, 16);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 10));
        for (int r = 0; r < rowsN; r++) {
            var grp = groups.get(r);
            List<Integer> members = new ArrayList<>();
            members.add(grp.getKey());
            members.addAll(grp.getValue());
            int y = 24 + r * (tile + label + pad);
            for (int j = 0; j < Math.min(cols, members.size()); j++) {
                int row = members.get(j), x = pad + j * (tile + pad);
                RgbImage im = images == null ? null : images.apply(c.pool().ids().get(row));
                if (im != null) g.drawImage(Png.toBufferedImage(im).getScaledInstance(tile, tile, Image.SCALE_SMOOTH), x, y, null);
                else {
                    g.setColor(Color.LIGHT_GRAY);
                    g.fillRect(x, y, tile, tile);
                }
                g.setColor(j == 0 ? new Color(0x2ca02c) : new Color(0xd62728));
                g.setStroke(new BasicStroke(3));
                g.drawRect(x, y, tile, tile);
                g.setColor(Color.BLACK);
                long n = size.applyAsLong(grp);
                String text = j == 0 ? "kept" + (n > cols - 1 ? " (+" + (n - cols + 1) + " more)" : "")
                        : String.format(Locale.ROOT, "%.3f", simOf.getOrDefault(row, Float.NaN));
                g.drawString(text, x, y + tile + 11);
            }
        }
        g.dispose();
        Png.write(img, file);
    }
}
