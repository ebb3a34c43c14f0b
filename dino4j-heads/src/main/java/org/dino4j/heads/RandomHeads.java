package org.dino4j.heads;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import org.dino4j.io.TensorEntry;
import org.dino4j.io.TensorStore;

/**
 * Heads of the released shapes with random weights, laid out as Meta's files are: for trying the commands and for
 * measuring speed where no released weights can be downloaded. Their answers mean nothing.
 */
public final class RandomHeads {
    private RandomHeads() {}

    /** {@code *_linear{,4}_head.pth}: Linear((1 + layers)·dim, classes). */
    public static HeadWeights classifier(int dim, int layers, int classes, long seed) {
        Builder b = new Builder(seed);
        b.normal("weight", 0.02, classes, (1 + layers) * dim).zeros("bias", classes);
        return b.build();
    }

    /** {@code *_{nyu,kitti}_linear{,4}_head.pth}: conv_depth (256, 2·dim·layers, 1, 1). */
    public static HeadWeights linearDepth(int dim, int layers, long seed) {
        Builder b = new Builder(seed);
        b.normal("decode_head.conv_depth.weight", 0.02, 256, 2 * dim * layers, 1, 1).normal("decode_head.conv_depth.bias", 0.5, 256);
        return b.build();
    }

    /** {@code *_{nyu,kitti}_dpt_head.pth}: the hub factory's DPTHead at {@code channels} (256 in the released heads). */
    public static HeadWeights dpt(int dim, int channels, long seed) {
        Builder b = new Builder(seed);
        String r = "decode_head.reassemble_blocks.";
        int[] post = {dim / 8, dim / 4, dim / 2, dim};
        for (int i = 0; i < 4; i++) {
            b.normal(r + "projects." + i + ".conv.weight", 0.05, post[i], dim, 1, 1).zeros(r + "projects." + i + ".conv.bias", post[i]);
            b.normal(r + "readout_projects." + i + ".0.weight", 0.05, dim, 2 * dim).zeros(r + "readout_projects." + i + ".0.bias", dim);
            b.normal("decode_head.convs." + i + ".conv.weight", 0.05, channels, post[i], 3, 3);
        }
        b.normal(r + "resize_layers.0.weight", 0.05, post[0], post[0], 4, 4).zeros(r + "resize_layers.0.bias", post[0]);
        b.normal(r + "resize_layers.1.weight", 0.05, post[1], post[1], 2, 2).zeros(r + "resize_layers.1.bias", post[1]);
        b.normal(r + "resize_layers.3.weight", 0.05, post[3], post[3], 3, 3).zeros(r + "resize_layers.3.bias", post[3]);
        for (int i = 0; i < 4; i++) {
            String f = "decode_head.fusion_blocks." + i + ".";
            for (int u = i == 0 ? 2 : 1; u <= 2; u++)
                for (int c = 1; c <= 2; c++) b.normal(f + "res_conv_unit" + u + ".conv" + c + ".conv.weight", 0.02, channels, channels, 3, 3);
            b.normal(f + "project.conv.weight", 0.05, channels, channels, 1, 1).zeros(f + "project.conv.bias", channels);
        }
        b.normal("decode_head.project.conv.weight", 0.02, channels, channels, 3, 3).zeros("decode_head.project.conv.bias", channels);
        b.normal("decode_head.conv_depth.head.0.weight", 0.02, channels / 2, channels, 3, 3).zeros("decode_head.conv_depth.head.0.bias", channels / 2);
        b.normal("decode_head.conv_depth.head.2.weight", 0.02, 32, channels / 2, 3, 3).zeros("decode_head.conv_depth.head.2.bias", 32);
        b.normal("decode_head.conv_depth.head.4.weight", 0.1, 1, 32, 1, 1).constant("decode_head.conv_depth.head.4.bias", 2f, 1);
        return b.build();
    }

    /** {@code *_{ade20k,voc2012}_{linear,ms}_head.pth}: BatchNorm + conv_seg on dim·layers channels. */
    public static HeadWeights segmentation(int dim, int layers, int classes, long seed) {
        Builder b = new Builder(seed);
        int c = dim * layers;
        b.constant("decode_head.bn.weight", 1f, c).zeros("decode_head.bn.bias", c).zeros("decode_head.bn.running_mean", c)
                .constant("decode_head.bn.running_var", 1f, c).normal("decode_head.conv_seg.weight", 0.05, classes, c, 1, 1)
                .zeros("decode_head.conv_seg.bias", classes);
        return b.build();
    }

    private static final class Builder {
        final Map<String, TensorEntry> t = new LinkedHashMap<>();
        final SplittableRandom r;

        Builder(long seed) {
            r = new SplittableRandom(seed);
        }

        Builder normal(String k, double std, int... shape) {
            float[] v = new float[size(shape)];
            for (int i = 0; i < v.length; i++) v[i] = (float) (gaussian() * std);
            return put(k, v, shape);
        }

        Builder zeros(String k, int... shape) {
            return put(k, new float[size(shape)], shape);
        }

        Builder constant(String k, float c, int... shape) {
            float[] v = new float[size(shape)];
            java.util.Arrays.fill(v, c);
            return put(k, v, shape);
        }

        private double gaussian() {
            return Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble());
        }

        private static int size(int[] shape) {
            int n = 1;
            for (int s : shape) n *= s;
            return n;
        }

        private Builder put(String k, float[] v, int[] shape) {
            long[] s = new long[shape.length];
            for (int i = 0; i < s.length; i++) s[i] = shape[i];
            t.put(k, TensorEntry.of(k, s, v));
            return this;
        }

        HeadWeights build() {
            return HeadWeights.of(TensorStore.inMemory(t), java.nio.file.Path.of("random-head"));
        }
    }
}
