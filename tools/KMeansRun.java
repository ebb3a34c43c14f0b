// Runs dino4j's k-means (k-means++ init, Lloyd) on Fashion-MNIST raw pixels or on `dino4j embed` vectors and writes
// the vectors, the initial centroids and our result for tools/kmeans_peer.py to rerun with faiss from the same start.
// Usage: java --add-modules jdk.incubator.vector -cp dino4j-cli/target/dino4j.jar tools/KMeansRun.java INPUT K ITERS SEED OUTDIR
//   INPUT: an IDX images file (raw pixels / 255) or a `dino4j embed` output folder (its cls vectors)
import java.io.DataOutputStream;
import java.io.BufferedOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import org.dino4j.curate.KMeans;
import org.dino4j.data.Datasets;
import org.dino4j.embed.EmbedDir;
import org.dino4j.embed.PixelRows;

public class KMeansRun {
    public static void main(String[] a) throws Exception {
        Path in = Path.of(a[0]);
        int k = Integer.parseInt(a[1]), iters = Integer.parseInt(a[2]);
        long seed = Long.parseLong(a[3]);
        Path out = Path.of(a[4]);
        Files.createDirectories(out);
        float[] x;
        int d;
        if (Files.isDirectory(in)) {
            EmbedDir.Rows r = EmbedDir.read(in, "cls");
            x = r.x();
            d = r.dim();
        } else {
            PixelRows p = PixelRows.of(Datasets.open(in));
            x = p.x();
            d = p.dim();
        }
        int n = x.length / d;
        KMeans.Data data = KMeans.local(x, n, d);
        long t0 = System.nanoTime();
        float[] init = KMeans.init(data, k, seed);
        long t1 = System.nanoTime();
        KMeans.Result r = KMeans.fit(data, init, k, iters, null);
        long t2 = System.nanoTime();
        write(out.resolve("x.f32"), x);
        write(out.resolve("init.f32"), init);
        write(out.resolve("centroids.f32"), r.centroids());
        long empty = 0;
        for (long s : r.sizes()) if (s == 0) empty++;
        Files.writeString(out.resolve("dino4j.json"), String.format(java.util.Locale.ROOT,
                "{\"n\": %d, \"d\": %d, \"k\": %d, \"iterations\": %d, \"objective\": %.10g, \"empty_clusters\": %d, \"init_s\": %.2f, \"lloyd_s\": %.2f}%n",
                n, d, k, r.iterations(), r.objective(), empty, (t1 - t0) / 1e9, (t2 - t1) / 1e9));
        System.out.println(Files.readString(out.resolve("dino4j.json")).trim());
    }

    static void write(Path f, float[] v) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        Files.write(f, b.array());
    }
}
