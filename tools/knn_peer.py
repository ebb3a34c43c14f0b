#!/usr/bin/env python3
"""k-NN classification as the official dinov2/eval/knn.py, computed with the peer stack (faiss for the search,
numpy for the votes): the reference `dino4j eval knn` is checked against.

  PYTHONPATH=/opt/dino4j-peers python3 tools/knn_peer.py --idx-train train-images-idx3-ubyte.gz --idx-test t10k-images-idx3-ubyte.gz
  PYTHONPATH=/opt/dino4j-peers python3 tools/knn_peer.py --embed-train DIR --embed-test DIR   (dino4j embed outputs)
"""
import argparse, gzip, json, os, struct
import numpy as np


def idx_images(path):
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        magic, n, r, c = struct.unpack(">IIII", f.read(16))
        x = np.frombuffer(f.read(), dtype=np.uint8).reshape(n, r * c)
    lab = path.replace("images-idx3", "labels-idx1")
    with (gzip.open if lab.endswith(".gz") else open)(lab, "rb") as f:
        f.read(8)
        y = np.frombuffer(f.read(), dtype=np.uint8).astype(np.int64)
    return x.astype(np.float32) / 255.0, y


def embed_dir(d):
    from safetensors.numpy import load_file
    rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(d, "manifest.tsv"))][1:]
    shards, xs, ys = {}, [], []
    for r in rows:
        if r[6] != "ok":
            continue
        s = int(r[4])
        if s not in shards:
            shards[s] = load_file(os.path.join(d, "shard-%05d.safetensors" % s))["cls"]
        xs.append(shards[s][int(r[5])])
        ys.append(int(r[2]))
    return np.stack(xs).astype(np.float32), np.array(ys)


def knn(xtr, ytr, xte, yte, ks, T):
    import faiss
    xtr = xtr / np.maximum(np.linalg.norm(xtr, axis=1, keepdims=True), 1e-12)
    xte = xte / np.maximum(np.linalg.norm(xte, axis=1, keepdims=True), 1e-12)
    index = faiss.IndexFlatIP(xtr.shape[1])
    index.add(np.ascontiguousarray(xtr, dtype=np.float32))
    sims, idx = index.search(np.ascontiguousarray(xte, dtype=np.float32), max(ks))
    w = np.exp((sims - sims[:, :1]) / T)  # softmax over the neighbours up to a common factor
    nc = int(max(ytr.max(), yte.max())) + 1
    out = {}
    for k in ks:
        scores = np.zeros((len(yte), nc))
        np.add.at(scores, (np.repeat(np.arange(len(yte)), k), ytr[idx[:, :k]].ravel()), w[:, :k].ravel())
        order = np.argsort(-scores, axis=1, kind="stable")
        out[k] = (100 * float(np.mean(order[:, 0] == yte)), 100 * float(np.mean((order[:, :5] == yte[:, None]).any(1))))
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--idx-train"); p.add_argument("--idx-test")
    p.add_argument("--embed-train"); p.add_argument("--embed-test")
    p.add_argument("--nb-knn", default="10,20,100,200"); p.add_argument("--temperature", type=float, default=0.07)
    a = p.parse_args()
    if a.idx_train:
        (xtr, ytr), (xte, yte) = idx_images(a.idx_train), idx_images(a.idx_test)
    else:
        (xtr, ytr), (xte, yte) = embed_dir(a.embed_train), embed_dir(a.embed_test)
    res = knn(xtr, ytr, xte, yte, [int(k) for k in a.nb_knn.split(",")], a.temperature)
    print("faiss k-NN: %d train, %d test, %d dimensions" % (len(ytr), len(yte), xtr.shape[1]))
    for k, (t1, t5) in res.items():
        print("%5d  %6.2f  %6.2f" % (k, t1, t5))
    print(json.dumps({str(k): {"top1": v[0], "top5": v[1]} for k, v in res.items()}))
