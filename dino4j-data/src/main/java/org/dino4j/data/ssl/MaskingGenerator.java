package org.dino4j.data.ssl;

/**
 * The official iBOT block masking ({@code dinov2/data/masking.py, MaskingGenerator}), draw for draw: rectangles of
 * random area and aspect ratio are added to a {@code height x width} patch grid until the requested number of
 * patches is masked, each rectangle drawn from a {@link PyRandom} exactly as the Python code draws from
 * {@code random}. Immutable; the generator state lives in the {@link PyRandom} passed to {@link #mask}.
 *
 * <p>{@code maxNumPatches} is a double because train.py passes a float ({@link #official} shows why). The aspect
 * ratio is {@code exp} of a uniform draw: Java's {@code Math.exp} and glibc's differ in the last bit for about
 * 0.2% of arguments, which changes a rectangle only if {@code sqrt(area * aspect)} lies within ~1e-14 of a
 * half-integer, i.e. never in practice.
 */
public record MaskingGenerator(int height, int width, int minNumPatches, double maxNumPatches, double minAspect,
                               double maxAspect) {
    public MaskingGenerator {
        if (height < 1 || width < 1) throw new IllegalArgumentException("grid " + height + "x" + width);
        if (!(minAspect > 0 && maxAspect > 0)) throw new IllegalArgumentException("aspect " + minAspect + ".." + maxAspect);
    }

    /** The constructor's defaults: min_num_patches=4, min_aspect=0.3, max_aspect=1/min_aspect. */
    public MaskingGenerator(int height, int width, double maxNumPatches) {
        this(height, width, 4, maxNumPatches, 0.3, 1 / 0.3);
    }

    /**
     * What train.py builds: a grid of {@code img_size // patch_size} squared and
     * {@code max_num_patches=0.5 * img_size // patch_size * img_size // patch_size}, which Python evaluates left to
     * right in floats, {@code ((0.5 * img // p) * img) // p}: 128.0 for 224/14 (half the 256 patches), but 666.0 for
     * 518/14 where half the 1369 patches would be 684.5.
     */
    public static MaskingGenerator official(int imgSize, int patchSize) {
        int g = imgSize / patchSize;
        double max = floorDiv(floorDiv(0.5 * imgSize, patchSize) * imgSize, patchSize);
        return new MaskingGenerator(g, g, max);
    }

    /** Python's float {@code a // b} (CPython's float_floor_div: fmod, then correct the quotient). */
    static double floorDiv(double a, double b) {
        double mod = a % b; // Java's % on doubles is C's fmod
        double div = (a - mod) / b;
        if (mod != 0 && (b < 0) != (mod < 0)) div -= 1.0;
        if (div == 0) return Math.copySign(0.0, a / b);
        double floor = Math.floor(div);
        return div - floor > 0.5 ? floor + 1.0 : floor;
    }

    public int numPatches() {
        return height * width;
    }

    /**
     * {@code __call__(num_masking_patches)}: a fresh row-major {@code height * width} mask; stops early (with fewer
     * patches) when ten attempts in a row add nothing, as the official code does.
     */
    public boolean[] mask(int numMaskingPatches, PyRandom random) {
        boolean[] mask = new boolean[height * width];
        int count = 0;
        while (count < numMaskingPatches) {
            double maxMaskPatches = Math.min(numMaskingPatches - count, maxNumPatches);
            int delta = addRectangle(mask, maxMaskPatches, random);
            if (delta == 0) break;
            count += delta;
        }
        return mask;
    }

    /** {@code _mask}: up to ten tries at one rectangle that adds at most {@code maxMaskPatches} new patches. */
    private int addRectangle(boolean[] mask, double maxMaskPatches, PyRandom random) {
        double logMin = Math.log(minAspect), logMax = Math.log(maxAspect);
        int delta = 0;
        for (int attempt = 0; attempt < 10; attempt++) {
            double targetArea = random.uniform(minNumPatches, maxMaskPatches);
            double aspectRatio = Math.exp(random.uniform(logMin, logMax));
            long h = (long) Math.rint(Math.sqrt(targetArea * aspectRatio)); // int(round(x)): ties to even, like rint
            long w = (long) Math.rint(Math.sqrt(targetArea / aspectRatio));
            if (w < width && h < height) {
                int top = (int) random.randint(0, height - h);
                int left = (int) random.randint(0, width - w);
                int masked = 0;
                for (int i = top; i < top + h; i++)
                    for (int j = left; j < left + w; j++)
                        if (mask[i * width + j]) masked++;
                long fresh = h * w - masked;
                if (0 < fresh && fresh <= maxMaskPatches) {
                    for (int i = top; i < top + h; i++)
                        for (int j = left; j < left + w; j++)
                            if (!mask[i * width + j]) {
                                mask[i * width + j] = true;
                                delta++;
                            }
                }
                if (delta > 0) break;
            }
        }
        return delta;
    }
}
