"""Checks a .pth state dict (e.g. one written by dino4j's TorchPthWriter) against PyTorch itself.

    PYTHONPATH=/opt/dino4j-peers python3 tools/check_pth.py model.pth [--safetensors ref.safetensors]
        [--resave] [--official vit_small --patch-size 14 --img-size 518 --init-values 1e-5 ...]

Always: torch.load(weights_only=True) and prints keys, shapes and dtypes; loads again with mmap=True and
calculate_storage_offsets=True (torch then derives storage offsets from miniz's layout rules instead of reading the
headers, so this fails if the zip layout differs from torch's); checks every record is STORED and 64-byte aligned.
--safetensors: same keys, shapes, dtypes and values as a reference file (exact unless --atol).
--resave: torch.save()s the loaded dict to a temporary file of the same name and compares bytes; a writer that
mirrors torch differs only in the .data/serialization_id record (and its CRC).
--official ARCH: builds dinov2.models.vision_transformer.ARCH (or DinoVisionTransformer with ARCH's sizes when
--embed-dim/--depth/--num-heads/--mlp-ratio override them) and calls load_state_dict(sd, strict=True); --forward
also runs one image through it. The official code comes from --dinov2-src (default: $DINOV2_SRC or
/tmp/dinov2src, extracted from the bare mirror when missing). Exit status 1 on any failure.
"""
import argparse
import collections
import os
import struct
import subprocess
import sys
import tempfile
import warnings
import zipfile

import torch

MIRROR = "/work/.mirror/facebookresearch+dinov2/repo"
ARCHS = {  # embed_dim, depth, num_heads as in dinov2/models/vision_transformer.py
    "vit_small": (384, 12, 6),
    "vit_base": (768, 12, 12),
    "vit_large": (1024, 24, 16),
    "vit_giant2": (1536, 40, 24),
}
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def zip_layout(path):
    """Every record STORED, payload 64-byte aligned, all under one folder."""
    with zipfile.ZipFile(path) as z, open(path, "rb") as f:
        infos = z.infolist()
        prefixes = {i.filename.split("/", 1)[0] for i in infos}
        if len(prefixes) != 1:
            fail(f"records under several folders: {sorted(prefixes)}")
        bad = []
        for i in infos:
            f.seek(i.header_offset)
            h = f.read(30)
            name_len, extra_len = struct.unpack("<HH", h[26:30])
            start = i.header_offset + 30 + name_len + extra_len
            if i.compress_type != zipfile.ZIP_STORED or start % 64:
                bad.append(f"{i.filename} (method {i.compress_type}, payload at {start})")
        print(f"zip: {len(infos)} records under '{prefixes.pop()}/', "
              f"{'all STORED and 64-byte aligned' if not bad else 'BAD: ' + ', '.join(bad)}")
        if bad:
            fail("unaligned or compressed records")
        print("zip records:", ", ".join(i.filename.split("/", 1)[1] for i in infos[:6]),
              "..." if len(infos) > 6 else "")


def same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)


def check_mmap(path, sd):
    try:
        from torch.utils.serialization import config
        with config.patch({"load.calculate_storage_offsets": True}):
            sd2 = torch.load(path, weights_only=True, mmap=True, map_location="cpu")
        how = "mmap=True + calculate_storage_offsets"
    except (ImportError, AttributeError):  # older torch: no offset calculation to exercise
        sd2 = torch.load(path, weights_only=True, mmap=True, map_location="cpu")
        how = "mmap=True"
    diff = [k for k in sd if k not in sd2 or not same(sd[k], sd2[k])]
    if list(sd2) != list(sd) or diff:
        fail(f"{how} load differs: {diff[:5]}")
    else:
        print(f"{how}: identical tensors")


