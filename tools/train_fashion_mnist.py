#!/usr/bin/python3
"""Train the Fashion-MNIST VGG of examples/fashion-mnist/ for real, and write its reference files.

Run from the repository root with Debian's python (torch 1.13 CPU; not a pyenv python):

    apt-get install -y dataset-fashion-mnist      # the data: /usr/share/datasets/fashion-mnist/*-ubyte.gz
    /usr/bin/python3 tools/train_fashion_mnist.py [--epochs N] [--seed N] [--threads N]

With the defaults (15 epochs, seed 0, 2 threads) it takes about 4 minutes on an idle 2-core machine (up to ~15 when busy) and
reaches about 92% test accuracy. The network is built FROM THE CONFIG FILE
(examples/fashion-mnist/fashion-mnist.json) by tools/torch_reference.py's builder, so its modules
and state_dict keys are torchvision's; nothing here describes the network a second time.

Preprocessing is the config's "preprocessing" field, the same for training, testing and the
samples: pixels scaled to [0, 1]; the image fitted inside 28×28 (Fashion-MNIST already is 28×28,
so unchanged); zero-padded centred to inputSize 32×32 with 0 in [0, 1] pixel space, i.e. BEFORE
normalisation; then (x - mean) / std, so a padded pixel becomes -mean/std. mean/std are the
training set's pixel statistics, written (rounded) into the config; this script checks they agree.
Training augmentation is light: random horizontal flip and a random shift of up to --shift pixels
inside the 32×32 canvas (the image is placed off-centre instead of centred; no pixel is lost).

Writes, into --out (default examples/fashion-mnist/):
  weights.safetensors     trained weights, F32, torchvision key layout (features.N / classifier.N)
  torch-predictions.json  {"accuracy", "correct", "total", "predictions"}: PyTorch's predicted class
                          for each of the 10,000 test images in order, as a 10,000-digit string
  samples/NNN-label.png   50 test images (the first 5 of each class, in test-set order), 8-bit
                          grayscale 28×28 PNGs exactly as in the data set
  samples/labels.json     [{"file", "label", "index", "testIndex"}] for those PNGs
  samples-input.npy       float32 [50, 1, 32, 32]: each sample's network input, built from the PNG file
  samples-reference.json  the preprocessing used, and for each sample PyTorch's logits and prediction

Deterministic: torch.manual_seed(seed) before the model is built, a seeded numpy generator for the
data order and augmentation, deterministic algorithms, a fixed thread count. The same torch build
and thread count give the same weights.
"""
import argparse
import gzip
import json
import os
import re
import sys
import time

import numpy as np
import torch
import torch.nn as nn

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)
sys.dont_write_bytecode = True  # no tools/__pycache__ from importing torch_reference
import torch_reference as ref  # noqa: E402  (model builder and safetensors writer, shared with the goldens)

DATA_DIR = "/usr/share/datasets/fashion-mnist"
N_SAMPLES_PER_CLASS = 5


