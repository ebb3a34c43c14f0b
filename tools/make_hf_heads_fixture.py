"""Hugging Face forms of DINOv2's released heads, as HF's own code builds and runs them (random weights).

    PYTHONPATH=/opt/dino4j-peers python3 tools/make_hf_heads_fixture.py fixtures/hf_heads

Writes, under OUT (fixtures/hf_heads: not fixtures/hf, whose loose .safetensors `dino4j conformance` checks):
  dinov2_tiny_hf_classifier/          Dinov2ForImageClassification       (config.json + model.safetensors)
  dinov2_reg_tiny_hf_classifier/      Dinov2WithRegistersForImageClassification
  dpt_dinov2_tiny_hf/                 DPTForDepthEstimation on a Dinov2 backbone, configured like HF's
                                      convert_dinov2_depth_to_hf.py (except add_projection, see below)
  hf_heads_tiny.safetensors           inputs, HF's outputs and intermediate tensors; __metadata__ has the configs
                                      and the exact calls.

Weights are random (seeded), float32; inputs are float32. The forward passes run in float64 on the float32 values
(model.double()), outputs are stored as float32. HF itself casts the position-embedding grid to float32 for its
bicubic resize (modeling_dinov2.py interpolate_pos_encoding), so outputs at non-native sizes carry float32 rounding
there (~1e-7 relative), nowhere else.

add_projection: HF's DPTDepthEstimationHead hard-codes nn.Conv2d(256, 256, 3) for the projection that Meta's DPT
head has (decode_head.project), so it only works with fusion_hidden_size=256 (~10M parameters of fusion convs). To
stay tiny this fixture uses fusion_hidden_size=8 with add_projection=False; the projection is a plain 3x3 conv +
ReLU (see prompts/hf-heads.md) and is not exercised here.
"""
import json
import os
import sys

import numpy as np
import torch
import transformers
from safetensors.torch import save_file
from transformers import (Dinov2Config, Dinov2ForImageClassification, Dinov2WithRegistersConfig,
                          Dinov2WithRegistersForImageClassification, DPTConfig, DPTForDepthEstimation)
from transformers.models.dpt.image_processing_pil_dpt import DPTImageProcessorPil

OUT = sys.argv[1] if len(sys.argv) > 1 else "fixtures/hf_heads"
SEED = 2020
torch.manual_seed(SEED)
MEAN, STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)


def randomize(model, gen):
    """Like shared/tools/fixtures/official_fixtures.py: O(1) activations instead of HF's 0.02-std init."""
    with torch.no_grad():
        for n, p in model.named_parameters():
            if ("norm" in n) and n.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
            elif n.endswith("lambda1"):  # LayerScale
                p.copy_(0.1 + 0.5 * torch.rand(p.shape, generator=gen))
            elif n.endswith("bias"):
                p.copy_(0.02 * torch.randn(p.shape, generator=gen))
            elif n.endswith(("cls_token", "mask_token", "register_tokens", "position_embeddings")):
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))
            else:
                fan_in = p[0].numel() if p.ndim > 1 else p.numel()
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in ** 0.5)


def f32(t):
    return t.detach().to(torch.float32).contiguous()


def inputs(gen, shapes):
    return [torch.randn(s, generator=gen, dtype=torch.float32) for s in shapes]


def config_json(model):
    d = model.config.to_dict()
    return json.dumps({k: v for k, v in d.items() if k != "transformers_version"}, sort_keys=True, default=str)


tensors, meta = {}, {"generator": "tools/make_hf_heads_fixture.py", "seed": str(SEED),
                     "transformers": transformers.__version__, "torch": torch.__version__,
                     "precision": "weights and inputs float32; forward in float64 (model.double()); stored float32"}
gen = torch.Generator().manual_seed(SEED + 1)
labels = ["tiny_%02d_%s" % (i, w) for i, w in enumerate(
    ["tench", "goldfish", "shark", "hen", "ostrich", "finch", "owl", "newt", "frog", "turtle", "gecko"])]
