"""Fixture for RetrievalTest: revisitop's compute_ap / compute_map (github.com/filipradenovic/revisitop,
python/evaluate.py, copied below with np.in1d -> np.isin) on random rankings and ground truths, for the three
protocols (Easy, Medium, Hard as revisitop's example_evaluate.py builds them). Writes fixtures/extra/retrieval.json.

    PYTHONPATH=/opt/dino4j-peers python3 tools/make_retrieval_fixture.py
"""
import numpy as np, json
def compute_ap(ranks, nres):
    nimgranks = len(ranks); ap = 0; recall_step = 1. / nres
    for j in np.arange(nimgranks):
        rank = ranks[j]
        precision_0 = 1. if rank == 0 else float(j) / rank
        precision_1 = float(j + 1) / (rank + 1)
        ap += (precision_0 + precision_1) * recall_step / 2.
    return ap
def compute_map(ranks, gnd, kappas=[]):
    map = 0.; nq = len(gnd); aps = np.zeros(nq); pr = np.zeros(len(kappas)); prs = np.zeros((nq, len(kappas))); nempty = 0
    for i in np.arange(nq):
        qgnd = np.array(gnd[i]['ok'])
        if qgnd.shape[0] == 0:
            aps[i] = float('nan'); prs[i, :] = float('nan'); nempty += 1; continue
        try: qgndj = np.array(gnd[i]['junk'])
        except: qgndj = np.empty(0)
        pos = np.arange(ranks.shape[0])[np.isin(ranks[:,i], qgnd)]
        junk = np.arange(ranks.shape[0])[np.isin(ranks[:,i], qgndj)]
        k = 0; ij = 0
        if len(junk):
            ip = 0
            while (ip < len(pos)):
                while (ij < len(junk) and pos[ip] > junk[ij]):
                    k += 1; ij += 1
                pos[ip] = pos[ip] - k; ip += 1
        ap = compute_ap(pos, len(qgnd)); map = map + ap; aps[i] = ap
        pos += 1
        for j in np.arange(len(kappas)):
            kq = min(max(pos), kappas[j]); prs[i, j] = (pos <= kq).sum() / kq
        pr = pr + prs[i, :]
    map = map / (nq - nempty); pr = pr / (nq - nempty)
    return map, aps, pr, prs
rng = np.random.default_rng(0)
n, q = 40, 12
ranks = np.stack([rng.permutation(n) for _ in range(q)], 1)  # (n, q) as revisitop
gnd = []
for i in range(q):
    perm = rng.permutation(n)
    e, h, j = perm[:rng.integers(0,5)], perm[5:5+rng.integers(0,4)], perm[10:10+rng.integers(0,6)]
    gnd.append({'easy': e.tolist(), 'hard': h.tolist(), 'junk': j.tolist()})
ks = [1, 5, 10]
out = {'ranking': ranks.T.tolist(), 'gnd': gnd}
for name in ['easy','medium','hard']:
    g2 = []
    for g in gnd:
        if name == 'easy': g2.append({'ok': g['easy'], 'junk': g['junk'] + g['hard']})
        if name == 'medium': g2.append({'ok': g['easy'] + g['hard'], 'junk': g['junk']})
        if name == 'hard': g2.append({'ok': g['hard'], 'junk': g['junk'] + g['easy']})
    m, aps, pr, prs = compute_map(ranks, g2, ks)
    out[name] = {'map': m, 'pr': pr.tolist()}
import os
os.makedirs('fixtures/extra', exist_ok=True)
open('fixtures/extra/retrieval.json', 'w').write(json.dumps(out) + '\n')
