"""Masking fixture: CPython's random module and the official iBOT masking and collate, for dino4j's PyRandom,
MaskingGenerator and MaskCollator.

Writes fixtures/extra/masking.safetensors:
  rng/<seed>/random          F64  random() x 8, right after random.seed(seed)
  rng/<seed>/randint         I64  randint(a, b) for each (a, b) in RANDINT, in that order
  rng/<seed>/uniform         F64  uniform(a, b) for each (a, b) in UNIFORM
  rng/<seed>/getrandbits     I64  getrandbits(k) for k in BITS (k = 64: the unsigned bits as int64)
  rng/<seed>/randrange       I64  randrange(*args) for each args in RANDRANGE
  rng/<seed>/shuffle         I64  shuffle(list(range(10))), twice in a row (20 values)
  rng/<seed>/state           I64  getstate()[1] after all of the above (624 words and the index), STATE_SEEDS only
  rng/<seed>/after           F64  random() x 4 after that state
  linspace/fused|default     F32  torch.linspace(0.1, 0.5, s) for s = 1..LINSPACE_MAX concatenated, from the
                                  AVX2 kernel (fused multiply-add) and from ATEN_CPU_CAPABILITY=default
  official/max_num_patches   F64  train.py's 0.5 * img_size // patch_size * img_size // patch_size for each
                                  (img_size, patch_size) of official/sizes (I64 [n, 2])
  uniform32/{lohi,r,n,size}  F32 [k, 2], F64, I64, I64: int(n * random.uniform(lo, hi)) with lo, hi consecutive
                                  0-d float32 entries of torch.linspace and random() returning r, computed by torch
                                  (float32): half of them cases where Python-float arithmetic gives another size
  mask/<case>/masks          U8   collated_masks (B, N) of the case (see CASES), after random.seed(seed)
  mask/<case>/indices        I64  mask_indices_list (not for the cases in MASKS_ONLY)
  mask/<case>/weights        F32  masks_weight (not for the cases in MASKS_ONLY)
  mask/<case>/scalars        I64  [upperbound, n_masked_patches, B, N, h, w]
  mask/<case>/config         F64  [max_num_patches, mask_ratio_min, mask_ratio_max, mask_probability, min_aspect]
  mask/<case>/after          F64  random() x 2 after the collate (the stream position)
  mask/<case>/single         U8   MaskingGenerator(...)(k) for k = N // 4, from a fresh seed, one mask (h*w)
Seeds are the keys' <seed>: decimal, with "m" for a minus sign. Nothing is imported from dinov2: the two
functions are copied below. Usage: PYTHONPATH=/opt/dino4j-peers python3 tools/make_masking_fixture.py
"""
import json
import math
import os
import random
import struct
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_image_fixtures import write_safetensors  # noqa: E402
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "extra", "masking.safetensors")

SEEDS = [0, 1, 42, 2**32 - 1, 2**32 + 5, 123456789012345, -7]
RANDINT = [(0, 0), (0, 1), (0, 9), (3, 17), (-5, 5), (0, 2**31 - 1), (0, 2**32), (1, 2**40), (0, 2**62)]
UNIFORM = [(0.0, 1.0), (4, 128.0), (math.log(0.3), math.log(1 / 0.3)), (5.0, -2.5)]
BITS = [1, 5, 31, 32, 33, 64]
RANDRANGE = [(10,), (1,), (3, 40), (0, 100, 7), (50, 0, -3), (-10, 10, 4)]
STATE_SEEDS = [0, 2**32 + 5]
LINSPACE_MAX = 65  # 65 = the default batch: 2 x 64 crops, half masked, + 1

