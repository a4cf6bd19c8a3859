"""Writes the PyTorch checkpoints test/pytorch-checkpoint.test.ts reads, with torch itself.

Run with Debian's torch 1.13 (/usr/bin/python3): python3 write_checkpoints.py OUTDIR MARKER

For every case OUTDIR/manifest.json records the file, each state_dict tensor's key, shape and dtype
(values, after the dtype's own rounding, as float32 in <case>.values.f32), the network the module
structure itself describes (blocks, BatchNorm, Linear layers with their ReLUs, head pool), PyTorch's
logits for a random input where the test compiles the file end to end, or the error expected. The
hostile cases would run `touch MARKER` under pickle.load; the reader must refuse them without it.
"""
import collections
import io
import json
import os
import pickle
import pickletools
import subprocess
import sys
import zipfile

import torch
import torch.nn as nn
from torchvision.models.vgg import VGG, make_layers

from vgg_modules import SmallVGG, head, notebook_model, randomize, tv_model, expected_network

OUT, MARKER = sys.argv[1], sys.argv[2]
manifest = {}


def write_values(name, sd):
    """Each tensor's logical values as float32 (after its dtype's own rounding), back to back."""
    tensors, chunks, offset = [], [], 0
    for k, v in sd.items():
        key = k
        while key.startswith(("module.", "_orig_mod.")):
            key = key.split(".", 1)[1]
        if key.endswith("num_batches_tracked"):
            continue
        entry = {"key": key, "shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", "")}
        if v.is_floating_point():
            data = v.detach().to(torch.float32).contiguous().numpy().tobytes()
            entry.update(offset=offset, count=v.numel())
            offset += v.numel()
            chunks.append(data)
        tensors.append(entry)
    with open(os.path.join(OUT, f"{name}.values.f32"), "wb") as f:
        f.write(b"".join(chunks))
    return tensors


def case(name, obj, sd=None, model=None, legacy=False, protocol=2, forward=None, **extra):
    path = os.path.join(OUT, f"{name}.pth")
    if isinstance(obj, bytes):
        with open(path, "wb") as f:
            f.write(obj)
    else:
        torch.save(obj, path, _use_new_zipfile_serialization=not legacy, pickle_protocol=protocol)
    entry = {"file": path, "format": "legacy" if legacy else "zip", **extra}
    if sd is not None:
        entry["tensors"] = write_values(name, sd)
        entry["values"] = os.path.join(OUT, f"{name}.values.f32")
        # torch itself reads back what it wrote (the fixture is what it claims to be).
        back = torch.load(path)
        assert back is not None
    if model is not None:
        entry["network"] = expected_network(model)
    if forward is not None:
        n, c, h, w = forward
        torch.manual_seed(1234)
        x = torch.randn(n, c, h, w)
        with torch.no_grad():
            y = model(x)
        x.numpy().tofile(os.path.join(OUT, f"{name}.x.f32"))
        y.numpy().tofile(os.path.join(OUT, f"{name}.y.f32"))
        entry["forward"] = {"input": os.path.join(OUT, f"{name}.x.f32"), "inputShape": [n, c, h, w],
                            "logits": os.path.join(OUT, f"{name}.y.f32"), "numClasses": y.shape[1]}
    manifest[name] = entry


# ── plain state_dicts, both formats, every float dtype ───────────────────────────────────────────
tv = tv_model([8, "M", 16, "M"], False, [32, 32, 5], seed=1)
case("tv", tv.state_dict(), tv.state_dict(), tv, forward=(2, 3, 32, 32))
case("tv-legacy", tv.state_dict(), tv.state_dict(), tv, legacy=True, forward=(1, 3, 32, 32))
bn = tv_model([8, "M", 16, 16, "M", 16, "M"], True, [24, 24, 4], seed=2)
case("bn", bn.state_dict(), bn.state_dict(), bn)
case("bn-legacy", bn.state_dict(), bn.state_dict(), bn, legacy=True, forward=(2, 3, 28, 28))
for dtype, short in [(torch.float16, "f16"), (torch.bfloat16, "bf16"), (torch.float64, "f64")]:
    m = tv_model([8, "M", 8, "M"], True, [16, 16, 3], seed=3)
    sd = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in m.state_dict().items()}
    case(short, sd, sd, m)
    case(f"{short}-legacy", sd, sd, m, legacy=True)