def read_idx(path, magic):
    """An idx file (big-endian header: magic, then one u32 per dimension; then u8 data)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    got = int.from_bytes(raw[0:4], "big")
    if got != magic:
        sys.exit(f"{path}: idx magic {got:#x}, expected {magic:#x}")
    ndim = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(data_dir, kind):
    images = read_idx(os.path.join(data_dir, f"{kind}-images-idx3-ubyte.gz"), 0x803)
    labels = read_idx(os.path.join(data_dir, f"{kind}-labels-idx1-ubyte.gz"), 0x801)
    assert images.shape[0] == labels.shape[0]
    return images, labels


class Preprocess:
    """The config's preprocessing: [0,1] pixels → fit in 28×28 → zero-pad centred to inputSize → normalise."""

    def __init__(self, cfg):
        pre = cfg["preprocessing"]
        self.fit = tuple(pre["resize"]["fit"])
        self.mean = np.float32(pre["mean"][0])
        self.std = np.float32(pre["std"][0])
        self.size = tuple(cfg["inputSize"])
        if cfg["blocks"][0][0] != 1 or len(pre["mean"]) != 1 or len(pre["std"]) != 1:
            sys.exit("this script handles 1-channel (grayscale) configs only")

    def __call__(self, images, offsets=None, flips=None):
        """uint8 N×h×w → float32 N×1×H×W. offsets: optional N×2 (top, left); default centred."""
        n, h, w = images.shape
        if (h, w) != self.fit:
            sys.exit(f"images are {h}×{w}; resizing to fit {self.fit} is not implemented here (Fashion-MNIST is 28×28)")
        H, W = self.size
        canvas = np.zeros((n, 1, H, W), dtype=np.float32)  # 0 in [0, 1] pixel space
        pixels = images.astype(np.float32) / np.float32(255)
        if flips is not None:
            pixels = np.where(flips[:, None, None], pixels[:, :, ::-1], pixels)
        if offsets is None:
            top, left = (H - h) // 2, (W - w) // 2
            canvas[:, 0, top:top + h, left:left + w] = pixels
        else:
            for i, (top, left) in enumerate(offsets):
                canvas[i, 0, top:top + h, left:left + w] = pixels[i]
        return (canvas - self.mean) / self.std


def slug(label):
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def predict(model, x, batch=1000):
    model.eval()
    with torch.no_grad():
        return torch.cat([model(torch.from_numpy(x[i:i + batch])) for i in range(0, len(x), batch)])


