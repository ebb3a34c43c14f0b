package org.dino4j.heads;

import java.util.ArrayList;
import java.util.List;

import org.dino4j.kernels.GridOps;
import org.dino4j.kernels.KernelOperations;
import org.dino4j.kernels.Kernels;
import org.dino4j.kernels.Parallel;
import org.dino4j.tensor.Tensor;

/**
 * mmseg 0.x {@code EncoderDecoder} test-time inference, row strip by row strip so that memory stays bounded whatever
 * the photo's size: for each augmented input (a rescaled and possibly flipped copy of the image), whole or sliding-window
 * {@code encode_decode} (the head's logits on the padded grid, resized bilinearly to the crop), crops summed and divided
 * by how many cover each pixel, resized to the original size, softmax, flipped back; the augmentations' probabilities
 * are averaged ({@code aug_test}). Nothing of size H·W·classes is ever held whole: each stage is evaluated on demand
 * for the rows the next one needs.
 */
final class SlideInference {
    private SlideInference() {}

    /** Logits (gh·gw·classes, channels-last) of the head on one crop's padded grid, and the grid's size. */
    record GridLogits(int gh, int gw, float[] logits) {}

    /** Runs backbone + head on one crop (1, 3, h, w) of an augmented input. */
    interface Encoder {
        GridLogits encode(Tensor crop);
    }

    /** One augmented input: normalised pixels (1, 3, h, w) and whether it was flipped horizontally. */
    record Aug(Tensor pixels, boolean flip) {}

    /** Whole-image inference when {@code cropH == 0}, else windows of cropH × cropW every strideH / strideW pixels. */
    record Window(int cropH, int cropW, int strideH, int strideW) {
        static final Window WHOLE = new Window(0, 0, 0, 0);

        boolean whole() {
            return cropH == 0;
        }
    }

    /** Receives the averaged class probabilities of rows [y0, y1): (y1 - y0)·W·classes values. */
    interface Strips {
        void accept(int y0, int y1, float[] probabilities);
    }

    /** A map evaluated on demand, row range by row range. */
    interface Field {
        int h();

        int w();

        /** Writes rows [y0, y1) into out, (y1 - y0)·w·c values. */
        void rows(int y0, int y1, float[] out);
    }

    static void run(int height, int width, int classes, List<Aug> augs, Window win, Encoder enc, Strips sink) {
        run(height, width, classes, augs, win, enc, true, sink);
    }

    /**
     * @param probabilities false when only the argmax matters: one pass then skips the softmax (monotone, so the
     *                      argmax of its logits is that of its probabilities) and the sink gets the logits
     */
    static void run(int height, int width, int classes, List<Aug> augs, Window win, Encoder enc, boolean probabilities, Strips sink) {
        List<Field> fields = new ArrayList<>();
        for (Aug a : augs) fields.add(new Resized(slide(a.pixels(), win, enc, classes), height, width, classes));
        boolean softmax = probabilities || augs.size() > 1;
        int strip = (int) Math.max(1, Math.min(height, (8L << 20) / ((long) width * classes)));
        float[] acc = new float[strip * width * classes], buf = new float[strip * width * classes];
        KernelOperations kn = Kernels.get();
        for (int y0 = 0; y0 < height; y0 += strip) {
            int y1 = Math.min(height, y0 + strip), n = (y1 - y0) * width;
            if (!softmax) {
                fields.get(0).rows(y0, y1, acc);
                sink.accept(y0, y1, acc);
                continue;
            }
            java.util.Arrays.fill(acc, 0, n * classes, 0f);
            float scale = 1f / augs.size();
            for (int a = 0; a < augs.size(); a++) {
                fields.get(a).rows(y0, y1, buf);
                boolean flip = augs.get(a).flip();
                Parallel.forRange(n, 256, (p0, p1) -> {
                    float[] e = new float[classes];
                    for (int p = p0; p < p1; p++) {
                        int o = p * classes, x = p % width, row = p / width;
                        kn.expDiv(buf, o, e, 0, classes, 1f, kn.max(buf, o, classes));
                        float inv = (float) (scale / kn.sum(e, 0, classes));
                        int t = (row * width + (flip ? width - 1 - x : x)) * classes;
                        for (int k = 0; k < classes; k++) acc[t + k] += e[k] * inv;
                    }
                });
            }
            sink.accept(y0, y1, acc);
        }
    }

    /** The input's logits at its own size: whole {@code encode_decode}, or mmseg's sliding windows. */
    static Field slide(Tensor img, Window win, Encoder enc, int classes) {
        int h = img.size(2), w = img.size(3);
        if (win.whole()) return crop(img, 0, 0, h, w, enc, classes);
        int hGrids = Math.max(h - win.cropH() + win.strideH() - 1, 0) / win.strideH() + 1;
        int wGrids = Math.max(w - win.cropW() + win.strideW() - 1, 0) / win.strideW() + 1;
        List<int[]> boxes = new ArrayList<>();
        List<Field> crops = new ArrayList<>();
        for (int hi = 0; hi < hGrids; hi++)
            for (int wi = 0; wi < wGrids; wi++) {
                int y2 = Math.min(hi * win.strideH() + win.cropH(), h), x2 = Math.min(wi * win.strideW() + win.cropW(), w);
                int y1 = Math.max(y2 - win.cropH(), 0), x1 = Math.max(x2 - win.cropW(), 0);
                boxes.add(new int[] {y1, x1, y2, x2});
                crops.add(crop(img, y1, x1, y2 - y1, x2 - x1, enc, classes));
            }
        return new Summed(h, w, classes, boxes, crops);
    }

