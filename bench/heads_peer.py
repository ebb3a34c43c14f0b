"""Peer for `dino4j depth` and `dino4j segment`: Meta's own DINOv2 code (hub depthers, eval/segmentation BNHead) run by
PyTorch on the CPU, one photo at a time, random weights of the released shapes (ViT-S/14; no weights can be fetched).

What one "call" is here, from the file to the output array, as the official notebooks do it:
- depth (notebooks/depth_estimation.ipynb): Image.open(PHOTO).convert("RGB"); image.resize((W, H)) with Pillow's default
  filter for RGB (bicubic) -- the notebook resizes by `scale_factor` (1 there, i.e. the photo's own size); here the
  shorter side goes to --depth-size, the longer to int(size * long / short) as torchvision's Resize(size) does;
  make_depth_transform(): ToTensor, x255, Normalize(mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375));
  model.whole_inference(x, img_meta=None, rescale=True) under torch.inference_mode(): depth (1, 1, H, W) at the resized
  size. Model: dinov2.hub.depthers._make_dinov2_dpt_depther / _make_dinov2_linear_depther(arch_name='vit_small',
  pretrained=False) (depth range (0.001, 10), the NYU one).
- segment (notebooks/semantic_segmentation.ipynb: mmseg's inference_segmentor on the config
  dinov2_vits14_ade20k_linear_config.py): the config's test pipeline -- Resize img_scale=(2048, 512), keep_ratio:
  mmcv.imrescale, scale = min(2048 / long, 512 / short), sides int(side * scale + 0.5), cv2 INTER_LINEAR (cv2 and
  mmcv cannot be installed: torch's uint8 bilinear without antialiasing, the same half-pixel sampling, stands in);
  Normalize(same mean/std, to_rgb); then mmseg 0.27's EncoderDecoder.simple_test(img, img_meta, rescale=True) under
  torch.no_grad(): slide (the config's test_cfg: crop 512, stride 341) or whole inference, the logits bilinearly
  resized to the photo's own size (rescale=True; --seg-rescale input keeps the resized size), softmax, argmax, numpy.
  Backbone as the notebook builds it: get_intermediate_layers(n=out_indices, reshape=True) behind CenterPadding(14);
  the config's out_indices [8, 9, 10, 11] with BNHead(in_channels=[384], in_index=[3], channels=384,
  input_transform='resize_concat', num_classes=150, dropout_ratio=0, align_corners=False).
  mmseg itself cannot be installed: the official linear_head.py runs on minimal stand-ins for mmseg.models.builder.HEADS,
  mmseg.models.decode_heads.decode_head.BaseDecodeHead and mmseg.ops.resize, and EncoderDecoder's test path is
  written out below as mmseg 0.27 has it.

Each measure prints one line, p50/p90 by nearest rank over --repeats calls after --warmup calls:
  peer=pytorch task=depth head=dpt size=518x777 measure=call images_per_s=... ms_p50=... ms_p90=... repeats=... threads=2
size is the network input H x W before CenterPadding; measure=call is file to output array, measure=model the same
calls from the normalised tensor on (whole_inference; simple_test).

Usage (peers from ../shared/bench/setup_peers.sh; the official code from the mirror or --dinov2-repo DIR):
  PYTHONPATH=/opt/dino4j-peers python3 bench/heads_peer.py --task depth,segment --repeats 10
Compare with dino4j on the same machine in the same minutes (bench/heads-ab.sh alternates whole processes).
"""
import os

# 2 cores: spinning OpenMP threads fight each other; passive waiting is PyTorch's best setting here.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import argparse
import datetime
import hashlib
import importlib.util
import math
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import types
import warnings

warnings.filterwarnings("ignore", message="xFormers is not available")  # the official code falls back to SDPA

MIRROR = "/work/.mirror/facebookresearch+dinov2/repo"
PHOTO = "/usr/share/backgrounds/mate/nature/Storm.jpg"  # Debian mate-backgrounds, 1920x1280, GPL-2+
MEAN, STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)


