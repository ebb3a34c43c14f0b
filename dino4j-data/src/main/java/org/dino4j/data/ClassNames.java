package org.dino4j.data;

import java.util.List;

/**
 * The class names of the datasets Meta's released heads were trained on, in the order of the heads' outputs (index
 * i names output i). Each list is a resource beside this class, one name a line, whose header says where it was
 * copied from:
 * <ul>
 * <li>{@link #imagenet1k()}: 1000 names, torchvision's {@code _IMAGENET_CATEGORIES} (the ILSVRC2012 wnid order the
 * ImageNet-1k linear classifiers use);</li>
 * <li>{@link #ade20k()}: 150 names, mmsegmentation's {@code ADE20KDataset} classes (0 = wall; ADE's "other" label 0
 * is not a head output);</li>
 * <li>{@link #voc2012()}: 21 names, 0 = background, then the 20 PASCAL VOC classes.</li>
 * </ul>
 */
public final class ClassNames {
    private ClassNames() {}

    private static final class Lists { // loaded on first use, once
        static final List<String> IMAGENET1K = load("imagenet1k.txt", 1000);
        static final List<String> ADE20K = load("ade20k.txt", 150);
        static final List<String> VOC2012 = load("voc2012.txt", 21);
    }

    public static List<String> imagenet1k() {
        return Lists.IMAGENET1K;
    }

    public static List<String> ade20k() {
        return Lists.ADE20K;
    }

    public static List<String> voc2012() {
        return Lists.VOC2012;
    }

    private static List<String> load(String name, int expected) {
        return Resources.lines(ClassNames.class, name, expected);
    }
}
