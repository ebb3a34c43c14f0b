"""Augmentation fixture: the deterministic part of each op of DataAugmentationDINO, as torchvision 0.15 runs it
on PIL images (Pillow for everything but the blur, which torchvision does in PyTorch float32), at fixed parameters.

Writes fixtures/extra/augment.safetensors: for the picture fixtures/extra/images/rgb.png (97 x 61):
  in                          uint8 (H, W, 3)
  crop_resize/<t,l,h,w,S>     F.resized_crop(img, t, l, h, w, (S, S), BICUBIC)
  brightness/<f>, contrast/<f>, saturation/<f>, hue/<f>     F.adjust_* (ImageEnhance and torchvision's PIL hue)
  grayscale                   F.rgb_to_grayscale(img, 3)
  solarize                    F.solarize(img, 128)
  blur/<sigma>                F.gaussian_blur(img, [9, 9], [sigma, sigma])
  hflip                       F.hflip(img)
Usage: PYTHONPATH=/opt/dino4j-peers python3 tools/make_augment_fixture.py
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as tf
from PIL import Image, ImageEnhance, ImageOps

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_image_fixtures import write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
IMG = os.path.join(HERE, "..", "fixtures", "extra", "images", "rgb.png")
OUT = os.path.join(HERE, "..", "fixtures", "extra", "augment.safetensors")


def adjust_hue(img, hue_factor):  # torchvision 0.15 transforms/_functional_pil.py adjust_hue (BSD-3-Clause)
    h, s, v = img.convert("HSV").split()
    np_h = np.array(h, dtype=np.uint8)
    with np.errstate(over="ignore"):
        np_h += np.array(hue_factor * 255).astype(np.uint8)  # np.uint8(x) of a negative float wraps as C does
    h = Image.fromarray(np_h, "L")
    return Image.merge("HSV", (h, s, v)).convert(img.mode)


def gaussian_blur(img, sigma, ksize=9):  # torchvision 0.15 F.gaussian_blur on a PIL image (BSD-3-Clause)
    t = torch.from_numpy(np.array(img)).permute(2, 0, 1).contiguous()
    half = (ksize - 1) * 0.5
    x = torch.linspace(-half, half, steps=ksize)
    pdf = torch.exp(-0.5 * (x / sigma).pow(2))
    k1 = pdf / pdf.sum()
    k2 = torch.mm(k1[:, None], k1[None, :])
    k = k2.expand(3, 1, ksize, ksize)
    f = t.to(torch.float32)[None]
    f = tf.pad(f, [ksize // 2] * 4, mode="reflect")
    f = tf.conv2d(f, k, groups=3)
    f = torch.round(f).to(torch.uint8)[0]
    return f.permute(1, 2, 0).numpy()


def main():
    img = Image.open(IMG).convert("RGB")
    out = {"in": np.asarray(img)}
    for t, l, h, w, s in [(5, 10, 40, 60, 32), (0, 0, 61, 97, 24), (20, 30, 10, 7, 16), (3, 1, 57, 50, 98)]:
        out[f"crop_resize/{t},{l},{h},{w},{s}"] = np.asarray(img.crop((l, t, l + w, t + h)).resize((s, s), Image.BICUBIC))
    for f in [0.6, 0.93, 1.0, 1.27, 1.4]:
        out[f"brightness/{f}"] = np.asarray(ImageEnhance.Brightness(img).enhance(f))
        out[f"contrast/{f}"] = np.asarray(ImageEnhance.Contrast(img).enhance(f))
    for f in [0.8, 0.95, 1.2]:
        out[f"saturation/{f}"] = np.asarray(ImageEnhance.Color(img).enhance(f))
    for f in [-0.1, -0.037, 0.0, 0.05, 0.1]:
        out[f"hue/{f}"] = np.asarray(adjust_hue(img, f))
    out["grayscale"] = np.dstack([np.asarray(img.convert("L"))] * 3)
    out["solarize"] = np.asarray(ImageOps.solarize(img, 128))
    for s in [0.1, 0.7, 1.3, 2.0]:
        out[f"blur/{s}"] = gaussian_blur(img, s)
    out["hflip"] = np.asarray(img.transpose(Image.FLIP_LEFT_RIGHT))
    write_safetensors(OUT, {k: np.ascontiguousarray(v, dtype=np.uint8) for k, v in out.items()},
                      {"what": __doc__.split("\n")[0], "pillow": Image.__version__, "torch": torch.__version__})


if __name__ == "__main__":
    main()