def compare_safetensors(sd, ref_path, atol):
    from safetensors.torch import load_file
    ref = load_file(ref_path)
    missing = [k for k in ref if k not in sd]
    extra = [k for k in sd if k not in ref]
    if missing or extra:
        fail(f"keys differ from {ref_path}: missing {missing[:5]}, extra {extra[:5]}")
    worst, bad = 0.0, []
    for k in ref:
        if k not in sd:
            continue
        a, b = sd[k], ref[k]
        if a.dtype != b.dtype or a.shape != b.shape:
            bad.append(f"{k}: {a.dtype}{tuple(a.shape)} vs {b.dtype}{tuple(b.shape)}")
            continue
        if a.numel():
            d = (a.double() - b.double()).abs().max().item()
            worst = max(worst, d)
            if d > atol:
                bad.append(f"{k}: max |diff| {d:g}")
    if bad:
        fail(f"{len(bad)} tensors differ from {ref_path}: {bad[:5]}")
    else:
        print(f"safetensors {ref_path}: {len(ref)} tensors, same shapes/dtypes, max |diff| {worst:g}")


def resave(path, sd):
    with tempfile.TemporaryDirectory() as d:
        copy = os.path.join(d, os.path.basename(path))  # same name: the zip folder is the file stem
        torch.save(collections.OrderedDict(sd), copy)
        size, other = os.path.getsize(path), os.path.getsize(copy)
        if size != other:
            fail(f"torch.save of the same dict is {other} bytes, this file {size}")
            return
        diff = []  # positions of differing bytes, streamed: checkpoints can be several GB
        with open(path, "rb") as fa, open(copy, "rb") as fb:
            pos = 0
            while len(diff) < 1000:
                a, b = fa.read(1 << 24), fb.read(1 << 24)
                if not a:
                    break
                if a != b:
                    diff += [pos + i for i in range(len(a)) if a[i] != b[i]][:1000]
                pos += len(a)
        with zipfile.ZipFile(copy) as z:
            sid = next(i for i in z.infolist() if i.filename.endswith("/.data/serialization_id"))
            with open(copy, "rb") as f:
                f.seek(sid.header_offset + 26)
                n, x = struct.unpack("<HH", f.read(4))
            lo = sid.header_offset + 30 + n + x
            cd = z.start_dir
        # allowed: the id's 40 digits, the CRC in its data descriptor, the CRC in its central directory entry
        outside = [i for i in diff if not (lo <= i < lo + 40 or lo + 44 <= i < lo + 48 or i >= cd)]
        in_cd = [i for i in diff if i >= cd]
        if outside or len(in_cd) > 4:
            fail(f"torch.save differs at {len(diff)} bytes, first {diff[:8]} (serialization id at {lo})")
        else:
            print(f"torch.save of the same dict: {size} bytes, identical except the serialization id "
                  f"({len(diff)} bytes: id digits and its CRC)")


