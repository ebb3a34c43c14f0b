package org.dino4j.embed;

import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntConsumer;
import java.util.function.IntFunction;

import org.dino4j.data.Dataset;
import org.dino4j.data.Datasets;
import org.dino4j.data.ImageDecoder;
import org.dino4j.data.ImageException;
import org.dino4j.data.Preprocess;
import org.dino4j.data.RgbImage;
import org.dino4j.data.Sample;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.tensor.Tensor;
import org.dino4j.viz.PatchFeatures;

/**
 * Images to features: the one pipeline behind {@code embed}, {@code eval} (the dense evaluations too), {@code curate}
 * (both engines) and the library. The samples of a {@link Dataset} (files, folders, list files, IDX files through {@link Datasets}; images in
 * memory through {@link #images}, encoded bytes through {@link #encoded}) are decoded and preprocessed on worker
 * threads at most a couple of batches ahead of the model, so memory stays bounded on any input size; consecutive
 * images of one size form a batch (a new one starts where the size changes or the batch is full), the model runs once
 * per batch, and each image's rows for the requested {@link Head}s go to a {@link Sink} in input order. An image that fails goes to the sink when it fails,
 * with its error; the others go on.
 * <pre>{@code
 * try (var model = Dinov2.load(weights); var fx = new FeatureExtractor(model, Output.CLS)) {
 *     float[][] cls = fx.embed(List.of(Path.of("a.jpg"), Path.of("b.png")));
 * }
 * }</pre>
 */
public final class FeatureExtractor implements AutoCloseable {
    /**
     * @param heads      the rows each image gets, in this order
     * @param preprocess the transform (e.g. {@link Preprocess#EVAL}); its output must be a multiple of the patch size
     * @param batchSize  images per forward at most
     * @param workers    decoding threads
     * @param maxPixels  larger images fail instead of filling the memory
     */
    public record Options(List<Head> heads, Preprocess preprocess, int batchSize, int workers, long maxPixels) {
        public Options {
            heads = List.copyOf(heads);
            if (heads.isEmpty()) throw new IllegalArgumentException("no output asked");
            if (batchSize < 1 || workers < 1) throw new IllegalArgumentException("batch size and workers must be >= 1");
        }

        /** The eval transform, batches of 32, 2 decoding threads. */
        public static Options of(Head... heads) {
            return new Options(List.of(heads), Preprocess.EVAL, 32, 2, ImageDecoder.DEFAULT_MAX_PIXELS);
        }

        public Options withPreprocess(Preprocess p) {
            return new Options(heads, p, batchSize, workers, maxPixels);
        }

        public Options withBatchSize(int b) {
            return new Options(heads, preprocess, b, workers, maxPixels);
        }
    }

    /**
     * One input's outcome: its rows (one per head) or the error that stopped it, and the decoded image's size before
     * the transform (0 x 0 when it did not decode).
     */
    public record Item(int index, Sample sample, float[][] rows, RuntimeException error, int width, int height) {
        public boolean ok() {
            return error == null;
        }

        /** The error in one line, without the file name that a manifest row already has. */
        public String problem() {
            return error instanceof ImageException ie ? ie.problem() : String.valueOf(error.getMessage());
        }
    }

    /** Where the items go: the shard writer, an in-memory collector, a Spark partition's rows, a response. */
    public interface Sink {
        /** Every input once, in input order among the ones that decode: failures when found, the others after their batch ran. */
        void accept(Item item);

        /** After each forward, with its number of images. */
        default void batchDone(int images) {}
    }

    private final DinoVisionTransformer model;
    private final Options o;
    private final ImageDecoder decoder;
    private final ExecutorService pool;

    public FeatureExtractor(DinoVisionTransformer model, Options options) {
        this.model = model;
        this.o = options;
        this.decoder = new ImageDecoder(options.maxPixels());
        this.pool = Executors.newFixedThreadPool(options.workers(), r -> {
            Thread t = new Thread(r, "dino4j-decode");
            t.setDaemon(true);
            return t;
        });
    }

    /** The eval transform, batches of 32. */
    public FeatureExtractor(DinoVisionTransformer model, Head... heads) {
        this(model, Options.of(heads));
    }

    public Options options() {
        return o;
    }

    public DinoVisionTransformer model() {
        return model;
    }

    /** The first head's row of every input (files, folders, list files, IDX files), in order; a failure is thrown. */
    public float[][] embed(List<Path> inputs) {
        return embed(Datasets.of(inputs));
    }

    /** The first head's row of every sample, in order; a failure is thrown. */
    public float[][] embed(Dataset ds) {
        float[] flat = rows(ds, null);
        int n = ds.size(), len = n == 0 ? 0 : flat.length / n;
        float[][] out = new float[n][];
        for (int i = 0; i < n; i++) out[i] = Arrays.copyOfRange(flat, i * len, (i + 1) * len);
        return out;
    }

    /**
     * The first head's rows of every sample, one after the other, in order; the first failure is thrown;
     * {@code done} (may be null) hears the running count after each forward.
     */
    public float[] rows(Dataset ds, IntConsumer done) {
        float[][] out = {new float[0]};
        int[] count = {0};
        run(ds, new Sink() {
            @Override
            public void accept(Item it) {
                if (!it.ok()) throw it.error();
                float[] row = it.rows()[0];
                if (out[0].length == 0) out[0] = new float[ds.size() * row.length];
                System.arraycopy(row, 0, out[0], it.index() * row.length, row.length);
            }

            @Override
            public void batchDone(int images) {
                count[0] += images;
                if (done != null) done.accept(count[0]);
            }
        });
        return out[0];
    }