# 784 × 2048 float32 = 6.4 MB in one tensor: opening must not read it, reading one row reads one row.
big = tv_model([8, "M", 16, "M"], False, [2048, 64, 5], seed=13)
case("big", big.state_dict(), big.state_dict(), big)
case("big-legacy", big.state_dict(), big.state_dict(), big, legacy=True)
big_t = collections.OrderedDict(big.state_dict())
big_t["classifier.0.weight"] = big_t["classifier.0.weight"].t().contiguous().t()  # strides (1, 2048)
case("big-transposed", big_t, big_t, big)
case("protocol4", bn.state_dict(), bn.state_dict(), bn, protocol=4)
case("protocol5-legacy", tv.state_dict(), tv.state_dict(), tv, legacy=True, protocol=5)

# ── views: storage offsets, permuted strides, shared storages ────────────────────────────────────
def views_of(sd):
    sd = collections.OrderedDict((k, v.clone()) for k, v in sd.items())
    w = sd["classifier.0.weight"]
    sd["classifier.0.weight"] = w.t().contiguous().t()  # transposed storage, strides (1, out)
    b = sd["features.0.bias"]
    sd["features.0.bias"] = torch.cat([torch.randn(5), b, torch.randn(3)])[5:5 + b.numel()]  # offset 5
    w3 = sd["features.3.weight"]
    big = torch.randn(w3.shape[0], w3.shape[1] * 2, 3, 3)
    big[:, 1::2] = w3
    sd["features.3.weight"] = big[:, 1::2]  # every other input channel: offset 9, doubled stride
    sd["features.0.weight"] = sd["features.0.weight"].contiguous(memory_format=torch.channels_last)
    shared = torch.cat([sd["classifier.3.bias"], sd["classifier.6.bias"]])
    n3 = sd["classifier.3.bias"].numel()
    sd["classifier.3.bias"], sd["classifier.6.bias"] = shared[:n3], shared[n3:]  # one storage, two tensors
    sd["classifier.3.weight"] = sd["classifier.3.weight"].t().contiguous().t()[:, :]
    assert not sd["classifier.0.weight"].is_contiguous() and sd["features.3.weight"].storage_offset() == 9
    return sd


torch.manual_seed(7)
views = views_of(tv.state_dict())
case("views", views, views, tv, forward=(2, 3, 32, 32))
case("views-legacy", views, views, tv, legacy=True)

# ── wrappers and training checkpoints ────────────────────────────────────────────────────────────
sd = tv.state_dict()
case("ddp", collections.OrderedDict(("module." + k, v) for k, v in sd.items()), collections.OrderedDict(("module." + k, v) for k, v in sd.items()), tv, forward=(1, 3, 32, 32))
case("compiled", {"_orig_mod." + k: v for k, v in sd.items()}, {"_orig_mod." + k: v for k, v in sd.items()}, tv)
case("ddp-compiled", {"module._orig_mod." + k: v for k, v in bn.state_dict().items()}, {"module._orig_mod." + k: v for k, v in bn.state_dict().items()}, bn, legacy=True, forward=(1, 3, 28, 28))


def trained_optimizer(model):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    out = model(torch.randn(2, 3, 32, 32)).sum()
    out.backward()
    opt.step()
    model.eval()
    return opt.state_dict()


ckpt_model = tv_model([8, "M", 16, "M"], False, [32, 32, 5], seed=4)
optim = trained_optimizer(ckpt_model)
assert any(isinstance(v, torch.Tensor) for s in optim["state"].values() for v in s.values())
csd = ckpt_model.state_dict()
case("ckpt-state_dict", {"epoch": 3, "state_dict": csd, "optimizer": optim, "best_acc": 0.91, "arch": "vgg"}, csd, ckpt_model, forward=(1, 3, 32, 32))
case("ckpt-model_state_dict", {"model_state_dict": csd, "optimizer_state_dict": optim, "epoch": 9, "loss": 0.25}, csd, ckpt_model, legacy=True, forward=(2, 3, 32, 32))
case("ckpt-model", {"model": csd, "optimizer": optim, "scheduler": {"last_epoch": 4, "milestones": {30: 1}}}, csd, ckpt_model)
case("ckpt-net", {"net": csd, "acc": 88.5, "epoch": 200}, csd, ckpt_model, protocol=4)
case("ckpt-single", {"weights": csd, "optim": optim, "step": 7, "tags": ["a", ("b", None)]}, csd, ckpt_model)
params = collections.OrderedDict((k, nn.Parameter(v.clone())) for k, v in csd.items())
case("parameters", params, csd, ckpt_model)

