"""Optimizer fixture: PyTorch's AdamW and clip_grad_norm_, with the official CosineScheduler and parameter groups.

Writes fixtures/extra/optim.safetensors from the parameters of fixtures/official/official_train_step.safetensors
(backbone.* and head.*: the student's two submodules):
  sched/{lr,wd,momentum,teacher_temp,last_layer_lr}   float64 schedules of a small run (see CFG), as the official
                                                      build_schedulers makes them (CosineScheduler copied below)
  group/<name>                                        float32 [lr_multiplier, wd_multiplier, is_last_layer]
  step<i>/grad/<name>                                 the gradients fed at step i (random, seeded)
  step<i>/student/<name>, step<i>/teacher/<name>      parameters after step i: per-submodule clip_grad_norm_(3.0),
                                                      AdamW(betas 0.9, 0.999) with per-group lr and weight decay
                                                      set from the schedules, then the EMA teacher update
Usage: PYTHONPATH=/opt/dino4j-peers python3 tools/make_optim_fixture.py
"""
import json
import math
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_image_fixtures import write_safetensors  # noqa: E402
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "fixtures", "official", "official_train_step.safetensors")
OUT = os.path.join(HERE, "..", "fixtures", "extra", "optim.safetensors")
CFG = dict(epoch_length=4, epochs=10, warmup_epochs=2, base_lr=0.004, batch=16, min_lr=1e-6, wd=0.04, wd_end=0.4,
           momentum=0.992, teacher_temp=0.07, warmup_teacher_temp=0.04, warmup_teacher_temp_epochs=3,
           freeze_last_layer_epochs=1, layerwise_decay=0.9, patch_embed_lr_mult=0.2, clip_grad=3.0, steps=6)


class CosineScheduler(object):  # dinov2/utils/utils.py (Apache-2.0), verbatim
    def __init__(self, base_value, final_value, total_iters, warmup_iters=0, start_warmup_value=0, freeze_iters=0):
        super().__init__()
        self.final_value = final_value
        self.total_iters = total_iters
        freeze_schedule = np.zeros((freeze_iters))
        warmup_schedule = np.linspace(start_warmup_value, base_value, warmup_iters)
        iters = np.arange(total_iters - warmup_iters - freeze_iters)
        schedule = final_value + 0.5 * (base_value - final_value) * (1 + np.cos(np.pi * iters / len(iters)))
        self.schedule = np.concatenate((freeze_schedule, warmup_schedule, schedule))
        assert len(self.schedule) == self.total_iters

    def __getitem__(self, it):
        if it >= self.total_iters:
            return self.final_value
        else:
            return self.schedule[it]


def get_vit_lr_decay_rate(name, lr_decay_rate=1.0, num_layers=12, force_is_backbone=False, chunked_blocks=False):
    # dinov2/utils/param_groups.py (Apache-2.0), verbatim logic
    layer_id = num_layers + 1
    if name.startswith("backbone") or force_is_backbone:
        if ".pos_embed" in name or ".patch_embed" in name or ".mask_token" in name or ".cls_token" in name or ".register_tokens" in name:
            layer_id = 0
        elif force_is_backbone and ("pos_embed" in name or "patch_embed" in name or "mask_token" in name or "cls_token" in name or "register_tokens" in name):
            layer_id = 0
        elif ".blocks." in name and ".residual." not in name:
            layer_id = int(name[name.find(".blocks."):].split(".")[2]) + 1
        elif chunked_blocks and "blocks." in name and "residual." not in name:
            layer_id = int(name[name.find("blocks."):].split(".")[2]) + 1
        elif "blocks." in name and "residual." not in name:
            layer_id = int(name[name.find("blocks."):].split(".")[1]) + 1
    return lr_decay_rate ** (num_layers + 1 - layer_id)


