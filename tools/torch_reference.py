#!/usr/bin/python3
"""PyTorch reference for vggc: seeded weights, a random input and the logits PyTorch computes.

Run with Debian's python (it has torch 1.13 / torchvision 0.14; no other packages are needed):

    /usr/bin/python3 tools/torch_reference.py --config CONFIG.json --out DIR \
        [--seed N] [--batch N] [--layout torchvision|notebook] [--dtype F32|F16|BF16] \
        [--init torchvision|fan-in] [--quantize f16 int8]

Writes DIR/weights.safetensors, DIR/input.npy (float32 N×C×H×W), DIR/logits.npy (float32
N×numClasses), DIR/config.json (a copy of CONFIG.json) and DIR/meta.json (how it was made).
With --quantize, also DIR/logits-f16.npy / DIR/logits-int8.npy: the logits of the network that
`vggc compile --weights-dtype f16|int8` must compute (BatchNorm folded, then every conv and linear
weight rounded: f16 by .half(), int8 symmetric with one scale per output channel), from the same
f32 weights.safetensors.

A config whose module structure is a standard torchvision VGG (vgg11/13/16/19 blocks, avgPool
[7,7], classifier [4096,4096], 1000 classes) is built with torchvision.models.vggXX() itself, so
the goldens prove compatibility with real torchvision. Anything else is built from modules laid out
exactly like torchvision's (same state_dict keys, same construction and init order, so the same
seed gives bitwise the same weights), or like the seed notebook's ConvBlock/ConvBackbone/VGG.
"""
import argparse
import copy
import json
import os
import shutil
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torchvision

# Same defaults as compiler/config/config.ts (CONFIG_DEFAULTS): torchvision's ImageNet VGG.
DEFAULTS = {"inputSize": [224, 224], "batchNorm": False, "avgPool": [7, 7], "classifier": [4096, 4096], "numClasses": 1000}

TORCHVISION_CONVS_PER_BLOCK = {"vgg11": [1, 1, 2, 2, 2], "vgg13": [2, 2, 2, 2, 2], "vgg16": [2, 2, 3, 3, 3], "vgg19": [2, 2, 4, 4, 4]}
TORCHVISION_FEATURES = [64, 128, 256, 512, 512]

# safetensors dtype name → torch dtype used for storage.
DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def load_config(path):
    with open(path) as f:
        cfg = {**DEFAULTS, **json.load(f)}
    blocks = [tuple(b) for b in cfg["blocks"]]
    for i in range(1, len(blocks)):
        if blocks[i][0] != blocks[i - 1][2]:
            sys.exit(f"blocks[{i}][0] is {blocks[i][0]} but blocks[{i - 1}] outputs {blocks[i - 1][2]} features")
    cfg["blocks"] = blocks
    return cfg


def torchvision_name(cfg):
    """The torchvision constructor whose module structure equals this config's, or None.

    The input size does not change a torchvision VGG's modules (AdaptiveAvgPool2d adapts), so a
    standard VGG at a non-224 input still uses torchvision itself.
    """
    if cfg["avgPool"] != [7, 7] or list(cfg["classifier"]) != [4096, 4096] or cfg["numClasses"] != 1000:
        return None
    for name, convs in TORCHVISION_CONVS_PER_BLOCK.items():
        ins = [3] + TORCHVISION_FEATURES[:-1]
        if cfg["blocks"] == list(zip(ins, convs, TORCHVISION_FEATURES)):
            return f"{name}_bn" if cfg["batchNorm"] else name
    return None


def conv_block_layers(in_channels, num_conv_layers, num_features, batch_norm=False):
    """One block exactly as the notebook's ConvBlock / torchvision's make_layers build it
    (with batch_norm: Conv2d, BatchNorm2d, ReLU per convolution, as torchvision's vggXX_bn)."""
    layers = []
    for _ in range(num_conv_layers):
        conv = nn.Conv2d(in_channels, num_features, kernel_size=3, padding=1)
        layers += [conv, nn.BatchNorm2d(num_features), nn.ReLU(inplace=True)] if batch_norm else [conv, nn.ReLU(inplace=True)]
        in_channels = num_features
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return layers


def classifier_layers(in_features, widths, num_classes):
    """Linear+ReLU+Dropout per hidden width, then the final Linear: keys classifier.{3k}."""
    layers = []
    for w in widths:
        layers += [nn.Linear(in_features, w), nn.ReLU(True), nn.Dropout(p=0.5)]
        in_features = w
    layers.append(nn.Linear(in_features, num_classes))
    return nn.Sequential(*layers)


def flat_features(cfg):
    h, w = cfg["inputSize"]
    for _ in cfg["blocks"]:
        h, w = h // 2, w // 2
    if cfg["avgPool"] is not None:
        h, w = cfg["avgPool"]
    return cfg["blocks"][-1][2] * h * w