# ── heads of several shapes ──────────────────────────────────────────────────────────────────────
def with_head(classifier, seed, cfg=(8, "M", 16, "M")):
    m = SmallVGG(make_layers(list(cfg)), classifier)
    return randomize(m, seed)


F = 16 * 7 * 7
m = with_head(nn.Sequential(nn.Linear(F, 16), nn.ReLU(True), nn.Dropout(), nn.Linear(16, 3)), 5)
case("head-0-3", m.state_dict(), m.state_dict(), m, forward=(2, 3, 32, 32))
m = with_head(nn.Sequential(nn.Linear(F, 6)), 6)
case("head-single", m.state_dict(), m.state_dict(), m, forward=(3, 3, 32, 32))
m = with_head(nn.Sequential(nn.Linear(F, 16), nn.Linear(16, 3)), 7)
case("head-no-relu", m.state_dict(), m.state_dict(), m, forward=(2, 3, 32, 32))
m = with_head(nn.Sequential(nn.Linear(F, 16), nn.ReLU(True), nn.Linear(16, 3)), 8)
case("head-0-2", m.state_dict(), m.state_dict(), m, forward=(2, 3, 32, 32))
m = with_head(nn.Sequential(nn.Linear(F, 32), nn.ReLU(True), nn.Dropout(), nn.Linear(32, 32), nn.ReLU(True), nn.Dropout(), nn.Linear(32, 5)), 9)
m.classifier[6] = nn.Linear(32, 2)
randomize(m, 9)
case("head-finetuned", m.state_dict(), m.state_dict(), m, forward=(2, 3, 16, 16))
m = with_head(nn.Sequential(nn.Linear(F, 16), nn.ReLU(True), nn.Dropout(), nn.Linear(16, 12), nn.Linear(12, 3)), 10)
case("head-mixed", m.state_dict(), m.state_dict(), m, forward=(5, 3, 32, 32))

# ── the seed notebook's layout ───────────────────────────────────────────────────────────────────
nb = notebook_model([[3, 1, 8], [8, 2, 16]], False, 8, [24, 24, 5], seed=11)
case("notebook", nb.state_dict(), nb.state_dict(), nb, forward=(2, 3, 32, 32))
nbn = notebook_model([[1, 2, 8], [8, 1, 8], [8, 1, 12]], True, 2, [7], seed=12)
case("notebook-bn", nbn.state_dict(), nbn.state_dict(), nbn, protocol=4, legacy=True, forward=(2, 1, 16, 16))

# ── archives torch did not write itself: another prefix, deflate ─────────────────────────────────
buf = io.BytesIO()
torch.save(tv.state_dict(), buf)  # written to a buffer: the prefix is "archive/"
with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
    assert z.namelist()[0].startswith("archive/")
case("archive-prefix", buf.getvalue(), tv.state_dict(), tv)


def rezip(src, dst, prefix, compress_pickle, compress_data):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            name = prefix + info.filename.split("/", 1)[1]
            deflate = compress_pickle if name.endswith("data.pkl") else compress_data
            zout.writestr(name, zin.read(info.filename), zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED)


rezip(manifest["tv"]["file"], os.path.join(OUT, "deflated-pickle.zip"), "my model/", True, False)
case("deflated-pickle", open(os.path.join(OUT, "deflated-pickle.zip"), "rb").read(), tv.state_dict(), tv)
rezip(manifest["tv"]["file"], os.path.join(OUT, "deflated-all.zip"), "x/", True, True)
case("deflated-all", open(os.path.join(OUT, "deflated-all.zip"), "rb").read(), error=r'zip entry "x/data/\d+": is compressed \(method 8\)')

