#!/usr/bin/python3
"""Exports a VGG built from a vggc config to ONNX with torch.onnx.export, for vggc's ONNX tests.

Run with Debian's python (torch 1.13 / torchvision 0.14; no `onnx` package needed):

    /usr/bin/python3 tools/export_onnx_for_tests.py --config CONFIG.json --out DIR --opset 11 \
        [--seed N] [--batch N] [--layout torchvision|notebook] [--init torchvision|fan-in] \
        [--keep-batchnorm] [--dynamic-batch] [--dynamic-hw] [--sigmoid]

Writes DIR/model.onnx, DIR/input.npy (float32 N×C×H×W) and DIR/logits.npy (PyTorch's logits).
The model is built exactly as tools/torch_reference.py builds it (torchvision itself for standard
configs), with random biases and BatchNorm statistics.

--keep-batchnorm exports with training=TrainingMode.PRESERVE: the model is in eval mode, but torch
then keeps BatchNormalization (and Dropout) nodes. By default (TrainingMode.EVAL) torch folds each
BatchNorm into the preceding Conv and drops Dropout.
--dynamic-batch marks the batch dimension dynamic; --dynamic-hw also height and width.
--sigmoid replaces the first ReLU with a Sigmoid (a model vggc must refuse).
"""
import argparse
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_reference as tr  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--opset", type=int, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--layout", choices=["torchvision", "notebook"], default="torchvision")
    ap.add_argument("--init", choices=["torchvision", "fan-in"], default="torchvision")
    ap.add_argument("--keep-batchnorm", action="store_true")
    ap.add_argument("--dynamic-batch", action="store_true")
    ap.add_argument("--dynamic-hw", action="store_true")
    ap.add_argument("--sigmoid", action="store_true")
    ap.add_argument("--quantize", nargs="*", choices=["f16", "int8"], default=[],
                    help="also write logits-<dtype>.npy: the logits for vggc's --weights-dtype (torch_reference.quantized_model)")
    args = ap.parse_args()

    torch.set_num_threads(len(os.sched_getaffinity(0)))
    cfg = tr.load_config(args.config)
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    model, built_with = tr.build_model(cfg, args.layout)
    if args.init == "fan-in":
        tr.fan_in_linear_init(model)
    tr.randomize_biases(model)
    if args.sigmoid:
        for parent in model.modules():
            done = False
            for name, child in parent.named_children():
                if isinstance(child, nn.ReLU):
                    setattr(parent, name, nn.Sigmoid())
                    done = True
                    break
            if done:
                break
    model.eval()

    gen = torch.Generator().manual_seed(args.seed + 1)
    x = torch.rand(args.batch, cfg["blocks"][0][0], *cfg["inputSize"], generator=gen)
    with torch.no_grad():
        logits = model(x)

    dynamic = None
    if args.dynamic_batch or args.dynamic_hw:
        axes = {0: "batch"} if args.dynamic_batch else {}
        if args.dynamic_hw:
            axes.update({2: "height", 3: "width"})
        dynamic = {"input": axes, "logits": {0: "batch"}}
    training = torch.onnx.TrainingMode.PRESERVE if args.keep_batchnorm else torch.onnx.TrainingMode.EVAL
    torch.onnx.export(model, x, os.path.join(args.out, "model.onnx"), opset_version=args.opset,
                      input_names=["input"], output_names=["logits"], dynamic_axes=dynamic, training=training)
    tr.save_npy(os.path.join(args.out, "input.npy"), x)
    tr.save_npy(os.path.join(args.out, "logits.npy"), logits)
    for mode in args.quantize:
        with torch.no_grad():
            tr.save_npy(os.path.join(args.out, f"logits-{mode}.npy"), tr.quantized_model(model, mode)(x))
    print(f"exported {built_with} at opset {args.opset} to {args.out}")


if __name__ == "__main__":
    main()