    /** {@code encode_decode} of img[:, :, y:y+ch, x:x+cw]: the head's grid logits, resized to the crop lazily. */
    private static Field crop(Tensor img, int y, int x, int ch, int cw, Encoder enc, int classes) {
        int h = img.size(2), w = img.size(3);
        Tensor c = img;
        if (y != 0 || x != 0 || ch != h || cw != w) {
            float[] src = img.data(), out = new float[3 * ch * cw];
            for (int k = 0; k < 3; k++)
                for (int r = 0; r < ch; r++) System.arraycopy(src, (k * h + y + r) * w + x, out, (k * ch + r) * cw, cw);
            c = new Tensor(out, 1, 3, ch, cw);
        }
        GridLogits g = enc.encode(c);
        return new Resized(new Dense(g.gh(), g.gw(), classes, g.logits()), ch, cw, classes);
    }

    /** A map held whole (a head's grid). */
    record Dense(int h, int w, int c, float[] v) implements Field {
        @Override
        public void rows(int y0, int y1, float[] out) {
            System.arraycopy(v, y0 * w * c, out, 0, (y1 - y0) * w * c);
        }
    }

    /** Sliding windows: the crops' maps added where they lie, divided by how many crops cover each pixel. */
    private record Summed(int h, int w, int c, List<int[]> boxes, List<Field> crops) implements Field {
        @Override
        public void rows(int y0, int y1, float[] out) {
            int n = (y1 - y0) * w;
            java.util.Arrays.fill(out, 0, n * c, 0f);
            int[] count = new int[n];
            for (int i = 0; i < boxes.size(); i++) {
                int[] b = boxes.get(i);
                int r0 = Math.max(y0, b[0]), r1 = Math.min(y1, b[2]);
                if (r0 >= r1) continue;
                int cw = b[3] - b[1];
                float[] part = new float[(r1 - r0) * cw * c];
                crops.get(i).rows(r0 - b[0], r1 - b[0], part);
                for (int r = r0; r < r1; r++)
                    for (int x = b[1]; x < b[3]; x++) {
                        int o = ((r - y0) * w + x), s = ((r - r0) * cw + x - b[1]) * c;
                        count[o]++;
                        for (int k = 0; k < c; k++) out[o * c + k] += part[s + k];
                    }
            }
            for (int p = 0; p < n; p++)
                for (int k = 0; k < c; k++) out[p * c + k] /= count[p];
        }
    }

    /**
     * {@code F.interpolate(src, size=(h, w), mode="bilinear", align_corners=False)} evaluated for a row range: it asks
     * the source only for the rows it needs.
     */
    static final class Resized implements Field {
        private final Field src;
        private final int h, w, c;
        private final int[] y0s, y1s, x0s, x1s;
        private final float[] ly, lx;

        Resized(Field src, int h, int w, int c) {
            this.src = src;
            this.h = h;
            this.w = w;
            this.c = c;
            y0s = new int[h];
            y1s = new int[h];
            ly = new float[h];
            x0s = new int[w];
            x1s = new int[w];
            lx = new float[w];
            GridOps.bilinearAxis(src.h(), h, false, y0s, y1s, ly); // the resize kernel's own taps
            GridOps.bilinearAxis(src.w(), w, false, x0s, x1s, lx);
        }

        @Override
        public int h() {
            return h;
        }

        @Override
        public int w() {
            return w;
        }

        @Override
        public void rows(int y0, int y1, float[] out) {
            if (src.h() == h && src.w() == w) {
                src.rows(y0, y1, out);
                return;
            }
            int s0 = y0s[y0], s1 = y1s[y1 - 1] + 1, sw = src.w();
            float[] s = new float[(s1 - s0) * sw * c];
            src.rows(s0, s1, s);
            Parallel.forRange(y1 - y0, 1, (r0, r1) -> interpolate(s, s0, sw, y0 + r0, y0 + r1, y0, out));
        }

        /** Output rows [ya, yb) from the source rows held in s (from row s0), written relative to row y0. */
        private void interpolate(float[] s, int s0, int sw, int ya, int yb, int y0, float[] out) {
            for (int y = ya; y < yb; y++) {
                int ra = (y0s[y] - s0) * sw, rb = (y1s[y] - s0) * sw;
                float b1 = ly[y], b0 = 1 - b1;
                for (int x = 0; x < w; x++) {
                    float a1 = lx[x], a0 = 1 - a1;
                    int p00 = (ra + x0s[x]) * c, p01 = (ra + x1s[x]) * c, p10 = (rb + x0s[x]) * c, p11 = (rb + x1s[x]) * c;
                    int o = ((y - y0) * w + x) * c;
                    for (int k = 0; k < c; k++)
                        out[o + k] = b0 * (a0 * s[p00 + k] + a1 * s[p01 + k]) + b1 * (a0 * s[p10 + k] + a1 * s[p11 + k]);
                }
            }
        }
    }
}
