package org.dino4j.cli;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.dino4j.data.Dataset;
import org.dino4j.data.Datasets;
import org.dino4j.data.ImageDecoder;
import org.dino4j.data.Preprocess;
import org.dino4j.data.RgbImage;
import org.dino4j.data.Sample;
import org.dino4j.embed.FeatureExtractor;
import org.dino4j.embed.Head;
import org.dino4j.embed.Output;
import org.dino4j.index.Entry;
import org.dino4j.index.Hit;
import org.dino4j.index.IndexSpec;
import org.dino4j.index.VectorIndex;
import org.dino4j.io.AtomicFile;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.viz.ContactSheet;
import org.dino4j.viz.Png;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The indexed images most like each query image: the queries go through the index's own model and preprocessing
 * (recorded when it was built), then cosine similarity of the index's vectors (CLS, or CLS + patch mean).
 */
@Command(name = "search", mixinStandardHelpOptions = true,
        description = {"Finds the indexed images most like each query image (cosine of the index's vectors).",
                "The index is a `dino4j index` folder (--index), an `embed` output searched exactly (--embeddings) or a SolrCloud "
                        + "collection (--solr, --collection). The queries are embedded with the index's own weights and preprocessing; "
                        + "give --weights/--model only when the index was embedded elsewhere or with --random-weights."})