def dinov2_checkout(arg):
    """The official code: --dinov2-repo DIR, or `git archive HEAD` of the bare mirror unpacked once into /tmp."""
    if arg:
        if not os.path.isfile(os.path.join(arg, "dinov2", "hub", "depthers.py")):
            sys.exit(f"heads_peer: {arg}: not a facebookresearch/dinov2 checkout (no dinov2/hub/depthers.py)")
        return arg, arg
    if not os.path.isdir(MIRROR):
        sys.exit(f"heads_peer: give --dinov2-repo DIR (a facebookresearch/dinov2 checkout); {MIRROR} is missing")
    commit = subprocess.check_output(["git", "-C", MIRROR, "rev-parse", "HEAD"], text=True).strip()
    out = os.path.join(tempfile.gettempdir(), f"dinov2-{commit[:12]}")
    if not os.path.isdir(out):  # unpacked beside, then renamed: two runs at once never see half a tree
        tmp = tempfile.mkdtemp(prefix=".dinov2-", dir=tempfile.gettempdir())
        archive = subprocess.Popen(["git", "-C", MIRROR, "archive", "HEAD"], stdout=subprocess.PIPE)
        subprocess.check_call(["tar", "-x", "-C", tmp], stdin=archive.stdout)
        if archive.wait() != 0:
            sys.exit("heads_peer: git archive of the dinov2 mirror failed")
        try:
            os.rename(tmp, out)
        except OSError:  # another run got there first
            shutil.rmtree(tmp, ignore_errors=True)
    return out, commit[:7]


def install_mmseg_stand_ins():
    """The three names linear_head.py imports from mmseg 0.27, with the behaviour BNHead uses."""
    import torch.nn as nn
    import torch.nn.functional as F

    def resize(input, size=None, scale_factor=None, mode="nearest", align_corners=None, warning=True):
        return F.interpolate(input, size, scale_factor, mode, align_corners)  # mmseg.ops.resize minus its warning

    class BaseDecodeHead(nn.Module):
        def __init__(self, in_channels, channels, *, num_classes, out_channels=None, dropout_ratio=0.1, in_index=-1,
                     input_transform=None, align_corners=False, **_unused):  # conv/norm/act/loss cfgs: training only
            super().__init__()
            assert input_transform in (None, "resize_concat", "multiple_select")
            self.input_transform, self.in_index = input_transform, in_index
            self.in_channels = sum(in_channels) if input_transform == "resize_concat" else in_channels
            self.channels, self.num_classes = channels, num_classes
            self.out_channels = num_classes if out_channels is None else out_channels
            self.align_corners = align_corners
            self.conv_seg = nn.Conv2d(channels, self.out_channels, kernel_size=1)
            self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else None

        def forward_test(self, inputs, img_metas, test_cfg):
            return self.forward(inputs)

        def cls_seg(self, feat):
            if self.dropout is not None:
                feat = self.dropout(feat)
            return self.conv_seg(feat)

    registry = types.SimpleNamespace(register_module=lambda *a, **k: (lambda cls: cls))
    for name, attrs in {"mmseg": {}, "mmseg.models": {}, "mmseg.models.builder": {"HEADS": registry},
                        "mmseg.models.decode_heads": {},
                        "mmseg.models.decode_heads.decode_head": {"BaseDecodeHead": BaseDecodeHead},
                        "mmseg.ops": {"resize": resize}}.items():
        mod = sys.modules.setdefault(name, types.ModuleType(name))
        for k, v in attrs.items():
            setattr(mod, k, v)
    return resize