def torchvision_init(model):
    """torchvision VGG.__init__'s init loop, in the same module order, so the RNG stream matches."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.constant_(m.bias, 0)


class TorchvisionLayoutVGG(nn.Module):
    """torchvision's VGG generalised to any blocks/avgPool/classifier; same state_dict keys."""

    def __init__(self, cfg):
        super().__init__()
        self.features = nn.Sequential(*[m for b in cfg["blocks"] for m in conv_block_layers(*b, batch_norm=cfg["batchNorm"])])
        # nn.Identity has no parameters, so keys are unchanged when avgPool is null.
        self.avgpool = nn.AdaptiveAvgPool2d(tuple(cfg["avgPool"])) if cfg["avgPool"] is not None else nn.Identity()
        self.classifier = classifier_layers(flat_features(cfg), cfg["classifier"], cfg["numClasses"])
        torchvision_init(self)

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# --- The seed notebook's classes (its 5-block / 3-input-channel asserts dropped: vggc allows any chain).
class ConvBlock(nn.Module):
    def __init__(self, in_channels, num_conv_layers, num_features, batch_norm=False):
        super().__init__()
        self.conv_block = nn.Sequential(*conv_block_layers(in_channels, num_conv_layers, num_features, batch_norm))

    def forward(self, x):
        return self.conv_block(x)


class ConvBackbone(nn.Module):
    def __init__(self, blocks, batch_norm=False):
        super().__init__()
        self.features = nn.Sequential(*[ConvBlock(*b, batch_norm=batch_norm) for b in blocks])

    def forward(self, x):
        return self.features(x)


class NotebookVGG(nn.Module):
    """The notebook's VGG with its classifier generalised to the config's widths (keys classifier.{3k})."""

    def __init__(self, cfg):
        super().__init__()
        self.conv_backbone = ConvBackbone(cfg["blocks"], cfg["batchNorm"])
        self.avgpool = nn.AdaptiveAvgPool2d(tuple(cfg["avgPool"])) if cfg["avgPool"] is not None else nn.Identity()
        self.classifier = classifier_layers(flat_features(cfg), cfg["classifier"], cfg["numClasses"])
        torchvision_init(self)

    def forward(self, x):
        x = self.avgpool(self.conv_backbone(x))
        return self.classifier(x.view(x.shape[0], -1))


def build_model(cfg, layout):
    if layout == "notebook":
        return NotebookVGG(cfg), "NotebookVGG (seed notebook ConvBlock/ConvBackbone)"
    name = torchvision_name(cfg)
    if name is not None:
        return getattr(torchvision.models, name)(weights=None), f"torchvision.models.{name}()"
    return TorchvisionLayoutVGG(cfg), "TorchvisionLayoutVGG (torchvision keys)"


