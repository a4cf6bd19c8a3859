#!/usr/bin/python3
"""PyTorch reference for vggc's named outputs: a torchvision VGG with seeded weights, its state_dict
as a .pth, a random input, and the tensors torchvision's create_feature_extractor gives at the
requested nodes (module names such as features.22, avgpool, flatten, classifier.4).

    /usr/bin/python3 tools/torch_features.py --arch vgg16 [--bn] --out DIR --nodes features.3,features.8 \
        [--seed N] [--batch N] [--size H W] [--pairs]

Every ReLU is made out-of-place first, so that a tap on a convolution's output stays pre-ReLU (an
in-place ReLU would overwrite it). BatchNorm layers get non-trivial running statistics. Writes
DIR/model.pth, DIR/input.npy (N×3×H×W) and DIR/<node>.npy for each node.

--pairs: the batch is N pairs (image i and image N/2 + i, a noisy copy of it for the first half of
the pairs, an unrelated image for the rest), and DIR/distances.json holds LPIPS's unlearned distance
of each pair over the nodes, as lpips.LPIPS(net='vgg', lpips=False) computes it: each node's map
unit-normalised over channels (x / (‖x‖ + 1e-10)), squared difference summed over channels, averaged
over pixels, summed over nodes.
"""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torchvision
from torchvision.models.feature_extraction import create_feature_extractor


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", required=True, choices=["vgg11", "vgg13", "vgg16", "vgg19"])
    p.add_argument("--bn", action="store_true")
    p.add_argument("--out", required=True)
    p.add_argument("--nodes", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--size", type=int, nargs=2, default=[64, 64])
    p.add_argument("--pairs", action="store_true")
    a = p.parse_args()
    torch.manual_seed(a.seed)
    model = getattr(torchvision.models, a.arch + ("_bn" if a.bn else ""))().eval()
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    os.makedirs(a.out, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(a.out, "model.pth"))
    nodes = a.nodes.split(",")
    extractor = create_feature_extractor(model, return_nodes=nodes)
    x = torch.randn(a.batch, 3, a.size[0], a.size[1])
    if a.pairs:
        half = a.batch // 2
        if a.batch % 2:
            raise SystemExit("--pairs needs an even --batch")
        near = half // 2 + half % 2
        x[half:half + near] = x[:near] + 0.3 * torch.randn_like(x[:near])
    with torch.no_grad():
        out = extractor(x)
    np.save(os.path.join(a.out, "input.npy"), x.numpy())
    for n in nodes:
        np.save(os.path.join(a.out, f"{n}.npy"), out[n].contiguous().numpy())
    if a.pairs:
        half = a.batch // 2
        unit = lambda t: t / (torch.sqrt(torch.sum(t ** 2, dim=1, keepdim=True)) + 1e-10)
        d = sum(((unit(out[n][:half]) - unit(out[n][half:])) ** 2).sum(dim=1).mean(dim=(1, 2)) for n in nodes)
        with open(os.path.join(a.out, "distances.json"), "w") as f:
            json.dump([float(v) for v in d], f)


if __name__ == "__main__":
    main()
