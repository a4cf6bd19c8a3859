"""Small valid checkpoints for test/fuzz-pytorch.test.ts to damage, written by torch itself.

python3 write_fuzz_seeds.py OUTDIR: a tiny torchvision-layout VGG with BatchNorm (one conv per
block, Linear 3 → 4 → 2), saved as a plain state_dict (zip, protocol 2), as a training checkpoint
with Adam state (zip, protocol 4), with views (transposed, offset, shared storage), and in the
legacy format. OUTDIR/seeds.json lists each file and, for zips, every member (name, bytes dumped to
OUTDIR/<seed>.<i>) so the test can re-pack a damaged data.pkl with a valid CRC; for the legacy file,
where its pickles end.
"""
import collections
import json
import os
import sys
import zipfile

import torch
import torch.nn as nn
from torchvision.models.vgg import VGG, make_layers

OUT = sys.argv[1]


class Tiny(VGG):
    def __init__(self):
        nn.Module.__init__(self)
        self.features = make_layers([2, "M", 3, "M"], batch_norm=True)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Sequential(nn.Linear(3, 4), nn.ReLU(True), nn.Dropout(), nn.Linear(4, 2))


torch.manual_seed(0)
model = Tiny()
with torch.no_grad():
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
sd = model.state_dict()
opt = torch.optim.Adam(model.parameters())
model(torch.randn(2, 3, 8, 8)).sum().backward()
opt.step()

views = collections.OrderedDict((k, v.clone()) for k, v in sd.items())
views["classifier.0.weight"] = views["classifier.0.weight"].t().contiguous().t()
b = views["features.0.bias"]
views["features.0.bias"] = torch.cat([torch.randn(3), b])[3:]
shared = torch.cat([views["classifier.0.bias"], views["classifier.3.bias"]])
views["classifier.0.bias"], views["classifier.3.bias"] = shared[:4], shared[4:]

seeds = {}
for name, obj, kwargs in [
    ("state-dict", sd, {}),
    ("checkpoint-p4", {"state_dict": sd, "optimizer": opt.state_dict(), "epoch": 1}, {"pickle_protocol": 4}),
    ("views", views, {}),
    ("legacy", {"model": sd, "optimizer": opt.state_dict()}, {"_use_new_zipfile_serialization": False}),
]:
    path = os.path.join(OUT, f"{name}.pth")
    torch.save(obj, path, **kwargs)
    entry = {"file": path, "members": []}
    if not kwargs.get("_use_new_zipfile_serialization", True):
        # Where the five pickles end and the raw storages begin (the pickles are what is fuzzed).
        import pickletools
        with open(path, "rb") as f:
            for _ in range(5):
                for op, _arg, _pos in pickletools.genops(f):
                    if op.name == "STOP":
                        break
            entry["pickleEnd"] = f.tell()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            for i, info in enumerate(z.infolist()):
                member = os.path.join(OUT, f"{name}.{i}")
                with open(member, "wb") as f:
                    f.write(z.read(info))
                entry["members"].append({"name": info.filename, "file": member})
    seeds[name] = entry
with open(os.path.join(OUT, "seeds.json"), "w") as f:
    json.dump(seeds, f, indent=1)
