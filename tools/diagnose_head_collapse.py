#!/usr/bin/env python3
"""Why the Fashion-MNIST run's DINO loss sits at log(K): loads a dino4j training checkpoint's teacher into Meta's
DinoVisionTransformer and its DINO head by hand, and prints, for 256 test images, the spread of the head's logits,
the entropy of the teacher's centred targets, and how similar the CLS tokens and the head's bottleneck outputs are
across images. Paths and sizes are those of the README's run; edit them for another.

    PYTHONPATH=/opt/dino4j-peers python3 tools/diagnose_head_collapse.py
"""
import sys, gzip, numpy as np, torch
sys.path.insert(0, '/tmp/dinov2src')
from safetensors.numpy import load_file
from dinov2.models.vision_transformer import DinoVisionTransformer
d = load_file('/work/runs/fmnist/ckpt-0000800.safetensors')
m = DinoVisionTransformer(img_size=28, patch_size=7, embed_dim=192, depth=6, num_heads=3, init_values=1e-5, block_chunks=0)
sd = {k[len('teacher/backbone.'):]: torch.from_numpy(v) for k, v in d.items() if k.startswith('teacher/backbone.')}
m.load_state_dict(sd, strict=True); m.eval()
with gzip.open('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz') as f:
    f.read(16); x = np.frombuffer(f.read(), np.uint8).reshape(-1, 28, 28)[:256].astype(np.float32) / 255
mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
px = torch.from_numpy(((np.repeat(x[:, None], 3, 1) - mean[None, :, None, None]) / std[None, :, None, None]).astype(np.float32))
with torch.no_grad():
    f = m.forward_features(px)
    cls = f['x_norm_clstoken']
    h = lambda k: torch.from_numpy(d['teacher/dino_head.' + k])
    z = torch.nn.functional.gelu(cls @ h('mlp.0.weight').T + h('mlp.0.bias'))
    z = torch.nn.functional.gelu(z @ h('mlp.2.weight').T + h('mlp.2.bias'))
    z = z @ h('mlp.4.weight').T + h('mlp.4.bias')
    print('bottleneck pre-norm norms', z.norm(dim=1)[:5])
    z = torch.nn.functional.normalize(z, dim=-1, p=2, eps=1e-6 if False else 1e-12)
    v = h('last_layer.weight_v'); g = h('last_layer.weight_g')
    w = g * v / v.norm(dim=1, keepdim=True)
    logits = z @ w.T
    print('logit std per image (over prototypes)', logits.std(1)[:5], 'range', logits.min().item(), logits.max().item())
    center = torch.from_numpy(d['dino/center'])
    print('center range', center.min().item(), center.max().item())
    p = torch.softmax((logits - center) / 0.07, -1)
    ent = -(p * p.clamp_min(1e-30).log()).sum(1)
    print('teacher entropy (log K = %.3f):' % np.log(4096), ent[:8])
    ps = torch.softmax(logits / 0.1, -1); print('student-temp entropy', (-(ps * ps.log()).sum(1))[:5])
    print('cls pairwise cos mean', (torch.nn.functional.normalize(cls,dim=1) @ torch.nn.functional.normalize(cls,dim=1).T).mean().item())
    print('z pairwise cos mean', (z @ z.T).mean().item())