# name: (h, w, max_num_patches, B, mask_probability, (ratio min, max), seed); max_num_patches as train.py computes
# it where the grid is square: 0.5 * img_size // patch_size * img_size // patch_size
CASES = {
    "vit224p14_b32_s0": (16, 16, 0.5 * 224 // 14 * 224 // 14, 32, 0.5, (0.1, 0.5), 0),
    "vit224p14_b32_s1": (16, 16, 0.5 * 224 // 14 * 224 // 14, 32, 0.5, (0.1, 0.5), 1),
    "vit224p14_b128_s7": (16, 16, 0.5 * 224 // 14 * 224 // 14, 128, 0.5, (0.1, 0.5), 7),
    "vit224p14_b16_p1_s3": (16, 16, 0.5 * 224 // 14 * 224 // 14, 16, 1.0, (0.1, 0.5), 3),
    "vit98p14_b8_s5": (7, 7, 0.5 * 98 // 14 * 98 // 14, 8, 0.5, (0.1, 0.5), 5),
    "vit56p14_b4_s11": (4, 4, 0.5 * 56 // 14 * 56 // 14, 4, 0.5, (0.1, 0.5), 11),
    "vit518p14_b4_p1_s2": (37, 37, 0.5 * 518 // 14 * 518 // 14, 4, 1.0, (0.1, 0.5), 2),
    "grid6x10_b6_s9": (6, 10, 30, 6, 0.5, (0.1, 0.5), 9),
    "grid9x5_b10_r0.2_0.8_p0.7_s13": (9, 5, 20, 10, 0.7, (0.2, 0.8), 13),
}
MASKS_ONLY = {"vit224p14_b128_s7"}
SIZES = [(224, 14), (224, 16), (518, 14), (98, 14), (56, 14), (448, 14), (256, 16), (225, 14), (223, 14), (70, 7)]


# ---- dinov2/data/masking.py (Copyright (c) Meta Platforms, Inc. and affiliates; Apache License 2.0), verbatim ----
class MaskingGenerator:
    def __init__(
        self,
        input_size,
        num_masking_patches=None,
        min_num_patches=4,
        max_num_patches=None,
        min_aspect=0.3,
        max_aspect=None,
    ):
        if not isinstance(input_size, tuple):
            input_size = (input_size,) * 2
        self.height, self.width = input_size

        self.num_patches = self.height * self.width
        self.num_masking_patches = num_masking_patches

        self.min_num_patches = min_num_patches
        self.max_num_patches = num_masking_patches if max_num_patches is None else max_num_patches

        max_aspect = max_aspect or 1 / min_aspect
        self.log_aspect_ratio = (math.log(min_aspect), math.log(max_aspect))

    def __repr__(self):
        repr_str = "Generator(%d, %d -> [%d ~ %d], max = %d, %.3f ~ %.3f)" % (
            self.height,
            self.width,
            self.min_num_patches,
            self.max_num_patches,
            self.num_masking_patches,
            self.log_aspect_ratio[0],
            self.log_aspect_ratio[1],
        )
        return repr_str

    def get_shape(self):
        return self.height, self.width

    def _mask(self, mask, max_mask_patches):
        delta = 0
        for _ in range(10):
            target_area = random.uniform(self.min_num_patches, max_mask_patches)
            aspect_ratio = math.exp(random.uniform(*self.log_aspect_ratio))
            h = int(round(math.sqrt(target_area * aspect_ratio)))
            w = int(round(math.sqrt(target_area / aspect_ratio)))
            if w < self.width and h < self.height:
                top = random.randint(0, self.height - h)
                left = random.randint(0, self.width - w)

                num_masked = mask[top : top + h, left : left + w].sum()
                # Overlap
                if 0 < h * w - num_masked <= max_mask_patches:
                    for i in range(top, top + h):
                        for j in range(left, left + w):
                            if mask[i, j] == 0:
                                mask[i, j] = 1
                                delta += 1

                if delta > 0:
                    break
        return delta

    def __call__(self, num_masking_patches=0):
        mask = np.zeros(shape=self.get_shape(), dtype=bool)
        mask_count = 0
        while mask_count < num_masking_patches:
            max_mask_patches = num_masking_patches - mask_count
            max_mask_patches = min(max_mask_patches, self.max_num_patches)

            delta = self._mask(mask, max_mask_patches)
            if delta == 0:
                break
            else:
                mask_count += delta

        return mask


# ---- dinov2/data/collate.py, collate_data_and_cast (same copyright and licence): the mask part, verbatim; the
# ---- crop stacking is left out and B (len(collated_global_crops)) is passed in.
def collate_masks(B, mask_ratio_tuple, mask_probability, n_tokens=None, mask_generator=None):
    N = n_tokens
    n_samples_masked = int(B * mask_probability)
    probs = torch.linspace(*mask_ratio_tuple, n_samples_masked + 1)
    upperbound = 0
    masks_list = []
    for i in range(0, n_samples_masked):
        prob_min = probs[i]
        prob_max = probs[i + 1]
        masks_list.append(torch.BoolTensor(mask_generator(int(N * random.uniform(prob_min, prob_max)))))
        upperbound += int(N * prob_max)
    for i in range(n_samples_masked, B):
        masks_list.append(torch.BoolTensor(mask_generator(0)))

    random.shuffle(masks_list)

    collated_masks = torch.stack(masks_list).flatten(1)
    mask_indices_list = collated_masks.flatten().nonzero().flatten()

    masks_weight = (1 / collated_masks.sum(-1).clamp(min=1.0)).unsqueeze(-1).expand_as(collated_masks)[collated_masks]

    return {
        "collated_masks": collated_masks,
        "mask_indices_list": mask_indices_list,
        "masks_weight": masks_weight,
        "upperbound": upperbound,
        "n_masked_patches": torch.full((1,), fill_value=mask_indices_list.shape[0], dtype=torch.long),
    }
# ---- end of the copied code ----


def key(seed):
    return str(seed).replace("-", "m")


def linspaces():
    return np.concatenate([torch.linspace(0.1, 0.5, s).numpy() for s in range(1, LINSPACE_MAX + 1)])


def check_float32_uniform():
    """What dino4j assumes: uniform(a, b) on 0-d float32 tensors is float32 arithmetic on f32(random())."""
    f = np.float32
    rng = np.random.default_rng(0)
    for _ in range(20000):
        a, b = np.sort(rng.random(2).astype(np.float32))
        ta, tb = torch.tensor(a), torch.tensor(b)
        r = rng.random()
        got = (ta + (tb - ta) * r).numpy()
        assert got == f(a + f(f(b - a) * f(r))), (a, b, r)
        n = int(rng.integers(1, 2000))
        assert int(n * (ta + (tb - ta) * r)) == int(f(n) * f(a + f(f(b - a) * f(r))))


def uniform32_cases():
    """Sizes int(N * uniform(prob_min, prob_max)) as torch computes them, half where float64 would differ."""
    rng = random.Random(2024)
    probs = torch.linspace(0.1, 0.5, 65)
    odd, plain = [], []
    while len(odd) < 12:
        i, n, r = rng.randrange(64), rng.choice([49, 196, 256, 1024, 1369]), rng.random()
        a, b = probs[i], probs[i + 1]
        fa, fb, f = float(a), float(b), np.float32
        wide = int(n * (fa + (fb - fa) * r))
        if wide == int(f(n) * f(f(fa) + f(f(fb - fa) * f(r)))) and len(plain) >= 12:
            continue  # a quick float32 look first (check_float32_uniform vouches for it): torch is slow per call
        row = (fa, fb, r, n, int(n * (a + (b - a) * r)))  # random.uniform's body on the tensors
        (odd if row[4] != wide else plain).append(row)
    rows = odd + plain
    return {"uniform32/lohi": np.array([x[:2] for x in rows], dtype=np.float32),
            "uniform32/r": np.array([x[2] for x in rows], dtype=np.float64),
            "uniform32/n": np.array([x[3] for x in rows], dtype=np.int64),
            "uniform32/size": np.array([x[4] for x in rows], dtype=np.int64)}


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--linspace":  # child run under ATEN_CPU_CAPABILITY=default
        sys.stdout.buffer.write(linspaces().tobytes())
        return
    check_float32_uniform()
    tensors = {}
    for seed in SEEDS:
        k = "rng/" + key(seed)
        random.seed(seed)
        tensors[k + "/random"] = np.array([random.random() for _ in range(8)], dtype=np.float64)
        tensors[k + "/randint"] = np.array([random.randint(a, b) for a, b in RANDINT], dtype=np.int64)
        tensors[k + "/uniform"] = np.array([random.uniform(a, b) for a, b in UNIFORM], dtype=np.float64)
        tensors[k + "/getrandbits"] = np.array([random.getrandbits(b) for b in BITS], dtype=np.uint64).view(np.int64)
        tensors[k + "/randrange"] = np.array([random.randrange(*a) for a in RANDRANGE], dtype=np.int64)
        sh = []
        for _ in range(2):
            x = list(range(10))
            random.shuffle(x)
            sh += x
        tensors[k + "/shuffle"] = np.array(sh, dtype=np.int64)
        if seed in STATE_SEEDS:
            tensors[k + "/state"] = np.array(random.getstate()[1], dtype=np.int64)
        tensors[k + "/after"] = np.array([random.random() for _ in range(4)], dtype=np.float64)

    cap = torch.backends.cpu.get_cpu_capability()
    tensors["linspace/fused"] = linspaces()
    env = dict(os.environ, ATEN_CPU_CAPABILITY="default")
    child = subprocess.run([sys.executable, __file__, "--linspace"], env=env, check=True, capture_output=True)
    tensors["linspace/default"] = np.frombuffer(child.stdout, dtype=np.float32)
    differ = int((tensors["linspace/fused"] != tensors["linspace/default"]).sum())
    assert cap in ("AVX2", "AVX512") and differ > 0, (cap, differ)

    tensors.update(uniform32_cases())
    tensors["official/sizes"] = np.array(SIZES, dtype=np.int64)
    tensors["official/max_num_patches"] = np.array([0.5 * i // p * i // p for i, p in SIZES], dtype=np.float64)

    for name, (h, w, max_num, B, p, ratio, seed) in CASES.items():
        k = "mask/" + name
        gen = MaskingGenerator(input_size=(h, w), max_num_patches=max_num)
        random.seed(seed)
        out = collate_masks(B, ratio, p, n_tokens=h * w, mask_generator=gen)
        tensors[k + "/masks"] = out["collated_masks"].numpy().astype(np.uint8)
        if name not in MASKS_ONLY:  # (size) the indices and weights follow from the masks, checked elsewhere
            tensors[k + "/indices"] = out["mask_indices_list"].numpy().astype(np.int64)
            tensors[k + "/weights"] = out["masks_weight"].numpy().astype(np.float32)
        tensors[k + "/scalars"] = np.array([out["upperbound"], int(out["n_masked_patches"][0]), B, h * w, h, w],
                                           dtype=np.int64)
        tensors[k + "/config"] = np.array([max_num, ratio[0], ratio[1], p, 0.3], dtype=np.float64)
        tensors[k + "/after"] = np.array([random.random() for _ in range(2)], dtype=np.float64)
        random.seed(seed + 1000)
        tensors[k + "/single"] = gen(h * w // 4).astype(np.uint8).reshape(-1)

    write_safetensors(OUT, tensors, {"torch": torch.__version__, "python": sys.version.split()[0],
                                     "cpu_capability": cap, "linspace_fused_vs_default_differ": str(differ)})
    print(OUT, os.path.getsize(OUT), "bytes; linspace values differing fused/default:", differ)


if __name__ == "__main__":
    main()