id2label = {i: name for i, name in enumerate(labels)}

# ---- (a) linear classifiers: Meta's 1-layer ImageNet head (cls ‖ mean(patch tokens)) -------------------------
CLS_SHAPES = [(2, 3, 56, 56), (1, 3, 42, 70), (1, 3, 70, 70), (1, 3, 50, 61)]
cls_inputs = inputs(gen, CLS_SHAPES)  # shared by both classifiers
for i, x in enumerate(cls_inputs):
    tensors[f"cls/input{i}"] = x
cls_calls = []
for tag, cfg_cls, model_cls, extra in [
        ("cls", Dinov2Config, Dinov2ForImageClassification, {}),
        ("regcls", Dinov2WithRegistersConfig, Dinov2WithRegistersForImageClassification, {"num_register_tokens": 4})]:
    cfg = cfg_cls(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, mlp_ratio=4, image_size=56,
                  patch_size=14, layer_norm_eps=1e-6, id2label=id2label, label2id={v: k for k, v in id2label.items()},
                  **extra)
    model = model_cls(cfg).eval()
    randomize(model, gen)
    name = "dinov2_tiny_hf_classifier" if tag == "cls" else "dinov2_reg_tiny_hf_classifier"
    model.save_pretrained(os.path.join(OUT, name))
    meta[f"{tag}/config"] = config_json(model)
    meta[f"{tag}/model_dir"] = name
    base = model.dinov2 if tag == "cls" else model.dinov2_with_registers
    nreg = extra.get("num_register_tokens", 0)
    md = model.double()
    for i, x in enumerate(cls_inputs):
        with torch.no_grad():
            out = md(pixel_values=x.double(), output_hidden_states=True)
            last = base(pixel_values=x.double()).last_hidden_state
        tensors[f"{tag}/output{i}/logits"] = f32(out.logits)
        tensors[f"{tag}/output{i}/last_hidden_state"] = f32(last)
        tensors[f"{tag}/output{i}/linear_input"] = f32(torch.cat([last[:, 0], last[:, 1 + nreg:].mean(dim=1)], dim=1))
        for j, h in enumerate(out.hidden_states):
            tensors[f"{tag}/output{i}/hidden_states.{j}"] = f32(h)
    cls_calls.append(f"{model_cls.__name__}(config).eval(); randomize; save_pretrained('{name}'); "
                     f"model.double()(pixel_values=input.double(), output_hidden_states=True).logits; "
                     f"last_hidden_state from model.{'dinov2' if tag == 'cls' else 'dinov2_with_registers'}(...)")
meta["cls/calls"] = cls_calls[0]
meta["regcls/calls"] = cls_calls[1]

# ---- (b) DPT depth head on a Dinov2 backbone, as convert_dinov2_depth_to_hf.py builds it ---------------------
D = 24
backbone_cfg = Dinov2Config(hidden_size=D, num_hidden_layers=5, num_attention_heads=2, mlp_ratio=4, image_size=56,
                            patch_size=14, layer_norm_eps=1e-6, out_indices=[1, 2, 4, 5], apply_layernorm=False,
                            reshape_hidden_states=False)