class EncoderDecoder:
    """mmseg 0.27 EncoderDecoder's test path (encode_decode, whole/slide_inference, inference, simple_test)."""

    def __init__(self, backbone, decode_head, test_cfg, resize):
        self.backbone, self.decode_head, self.test_cfg, self.resize = backbone, decode_head, test_cfg, resize
        self.align_corners = decode_head.align_corners
        self.num_classes, self.out_channels = decode_head.num_classes, decode_head.out_channels

    def encode_decode(self, img, img_metas):
        x = self.backbone(img)  # extract_feat (no neck)
        out = self.decode_head.forward_test(x, img_metas, self.test_cfg)
        return self.resize(input=out, size=img.shape[2:], mode="bilinear", align_corners=self.align_corners)

    def slide_inference(self, img, img_meta, rescale):
        import torch.nn.functional as F
        h_stride, w_stride = self.test_cfg["stride"]
        h_crop, w_crop = self.test_cfg["crop_size"]
        batch_size, _, h_img, w_img = img.size()
        h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
        w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
        preds = img.new_zeros((batch_size, self.num_classes, h_img, w_img))
        count_mat = img.new_zeros((batch_size, 1, h_img, w_img))
        for h_idx in range(h_grids):
            for w_idx in range(w_grids):
                y1, x1 = h_idx * h_stride, w_idx * w_stride
                y2, x2 = min(y1 + h_crop, h_img), min(x1 + w_crop, w_img)
                y1, x1 = max(y2 - h_crop, 0), max(x2 - w_crop, 0)
                crop_seg_logit = self.encode_decode(img[:, :, y1:y2, x1:x2], img_meta)
                preds += F.pad(crop_seg_logit, (int(x1), int(preds.shape[3] - x2), int(y1), int(preds.shape[2] - y2)))
                count_mat[:, :, y1:y2, x1:x2] += 1
        assert (count_mat == 0).sum() == 0
        preds = preds / count_mat
        if rescale:
            h, w = img_meta[0]["img_shape"][:2]  # remove padding area (none: the test pipeline does not pad)
            preds = self.resize(preds[:, :, :h, :w], size=img_meta[0]["ori_shape"][:2], mode="bilinear",
                                align_corners=self.align_corners, warning=False)
        return preds

    def whole_inference(self, img, img_meta, rescale):
        seg_logit = self.encode_decode(img, img_meta)
        if rescale:
            h, w = img_meta[0]["img_shape"][:2]
            seg_logit = self.resize(seg_logit[:, :, :h, :w], size=img_meta[0]["ori_shape"][:2], mode="bilinear",
                                    align_corners=self.align_corners, warning=False)
        return seg_logit

    def inference(self, img, img_meta, rescale):
        import torch.nn.functional as F
        assert self.test_cfg["mode"] in ("slide", "whole")
        if self.test_cfg["mode"] == "slide":
            seg_logit = self.slide_inference(img, img_meta, rescale)
        else:
            seg_logit = self.whole_inference(img, img_meta, rescale)
        return F.softmax(seg_logit, dim=1)  # flip is False in the test pipeline

    def simple_test(self, img, img_meta, rescale=True):
        seg_pred = self.inference(img, img_meta, rescale).argmax(dim=1)
        return list(seg_pred.cpu().numpy())


def center_padding(patch_size):
    """The notebooks' CenterPadding(multiple) as a forward pre-hook (hub/utils.py has the same class)."""
    import torch
    import torch.nn.functional as F

    def pad(_, args):
        x = args[0]
        pads = []
        for m in x.shape[:1:-1]:
            p = math.ceil(m / patch_size) * patch_size - m
            pads += [p // 2, p - p // 2]
        with torch.inference_mode():
            return F.pad(x, pads)
    return pad


def build_depth(head):
    from dinov2.hub.depthers import _make_dinov2_dpt_depther, _make_dinov2_linear_depther
    if head == "dpt":
        return _make_dinov2_dpt_depther(arch_name="vit_small", pretrained=False).eval()
    return _make_dinov2_linear_depther(arch_name="vit_small", layers=4 if head == "linear4" else 1,
                                       pretrained=False).eval()


def official_segmenter(src, backbone_model, out_indices, in_index, mode, crop, stride):
    """The notebook's create_segmenter on the config's model: the official BNHead, mmseg's test path."""
    from functools import partial
    import torch.nn as nn
    resize = install_mmseg_stand_ins()
    # the file itself, not its package: dinov2/eval/segmentation/models/__init__ imports mmcv through the backbones
    path = os.path.join(src, "dinov2", "eval", "segmentation", "models", "decode_heads", "linear_head.py")
    spec = importlib.util.spec_from_file_location("dinov2_linear_head", path)
    linear_head = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(linear_head)
    backbone = nn.Module()  # the config's DinoVisionTransformer stand-in: the notebook replaces its forward
    backbone.forward = partial(backbone_model.get_intermediate_layers, n=out_indices, reshape=True)
    backbone.register_forward_pre_hook(center_padding(backbone_model.patch_size))
    d = backbone_model.embed_dim * len(in_index)
    head = linear_head.BNHead(in_channels=[d], in_index=in_index, input_transform="resize_concat", channels=d,
                              dropout_ratio=0, num_classes=150, align_corners=False).eval()
    model = EncoderDecoder(backbone, head, {"mode": mode, "crop_size": (crop, crop), "stride": (stride, stride)},
                           resize)
    model.params = sum(p.numel() for m in (backbone_model, head) for p in m.parameters())
    return model


def build_segment(src, mode, crop, stride):
    from dinov2.hub.backbones import dinov2_vits14
    backbone_model = dinov2_vits14(pretrained=False).eval()  # torch.hub.load(..., "dinov2_vits14") in the notebook
    # dinov2_vits14_ade20k_linear_config.py: out_indices [8, 9, 10, 11], BNHead in_index [3] (block 11 alone)
    return official_segmenter(src, backbone_model, [8, 9, 10, 11], [3], mode, crop, stride)


def check(src, fixture):
    """The segmenter above (mmseg stand-ins included) against the outputs that ../shared/fixtures recorded."""
    from functools import partial
    import torch
    from safetensors.torch import load_file
    from dinov2.layers import MemEffAttention, NestedTensorBlock as Block
    from dinov2.models.vision_transformer import DinoVisionTransformer
    t = load_file(fixture)
    vit = DinoVisionTransformer(img_size=56, patch_size=14, embed_dim=48, depth=12, num_heads=3, mlp_ratio=4,
                                init_values=1e-5, ffn_layer="mlp", block_chunks=0, interpolate_antialias=False,
                                interpolate_offset=0.1, block_fn=partial(Block, attn_class=MemEffAttention))
    weights = lambda prefix: {k[len(prefix):]: v for k, v in t.items() if k.startswith(prefix)}
    vit.load_state_dict(weights("weights/backbone/"))
    worst = 0.0
    for name, out_indices in (("seg_linear_head", [11]), ("seg_linear4_head", [2, 5, 8, 11])):
        seg = official_segmenter(src, vit.eval(), out_indices, list(range(len(out_indices))), "whole", 512, 341)
        seg.decode_head.load_state_dict(weights(f"weights/{name}/decode_head."))
        for i in (0, 1):
            x = t[f"seg/input{i}"]
            with torch.no_grad():
                got = {"logits": seg.decode_head(seg.backbone(x)), "logits_resized": seg.encode_decode(x, None)}
            for key, value in got.items():
                ref = t.get(f"seg/output{i}/{name}/{key}")
                if ref is not None:
                    err = ((value - ref).abs().max() / ref.abs().max()).item()
                    worst = max(worst, err)
                    print(f"# check {name} input{i} {key} {tuple(ref.shape)}: max |diff| / max |ref| = {err:.2e}")
    print(f"check: {'ok' if worst < 1e-4 else 'FAILED'} (worst {worst:.2e})")
    return worst < 1e-4


def depth_input(path, size):
    import numpy as np
    import torch
    from PIL import Image
    image = Image.open(path).convert("RGB")
    w, h = image.size
    nw, nh = (size, int(size * h / w)) if w <= h else (int(size * w / h), size)
    image = image.resize((nw, nh))  # Pillow's default filter for RGB: bicubic
    x = torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1).contiguous().float().div(255)  # ToTensor
    x = 255.0 * x[:3]
    mean, std = torch.tensor(MEAN).view(3, 1, 1), torch.tensor(STD).view(3, 1, 1)
    return ((x - mean) / std).unsqueeze(0)


