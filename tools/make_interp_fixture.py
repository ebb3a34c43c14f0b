"""Golden values for dino4j's bicubic position-embedding resampling, from PyTorch's own F.interpolate (float32).

    PYTHONPATH=/opt/dino4j-peers python3 tools/make_interp_fixture.py fixtures/extra/interp_bicubic.safetensors

Cases: the official non-register path (scale_factor = (g + 0.1) / M, antialias False), the register path
(size=, antialias True) and HF's path (size=, antialias False), up- and down-sampling, non-square outputs.
"""
import sys
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.manual_seed(0)
out = {}
M, D = 37, 8
grid = torch.randn(1, D, M, M, dtype=torch.float32)
out["grid37"] = grid.permute(0, 2, 3, 1).reshape(M, M, D).contiguous()
cases = []
for (h, w) in [(16, 16), (7, 7), (32, 48), (48, 32), (37, 37), (5, 9), (60, 60)]:
    cases.append(("offset", h, w))
    cases.append(("aa", h, w))
    cases.append(("size", h, w))
for kind, h, w in cases:
    if kind == "offset":
        r = F.interpolate(grid, mode="bicubic", antialias=False, scale_factor=(float(h + 0.1) / M, float(w + 0.1) / M))
    elif kind == "aa":
        r = F.interpolate(grid, mode="bicubic", antialias=True, size=(h, w))
    else:
        r = F.interpolate(grid, mode="bicubic", antialias=False, size=(h, w), align_corners=False)
    assert r.shape[-2:] == (h, w), (kind, h, w, r.shape)
    out[f"{kind}_{h}x{w}"] = r.permute(0, 2, 3, 1).reshape(h, w, D).contiguous()
save_file(out, sys.argv[1], metadata={"what": "F.interpolate bicubic of grid37 (H, W, C layout)", "torch": torch.__version__})
print("wrote", len(out), "tensors")