final class SearchCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Mixin
    IndexOptions source;

    @Parameters(paramLabel = "QUERY", arity = "1..*", description = "Query images: files, folders or list files.")
    List<Path> queries;

    @Option(names = "--top", defaultValue = "10", description = "Neighbours per query (default: ${DEFAULT-VALUE}).")
    int top;

    @Option(names = "--output", paramLabel = "FILE.tsv", description = "Also write the results as TSV (query, rank, similarity, id, class).")
    Path output;

    @Option(names = "--sheet", paramLabel = "FILE.png", description = "Also draw a contact sheet: each query beside its neighbours.")
    Path sheet;

    @Option(names = "--cell", defaultValue = "160", description = "Contact sheet cell size in pixels (default: ${DEFAULT-VALUE}).")
    int cell;

    @Mixin
    ThreadsOption threads;

    @Mixin
    DecodeOptions decode;

    @Override
    public Integer call() throws Exception {
        VectorIndex.checkK(top);
        threads.apply();
        Dataset ds = Datasets.of(queries);
        if (ds.size() == 0) throw new IllegalArgumentException("no images found in " + queries);
        Map<String, String> filter = source.filterMap();
        List<String> lines = new ArrayList<>();
        lines.add("query\trank\tsimilarity\tid\tclass");
        List<ContactSheet.Row> rows = new ArrayList<>();
        int[] failed = {0};
        try (VectorIndex index = source.open()) {
            IndexSpec spec = index.spec();
            if (index.count() == 0) throw new IllegalArgumentException(source.where() + ": the index is empty");
            Preprocess pre = IndexOptions.preprocess(spec, source.where());
            boolean patchMean = IndexSpec.CLS_PATCH_MEAN.equals(spec.vectors());
            JitWarmup warmup = JitWarmup.start(JitWarmup.backbone(JitWarmup.config(model), false));
            Pictures pictures = new Pictures(new ImageDecoder(decode.maxPixels), cell);
            try (DinoVisionTransformer m = IndexOptions.model(model, spec, source.where())) {
                int d = m.config().embedDim();
                if ((patchMean ? 2 * d : d) != spec.dim())
                    throw new IllegalArgumentException("the model's features have " + d + " dimensions, the index's vectors " + spec.dim()
                            + " (" + spec.vectors() + "): search with the model the index was built with");
                List<Head> heads = patchMean ? List.of(Output.CLS, Output.PATCH_MEAN) : List.of(Output.CLS);
                var opts = new FeatureExtractor.Options(heads, pre, 8, 2, decode.maxPixels);
                try (FeatureExtractor fx = new FeatureExtractor(m, opts)) {
                    warmup.await();
                    fx.run(ds, it -> {
                        Sample s = it.sample();
                        if (!it.ok()) {
                            failed[0]++;
                            System.out.println(s.id() + ": error: " + it.problem());
                            return;
                        }
                        List<Hit> hits = index.search(spec.vectorOf(it.rows()[0], patchMean ? it.rows()[1] : null), top, filter);
                        System.out.println(s.id());
                        List<ContactSheet.Cell> cells = new ArrayList<>();
                        for (int r = 0; r < hits.size(); r++) {
                            Hit h = hits.get(r);
                            String cls = h.metadata().getOrDefault("class", "");
                            String score = String.format(Locale.ROOT, "%.4f", h.score());
                            System.out.printf(Locale.ROOT, "  %d. %s  %s%s%n", r + 1, score, h.id(), cls.isEmpty() ? "" : "  (" + cls + ")");
                            lines.add(String.join("\t", s.id(), Integer.toString(r + 1), String.format(Locale.ROOT, "%.6f", h.score()), h.id(), cls));
                            if (sheet != null) cells.add(new ContactSheet.Cell(pictures.of(index, h.id()), List.of((r + 1) + ". " + score, h.id())));
                        }
                        if (sheet != null) rows.add(new ContactSheet.Row(new ContactSheet.Cell(pictures.of(s), List.of("query", s.id())), cells));
                    });
                }
            }
        }
        if (output != null) {
            byte[] tsv = String.join("\n", lines).concat("\n").getBytes(StandardCharsets.UTF_8);
            AtomicFile.write(output, out -> out.write(tsv));
            System.out.println("-> " + output);
        }
        if (sheet != null && !rows.isEmpty()) {
            BufferedImage im = ContactSheet.render(rows, cell);
            Files.createDirectories(sheet.toAbsolutePath().getParent());
            Png.write(im, sheet);
            System.out.println("-> " + sheet);
        }
        return failed[0] > 0 ? 1 : 0;
    }

    /** The pictures of a contact sheet, shrunk to about twice the cell as soon as read (a sheet of 1000 queries stays small). */
    private record Pictures(ImageDecoder decoder, int cell, Map<Path, Dataset> idx) {
        Pictures(ImageDecoder decoder, int cell) {
            this(decoder, cell, new HashMap<>());
        }

        BufferedImage of(Sample s) {
            try {
                return small(s.source().load(decoder));
            } catch (RuntimeException e) {
                return null;
            }
        }

        /** An entry's picture: its stored preview, else its id as a file (or file#row of an IDX file); null if none. */
        BufferedImage of(VectorIndex index, String id) {
            try {
                byte[] preview = index.get(id).map(Entry::preview).orElse(null);
                if (preview != null) return small(decoder.decode(Path.of("preview of " + id), preview));
                Path f = Path.of(id);
                if (Files.isRegularFile(f)) return small(decoder.decode(f));
                int hash = id.lastIndexOf('#');
                if (hash > 0 && Files.isRegularFile(Path.of(id.substring(0, hash)))) {
                    Dataset ds = idx.computeIfAbsent(Path.of(id.substring(0, hash)), p -> Datasets.of(List.of(p)));
                    return small(ds.get(Integer.parseInt(id.substring(hash + 1))).source().load(decoder));
                }
            } catch (RuntimeException e) {
                // drawn as a grey cell: the sheet is still useful without one picture
            }
            return null;
        }

        private BufferedImage small(RgbImage im) {
            BufferedImage b = Png.toBufferedImage(im);
            int max = 2 * cell;
            if (Math.max(b.getWidth(), b.getHeight()) <= max) return b;
            double s = (double) max / Math.max(b.getWidth(), b.getHeight());
            BufferedImage out = new BufferedImage(Math.max(1, (int) (b.getWidth() * s)), Math.max(1, (int) (b.getHeight() * s)), BufferedImage.TYPE_INT_RGB);
            var g = out.createGraphics();
            g.setRenderingHint(java.awt.RenderingHints.KEY_INTERPOLATION, java.awt.RenderingHints.VALUE_INTERPOLATION_BILINEAR);
            g.drawImage(b, 0, 0, out.getWidth(), out.getHeight(), null);
            g.dispose();
            return out;
        }
    }
}