def official(sd, args):
    src = args.dinov2_src
    if not os.path.isdir(os.path.join(src, "dinov2")):
        os.makedirs(src, exist_ok=True)
        archive = subprocess.run(["git", "--git-dir", MIRROR, "archive", "HEAD"], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", src], input=archive.stdout, check=True)
    sys.path.insert(0, src)
    warnings.filterwarnings("ignore", message="xFormers is not available")
    from functools import partial
    from dinov2.models import vision_transformer as vits
    from dinov2.layers import MemEffAttention, NestedTensorBlock as Block

    kw = dict(patch_size=args.patch_size, img_size=args.img_size, block_chunks=args.block_chunks,
              init_values=args.init_values, num_register_tokens=args.num_register_tokens, ffn_layer=args.ffn_layer)
    sizes = dict(embed_dim=args.embed_dim, depth=args.depth, num_heads=args.num_heads, mlp_ratio=args.mlp_ratio)
    if all(v is None for v in sizes.values()):
        model = getattr(vits, args.official)(**kw)
        how = f"{args.official}({', '.join(f'{k}={v}' for k, v in kw.items())})"
    else:
        e, d, h = ARCHS[args.official]
        defaults = dict(embed_dim=e, depth=d, num_heads=h, mlp_ratio=4)
        sizes = {k: (defaults[k] if v is None else v) for k, v in sizes.items()}
        model = vits.DinoVisionTransformer(block_fn=partial(Block, attn_class=MemEffAttention), **sizes, **kw)
        how = f"DinoVisionTransformer({', '.join(f'{k}={v}' for k, v in {**sizes, **kw}.items())})"
    try:
        result = model.load_state_dict(sd, strict=True)
        print(f"official {how}: load_state_dict(strict=True) OK {result}")
    except RuntimeError as ex:
        fail(f"official {how}: load_state_dict(strict=True) failed:\n{ex}")
        return
    for k, v in model.state_dict().items():
        if not same(v, sd[k]):
            fail(f"official model's {k} differs from the file after loading")
            return
    if args.forward:
        model.eval()
        with torch.no_grad():
            x = torch.randn(1, 3, args.img_size, args.img_size, generator=torch.Generator().manual_seed(0))
            out = model.forward_features(x)
        print("forward_features:", {k: tuple(v.shape) for k, v in out.items() if torch.is_tensor(v)},
              "finite" if all(torch.isfinite(v).all() for v in out.values() if torch.is_tensor(v)) else "NOT FINITE")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pth")
    p.add_argument("--safetensors", help="reference tensors to compare with")
    p.add_argument("--atol", type=float, default=0.0)
    p.add_argument("--resave", action="store_true", help="compare bytes with torch.save of the loaded dict")
    p.add_argument("--max-keys", type=int, default=40, help="keys to list (all with -1)")
    p.add_argument("--official", choices=sorted(ARCHS), help="official DINOv2 architecture to load into")
    p.add_argument("--patch-size", type=int, default=14)
    p.add_argument("--img-size", type=int, default=518)
    p.add_argument("--embed-dim", type=int)
    p.add_argument("--depth", type=int)
    p.add_argument("--num-heads", type=int)
    p.add_argument("--mlp-ratio", type=float)
    p.add_argument("--block-chunks", type=int, default=0)
    p.add_argument("--init-values", type=float, default=1e-5, help="LayerScale init; 0 or None: no LayerScale")
    p.add_argument("--num-register-tokens", type=int, default=0)
    p.add_argument("--ffn-layer", default="mlp", help="mlp, swiglufused (ViT-g), swiglu, identity")
    p.add_argument("--forward", action="store_true", help="also run forward_features on one random image")
    p.add_argument("--dinov2-src", default=os.environ.get("DINOV2_SRC", "/tmp/dinov2src"))
    args = p.parse_args()

    sd = torch.load(args.pth, weights_only=True, map_location="cpu")
    if not isinstance(sd, dict):
        fail(f"{args.pth} holds a {type(sd).__name__}, not a state dict")
        sys.exit(1)
    n = sum(v.numel() for v in sd.values() if torch.is_tensor(v))
    print(f"{args.pth}: torch {torch.__version__} loads a {type(sd).__name__} of {len(sd)} tensors, {n} elements")
    shown = sd.items() if args.max_keys < 0 else list(sd.items())[: args.max_keys]
    for k, v in shown:
        print(f"  {k:50s} {str(v.dtype):15s} {tuple(v.shape)}")
    if len(shown) < len(sd):
        print(f"  ... {len(sd) - len(shown)} more")
    non_tensor = [k for k, v in sd.items() if not torch.is_tensor(v)]
    if non_tensor:
        fail(f"not tensors: {non_tensor[:5]}")
    zip_layout(args.pth)
    check_mmap(args.pth, sd)
    if args.safetensors:
        compare_safetensors(sd, args.safetensors, args.atol)
    if args.resave:
        resave(args.pth, sd)
    if args.official:
        official(sd, args)
    print("OK" if not failures else f"{len(failures)} FAILURE(S)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
