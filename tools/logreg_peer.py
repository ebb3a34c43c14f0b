#!/usr/bin/env python3
"""Logistic regression as the official dinov2/eval/log_regression.py runs it, with scikit-learn's
LogisticRegression(C, solver="lbfgs", max_iter, tol) (the official uses cuML's L-BFGS on the same objective): the
reference org.dino4j.eval.LogisticRegression is checked against. Features: IDX images (pixels / 255, one channel),
as dino4j's Features.pixels, or the cls vectors of `dino4j embed` outputs.

  one C, fitted on all training rows and scored on the test rows:
    PYTHONPATH=/opt/dino4j-peers python3 tools/logreg_peer.py --idx-train train-images-idx3-ubyte.gz \\
        --idx-test t10k-images-idx3-ubyte.gz --C 1e-3
  the protocol (C sweep 10 ** linspace(-6, 5, 45), C chosen on 10 % of the training rows, refit on all of them):
    ... --sweep [--cs 1e-4,1e-3,1e-2] [--subset 6000]
Options: --max-iter 1000 --tol 1e-12 (the official values), --seed 0 (the split: the same SplitMix64 Fisher-Yates
shuffle as LogisticRegression.permutation, so both draw the same held-out rows), --float32 (fit in float32 instead
of the official float64), --subset N (the first N training rows only).
On a machine whose cores are busy, set OPENBLAS_NUM_THREADS=1: OpenBLAS's spinning threads made each loss/gradient
evaluation 8x slower here (2 cores shared with a training run).
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from knn_peer import embed_dir, idx_images  # noqa: E402

M64 = (1 << 64) - 1


def permutation(n, seed):
    """LogisticRegression.permutation: Fisher-Yates, j = (next SplitMix64 value, unsigned) mod (i + 1)."""
    p = list(range(n))
    s = seed & M64
    for i in range(n - 1, 0, -1):
        s = (s + 0x9E3779B97F4A7C15) & M64
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        z ^= z >> 31
        j = z % (i + 1)
        p[i], p[j] = p[j], p[i]
    return np.array(p, dtype=np.int64)


def fit(x, y, c, max_iter, tol):
    from sklearn.linear_model import LogisticRegression
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    t0 = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = LogisticRegression(C=c, solver="lbfgs", max_iter=max_iter, tol=tol).fit(x, y)
    return m, time.time() - t0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--idx-train"); p.add_argument("--idx-test")
    p.add_argument("--embed-train"); p.add_argument("--embed-test")
    p.add_argument("--C", type=float); p.add_argument("--sweep", action="store_true")
    p.add_argument("--cs", help="comma-separated C values for --sweep (default: the official 45)")
    p.add_argument("--max-iter", type=int, default=1000); p.add_argument("--tol", type=float, default=1e-12)
    p.add_argument("--seed", type=int, default=0); p.add_argument("--subset", type=int)
    p.add_argument("--float32", action="store_true")
    a = p.parse_args()
    if a.idx_train:
        (xtr, ytr), (xte, yte) = idx_images(a.idx_train), idx_images(a.idx_test)
    else:
        (xtr, ytr), (xte, yte) = embed_dir(a.embed_train), embed_dir(a.embed_test)
    if a.subset:
        xtr, ytr = xtr[:a.subset], ytr[:a.subset]
    dt = np.float32 if a.float32 else np.float64
    xtr, xte = xtr.astype(dt), xte.astype(dt)
    print("sklearn logistic regression: %d train, %d test, %d dimensions, %s, max_iter %d, tol %g"
          % (len(ytr), len(yte), xtr.shape[1], np.dtype(dt).name, a.max_iter, a.tol))
    result = {}
    if a.sweep:
        cs = [float(c) for c in a.cs.split(",")] if a.cs else list(10 ** np.linspace(-6, 5, 45))
        n = len(ytr)
        perm = permutation(n, a.seed)
        nv = n // 10
        xv, yv, xf, yf = xtr[perm[:nv]], ytr[perm[:nv]], xtr[perm[nv:]], ytr[perm[nv:]]
        best, best_acc, points = None, -1.0, []
        for c in cs:
            m, t = fit(xf, yf, c, a.max_iter, a.tol)
            acc = float(np.mean(m.predict(xv) == yv))
            points.append({"C": c, "val_acc": 100 * acc, "n_iter": int(m.n_iter_[0]), "seconds": t})
            print("C %-12.6g  val %6.2f  %5d iterations  %7.1f s" % (c, 100 * acc, m.n_iter_[0], t), flush=True)
            if acc > best_acc:  # the first of equal accuracies, as the official MetricTracker
                best, best_acc = c, acc
        result["sweep"] = points
        c = best
    else:
        if a.C is None:
            p.error("give --C or --sweep")
        c = a.C
    m, t = fit(xtr, ytr, c, a.max_iter, a.tol)
    acc = float(np.mean(m.predict(xte) == yte))
    print("C %g: test top-1 %.2f, %d iterations, %.1f s" % (c, 100 * acc, m.n_iter_[0], t))
    result.update({"C": c, "test_acc": 100 * acc, "n_iter": int(m.n_iter_[0]), "seconds": t})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
