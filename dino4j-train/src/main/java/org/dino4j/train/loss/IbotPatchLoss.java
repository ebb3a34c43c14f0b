package org.dino4j.train.loss;

import org.dino4j.train.autograd.Tape;
import org.dino4j.train.autograd.Var;

/**
 * The official iBOTPatchLoss.forward_masked: per masked patch the cross-entropy against the teacher's target, weighted
 * by 1 / (masked patches of its image) unless weights are given, summed and divided by the number of images (images
 * without masked patches count in that number). Centering as {@link DinoLoss}; Sinkhorn-Knopp counts the masked patches.
 */
public final class IbotPatchLoss {
    private final DinoLoss centering; // same center arithmetic, on [1, K]

    public IbotPatchLoss(int outDim) {
        this.centering = new DinoLoss(outDim);
    }

    public DinoLoss.CenterState centerState() {
        return centering.centerState();
    }

    public void restore(DinoLoss.CenterState s) {
        centering.restore(s);
    }

    /** softmax_center_teacher on the masked patches' logits [M, K] (a pending center update is applied first). */
    public float[] softmaxCenterTeacher(float[] teacherLogits, float temp) {
        return centering.softmaxCenterTeacher(teacherLogits, temp);
    }

    /** update_center: the mean over the masked patches (one process), applied at the next softmax_center_teacher. */
    public void updateCenter(float[] teacherLogits) {
        centering.updateCenter(teacherLogits);
    }

    public float[] sinkhornKnoppTeacher(float[] teacherLogits, int k, float temp, int nMaskedPatches, int iterations) {
        return Centering.sinkhornKnopp(teacherLogits, teacherLogits.length / k, k, temp, iterations, nMaskedPatches);
    }

    /**
     * @param s student logits of the masked patches [M, K], in mask order (image by image, patch by patch)
     * @param teacher targets [M, K]
     * @param masks [images * patches]
     * @param masksWeight [M] or null for the default 1 / (masked patches of the patch's image)
     */
    public Var forwardMasked(Tape t, Var s, float[] teacher, boolean[] masks, int images, float[] masksWeight) {
        int m = s.rows(), n = masks.length / images;
        float[] w = masksWeight;
        if (w == null) {
            w = new float[m];
            int r = 0;
            for (int b = 0; b < images; b++) {
                int cnt = 0;
                for (int i = 0; i < n; i++) if (masks[b * n + i]) cnt++;
                for (int i = 0; i < cnt; i++) w[r++] = 1f / Math.max(cnt, 1);
            }
            if (r != m) throw new IllegalArgumentException(m + " student rows for " + r + " masked patches");
        }
        Var ce = t.softCrossEntropy(s, teacher, DinoLoss.STUDENT_TEMP);
        return t.affine(t.dot(ce, w), 1f / images, 0f);
    }
}
