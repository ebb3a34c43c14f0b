"""Image decoding and PIL-resize fixtures, made with Pillow (the decoder and resampler the official code uses).

Writes fixtures/extra/images/: one small picture saved in every format dino4j decodes, and pil.safetensors with
  rgb/<file>               uint8 (H, W, 3): ImageOps.exif_transpose(Image.open(file)).convert("RGB")
  resize/<file>/<W>x<H>    uint8 (H, W, 3): that RGB image .resize((W, H), Image.BICUBIC)
  eval/<file>              float32 (3, 224, 224): torchvision-style make_classification_eval_transform()
                           (Resize(256) shorter side with int() for the long side, centre crop 224 with round(),
                           /255, ImageNet mean/std), written out here with PIL + numpy as torchvision does it.
Usage: PYTHONPATH=/opt/dino4j-peers python3 tools/make_image_fixtures.py
"""
import io
import json
import os
import struct

import numpy as np
from PIL import Image, ImageOps

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "extra", "images")


def base_image(w=97, h=61, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 255 / (w - 1))
    g = (y * 255 / (h - 1))
    b = 128 + 100 * np.sin(x / 5.0) * np.cos(y / 7.0)
    img = np.stack([r, g, b], -1)
    img[(x - w / 3) ** 2 + (y - h / 2) ** 2 < (h / 4) ** 2] = [250, 30, 40]  # a disc: sharp edges for the resampler
    img[5:15, w - 30:w - 8] = [10, 200, 20]
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def exif_orientation(o):
    e = Image.Exif()
    e[0x0112] = o
    return e


def main():
    os.makedirs(OUT, exist_ok=True)
    a = base_image()
    rgb = Image.fromarray(a, "RGB")
    files = {}
    files["rgb.png"] = lambda f: rgb.save(f)
    files["rgba.png"] = lambda f: Image.fromarray(np.dstack([a, (np.arange(a.shape[1]) * 2 % 256).astype(np.uint8)[None, :].repeat(a.shape[0], 0)]), "RGBA").save(f)
    files["gray.png"] = lambda f: rgb.convert("L").save(f)
    files["gray_alpha.png"] = lambda f: rgb.convert("LA").save(f)
    files["palette.png"] = lambda f: rgb.quantize(64).save(f)
    files["gray16.png"] = lambda f: Image.fromarray((a[..., 0].astype(np.uint16) * 257), "I;16").save(f)
    files["interlaced.png"] = lambda f: open(f, "wb").write(adam7_png(a))
    files["baseline.jpg"] = lambda f: rgb.save(f, quality=90)
    files["baseline444.jpg"] = lambda f: rgb.save(f, quality=90, subsampling=0)
    files["progressive.jpg"] = lambda f: rgb.save(f, quality=85, progressive=True)
    files["gray.jpg"] = lambda f: rgb.convert("L").save(f, quality=90)
    files["cmyk.jpg"] = lambda f: rgb.convert("CMYK").save(f, quality=95)
    files["exif_rot90.jpg"] = lambda f: rgb.save(f, quality=90, exif=exif_orientation(6))
    files["exif_mirror.jpg"] = lambda f: rgb.save(f, quality=90, exif=exif_orientation(2))
    files["exif_rot180.png"] = lambda f: rgb.save(f, exif=exif_orientation(3))
    files["lossy.webp"] = lambda f: rgb.save(f, quality=80)
    files["lossless.webp"] = lambda f: rgb.save(f, lossless=True)
    files["image.bmp"] = lambda f: rgb.save(f)
    files["image.gif"] = lambda f: rgb.quantize(128).save(f)
    tensors = {}
    for name, make in files.items():
        path = os.path.join(OUT, name)
        make(path)
        im = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        arr = np.asarray(im, dtype=np.uint8)
        tensors["rgb/" + name] = arr
        if name in ("rgb.png", "baseline.jpg", "exif_rot90.jpg"):
            h, w = arr.shape[:2]
            for size in [(40, 25), (23, 61), (150, 90), (97, 200), (5, 3), (1, 1), (w, 30)]:
                tensors[f"resize/{name}/{size[0]}x{size[1]}"] = np.asarray(im.resize(size, Image.BICUBIC), np.uint8)
            tensors["eval/" + name] = eval_transform(im)
    write_safetensors(os.path.join(OUT, "pil.safetensors"), tensors,
                      {"pillow": Image.__version__, "what": __doc__.split("\n")[0]})


def eval_transform(im, resize=256, crop=224):
    w, h = im.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = resize, int(resize * long / short)
    size = (new_short, new_long) if w <= h else (new_long, new_short)
    im = im.resize(size, Image.BICUBIC)
    w, h = im.size
    top, left = int(round((h - crop) / 2.0)), int(round((w - crop) / 2.0))
    im = im.crop((left, top, left + crop, top + crop))
    x = np.asarray(im, np.float32).transpose(2, 0, 1) / np.float32(255)
    mean = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
    std = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]
    return ((x - mean) / std).astype(np.float32)


def adam7_png(a):
    """An interlaced RGB PNG (Pillow cannot write Adam7), built by hand."""
    import zlib
    h, w = a.shape[:2]
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = a[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        for row in sub:
            raw += b"\x00" + row.tobytes()

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def write_safetensors(path, tensors, metadata):
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for k, v in tensors.items():
        b = np.ascontiguousarray(v).tobytes()
        dt = {"uint8": "U8", "float32": "F32", "float64": "F64", "int64": "I64"}[str(v.dtype)]
        header[k] = {"dtype": dt, "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


if __name__ == "__main__":
    main()
