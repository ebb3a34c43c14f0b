"""Golden pictures for dino4j's depth and segmentation renderings, from the official notebooks' own functions.

    PYTHONPATH=/opt/dino4j-peers:/tmp/mpl python3 tools/make_render_fixture.py fixtures/extra/render.safetensors

(/tmp/mpl: `pip install --no-index --find-links /opt/pypi/files --target /tmp/mpl matplotlib`, 3.11.2 here.)
render_depth and render_segmentation are copied from facebookresearch/dinov2 notebooks/depth_estimation.ipynb and
notebooks/semantic_segmentation.ipynb; the colour maps are read from the official repo's bare mirror
(dinov2/eval/segmentation/utils/colormaps.py).

Tensors: depth (H, W) float32 metres as a head's output would be (torch float32, as the notebook gets it),
depth_rgb (H, W, 3) uint8 = render_depth(depth) with magma_r; ramp (N,) float32 values in [0, 1] including the
bin edges k/256, ramp_rgb (N, 3) uint8 = magma_r(ramp, bytes=True); ade (H, W) uint8 head classes 0..149,
ade_rgb = render_segmentation(ade, "ade20k") (colormap[class + 1]).
"""
import subprocess
import sys
import types

import matplotlib
import numpy as np
import torch
from PIL import Image
from safetensors.numpy import save_file

src = subprocess.run(["git", "-C", "/work/.mirror/facebookresearch+dinov2/repo", "show",
                      "HEAD:dinov2/eval/segmentation/utils/colormaps.py"], capture_output=True, text=True, check=True).stdout
colormaps = types.ModuleType("colormaps")
exec(src, colormaps.__dict__)


def render_depth(values, colormap_name="magma_r") -> Image:  # notebooks/depth_estimation.ipynb
    min_value, max_value = values.min(), values.max()
    normalized_values = (values - min_value) / (max_value - min_value)

    colormap = matplotlib.colormaps[colormap_name]
    colors = colormap(normalized_values, bytes=True)  # ((1)xhxwx4)
    colors = colors[:, :, :3]  # Discard alpha component
    return Image.fromarray(colors)


DATASET_COLORMAPS = {"ade20k": colormaps.ADE20K_COLORMAP, "voc2012": colormaps.VOC2012_COLORMAP}


def render_segmentation(segmentation_logits, dataset):  # notebooks/semantic_segmentation.ipynb
    colormap = DATASET_COLORMAPS[dataset]
    colormap_array = np.array(colormap, dtype=np.uint8)
    segmentation_values = colormap_array[segmentation_logits + 1]
    return Image.fromarray(segmentation_values)


g = torch.Generator().manual_seed(0)
H, W = 23, 31
depth = (torch.rand(H, W, generator=g) * 9.4 + 0.3).to(torch.float32)
out = {"depth": depth.numpy(), "depth_rgb": np.array(render_depth(depth))}

ramp = np.concatenate([np.linspace(0, 1, 1001, dtype=np.float32),
                       (np.arange(257, dtype=np.float64) / 256).astype(np.float32),
                       np.nextafter((np.arange(1, 257, dtype=np.float64) / 256).astype(np.float32), np.float32(0))])
out["ramp"] = ramp
out["ramp_rgb"] = matplotlib.colormaps["magma_r"](ramp, bytes=True)[:, :3].copy()

ade = torch.randint(0, 150, (H, W), generator=g)
ade[0, 0], ade[0, 1] = 0, 149
out["ade"] = ade.numpy().astype(np.uint8)
out["ade_rgb"] = np.array(render_segmentation(ade.numpy(), "ade20k"))

save_file(out, sys.argv[1], metadata={"matplotlib": matplotlib.__version__, "torch": torch.__version__})
print({k: (v.dtype, v.shape) for k, v in out.items()})
