"""dino4j vs ONNX Runtime (and optionally PyTorch), forward by forward, in alternation.

This VM's speed drifts by tens of percent from minute to minute, so benchmarks run one after the other can
disagree by more than the difference being measured. Here one dino4j process (`dino4j bench --serve`) and the
peer sessions stay loaded and take turns: dino4j forward, peer forward, dino4j forward, ... Each round's ratio
compares two runs a second apart; the median of those ratios is the figure to quote.

Usage (peers from ../shared/bench/setup_peers.sh):
  PYTHONPATH=/opt/dino4j-peers python3 bench/interleaved.py --model vits14 --batch 8 --rounds 20
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = {"vits14": (384, 12, 6, False), "vitb14": (768, 12, 12, False),
         "vitl14": (1024, 24, 16, False), "vitg14": (1536, 40, 24, True)}


def peers(a):
    import torch
    from transformers import Dinov2Config, Dinov2Model
    torch.set_num_threads(a.threads)
    d, depth, heads, swiglu = SIZES[a.model]
    x = torch.randn(a.batch, 3, a.size, a.size)
    out = {}
    for engine in a.engines.split(","):
        cfg = Dinov2Config(hidden_size=d, num_hidden_layers=depth, num_attention_heads=heads, image_size=518,
                           patch_size=14, use_swiglu_ffn=swiglu, layer_norm_eps=1e-6)
        cfg._attn_implementation = "sdpa" if engine == "torch-sdpa" else "eager"
        torch.manual_seed(0)
        model = Dinov2Model(cfg).eval()
        if engine.startswith("torch"):
            def run(model=model):
                with torch.inference_mode():
                    model(pixel_values=x)
        else:
            import onnxruntime as ort
            path = os.path.join(tempfile.mkdtemp(), "dinov2.onnx")
            with torch.no_grad():
                torch.onnx.export(model, (x,), path, input_names=["pixel_values"],
                                  output_names=["last_hidden_state"], opset_version=17, dynamo=False)
            so = ort.SessionOptions()
            so.intra_op_num_threads = a.threads
            so.inter_op_num_threads = 1
            so.add_session_config_entry("session.intra_op.allow_spinning", "1" if a.ort_spinning else "0")
            sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            xn = x.numpy()

            def run(sess=sess):
                sess.run(None, {"pixel_values": xn})
        out[engine] = run
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="vits14", choices=sorted(SIZES))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--engines", default="onnxruntime")
    ap.add_argument("--verbose", action="store_true", help="print every round's times (ms) to stderr")
    ap.add_argument("--schedule", default="alternate", choices=["alternate", "blocks"],
                    help="alternate: forward by forward (the default); blocks: all of dino4j's rounds, then each peer's,"
                         " with the other engines loaded and idle (to see whether alternation itself slows one)")
    ap.add_argument("--ort-spinning", type=int, default=1, choices=[0, 1],
                    help="ONNX Runtime's session.intra_op.allow_spinning (its default 1: idle pool threads spin a while"
                         " after each run, on the cores the next engine wants)")
    a = ap.parse_args()

    runs = peers(a)
    cmd = [os.path.join(HERE, "..", "dino4j"), "bench", "--serve", "--model", "dinov2_" + a.model,
           "--batch", str(a.batch), "--size", str(a.size), "--threads", str(a.threads), "--warmup", str(a.warmup)]
    java = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    if java.stdout.readline().strip() != "ready":
        sys.exit("dino4j bench --serve did not start")

    def dino4j():
        java.stdin.write("\n")
        java.stdin.flush()
        return float(java.stdout.readline()) / 1e3

    def timed(fn):
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    for fn in runs.values():
        for _ in range(a.warmup):
            fn()
    times = {"dino4j": []} | {e: [] for e in runs}
    if a.schedule == "alternate":
        for _ in range(a.rounds):
            times["dino4j"].append(dino4j())
            for e, fn in runs.items():
                times[e].append(timed(fn))
    else:
        times["dino4j"] = [dino4j() for _ in range(a.rounds)]
        for e, fn in runs.items():
            times[e] = [timed(fn) for _ in range(a.rounds)]
    java.stdin.close()
    java.wait()

    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for e, t in times.items():
        row = {"engine": e, "model": a.model, "batch": a.batch, "size": a.size, "threads": a.threads,
               "rounds": a.rounds, "schedule": a.schedule, "ort_spinning": a.ort_spinning, "median_ms": round(1e3 * statistics.median(t), 1), "min_ms": round(1e3 * min(t), 1),
               "images_per_s": round(a.batch / statistics.median(t), 2), "date": stamp}
        if e != "dino4j":
            ratios = [p / d for p, d in zip(t, times["dino4j"])]  # > 1: dino4j faster
            row["dino4j_speedup_paired_median"] = round(statistics.median(ratios), 3)
        print(json.dumps(row), flush=True)
        if a.verbose:
            print(e, " ".join(f"{1e3 * v:.0f}" for v in t), file=sys.stderr)


if __name__ == "__main__":
    main()