def float32_text(v):
    """Shortest decimal that reads back as the same float32."""
    return float(np.format_float_positional(np.float32(v), unique=True, trim="-"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=os.path.join(ROOT, "examples/fashion-mnist/fashion-mnist.json"))
    ap.add_argument("--out", default=os.path.join(ROOT, "examples/fashion-mnist"))
    ap.add_argument("--data", default=DATA_DIR)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--shift", type=int, default=2, help="max random shift (pixels) of the image in the canvas")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    t_start = time.perf_counter()

    cfg = ref.load_config(args.config)
    labels = cfg["labels"]
    assert len(labels) == cfg["numClasses"] == 10
    pre = Preprocess(cfg)

    train_x, train_y = load_split(args.data, "train")
    test_x, test_y = load_split(args.data, "t10k")
    print(f"data: {len(train_x)} train, {len(test_x)} test images of {train_x.shape[1]}×{train_x.shape[2]}")

    # The config's mean/std must be the training set's statistics (of the 28×28 images in [0, 1]).
    pixels = train_x.astype(np.float64) / 255
    mean, std = pixels.mean(), pixels.std()
    print(f"training set pixels: mean {mean:.6f}, std {std:.6f}; config: mean {pre.mean}, std {pre.std}")
    if abs(mean - pre.mean) > 5e-4 or abs(std - pre.std) > 5e-4:
        sys.exit("the config's preprocessing mean/std do not match the training set; update the config")
    del pixels

    torch.manual_seed(args.seed)
    model, built_with = ref.build_model(cfg, "torchvision")
    # torchvision's N(0, 0.01) Linear init is for a 25088→4096 classifier; start this narrow one at fan-in scale.
    ref.fan_in_linear_init(model)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {built_with}, {n_params:,} parameters ({n_params * 4 / 1e6:.2f} MB as F32)")

    H, W = cfg["inputSize"]
    h, w = train_x.shape[1:]
    centre = np.array([(H - h) // 2, (W - w) // 2])
    test_input = pre(test_x)
    rng = np.random.default_rng(args.seed)
    steps_per_epoch = (len(train_x) + args.batch - 1) // args.batch
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch, pct_start=0.15)
    loss_fn = nn.CrossEntropyLoss()

    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        model.train()
        order = rng.permutation(len(train_x))
        total_loss = 0.0
        for s in range(steps_per_epoch):
            idx = order[s * args.batch:(s + 1) * args.batch]
            offsets = centre + rng.integers(-args.shift, args.shift + 1, size=(len(idx), 2))
            flips = rng.random(len(idx)) < 0.5
            x = torch.from_numpy(pre(train_x[idx], offsets, flips))
            y = torch.from_numpy(train_y[idx].astype(np.int64))
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(idx)
        acc = (predict(model, test_input).argmax(1).numpy() == test_y).mean()
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total_loss / len(train_x):.4f}, test accuracy {acc:.4f}, {time.perf_counter() - t0:.1f}s", flush=True)
    train_seconds = time.perf_counter() - t_start

    model.eval()
    preds = predict(model, test_input).argmax(1).numpy()
    correct = int((preds == test_y).sum())
    accuracy = correct / len(test_y)
    print(f"final test accuracy {accuracy:.4f} ({correct}/{len(test_y)}); training took {train_seconds:.0f}s")

    os.makedirs(args.out, exist_ok=True)
    meta = {"tool": "tools/train_fashion_mnist.py", "layout": "torchvision", "builtWith": built_with, "seed": str(args.seed),
            "epochs": str(args.epochs), "testAccuracy": f"{accuracy:.4f}", "torch": torch.__version__}
    weights_path = os.path.join(args.out, "weights.safetensors")
    ref.write_safetensors(weights_path, model.state_dict(), "F32", meta)
    with open(os.path.join(args.out, "torch-predictions.json"), "w") as f:
        json.dump({"accuracy": round(accuracy, 4), "correct": correct, "total": len(test_y),
                   "predictions": "".join(str(int(p)) for p in preds)}, f, separators=(",", ":"))
        f.write("\n")

    # Samples: the first N of each class, numbered in test-set order; the input is rebuilt from the PNG.
    from PIL import Image

    chosen = sorted(i for c in range(10) for i in np.flatnonzero(test_y == c)[:N_SAMPLES_PER_CLASS])
    sample_dir = os.path.join(args.out, "samples")
    os.makedirs(sample_dir, exist_ok=True)
    entries, from_png = [], []
    for n, i in enumerate(chosen):
        label = labels[test_y[i]]
        name = f"{n:03d}-{slug(label)}.png"
        path = os.path.join(sample_dir, name)
        Image.fromarray(test_x[i], mode="L").save(path)
        with Image.open(path) as im:
            assert im.mode == "L" and im.size == (w, h)
            back = np.array(im)
        assert np.array_equal(back, test_x[i]), path
        from_png.append(back)
        entries.append({"file": name, "label": label, "index": int(test_y[i]), "testIndex": int(i)})
    with open(os.path.join(sample_dir, "labels.json"), "w") as f:
        f.write("[\n" + ",\n".join("  " + json.dumps(e) for e in entries) + "\n]\n")

    sample_input = pre(np.stack(from_png))
    sample_logits = predict(model, sample_input).numpy()
    ref.save_npy(os.path.join(args.out, "samples-input.npy"), torch.from_numpy(sample_input))
    samples = []
    for e, logits, i in zip(entries, sample_logits, chosen):
        p = int(logits.argmax())
        assert p == preds[i], f"sample {e['file']}: batch-of-50 prediction {p} differs from the test-set pass {preds[i]}"
        samples.append({**e, "predicted": p, "logits": [float32_text(v) for v in logits]})
    reference = {
        "config": os.path.basename(args.config),
        "weights": "weights.safetensors",
        "input": "samples-input.npy",
        "inputShape": list(sample_input.shape),
        "preprocessing": cfg["preprocessing"],
        "note": "input = (zero-pad centred to inputSize (PNG pixels / 255)) - mean) / std, in float32; logits from PyTorch in float32",
        "samples": samples,
    }
    with open(os.path.join(args.out, "samples-reference.json"), "w") as f:
        f.write("{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in reference.items() if k != "samples"))
        f.write(',\n  "samples": [\n' + ",\n".join("    " + json.dumps(s) for s in samples) + "\n  ]\n}\n")
    right = sum(s["predicted"] == s["index"] for s in samples)
    print(f"wrote {args.out}: weights {os.path.getsize(weights_path):,} bytes; samples {right}/{len(samples)} correct; "
          f"total {time.perf_counter() - t_start:.0f}s")


if __name__ == "__main__":
    main()
