#!/usr/bin/python3
"""PyTorch's figure for vggc's similar-image search example (examples/fashion-mnist/similar.mjs):
the shipped Fashion-MNIST VGG's fc6 embeddings (the hidden Linear's output after its ReLU) of the
10,000 test images, and their leave-one-out precision@K by cosine similarity.

    /usr/bin/python3 tools/fashion_mnist_similar.py [--k 5] [--npy FILE] [--data DIR]

Prints one JSON line: { layer, features, images, k, hits, total, precision }. The model is built from
examples/fashion-mnist/fashion-mnist.json with tools/torch_reference.py's builder, its weights read
from weights.safetensors, the images preprocessed as in training (tools/train_fashion_mnist.py).
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)
sys.dont_write_bytecode = True
import torch_reference as ref  # noqa: E402
import train_fashion_mnist as train  # noqa: E402

EXAMPLE = os.path.join(ROOT, "examples/fashion-mnist")


def read_safetensors_f32(path):
    """safetensors: u64 LE header length, JSON header, then the tensors' bytes (F32 only here)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for key, t in header.items():
        if key == "__metadata__":
            continue
        if t["dtype"] != "F32":
            sys.exit(f"{path}: {key} is {t['dtype']}; this script reads F32")
        a, b = t["data_offsets"]
        out[key] = torch.from_numpy(np.frombuffer(raw, dtype="<f4", count=(b - a) // 4, offset=8 + n + a).copy()).reshape(t["shape"])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--npy", help="also write the N×F float32 embeddings here")
    ap.add_argument("--data", default=train.DATA_DIR)
    a = ap.parse_args()
    torch.set_num_threads(2)
    cfg = ref.load_config(os.path.join(EXAMPLE, "fashion-mnist.json"))
    model, _ = ref.build_model(cfg, "torchvision")
    model.load_state_dict(read_safetensors_f32(os.path.join(EXAMPLE, "weights.safetensors")))
    model.eval()
    images, labels = train.load_split(a.data, "t10k")
    x = torch.from_numpy(train.Preprocess(cfg)(images))
    # fc6: classifier = [Linear, ReLU, Dropout, Linear]; the embedding is after the ReLU.
    backbone = lambda t: model.classifier[1](model.classifier[0](torch.flatten(model.avgpool(model.features(t)), 1)))
    with torch.no_grad():
        emb = torch.cat([backbone(x[i:i + 1000]) for i in range(0, len(x), 1000)])
    if a.npy:
        np.save(a.npy, emb.numpy())
    unit = torch.nn.functional.normalize(emb, dim=1)
    labels_t = torch.from_numpy(labels.astype(np.int64))
    hits = 0
    for i in range(0, len(unit), 1000):
        sim = unit[i:i + 1000] @ unit.T
        rows = torch.arange(i, min(i + 1000, len(unit)))
        sim[rows - i, rows] = -float("inf")  # leave the image itself out
        nearest = sim.topk(a.k, dim=1).indices
        hits += int((labels_t[nearest] == labels_t[rows, None]).sum())
    total = len(unit) * a.k
    print(json.dumps({"layer": "fc6", "features": emb.shape[1], "images": len(unit), "k": a.k, "hits": hits, "total": total, "precision": hits / total}))


if __name__ == "__main__":
    main()
