// Builds the deduplication benchmark of issue 7: the first N Fashion-MNIST training images as PNG files plus M
// near-duplicates (flip, crop, JPEG, noise) made by org.dino4j.curate.NearDuplicates.
// Usage: java --add-modules jdk.incubator.vector -cp dino4j-cli/target/dino4j.jar tools/MakeDedupPool.java IDX N M OUT [CROP [corners]]
// corners: each crop copy is cut at a random one of the centre and the four corners (default: the centre)
import java.nio.file.Path;

import org.dino4j.curate.NearDuplicates;
import org.dino4j.data.Dataset;
import org.dino4j.data.Datasets;

public class MakeDedupPool {
    public static void main(String[] a) throws Exception {
        Dataset ds = Datasets.open(Path.of(a[0]));
        int n = Integer.parseInt(a[1]), m = Integer.parseInt(a[2]);
        Path out = Path.of(a[3]);
        int crop = a.length > 4 ? Integer.parseInt(a[4]) : 1;
        NearDuplicates.writeOriginals(ds, n, out.resolve("originals"));
        boolean corners = a.length > 5 && a[5].equals("corners");
        NearDuplicates.writeCopies(ds, n, m, crop, corners, 7L, out.resolve("copies"));
        System.out.println(n + " originals and " + m + " copies under " + out);
    }
}