# ── not a VGG, not a state_dict, or not float ────────────────────────────────────────────────────
class Res(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer4 = nn.Sequential(nn.Module())
        self.layer4[0].conv1 = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 2)


res = Res()
case("resnet-like", res.state_dict(), res.state_dict(), deriveError=r"unexpected tensor layer4\.0\.conv1\.weight: not a VGG \(expected features\.N\.\* and classifier\.K\.\* as in torchvision\)")
with_ids = collections.OrderedDict(tv.state_dict())
with_ids["class_ids"] = torch.arange(5)
case("int-tensor", with_ids, with_ids)
case("single-tensor", torch.randn(3), error=r"holds a single tensor, not a state_dict")
case("no-state-dict", {"epoch": 1, "notes": "none"}, error=r'holds a dict with no state_dict in it \(keys "epoch", "notes"\)')
whole = VGG(make_layers([8, "M"]), num_classes=3, init_weights=False)
whole.classifier = head([8 * 49, 3])
MODEL_MSG = r"holds a whole pickled model \(global torchvision\.models\.vgg\.VGG\), not a state_dict: vggc loads only tensors, never code; save model\.state_dict\(\) instead"
case("whole-model", whole, error=MODEL_MSG)
case("whole-model-legacy", whole, legacy=True, error=MODEL_MSG)
torch.jit.save(torch.jit.script(head([4, 2])), os.path.join(OUT, "torchscript.pt"))
case("torchscript", open(os.path.join(OUT, "torchscript.pt"), "rb").read(), error=r"is a TorchScript archive \(torch\.jit\.save\)")

# ── hostile pickles: each would run `touch MARKER` under pickle.load ─────────────────────────────
def unicode(s):
    b = s.encode()
    return b"X" + len(b).to_bytes(4, "little") + b


def os_system(cmd):  # GLOBAL os.system, REDUCE: the classic
    return b"\x80\x02cos\nsystem\nq\x00(" + unicode(cmd) + b"tq\x01Rq\x02."


def posix_system(cmd):
    return b"\x80\x02cposix\nsystem\n" + unicode(cmd) + b"\x85R."


def builtins_eval(cmd):  # protocol 4: STACK_GLOBAL, MEMOIZE, FRAME
    class Evil:
        def __reduce__(self):
            return (eval, (f"__import__('os').system({cmd!r})",))
    data = pickle.dumps(Evil(), protocol=4)
    assert any(op.name == "STACK_GLOBAL" for op, _, _ in pickletools.genops(data))
    return data


def inst_os_system(cmd):  # protocol 0's INST: module and class inline, instantiated with the marked args
    return b"\x80\x02(" + unicode(cmd) + b"ios\nsystem\n."


class EvilReduce:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


control = os.path.join(OUT, "control-marker")
for make in (os_system, posix_system, builtins_eval, inst_os_system):
    # The fixture really runs code under pickle.load (a control marker appears) …
    pickle.loads(make(f"touch {control}"))
    assert os.path.exists(control), make.__name__
    os.remove(control)
case("hostile-os-system", os_system(f"touch {MARKER}"), error=r"refuses global os\.system: vggc loads only tensors \(a state_dict\), never code")
case("hostile-posix-system", posix_system(f"touch {MARKER}"), error=r"refuses global posix\.system: vggc loads only tensors")
case("hostile-eval", builtins_eval(f"touch {MARKER}"), error=r"refuses global builtins\.eval: vggc loads only tensors")
case("hostile-inst", inst_os_system(f"touch {MARKER}"), error=r"refuses global os\.system")
evil_ckpt = {"state_dict": tv.state_dict(), "hook": EvilReduce()}
case("hostile-reduce", evil_ckpt, error=r"refuses global posix\.system: vggc loads only tensors \(a state_dict\), never code")
case("hostile-reduce-legacy", evil_ckpt, legacy=True, error=r"refuses global posix\.system")
# … and torch.load itself would run it: proof that these files are what they claim.
subprocess.run([sys.executable, "-c", "import torch, sys; torch.load(sys.argv[1])", manifest["hostile-reduce"]["file"]], check=True, capture_output=True)
assert os.path.exists(MARKER)
os.remove(MARKER)

with open(os.path.join(OUT, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1)
print(len(manifest), "cases")
