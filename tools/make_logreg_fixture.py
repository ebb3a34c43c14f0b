"""Logistic-regression fixture: scikit-learn's LogisticRegression(solver="lbfgs") fitted to a small random
dataset, for dino4j's org.dino4j.eval.LogisticRegression.

Writes fixtures/extra/logreg.safetensors:
  x_train  F32 (N, D)   four overlapping Gaussian classes, columns scaled by 0.1..10 and shifted (sklearn neither
                        centres nor scales, so neither may dino4j); fitted in float64 from these float32 values
  y_train  I64 (N,)
  x_test   F32 (M, D), y_test I64 (M,)
  mc/<i>/C          F64 (1,)     C of multinomial case i (CS)
  mc/<i>/coef       F64 (K, D)   coef_
  mc/<i>/intercept  F64 (K,)     intercept_
  mc/<i>/pred       I64 (M,)     predict(x_test)
  mc/<i>/proba      F64 (M, K)   predict_proba(x_test)
  mc/<i>/grad       F64 (2,)     max |gradient| and |gradient|_2 at sklearn's solution of the objective scipy
                                 minimises, mean CE + |W|^2 / (2 C N): how converged the reference is
  mc/<i>/hess_min   F64 (1,)     the smallest eigenvalue of that objective's Hessian at the optimum, leaving out
                                 the null direction (all intercepts shifted together): a point with gradient g
                                 lies about |g|_2 / hess_min from the optimum
  mc/<i>/n_iter     I64 (1,)
  mc/<i>/coef_exact, mc/<i>/intercept_exact   F64   the exact optimum: Newton steps (pseudo-inverse of the
                                 Hessian, intercepts re-centred) from sklearn's solution until the gradient is at
                                 rounding level; sklearn stops on its ftol (64 eps relative reduction) a little short
  bin/...           the same for classes 0 and 1 of the training rows only (sklearn's binomial model:
                    coef (1, D), intercept (1,)), tested on the test rows of those classes (bin/x_test, bin/y_test);
                    bin/coef_exact, bin/intercept_exact by Newton on the multinomial with C/2 (the same optimum:
                    coef = w1 - w0), which also checks that equivalence against sklearn; bin/hess_min of the
                    binomial objective mean CE + |v|^2 / (2 C n) (no null direction)
Usage: PYTHONPATH=/opt/dino4j-peers python3 tools/make_logreg_fixture.py
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_image_fixtures import write_safetensors  # noqa: E402
import sklearn
from sklearn.linear_model import LogisticRegression

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "extra", "logreg.safetensors")
N, M, D, K = 300, 100, 20, 4
CS = [1e-3, 0.1, 10.0]
BIN_C = 0.5
MAX_ITER, TOL = 10000, 1e-10


def data(rng, n, means, scale, shift):
    y = rng.integers(0, K, n)
    y[:K] = np.arange(K)  # every class present
    x = (means[y] + rng.normal(0, 1.5, (n, D))) * scale + shift
    return x.astype(np.float32), y.astype(np.int64)


def softmax(z):
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def newton(X, y, C, coef, intercept):
    """Polishes (coef, intercept) to the optimum of mean CE + |W|^2 / (2 C n) (the multinomial objective); also
    returns the last gradient's max-abs and the Hessian's smallest eigenvalue but for the one null direction."""
    n, d = X.shape
    k = coef.shape[0]
    Xa = np.hstack([X, np.ones((n, 1))])
    w = np.hstack([coef, intercept[:, None]])  # (k, d + 1)
    pen = np.ones(d + 1)
    pen[-1] = 0
    for _ in range(8):
        p = softmax(Xa @ w.T)
        r = p.copy()
        r[np.arange(n), y] -= 1
        g = r.T @ Xa / n + w * pen / (C * n)
        a = np.einsum("na,ab->nab", p, np.eye(k)) - np.einsum("na,nb->nab", p, p)
        h = np.einsum("nab,ni,nj->aibj", a, Xa, Xa).reshape(k * (d + 1), k * (d + 1)) / n
        h += np.diag(np.tile(pen, k)) / (C * n)
        w = w - (np.linalg.pinv(h, rcond=1e-13) @ g.ravel()).reshape(k, d + 1)
        w[:, -1] -= w[:, -1].mean()
    ev = np.linalg.eigvalsh(h)
    return w[:, :-1], w[:, -1], np.abs(g).max(), ev[1]  # ev[0] ~ 0: the intercept shift


def main():
    rng = np.random.default_rng(20240607)
    means = rng.normal(0, 1, (K, D))
    scale = 10 ** rng.uniform(-1, 1, D)
    shift = rng.normal(0, 2, D)
    xtr, ytr = data(rng, N, means, scale, shift)
    xte, yte = data(rng, M, means, scale, shift)
    X = xtr.astype(np.float64)
    out = {"x_train": xtr, "y_train": ytr, "x_test": xte, "y_test": yte}
    for i, c in enumerate(CS):
        m = LogisticRegression(C=c, solver="lbfgs", max_iter=MAX_ITER, tol=TOL).fit(X, ytr)
        p = softmax(X @ m.coef_.T + m.intercept_)
        p[np.arange(N), ytr] -= 1
        g = np.concatenate([(p.T @ X / N + m.coef_ / (c * N)).ravel(), p.mean(0)])
        out[f"mc/{i}/C"] = np.array([c])
        out[f"mc/{i}/coef"] = m.coef_
        out[f"mc/{i}/intercept"] = m.intercept_
        out[f"mc/{i}/pred"] = m.predict(xte.astype(np.float64)).astype(np.int64)
        out[f"mc/{i}/proba"] = m.predict_proba(xte.astype(np.float64))
        out[f"mc/{i}/grad"] = np.array([np.abs(g).max(), np.linalg.norm(g)])
        out[f"mc/{i}/n_iter"] = np.array([int(m.n_iter_[0])], dtype=np.int64)
        ce, ie, ge, hmin = newton(X, ytr, c, m.coef_, m.intercept_)
        out[f"mc/{i}/coef_exact"], out[f"mc/{i}/intercept_exact"] = ce, ie
        out[f"mc/{i}/hess_min"] = np.array([hmin])
        print(f"C={c}: {int(m.n_iter_[0])} iterations, max|grad| {np.abs(g).max():.2e}, "
              f"test accuracy {np.mean(out[f'mc/{i}/pred'] == yte):.3f}; exact optimum (max|grad| {ge:.1e}) vs "
              f"sklearn: coef max diff {np.abs(ce - m.coef_).max():.2e} (max |coef| {np.abs(ce).max():.2e}), "
              f"intercept {np.abs(ie - m.intercept_).max():.2e}; Hessian min eigenvalue {hmin:.2e}")
    sel, selt = ytr < 2, yte < 2
    Xb, yb = X[sel], ytr[sel]
    m = LogisticRegression(C=BIN_C, solver="lbfgs", max_iter=MAX_ITER, tol=TOL).fit(Xb, yb)
    nb = len(yb)
    p = 1 / (1 + np.exp(-(Xb @ m.coef_[0] + m.intercept_[0]))) - yb
    g = np.concatenate([Xb.T @ p / nb + m.coef_[0] / (BIN_C * nb), [p.mean()]])
    out["bin/C"] = np.array([BIN_C])
    out["bin/coef"] = m.coef_
    out["bin/intercept"] = m.intercept_
    out["bin/x_test"] = xte[selt]
    out["bin/y_test"] = yte[selt]
    out["bin/pred"] = m.predict(xte[selt].astype(np.float64)).astype(np.int64)
    out["bin/proba"] = m.predict_proba(xte[selt].astype(np.float64))
    out["bin/grad"] = np.array([np.abs(g).max(), np.linalg.norm(g)])
    xa = np.hstack([Xb, np.ones((nb, 1))])
    q = 1 / (1 + np.exp(-(Xb @ m.coef_[0] + m.intercept_[0])))
    pen = np.ones(D + 1)
    pen[-1] = 0
    out["bin/hess_min"] = np.array([np.linalg.eigvalsh(xa.T @ (xa * (q * (1 - q))[:, None]) / nb
                                                      + np.diag(pen) / (BIN_C * nb))[0]])
    out["bin/n_iter"] = np.array([int(m.n_iter_[0])], dtype=np.int64)
    v, b = m.coef_[0], m.intercept_[0]
    ce, ie, ge, _ = newton(Xb, yb, BIN_C / 2, np.stack([-v / 2, v / 2]), np.array([-b / 2, b / 2]))
    out["bin/coef_exact"], out["bin/intercept_exact"] = (ce[1] - ce[0])[None], np.array([ie[1] - ie[0]])
    print(f"binary C={BIN_C}: {int(m.n_iter_[0])} iterations, max|grad| {np.abs(g).max():.2e}; exact (multinomial "
          f"C/2, max|grad| {ge:.1e}) vs sklearn: coef max diff {np.abs(out['bin/coef_exact'] - m.coef_).max():.2e} "
          f"(max |coef| {np.abs(m.coef_).max():.2e}), intercept {abs(out['bin/intercept_exact'][0] - b):.2e}")
    cfg = dict(N=N, M=M, D=D, K=K, CS=CS, BIN_C=BIN_C, max_iter=MAX_ITER, tol=TOL)
    write_safetensors(OUT, out, {"config": json.dumps(cfg), "sklearn": sklearn.__version__,
                                 "numpy": np.__version__, "what": __doc__.split("\n")[0]})


if __name__ == "__main__":
    main()