dpt_cfg = DPTConfig(backbone_config=backbone_cfg, neck_hidden_sizes=[D // 8, D // 4, D // 2, D],
                    reassemble_factors=[4, 2, 1, 0.5], fusion_hidden_size=8, head_in_index=-1,
                    readout_type="project", use_bias_in_fusion_residual=False, add_projection=False)
dpt = DPTForDepthEstimation(dpt_cfg).eval()
randomize(dpt, gen)
with torch.no_grad():  # keep most of the final ReLU's output positive, so the test sees depth, not zeros
    dpt.head.head[4].bias.fill_(1.0)
dpt.save_pretrained(os.path.join(OUT, "dpt_dinov2_tiny_hf"))
meta["dpt/config"] = config_json(dpt)
meta["dpt/model_dir"] = "dpt_dinov2_tiny_hf"

captured = {}


def keep(name):
    def hook(_module, _inp, out):
        captured[name] = out
    return hook


dd = dpt.double()
hooks = [dd.neck.reassemble_stage.register_forward_hook(keep("reassemble")),
         dd.neck.fusion_stage.register_forward_hook(keep("fusion"))]
hooks += [c.register_forward_hook(keep(f"conv{i}")) for i, c in enumerate(dd.neck.convs)]
hooks += [dd.backbone.register_forward_hook(keep("backbone"))]
hooks += [dd.head.head[0].register_forward_hook(keep("head0"))]
DPT_SHAPES = [(1, 3, 56, 56), (2, 3, 42, 70), (1, 3, 70, 56), (1, 3, 45, 60)]
for i, x in enumerate(inputs(gen, DPT_SHAPES)):
    tensors[f"dpt/input{i}"] = x
    captured.clear()
    with torch.no_grad():
        out = dd(pixel_values=x.double())
    o = f"dpt/output{i}"
    tensors[f"{o}/predicted_depth"] = f32(out.predicted_depth)
    for j, fm in enumerate(captured["backbone"].feature_maps):
        tensors[f"{o}/feature_maps.{j}"] = f32(fm)  # (B, 1+N, D): CLS + patch tokens, no final LayerNorm
    for j, r in enumerate(captured["reassemble"]):
        tensors[f"{o}/reassemble.{j}"] = f32(r)  # readout-projected, 1x1-projected, resized (x4, x2, x1, /2)
    for j in range(4):
        tensors[f"{o}/neck_convs.{j}"] = f32(captured[f"conv{j}"])
    for j, fz in enumerate(captured["fusion"]):
        tensors[f"{o}/fusion.{j}"] = f32(fz)  # fusion.0 = deepest stage (fed by reassemble.3)
    tensors[f"{o}/head.0"] = f32(captured["head0"])
for h in hooks:
    h.remove()
meta["dpt/calls"] = ("DPTForDepthEstimation(DPTConfig(backbone_config=Dinov2Config(..., out_indices=[1, 2, 4, 5], "
                     "apply_layernorm=False, reshape_hidden_states=False), neck_hidden_sizes=[3, 6, 12, 24], "
                     "reassemble_factors=[4, 2, 1, 0.5], fusion_hidden_size=8, readout_type='project', "
                     "use_bias_in_fusion_residual=False, add_projection=False)); randomize; head.head[4].bias=1.0; "
                     "model.double()(pixel_values=input.double()).predicted_depth; intermediates by forward hooks on "
                     "backbone (feature_maps), neck.reassemble_stage, neck.convs[j], neck.fusion_stage, head.head[0] "
                     "(the first head conv, before the x2 upsample)")

# the HF preprocessing of the DPT conversion: no resize, no rescale, 0-255 mean/std, centre zero-pad to 14
proc = DPTImageProcessorPil(do_resize=False, do_rescale=False, do_pad=True, size_divisor=14, do_normalize=True,
                            image_mean=MEAN, image_std=STD)
img = torch.randint(0, 256, (45, 60, 3), generator=gen, dtype=torch.uint8)
pv = proc(img.numpy(), return_tensors="pt").pixel_values
tensors["dpt/processor_image_u8"] = img
tensors["dpt/processor_pixel_values"] = f32(pv)
with torch.no_grad():
    tensors["dpt/processor_predicted_depth"] = f32(dd(pixel_values=pv.double()).predicted_depth)
meta["dpt/processor_calls"] = ("DPTImageProcessorPil(do_resize=False, do_rescale=False, do_pad=True, size_divisor=14, "
                               "do_normalize=True, image_mean=(123.675, 116.28, 103.53), "
                               "image_std=(58.395, 57.12, 57.375))(image_u8 HWC RGB, return_tensors='pt').pixel_values"
                               "; then the DPT model on it (float64)")

save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(OUT, "hf_heads_tiny.safetensors"), metadata=meta)
print("wrote", len(tensors), "tensors to", os.path.join(OUT, "hf_heads_tiny.safetensors"))
