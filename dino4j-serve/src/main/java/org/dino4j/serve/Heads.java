package org.dino4j.serve;

import java.util.ArrayList;
import java.util.List;

import org.dino4j.data.ClassNames;
import org.dino4j.heads.Classifier;
import org.dino4j.heads.Depther;
import org.dino4j.heads.HeadWeights;
import org.dino4j.heads.RandomHeads;
import org.dino4j.heads.Segmenter;
import org.dino4j.model.DinoVisionTransformer;
import org.dino4j.viz.SegmentationPictures;

/**
 * The released heads the server answers classify / depth / segment with, each on the server's backbone; any may be
 * null (its endpoint answers 501).
 *
 * @param segmentDataset the segmenter's classes and colours (ADE20K or VOC2012)
 */
public record Heads(Classifier classifier, Depther depther, Segmenter segmenter, Segmenter.Dataset segmentDataset) {
    public static final Heads NONE = new Heads(null, null, null, Segmenter.Dataset.ADE20K);

    /** Heads of the released shapes with random weights (a 4-layer linear classifier, a linear NYU depth head, a linear ADE20K segmenter): answers mean nothing. */
    public static Heads random(DinoVisionTransformer model, long seed) {
        int d = model.embedDim();
        Classifier c;
        Depther dp;
        Segmenter s;
        try (HeadWeights w = RandomHeads.classifier(d, 4, 1000, seed)) {
            c = Classifier.of(model, w, ClassNames.imagenet1k());
        }
        try (HeadWeights w = RandomHeads.linearDepth(d, 1, seed + 1)) {
            dp = Depther.of(model, w, Depther.Dataset.NYU);
        }
        try (HeadWeights w = RandomHeads.segmentation(d, 1, Segmenter.Dataset.ADE20K.classes, seed + 2)) {
            s = Segmenter.of(model, w, Segmenter.Dataset.ADE20K.classes, Segmenter.Dataset.ADE20K.name(), null);
        }
        return new Heads(c, dp, s, Segmenter.Dataset.ADE20K);
    }

    /** The endpoints these heads serve, for /health. */
    public List<String> names() {
        List<String> n = new ArrayList<>();
        if (classifier != null) n.add("classify");
        if (depther != null) n.add("depth");
        if (segmenter != null) n.add("segment");
        return n;
    }

    SegmentationPictures.Palette palette() {
        return segmentDataset == Segmenter.Dataset.VOC2012 ? SegmentationPictures.Palette.VOC2012 : SegmentationPictures.Palette.ADE20K;
    }
}