def randomize_biases(model):
    """torchvision zero-initialises biases, which would let a compiler that drops them pass; don't.
    Likewise BatchNorm's scale, shift and running statistics (init 1, 0, 0, 1), so folding them is tested."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.uniform_(-0.1, 0.1)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)


def fan_in_linear_init(model):
    """Re-draw Linear weights with a fan-in scale (He for hidden layers, LeCun for the last).

    torchvision's N(0, 0.01) suits 25088→4096→4096 (gain 0.01·√fan_in ≈ 1.6 and 0.64) but
    shrinks a narrow test classifier's signal by ~1000×, leaving logits that are almost only the
    final bias: a golden made that way barely notices a wrong convolution.
    """
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for i, m in enumerate(linears):
            gain = 1.0 if i == len(linears) - 1 else 2.0
            m.weight.normal_(0, (gain / m.in_features) ** 0.5)


def round_weights(model, dtype):
    """Round every parameter through the storage dtype so the logits match what the file holds."""
    if dtype == torch.float32:
        return
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(dtype).to(torch.float32))


def fold_batchnorm(model):
    """Conv2d followed by eval-mode BatchNorm2d → one Conv2d (in float64, rounded once), BN → Identity."""
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        children = list(seq.named_children())
        for (_, conv), (bn_name, bn) in zip(children, children[1:]):
            if not (isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)):
                continue
            scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
            conv.weight.copy_((conv.weight.double() * scale[:, None, None, None]).float())
            conv.bias.copy_(((conv.bias.double() - bn.running_mean.double()) * scale + bn.bias.double()).float())
            setattr(seq, bn_name, nn.Identity())


def quantized_model(model, mode):
    """The network vggc computes with --weights-dtype MODE (compiler/weights/quantize.ts, written independently).

    int8: scale = max|w_row| / 127 per output channel (1 for an all-zero row), q = round(w / scale)
    (torch.round: half to even) clamped to ±127, weight = q · scale; f16: weight = w.half().
    """
    q = copy.deepcopy(model)
    with torch.no_grad():
        fold_batchnorm(q)
        for m in q.modules():
            if not isinstance(m, (nn.Conv2d, nn.Linear)):
                continue
            w = m.weight
            if mode == "f16":
                w.copy_(w.half().float())
                continue
            rows = w.reshape(w.shape[0], -1)
            scale = rows.abs().amax(dim=1) / 127
            scale = torch.where(scale == 0, torch.ones_like(scale), scale)
            qv = torch.round(rows / scale[:, None]).clamp(-127, 127)
            w.copy_((qv * scale[:, None]).reshape(w.shape))
    return q


def write_safetensors(path, state, dtype_name, metadata):
    """safetensors by hand: u64 LE header length, JSON header, then raw little-endian tensor data.

    Tensors are converted and written one at a time so full-size VGG-19 never needs a second copy
    of all its weights in memory.
    """
    dtype = DTYPES[dtype_name]
    item = torch.tensor([], dtype=dtype).element_size()
    header = {"__metadata__": metadata}
    offset = 0
    for key, t in state.items():
        # Integer buffers (BatchNorm's num_batches_tracked) keep their own dtype, as in real checkpoints.
        kind, size = (dtype_name, item) if t.is_floating_point() else ("I64", 8)
        n = t.numel() * size
        header[key] = {"dtype": kind, "shape": list(t.shape), "data_offsets": [offset, offset + n]}
        offset += n
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)  # pad so the data starts 8-byte aligned, as the reference library does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for t in state.values():
            t = t.detach().to(dtype if t.is_floating_point() else torch.int64).contiguous()
            # numpy has no bfloat16: reinterpret the 16-bit patterns as int16 to get at the bytes.
            arr = t.view(torch.int16).numpy() if dtype == torch.bfloat16 else t.numpy()
            arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))  # no copy on little-endian hosts
            f.write(memoryview(arr).cast("B"))  # not tobytes(): that would copy 400 MB for VGG's classifier.0


def save_npy(path, t):
    np.save(path, np.ascontiguousarray(t.detach().numpy(), dtype="<f4"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--layout", choices=["torchvision", "notebook"], default="torchvision")
    ap.add_argument("--dtype", choices=list(DTYPES), default="F32")
    ap.add_argument("--init", choices=["torchvision", "fan-in"], default="torchvision",
                    help="fan-in: re-draw Linear weights at a fan-in scale (for narrow test classifiers)")
    ap.add_argument("--quantize", nargs="*", choices=["f16", "int8"], default=[],
                    help="also write logits-<dtype>.npy for vggc's --weights-dtype")
    args = ap.parse_args()

    torch.set_num_threads(len(os.sched_getaffinity(0)))
    cfg = load_config(args.config)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.perf_counter()

    torch.manual_seed(args.seed)
    model, built_with = build_model(cfg, args.layout)
    if args.init == "fan-in":
        fan_in_linear_init(model)
    randomize_biases(model)
    model.eval()  # Dropout becomes the identity
    round_weights(model, DTYPES[args.dtype])
    n_params = sum(p.numel() for p in model.parameters())
    t1 = time.perf_counter()
    print(f"model: {built_with}, {n_params:,} parameters, built in {t1 - t0:.2f}s")

    # The input has its own generator so it does not depend on how many numbers the init drew.
    gen = torch.Generator().manual_seed(args.seed + 1)
    x = torch.rand(args.batch, cfg["blocks"][0][0], *cfg["inputSize"], generator=gen)
    with torch.no_grad():
        logits = model(x)
    t2 = time.perf_counter()
    print(f"forward: batch {args.batch}, {t2 - t1:.2f}s ({torch.get_num_threads()} threads)")
    # How much of the logits the input decides: near 0 means the golden tests little but biases.
    final_bias = [m for m in model.modules() if isinstance(m, nn.Linear)][-1].bias
    print(f"logits: max |y| {logits.abs().max():.4g}, max |y - final bias| {(logits - final_bias).abs().max():.4g}")

    meta = {"tool": "tools/torch_reference.py", "seed": str(args.seed), "layout": args.layout, "init": args.init, "builtWith": built_with, "torch": torch.__version__, "torchvision": torchvision.__version__}
    write_safetensors(os.path.join(args.out, "weights.safetensors"), model.state_dict(), args.dtype, meta)
    save_npy(os.path.join(args.out, "input.npy"), x)
    save_npy(os.path.join(args.out, "logits.npy"), logits)
    for mode in args.quantize:
        with torch.no_grad():
            yq = quantized_model(model, mode)(x)
        save_npy(os.path.join(args.out, f"logits-{mode}.npy"), yq)
        print(f"{mode}: max |y_{mode} - y| / max |y| = {((yq - logits).abs().max() / logits.abs().max()):.3g}")
    config_out = os.path.join(args.out, "config.json")
    if not (os.path.exists(config_out) and os.path.samefile(args.config, config_out)):
        shutil.copyfile(args.config, config_out)
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump({**meta, "seed": args.seed, "batch": args.batch, "dtype": args.dtype, "params": n_params}, f, indent=2)
        f.write("\n")
    t3 = time.perf_counter()
    print(f"wrote {args.out}: {t3 - t2:.2f}s; total {t3 - t0:.2f}s")


if __name__ == "__main__":
    main()