def groups(names, n_blocks, decay, pe_mult):
    out = {}
    for name in names:
        lr_mult = get_vit_lr_decay_rate(name, decay, num_layers=n_blocks, force_is_backbone=n_blocks > 0)
        d = {"lr_multiplier": lr_mult, "wd_multiplier": 1.0, "is_last_layer": "last_layer" in name}
        if name.endswith(".bias") or "norm" in name or "gamma" in name:
            d["wd_multiplier"] = 0.0
        if "patch_embed" in name:
            d["lr_multiplier"] *= pe_mult
        out[name] = d
    return out


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        data = f.read()
    h.pop("__metadata__", None)
    return {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], dtype=np.float32).reshape(v["shape"])
            for k, v in h.items() if v["dtype"] == "F32"}


def main():
    c = CFG
    src = read_safetensors(SRC)
    weights = {k[len("weights/"):]: v for k, v in src.items() if k.startswith("weights/")}
    modules = {m: [n for n in weights if n.startswith(m + ".")] for m in ("backbone", "head")}
    n_blocks = 1 + max(int(n.split(".")[2]) for n in modules["backbone"] if n.startswith("backbone.blocks."))
    total = c["epochs"] * c["epoch_length"]
    lr = c["base_lr"] * math.sqrt(c["batch"] / 1024)
    sched = {
        "lr": CosineScheduler(lr, c["min_lr"], total, warmup_iters=c["warmup_epochs"] * c["epoch_length"], start_warmup_value=0),
        "wd": CosineScheduler(c["wd"], c["wd_end"], total),
        "momentum": CosineScheduler(c["momentum"], 1.0, total),
        "teacher_temp": CosineScheduler(c["teacher_temp"], c["teacher_temp"], c["warmup_teacher_temp_epochs"] * c["epoch_length"],
                                        warmup_iters=c["warmup_teacher_temp_epochs"] * c["epoch_length"], start_warmup_value=c["warmup_teacher_temp"]),
        "last_layer_lr": CosineScheduler(lr, c["min_lr"], total, warmup_iters=c["warmup_epochs"] * c["epoch_length"], start_warmup_value=0),
    }
    sched["last_layer_lr"].schedule[: c["freeze_last_layer_epochs"] * c["epoch_length"]] = 0
    g = {}
    for m, names in modules.items():  # names relative to the submodule, as get_params_groups_with_decay sees them
        rel = groups([n[len(m) + 1:] for n in names], n_blocks if m == "backbone" else 0, c["layerwise_decay"], c["patch_embed_lr_mult"])
        g.update({m + "." + k: v for k, v in rel.items()})
    student = {n: torch.nn.Parameter(torch.from_numpy(w.copy())) for n, w in weights.items()}
    teacher = {n: torch.from_numpy(w.copy()) for n, w in weights.items()}
    opt = torch.optim.AdamW([{"params": [p], "name": n, **g[n]} for n, p in student.items()], betas=(0.9, 0.999))
    out = {"sched/" + k: np.array([s[i] for i in range(total + 2)], np.float64) for k, s in sched.items()}
    for n, d in g.items():
        out["group/" + n] = np.array([d["lr_multiplier"], d["wd_multiplier"], float(d["is_last_layer"])], np.float32)
    rng = np.random.default_rng(0)
    for it in range(c["steps"]):
        for n, p in student.items():
            grad = (rng.standard_normal(p.shape) * (3.0 if it % 2 else 0.05)).astype(np.float32)  # clipped and not
            p.grad = torch.from_numpy(grad)
            out[f"step{it}/grad/{n}"] = grad
        for m, names in modules.items():
            torch.nn.utils.clip_grad_norm_([student[n] for n in names], c["clip_grad"])
        for group in opt.param_groups:
            group["weight_decay"] = sched["wd"][it] * group["wd_multiplier"]
            group["lr"] = (sched["last_layer_lr"][it] if group["is_last_layer"] else sched["lr"][it]) * group["lr_multiplier"]
        opt.step()
        m = sched["momentum"][it]
        with torch.no_grad():
            for n in teacher:
                teacher[n].mul_(m).add_(student[n].detach(), alpha=1 - m)
        for n in student:
            out[f"step{it}/student/{n}"] = student[n].detach().numpy().copy()
            out[f"step{it}/teacher/{n}"] = teacher[n].numpy().copy()
    write_safetensors(OUT, out, {"config": json.dumps(c), "torch": torch.__version__, "what": __doc__.split("\n")[0]})


if __name__ == "__main__":
    main()
