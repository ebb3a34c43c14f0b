#!/usr/bin/env python3
"""k-means objective: dino4j against faiss from the same vectors, k and initial centroids (issue 7).

usage: kmeans_peer.py INPUT K ITERS [SEED]
  INPUT: an IDX images file (Fashion-MNIST raw pixels) or a `dino4j embed` folder.
Runs tools/KMeansRun.java (our k-means++ init, then our Lloyd iterations), then faiss.Kmeans with
init_centroids = our initial centroids, the same iteration count, and no subsampling (max_points_per_centroid
above n), and compares the objectives: sum of squared distances of every vector to its nearest final centroid,
computed here with faiss for both sets of centroids.
Needs the peers: PYTHONPATH=/opt/dino4j-peers (faiss, numpy)."""
import json, os, subprocess, sys, tempfile
import numpy as np
import faiss

inp, k, iters = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seed = sys.argv[4] if len(sys.argv) > 4 else '0'
here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
java = os.path.join(os.environ.get('JAVA_HOME', '/usr/lib/jvm/temurin-25-jdk-amd64'), 'bin', 'java')
out = tempfile.mkdtemp(prefix='kmeans-')
subprocess.run([java, '--add-modules', 'jdk.incubator.vector', '--enable-native-access=ALL-UNNAMED', '-cp',
                os.path.join(root, 'dino4j-cli/target/dino4j.jar'), os.path.join(here, 'KMeansRun.java'),
                inp, str(k), str(iters), seed, out], check=True, stderr=subprocess.DEVNULL)
ours = json.load(open(os.path.join(out, 'dino4j.json')))
n, d = ours['n'], ours['d']
x = np.fromfile(os.path.join(out, 'x.f32'), '<f4').reshape(n, d)
init = np.fromfile(os.path.join(out, 'init.f32'), '<f4').reshape(k, d)
ours_c = np.fromfile(os.path.join(out, 'centroids.f32'), '<f4').reshape(k, d)

km = faiss.Kmeans(d, k, niter=iters, max_points_per_centroid=n + 1, seed=int(seed), verbose=False)
km.train(x, init_centroids=init)

def objective(c):
    index = faiss.IndexFlatL2(d)
    index.add(np.ascontiguousarray(c, dtype=np.float32))
    dist, _ = index.search(x, 1)
    return float(dist.astype(np.float64).sum())

o_ours, o_faiss, o_init = objective(ours_c), objective(km.centroids), objective(init)
print(json.dumps({'input': inp, 'n': n, 'd': d, 'k': k, 'iterations': iters,
                  'objective_init': o_init, 'objective_dino4j': o_ours, 'objective_faiss': o_faiss,
                  'dino4j_over_faiss': o_ours / o_faiss, 'dino4j_reported': ours['objective'],
                  'dino4j_iterations_run': ours['iterations'], 'dino4j_empty_clusters': ours['empty_clusters']}, indent=1))
