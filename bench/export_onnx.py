#!/usr/bin/python3
"""Export a vggc config's network to ONNX for the benchmark's ONNX Runtime engines.

    /usr/bin/python3 bench/export_onnx.py CONFIG.json OUT.onnx [--seed N]

The network is tools/torch_reference.py's: the config with vggc's defaults, built with torchvision
itself (or modules laid out like it, BatchNorm included), initialised with torchvision's scheme from
torch's own generator. The weights are therefore NOT vggc's seeded weights: ONNX Runtime is timed
only, never compared numerically. The batch axis is dynamic, so one file serves every batch size.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import torch_reference as tr  # noqa: E402  (the project's one PyTorch VGG builder)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    config = tr.load_config(a.config)
    torch.manual_seed(a.seed)
    model, built_with = tr.build_model(config, "torchvision")
    model.eval()
    h, w = config["inputSize"]
    x = torch.zeros(1, config["blocks"][0][0], h, w)
    tmp = a.out + ".tmp"
    with torch.no_grad():
        torch.onnx.export(
            model,
            x,
            tmp,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=13,
            do_constant_folding=True,
        )
    os.replace(tmp, a.out)
    print(f"exported {config.get('name', a.config)} ({built_with}) → {a.out} ({os.path.getsize(a.out) / 1e6:.1f} MB, torch {torch.__version__})", file=sys.stderr)


if __name__ == "__main__":
    main()
