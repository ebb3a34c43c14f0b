import torch, os, io, sys, json
from safetensors.torch import save_file
R = sys.argv[1]
torch.manual_seed(0)
# the smallest official-shaped ViT: patch 14, img 28 (4 patches), dim 6, 1 block, 2 heads
d, h = 64, 1
sd = {
 "cls_token": torch.randn(1,1,d), "pos_embed": torch.randn(1,5,d), "mask_token": torch.zeros(1,d),
 "patch_embed.proj.weight": torch.randn(d,3,2,2)*0.02, "patch_embed.proj.bias": torch.zeros(d),
 "blocks.0.norm1.weight": torch.ones(d), "blocks.0.norm1.bias": torch.zeros(d),
 "blocks.0.attn.qkv.weight": torch.randn(3*d,d), "blocks.0.attn.qkv.bias": torch.zeros(3*d),
 "blocks.0.attn.proj.weight": torch.randn(d,d), "blocks.0.attn.proj.bias": torch.zeros(d),
 "blocks.0.ls1.gamma": torch.ones(d), "blocks.0.norm2.weight": torch.ones(d), "blocks.0.norm2.bias": torch.zeros(d),
 "blocks.0.mlp.fc1.weight": torch.randn(d,d), "blocks.0.mlp.fc1.bias": torch.zeros(d),
 "blocks.0.mlp.fc2.weight": torch.randn(d,d), "blocks.0.mlp.fc2.bias": torch.zeros(d),
 "blocks.0.ls2.gamma": torch.ones(d), "norm.weight": torch.ones(d), "norm.bias": torch.zeros(d),
}
P = R + "/PthFuzzTestInputs/pth/"
torch.save({k: v.half() for k, v in sd.items()}, P + "seed-hub-vit-tiny.pth")
# a training checkpoint: teacher wrapper, half precision, a view (transposed, non-contiguous) and shared storage
t = {k: v.half() for k, v in sd.items()}
t["blocks.0.attn.proj.weight"] = torch.randn(d, d).t()
big = torch.randn(2 * d, d).half()
t["blocks.0.mlp.fc1.weight"] = big[d:]  # a view at a storage offset
heads = {"dino_head.last_layer.weight": torch.randn(8, 4).half()}
torch.save({"teacher": {**{"backbone." + k: v for k, v in t.items()}, **heads}, "iteration": 3, "optimizer": {"lr": 0.1}}, P + "seed-train-teacher-f16-views.pth")
torch.save({"a": torch.arange(6, dtype=torch.int64).reshape(2,3), "b": torch.tensor([1.5], dtype=torch.bfloat16), "c": torch.tensor(2.0, dtype=torch.float64)}, P + "seed-dtypes.pth")
S = R + "/SafeTensorsFuzzTestInputs/safetensors/"
save_file({k: v.half().contiguous() for k, v in sd.items()}, S + "seed-hub-vit-tiny.safetensors", metadata={"format": "pt"})
save_file({"a": torch.arange(6, dtype=torch.int64).reshape(2,3), "b": torch.tensor([1.5], dtype=torch.bfloat16), "c": torch.tensor([2.0], dtype=torch.float16)}, S + "seed-dtypes.safetensors")
# HF: transformers' own save_pretrained of a tiny Dinov2Model
from transformers import Dinov2Config, Dinov2Model
cfg = Dinov2Config(hidden_size=6, num_hidden_layers=1, num_attention_heads=2, image_size=28, patch_size=14, mlp_ratio=4)
m = Dinov2Model(cfg)
import tempfile
with tempfile.TemporaryDirectory() as td:
    m.save_pretrained(td)
    c = open(td + "/config.json", "rb").read(); w = open(td + "/model.safetensors", "rb").read()
sep = b"\n--8<--\n"
open(R + "/HfDirFuzzTestInputs/hfDir/seed-dinov2-tiny-hf", "wb").write(c + sep + w)
print("ok")
