#!/usr/bin/python3
"""Export a vggc config's network to ONNX for the benchmark's ONNX Runtime engines.

    /usr/bin/python3 bench/export_onnx.py CONFIG.json OUT.onnx [--seed N]

The network is built from the config the same way vggc's graph is (torchvision's VGG layout:
features = [conv3x3, ReLU]* + MaxPool2d(2) per block, AdaptiveAvgPool2d, classifier = [Linear, ReLU,
Dropout]* + Linear), initialised with torchvision's scheme from torch's own generator. The weights are
therefore NOT vggc's seeded weights: ONNX Runtime is timed only, never compared numerically.
The batch axis is dynamic, so one file serves every batch size.
"""
import argparse
import json
import os
import sys

import torch
from torch import nn


def build(config):
    layers = []
    for in_ch, num_conv, out_ch in config["blocks"]:
        c = in_ch
        for _ in range(num_conv):
            layers += [nn.Conv2d(c, out_ch, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            c = out_ch
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    features = nn.Sequential(*layers)
    h, w = config["inputSize"]
    for _ in config["blocks"]:
        h, w = h // 2, w // 2
    c = config["blocks"][-1][2]
    avg = config.get("avgPool")
    if avg:
        pool = nn.AdaptiveAvgPool2d(tuple(avg))
        h, w = avg
    else:
        pool = nn.Identity()
    widths = list(config.get("classifier", [])) + [config["numClasses"]]
    fc = []
    n_in = c * h * w
    for k, n_out in enumerate(widths):
        fc.append(nn.Linear(n_in, n_out))
        if k < len(widths) - 1:
            fc += [nn.ReLU(inplace=True), nn.Dropout()]
        n_in = n_out
    classifier = nn.Sequential(*fc)

    class Vgg(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = features
            self.avgpool = pool
            self.classifier = classifier

        def forward(self, x):
            x = self.avgpool(self.features(x))
            return self.classifier(torch.flatten(x, 1))

    model = Vgg()
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
    return model.eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    with open(a.config) as f:
        config = json.load(f)
    torch.manual_seed(a.seed)
    model = build(config)
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
    print(f"exported {config.get('name', a.config)} → {a.out} ({os.path.getsize(a.out) / 1e6:.1f} MB, torch {torch.__version__})", file=sys.stderr)


if __name__ == "__main__":
    main()
