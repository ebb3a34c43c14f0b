"""Writes the small torch.save fixtures that TorchPthTest reads, each with an <name>.expected.safetensors holding
the tensors dino4j should find (flattened names, contiguous copies) and, as __metadata__, the scalar leaves it
should report. Run from this folder with PyTorch and safetensors installed; CI only reads the outputs.

    python3 make_pth_fixtures.py
"""
import io

import torch
from safetensors.torch import save_file


def flatten(obj, prefix, tensors, meta):
    # Mirrors TorchPth: nested dicts joined with '.', tensors kept, int/str scalars as metadata, lists skipped.
    for k, v in obj.items():
        name = prefix + str(k)
        if isinstance(v, torch.Tensor):
            tensors[name] = v.detach().contiguous().clone()
        elif isinstance(v, dict):
            flatten(v, name + ".", tensors, meta)
        elif isinstance(v, (int, str)) and not isinstance(v, bool):
            meta[name] = str(v)


def emit(name, obj, via_buffer=False):
    if via_buffer:  # torch names the zip folder "archive" when saving to a stream, the file stem otherwise
        buf = io.BytesIO()
        torch.save(obj, buf)
        with open(name + ".pth", "wb") as f:
            f.write(buf.getvalue())
    else:
        torch.save(obj, name + ".pth")
    tensors, meta = {}, {}
    flatten(obj, "", tensors, meta)
    save_file(tensors, name + ".expected.safetensors", metadata=meta)


torch.manual_seed(0)

# DINOv2's eval checkpoint layout (teacher_checkpoint.pth): {"teacher": state_dict}, here with an iteration too.
teacher = {
    "backbone.cls_token": torch.randn(1, 1, 8),
    "backbone.blocks.0.0.norm1.weight": torch.arange(8, dtype=torch.float32) / 8,
    "backbone.blocks.0.0.norm1.bias": torch.zeros(8),
    "dino_head.mlp.0.weight": torch.randn(4, 8),
}
emit("teacher_checkpoint", {"teacher": teacher, "iteration": 7})

# fvcore training checkpoint: {"model", "optimizer", "iteration"}; the optimizer state has int keys, a 0-dim step
# tensor and param_groups (a list of dicts, skipped).
model = torch.nn.Module()
model.register_parameter("cls_token", torch.nn.Parameter(torch.randn(1, 1, 8)))
model.proj = torch.nn.Linear(8, 4)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
loss = (model.proj(model.cls_token) ** 2).sum()
loss.backward()
opt.step()
state = {"module.backbone." + k: v for k, v in model.state_dict().items()}
emit("training_checkpoint", {"model": state, "optimizer": opt.state_dict(), "iteration": 5, "tag": "run-a"})

# Every dtype dino4j supports, views (storage offset, transposed, strided), a 0-dim, an empty tensor, a Parameter,
# a nested state_dict, and inert non-tensor leaves (a dtype object, None, a float, a big int, a list).
base = torch.arange(12, dtype=torch.float32)
dtypes = {
    "f32": torch.arange(6, dtype=torch.float32).reshape(2, 3) - 2.5,
    "f16": torch.arange(5, dtype=torch.float16) * 0.5 - 1,
    "bf16": torch.arange(5, dtype=torch.bfloat16) * 0.25 + 3,
    "f64": torch.arange(4, dtype=torch.float64) / 3,
    "i64": torch.arange(4, dtype=torch.int64) * 1_000_000_007 - 5,
    "i32": torch.arange(4, dtype=torch.int32) - 2,
    "i16": torch.arange(4, dtype=torch.int16) * 300,
    "i8": torch.arange(4, dtype=torch.int8) - 3,
    "u8": torch.arange(4, dtype=torch.uint8) * 60,
    "bool": torch.tensor([True, False, True]),
    "scalar": torch.tensor(3.5),
    "empty": torch.zeros(0, 3),
    "base": base,
    "tail": base[4:],                           # contiguous, storage offset 4, shares base's storage
    "transposed": base.reshape(3, 4).t(),       # non-contiguous
    "strided": base[1::3],                      # non-contiguous, offset 1
    "param": torch.nn.Parameter(torch.ones(2, 2)),
    "linear": torch.nn.Linear(2, 2).state_dict(),  # a real state_dict: OrderedDict + BUILD of its _metadata
    "dtype": torch.float16,
    "none": None,
    "lr": 0.5,
    "big": 2 ** 40,
    "list": [1, 2, 3],
}
emit("dtypes", dtypes, via_buffer=True)

# Pre-1.6 format (a bare pickle stream), which dino4j refuses with a clear message.
torch.save({"w": torch.ones(2)}, "legacy.pth", _use_new_zipfile_serialization=False)
