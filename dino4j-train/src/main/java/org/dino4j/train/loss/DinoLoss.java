package org.dino4j.train.loss;

import java.util.List;

import org.dino4j.train.autograd.Tape;
import org.dino4j.train.autograd.Var;

/**
 * The official DINOLoss (dinov2/loss/dino_clstoken_loss.py): cross-entropy between teacher targets and the
 * student's log-softmax at temperature 0.1, summed over every (student, teacher) pair and averaged over rows; the
 * teacher side is centred by softmax with an EMA center (applied one step late, as there) or by Sinkhorn-Knopp.
 */
public final class DinoLoss {
    public static final float STUDENT_TEMP = 0.1f;
    private final int k;
    private final float centerMomentum;
    private final float[] center;
    private float[] pending; // batch center waiting to be applied, as the official async update
    private int pendingRows;

    public DinoLoss(int outDim) {
        this(outDim, 0.9f);
    }

    public DinoLoss(int outDim, float centerMomentum) {
        this.k = outDim;
        this.centerMomentum = centerMomentum;
        this.center = new float[outDim];
    }

    public float[] center() {
        applyCenterUpdate();
        return center.clone();
    }

    public void setCenter(float[] c) {
        System.arraycopy(c, 0, center, 0, k);
        pending = null;
    }

    /** The center state a checkpoint keeps: the center, and the batch sum (with its row count) not yet applied. */
    public record CenterState(float[] center, float[] pendingSum, int pendingRows) {}

    public CenterState centerState() {
        return new CenterState(center.clone(), pending == null ? null : pending.clone(), pendingRows);
    }

    public void restore(CenterState s) {
        System.arraycopy(s.center(), 0, center, 0, k);
        pending = s.pendingSum() == null ? null : s.pendingSum().clone();
        pendingRows = s.pendingRows();
    }

    /** softmax_center_teacher: applies a pending center update first. */
    public float[] softmaxCenterTeacher(float[] teacherLogits, float temp) {
        applyCenterUpdate();
        return Centering.softmaxCenter(teacherLogits, teacherLogits.length / k, k, center, temp);
    }

    public float[] sinkhornKnoppTeacher(float[] teacherLogits, float temp, int iterations) {
        int rows = teacherLogits.length / k;
        return Centering.sinkhornKnopp(teacherLogits, rows, k, temp, iterations, rows);
    }

    /** update_center: the batch's row sum, applied at the next softmax_center_teacher call. */
    public void updateCenter(float[] teacherLogits) {
        int rows = teacherLogits.length / k;
        float[] s = new float[k];
        for (int i = 0; i < rows; i++) for (int j = 0; j < k; j++) s[j] += teacherLogits[i * k + j];
        pending = s;
        pendingRows = rows;
    }

    private void applyCenterUpdate() {
        if (pending == null) return;
        for (int j = 0; j < k; j++) center[j] = center[j] * centerMomentum + pending[j] / pendingRows * (1 - centerMomentum);
        pending = null;
    }

    /** forward(student_output_list, teacher_out_softmaxed_centered_list): -sum_pairs mean_rows(sum t log_softmax(s / 0.1)). */
    public Var forward(Tape t, List<Var> students, List<float[]> teachers) {
        Var total = null;
        for (Var s : students)
            for (float[] tp : teachers) {
                Var term = t.mean(t.softCrossEntropy(s, tp, STUDENT_TEMP));
                total = total == null ? term : t.add(total, term);
            }
        return total;
    }
}
