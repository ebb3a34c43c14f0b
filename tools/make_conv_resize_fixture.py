"""Golden values for dino4j's Conv2d, ConvTranspose2d and bilinear Resize (the DPT and linear heads' building
blocks), from PyTorch's own F.conv2d, F.conv_transpose2d and F.interpolate, computed in float64, stored float32.

    PYTHONPATH=/opt/dino4j-peers python3 tools/make_conv_resize_fixture.py [fixtures/extra/conv_resize.safetensors]

Images are stored channels-last (H, W, C), as dino4j holds them; weights as PyTorch stores them. Each case has an
int32 `params` row: conv (in, out, kernel, stride, padding, h, w, reluInput, hasBias), convT (in, out, k, h, w,
hasBias), resize (h, w, c, outH, outW, alignCorners).
"""
import sys
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(20)
out = {}


def hwc(t):  # (1, C, H, W) -> (H, W, C) float32
    return t[0].permute(1, 2, 0).contiguous().float()


def rand(*shape):  # float32 values held in float64: the stored inputs are exactly what the outputs were computed from
    return torch.randn(*shape, dtype=torch.float64).float().double()


convs = [  # in, out, kernel, stride, padding, h, w, relu, bias
    (5, 7, 3, 1, 1, 9, 11, 0, 1),
    (17, 4, 3, 2, 1, 10, 7, 0, 0),
    (3, 6, 1, 1, 0, 5, 8, 0, 1),
    (4, 5, 3, 2, 0, 9, 9, 0, 1),
    (8, 3, 1, 2, 0, 7, 6, 0, 0),
    (6, 6, 3, 1, 1, 8, 5, 1, 1),  # pre-activation unit: conv(relu(x))
    (9, 2, 1, 1, 0, 4, 3, 1, 0),  # 1x1 on relu(x): the GEMM-only path with a prologue
    (1, 3, 3, 1, 1, 1, 6, 0, 1),  # a 1-pixel-high image
]


def conv_case(i, ci, co, k, s, p, h, w, relu, bias):
    x, wt = rand(1, ci, h, w), (rand(co, ci, k, k) / (ci * k * k) ** 0.5).float().double()
    b = rand(co) if bias else None
    y = F.conv2d(F.relu(x) if relu else x, wt, b, stride=s, padding=p)
    out[f"conv{i}/params"] = torch.tensor([ci, co, k, s, p, h, w, relu, bias], dtype=torch.int32)
    out[f"conv{i}/x"], out[f"conv{i}/weight"], out[f"conv{i}/y"] = hwc(x), wt.float(), hwc(y)
    if bias:
        out[f"conv{i}/bias"] = b.float()


for i, case in enumerate(convs):
    conv_case(i, *case)

convts = [(6, 5, 4, 3, 5, 1), (7, 3, 2, 4, 3, 0), (2, 1, 3, 1, 1, 1)]  # in, out, k (= stride), h, w, bias
for i, (ci, co, k, h, w, bias) in enumerate(convts):
    x, wt = rand(1, ci, h, w), (rand(ci, co, k, k) / ci ** 0.5).float().double()
    b = rand(co) if bias else None
    y = F.conv_transpose2d(x, wt, b, stride=k)
    out[f"convT{i}/params"] = torch.tensor([ci, co, k, h, w, bias], dtype=torch.int32)
    out[f"convT{i}/x"], out[f"convT{i}/weight"], out[f"convT{i}/y"] = hwc(x), wt.float(), hwc(y)
    if bias:
        out[f"convT{i}/bias"] = b.float()

resizes = []  # h, w, c, outH, outW
for size in [(14, 18), (3, 4), (1, 1), (13, 5), (7, 9), (1, 20), (20, 1)]:
    resizes.append((7, 9, 5) + size)
resizes += [(5, 6, 1, 23, 17), (1, 1, 3, 4, 5), (1, 7, 17, 3, 13), (6, 4, 33, 12, 8)]
i = 0
for (h, w, c, oh, ow) in resizes:
    x = rand(1, c, h, w)
    for align in (False, True):
        y = F.interpolate(x, size=(oh, ow), mode="bilinear", align_corners=align)
        out[f"resize{i}/params"] = torch.tensor([h, w, c, oh, ow, int(align)], dtype=torch.int32)
        out[f"resize{i}/x"], out[f"resize{i}/y"] = hwc(x), hwc(y)
        i += 1

# Winograd F(2x2, 3x3) convs (3x3 stride 1, 32+ channels in and out), seeded apart so the cases above keep their values
torch.manual_seed(21)
wconvs = [(40, 36, 3, 1, 1, 7, 9, 1, 1), (33, 64, 3, 1, 1, 5, 6, 0, 0)]  # odd sizes: tiles over the edge
for i, case in enumerate(wconvs, start=len(convs)):
    conv_case(i, *case)

path = sys.argv[1] if len(sys.argv) > 1 else "fixtures/extra/conv_resize.safetensors"
save_file(out, path, metadata={"what": "F.conv2d, F.conv_transpose2d, F.interpolate bilinear in float64 (H, W, C layout)",
                               "torch": torch.__version__})
print("wrote", len(out), "tensors to", path)
