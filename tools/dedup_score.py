#!/usr/bin/env python3
"""Scores `dino4j curate` self-deduplication on a pool made by tools/MakeDedupPool.java.

usage: dedup_score.py OUTPUT_DIR
A copy counts as found when it ends in the same component as the image it copies (both removed.tsv's
'duplicate of ROOT' and an original's own row name the component's kept image). Originals removed = original
images that self-dedup dropped (the pool holds the originals first, so an original is only dropped for another
original, never for its own copy)."""
import collections, csv, os, re, sys

out = sys.argv[1]
root = {}
with open(out + '/removed.tsv') as f:
    for r in csv.DictReader(f, delimiter='\t'):
        if r['stage'] == 'self-dedup':
            root[r['path']] = r['reason'].removeprefix('duplicate of ')
# the pool folder (tools/MakeDedupPool.java's OUT) from any removed id; then every original and copy in it
base = next(re.match(r'(.*)/(originals|copies)/[^/]+$', i).group(1) for i in root if re.match(r'(.*)/(originals|copies)/[^/]+$', i))
originals = {os.path.join(base, 'originals', f) for f in os.listdir(os.path.join(base, 'originals'))}
copies = []
for f in sorted(os.listdir(os.path.join(base, 'copies'))):
    m = re.match(r'd(\d+)-of-(\d+)-(\w+)\.\w+$', f)
    if m:
        copies.append((os.path.join(base, 'copies', f), int(m.group(2)), m.group(3)))
found = collections.Counter(); total = collections.Counter()
for path, orig, kind in copies:
    o = '%s/originals/%06d.png' % (base, orig)
    total[kind] += 1
    if path in root and root[path] == root.get(o, o):
        found[kind] += 1
n_orig = len(originals)
removed_orig = sum(1 for i in originals if i in root)
print('copies found: %d / %d = %.2f %%' % (sum(found.values()), sum(total.values()), 100 * sum(found.values()) / max(1, sum(total.values()))))
for k in sorted(total):
    print('  %-6s %d / %d = %.2f %%' % (k, found[k], total[k], 100 * found[k] / total[k]))
print('originals removed: %d / %d = %.2f %%' % (removed_orig, n_orig, 100 * removed_orig / max(1, n_orig)))