def segment_input(path, short, long=2048):
    import numpy as np
    import torch
    import torch.nn.functional as F
    from PIL import Image
    rgb = np.asarray(Image.open(path).convert("RGB"))  # the notebook hands mmseg BGR; to_rgb flips it back
    h, w = rgb.shape[:2]
    scale = min(long / max(h, w), short / min(h, w))
    nh, nw = int(h * scale + 0.5), int(w * scale + 0.5)
    img = torch.from_numpy(rgb.copy()).permute(2, 0, 1).unsqueeze(0)
    img = F.interpolate(img, size=(nh, nw), mode="bilinear", align_corners=False, antialias=False)  # uint8 in/out
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    x = ((img.float() - mean) / std).contiguous()  # ImageToTensor + collate's stack: contiguous CHW
    meta = [{"ori_shape": (h, w, 3), "img_shape": (nh, nw, 3), "pad_shape": (nh, nw, 3), "flip": False}]
    return x, meta


def percentile(sorted_ms, p):
    return sorted_ms[max(0, math.ceil(p * len(sorted_ms)) - 1)]


def report(fields, name, ms, threads):
    s = sorted(ms)
    p50 = percentile(s, 0.5)
    print(f"peer=pytorch {fields} measure={name} images_per_s={1000 / p50:.3f} ms_p50={p50:.1f} "
          f"ms_p90={percentile(s, 0.9):.1f} repeats={len(ms)} threads={threads}", flush=True)


