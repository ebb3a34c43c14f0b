#!/usr/bin/env python3
"""How far `dedup.crop` views reach: for 500 Fashion-MNIST images, copies cropped in several ways (resize kernels,
offsets, sizes) by PIL, and the share whose centred-pixel cosine to the original or to one of its crop views exceeds
0.985 (the threshold of README's benchmark). The views are made as dino4j's View makes them (PIL bicubic).

usage: PYTHONPATH=/opt/dino4j-peers python3 tools/crop_views_check.py [IDX_FILE]"""
import gzip, sys
import numpy as np
from PIL import Image

path = sys.argv[1] if len(sys.argv) > 1 else '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz'
raw = gzip.open(path).read()
X = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)[:60000]
mean = X.reshape(len(X), -1).astype(np.float64).mean(0)


def vec(a):
    v = a.reshape(-1).astype(np.float64) - mean
    return v / (np.linalg.norm(v) + 1e-12)


def crop_back(a, box, kernel=Image.BICUBIC):
    return np.asarray(Image.fromarray(a).crop(box).resize((28, 28), kernel))


def view(a, s, anchor):  # as org.dino4j.data.View: round(28 s) kept, centred (extra pixel right/below) or in a corner
    c = int(round(28 * s)); m = 28 - c
    ox, oy = {'c': (m // 2, m // 2), 'tl': (0, 0), 'tr': (m, 0), 'bl': (0, m), 'br': (m, m)}[anchor]
    return crop_back(a, (ox, oy, ox + c, oy + c))


copies = {
    'centred 1 px, bicubic': lambda a, r: crop_back(a, (1, 1, 27, 27)),
    'centred 1 px, bilinear': lambda a, r: crop_back(a, (1, 1, 27, 27), Image.BILINEAR),
    'centred 1 px, Lanczos': lambda a, r: crop_back(a, (1, 1, 27, 27), Image.LANCZOS),
    'centred 2 px': lambda a, r: crop_back(a, (2, 2, 26, 26)),
    'centred 0.5 px (sub-pixel)': lambda a, r: crop_back(a, (0.5, 0.5, 27.5, 27.5)),
    '2 px from one corner': lambda a, r: crop_back(a, (0, 0, 26, 26)),
    '0-2 px per side at random': lambda a, r: crop_back(a, tuple(int(x) for x in (
        r.integers(0, 3), r.integers(0, 3), 28 - r.integers(0, 3), 28 - r.integers(0, 3)))),
}
settings = {
    'no views': [],
    'crop 0.93': [(0.93, 'c')],
    'crop [0.93, 0.86]': [(0.93, 'c'), (0.86, 'c')],
    'crop 0.93 + corners': [(0.93, a) for a in ('c', 'tl', 'tr', 'bl', 'br')],
    'crop [0.96, 0.93, 0.89] + corners': [(s, a) for s in (0.96, 0.93, 0.89) for a in ('c', 'tl', 'tr', 'bl', 'br')],
}
idx = np.random.default_rng(0).choice(len(X), 500, replace=False)
print('| copy | ' + ' | '.join(settings) + ' |')
print('|---' * (len(settings) + 1) + '|')
for name, make in copies.items():
    r = np.random.default_rng(1)
    made = [make(X[i], r) for i in idx]
    cells = []
    for views in settings.values():
        ok = sum(max([vec(X[i]) @ vec(c)] + [vec(view(X[i], s, a)) @ vec(c) for s, a in views]) > 0.985 for i, c in zip(idx, made))
        cells.append('%.1f %%' % (100 * ok / len(idx)))
    print('| %s | %s |' % (name, ' | '.join(cells)), flush=True)