    /** In-memory images as a dataset (ids image#0, image#1, ...; unlabelled). */
    public static Dataset images(List<RgbImage> images) {
        return inMemory(images.size(), i -> new Sample.PixelSource(images.get(i)));
    }

    /**
     * Encoded images in memory (JPEG, PNG, ... bytes, e.g. request bodies) as a dataset (ids image#0, image#1, ...;
     * unlabelled), decoded on the workers as files are; one that does not decode fails alone, named by its id.
     */
    public static Dataset encoded(List<byte[]> images) {
        return inMemory(images.size(), i -> new Sample.BytesSource("image#" + i, images.get(i)));
    }

    private static Dataset inMemory(int n, IntFunction<Sample.Source> source) {
        List<Sample> s = new ArrayList<>(n);
        for (int i = 0; i < n; i++) s.add(new Sample("image#" + i, -1, "", source.apply(i)));
        return Dataset.of(s, List.of());
    }

    /**
     * {@code x_norm_patchtokens} of one image on its whole-image patch grid, for the feature pictures ({@code pca},
     * {@code match}): the image resized onto the grid ({@link PatchFeatures#input}), normalised, one forward.
     */
    public static PatchFeatures patchFeatures(DinoVisionTransformer model, RgbImage image, int resolution) {
        int p = model.config().patchSize();
        RgbImage in = PatchFeatures.input(image, resolution, p);
        var opts = new Options(List.of(Output.PATCH_TOKENS), new Preprocess(0, 0, 0), 1, 1, ImageDecoder.DEFAULT_MAX_PIXELS);
        try (FeatureExtractor fx = new FeatureExtractor(model, opts)) {
            return new PatchFeatures(in.height() / p, in.width() / p, model.config().embedDim(), fx.rows(images(List.of(in)), null));
        }
    }

    public void run(Dataset ds, Sink sink) {
        run(ds, 0, ds.size(), sink);
    }

    /** Samples [from, to) of ds through the pipeline; batches never span two calls. */
    public void run(Dataset ds, int from, int to, Sink sink) {
        int window = Math.max(2 * o.batchSize(), 2 * o.workers());
        ArrayDeque<Future<Prepared>> ahead = new ArrayDeque<>();
        List<Prepared> batch = new ArrayList<>();
        int next = from;
        try {
            for (int i = from; i < to; i++) {
                while (next < to && ahead.size() < window) {
                    int k = next++;
                    Sample smp = ds.get(k);
                    ahead.add(pool.submit(() -> prepare(k, smp)));
                }
                Prepared p = get(ahead.poll(), i, ds);
                if (p.error() != null) {
                    sink.accept(new Item(p.index(), p.sample(), null, p.error(), p.width(), p.height()));
                    continue;
                }
                if (!batch.isEmpty() && (batch.get(0).h() != p.h() || batch.get(0).w() != p.w())) flush(batch, sink);
                batch.add(p);
                if (batch.size() == o.batchSize()) flush(batch, sink);
            }
            flush(batch, sink);
        } finally {
            for (Future<Prepared> f : ahead) f.cancel(true);
        }
    }

    /** One decoded, transformed image, or why not. */
    private record Prepared(int index, Sample sample, float[] chw, int h, int w, int width, int height, RuntimeException error) {
        static Prepared failed(int index, Sample sample, int width, int height, RuntimeException error) {
            return new Prepared(index, sample, null, 0, 0, width, height, error);
        }
    }

    private Prepared prepare(int index, Sample smp) {
        try {
            RgbImage im = smp.source().load(decoder);
            int[] hw = o.preprocess().outputSize(im.width(), im.height());
            int p = model.config().patchSize();
            if (hw[0] % p != 0 || hw[1] % p != 0)
                return Prepared.failed(index, smp, im.width(), im.height(), new IllegalArgumentException(String.format(Locale.ROOT,
                        "model input %dx%d is not a multiple of the patch size %d (use --crop or --pad %d)", hw[1], hw[0], p, p)));
            return new Prepared(index, smp, o.preprocess().chw(im), hw[0], hw[1], im.width(), im.height(), null);
        } catch (RuntimeException e) {
            return Prepared.failed(index, smp, 0, 0, e);
        }
    }

    private static Prepared get(Future<Prepared> f, int index, Dataset ds) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted");
        } catch (ExecutionException e) {
            return Prepared.failed(index, ds.get(index), 0, 0, new IllegalStateException(String.valueOf(e.getCause()), e.getCause()));
        }
    }

    private void flush(List<Prepared> batch, Sink sink) {
        if (batch.isEmpty()) return;
        int bs = batch.size(), h = batch.get(0).h(), w = batch.get(0).w();
        float[] px = new float[bs * 3 * h * w];
        for (int i = 0; i < bs; i++) System.arraycopy(batch.get(i).chw(), 0, px, i * 3 * h * w, 3 * h * w);
        Forward f = new Forward(model, new Tensor(px, bs, 3, h, w));
        for (int i = 0; i < bs; i++) {
            float[][] rows = new float[o.heads().size()][];
            for (int k = 0; k < rows.length; k++) rows[k] = o.heads().get(k).row(f, i);
            Prepared p = batch.get(i);
            sink.accept(new Item(p.index(), p.sample(), rows, null, p.width(), p.height()));
        }
        sink.batchDone(bs);
        batch.clear();
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