def run(fields, prepare, model, warmup, repeats, threads):
    """Each call: prepare() (file -> input tensor) then model(input); times of the whole and of the model part."""
    call, model_only, out = [], [], None
    for i in range(warmup + repeats):
        t0 = time.perf_counter()
        inputs = prepare()
        t1 = time.perf_counter()
        out = model(inputs)
        t2 = time.perf_counter()
        if i >= warmup:
            call.append(1000 * (t2 - t0))
            model_only.append(1000 * (t2 - t1))
    if repeats:
        report(fields, "call", call, threads)
        report(fields, "model", model_only, threads)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photo", default=PHOTO)
    ap.add_argument("--task", default="depth,segment", help="comma list of depth, segment")
    ap.add_argument("--depth-head", default="dpt", help="comma list of dpt, linear, linear4")
    ap.add_argument("--depth-size", type=int, default=518, help="shorter side of the depth input")
    ap.add_argument("--seg-mode", default="whole", help="comma list of whole, slide (the released config: slide)")
    ap.add_argument("--seg-size", type=int, default=512, help="shorter side of the segmentation input "
                    "(the config's img_scale (2048, 512))")
    ap.add_argument("--seg-rescale", default="original", choices=("original", "input"),
                    help="size of the label map: the photo's own (mmseg's rescale=True) or the resized input's")
    ap.add_argument("--crop", type=int, default=512, help="slide-mode crop (the config: 512)")
    ap.add_argument("--stride", type=int, default=341, help="slide-mode stride (the config: 341)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--dinov2-repo", metavar="DIR", help="a facebookresearch/dinov2 checkout (default: the mirror's "
                    "HEAD unpacked into /tmp)")
    ap.add_argument("--verbose", action="store_true", help="print each output's shape and range to stderr")
    ap.add_argument("--check", metavar="FIXTURE", help="only compare the segmenter with the recorded official outputs "
                    "(../shared/fixtures/official/official_heads_tiny.safetensors) and exit")
    a = ap.parse_args()
    for flag, given, allowed in (("--task", a.task, ("depth", "segment")), ("--depth-head", a.depth_head,
                                 ("dpt", "linear", "linear4")), ("--seg-mode", a.seg_mode, ("whole", "slide"))):
        for v in given.split(","):
            if v not in allowed:
                sys.exit(f"heads_peer: {flag} {v}: expected one of {', '.join(allowed)}")
    src, commit = dinov2_checkout(a.dinov2_repo)
    sys.path.insert(0, src)
    if a.check:
        sys.exit(0 if check(src, a.check) else 1)
    if not os.path.isfile(a.photo):
        sys.exit(f"heads_peer: {a.photo}: no such file (Debian's mate-backgrounds has the default photo)")

    import torch
    torch.set_num_threads(a.threads)
    with open(a.photo, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
               platform.processor())
    print(f"# {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H:%M:%SZ} {cpu}; torch {torch.__version__}, "
          f"{a.threads} threads; dinov2 {commit}; photo {a.photo} (sha256 {digest}...)", flush=True)

    for task in a.task.split(","):
        if task == "depth":
            for head in a.depth_head.split(","):
                torch.manual_seed(0)
                model = build_depth(head)
                x = depth_input(a.photo, a.depth_size)
                fields = f"task=depth head={head} size={x.shape[2]}x{x.shape[3]}"

                def infer(x, model=model):
                    with torch.inference_mode():
                        return model.whole_inference(x, img_meta=None, rescale=True).numpy()
                out = run(fields, lambda: depth_input(a.photo, a.depth_size), infer, a.warmup, a.repeats, a.threads)
                if a.verbose:
                    params = sum(p.numel() for p in model.parameters())
                    print(f"# {fields}: {params} parameters; depth {out.shape} in [{out.min():.4g}, {out.max():.4g}] m",
                          file=sys.stderr)
        else:
            for mode in a.seg_mode.split(","):
                torch.manual_seed(0)
                model = build_segment(src, mode, a.crop, a.stride)
                x, meta = segment_input(a.photo, a.seg_size)
                rescale = a.seg_rescale == "original"
                out_hw = meta[0]["ori_shape"][:2] if rescale else x.shape[2:]
                fields = (f"task=segment head=linear mode={mode} size={x.shape[2]}x{x.shape[3]} "
                          f"out={out_hw[0]}x{out_hw[1]}" + (f" crop={a.crop} stride={a.stride}" if mode == "slide"
                                                            else ""))

                def infer(inputs, model=model, rescale=rescale):
                    with torch.no_grad():  # mmseg's inference_segmentor
                        return model.simple_test(*inputs, rescale=rescale)[0]
                out = run(fields, lambda: segment_input(a.photo, a.seg_size), infer, a.warmup, a.repeats, a.threads)
                if a.verbose:
                    import numpy as np
                    print(f"# {fields}: {model.params} parameters; labels {out.shape} {out.dtype}, "
                          f"{len(np.unique(out))} classes present",
                          file=sys.stderr)


if __name__ == "__main__":
    main()
