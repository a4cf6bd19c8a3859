"""The VGG module trees the PyTorch reader's tests save: torchvision's VGG (its forward, its keys)
with a small classifier, and the seed notebook's conv_backbone.features[B].conv_block layout; random
but non-trivial values; and the structure each module tree describes, for derive.ts to match."""
import torch
import torch.nn as nn
from torchvision.models.vgg import VGG, make_layers


class SmallVGG(VGG):
    """torchvision's VGG (same forward, same keys) without building its 25088×4096 classifier first."""

    def __init__(self, features, classifier, pool=7):
        nn.Module.__init__(self)
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((pool, pool))
        self.classifier = classifier


class ConvBlock(nn.Module):
    def __init__(self, cin, n, f, bn):
        super().__init__()
        layers = []
        for _ in range(n):
            layers += [nn.Conv2d(cin, f, 3, padding=1)] + ([nn.BatchNorm2d(f)] if bn else []) + [nn.ReLU(inplace=True)]
            cin = f
        self.conv_block = nn.Sequential(*layers, nn.MaxPool2d(2, 2))

    def forward(self, x):
        return self.conv_block(x)


class ConvBackbone(nn.Module):
    def __init__(self, blocks, bn):
        super().__init__()
        self.features = nn.Sequential(*[ConvBlock(*b, bn) for b in blocks])

    def forward(self, x):
        return self.features(x)


class NotebookVGG(nn.Module):
    """The seed notebook's module tree: conv_backbone.features[B].conv_block, flattened into the classifier."""

    def __init__(self, blocks, bn, classifier):
        super().__init__()
        self.conv_backbone = ConvBackbone(blocks, bn)
        self.classifier = classifier

    def forward(self, x):
        x = self.conv_backbone(x)
        return self.classifier(x.view(x.shape[0], -1))


def head(widths, relu=True, dropout=True):
    """Linear layers of the given widths: [in, hidden…, classes]; ReLU (+ Dropout) between them when asked."""
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            layers += ([nn.ReLU(True)] if relu else []) + ([nn.Dropout()] if dropout and relu else [])
    return nn.Sequential(*layers)


def randomize(model, seed):
    """Non-trivial values everywhere: biases and BatchNorm statistics too, so nothing passes by being 0 or 1."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                m.bias.uniform_(-0.1, 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(seed)
            elif isinstance(m, nn.Linear):
                m.weight.normal_(0, (2.0 / m.in_features) ** 0.5)
                m.bias.uniform_(-0.1, 0.1)
    return model.eval()


def tv_model(cfg, bn, widths, seed, pool=7, relu=True):
    features = make_layers(cfg, batch_norm=bn)
    channels = [c for c in cfg if c != "M"][-1]
    return randomize(SmallVGG(features, head([channels * pool * pool] + widths, relu), pool), seed)


def notebook_model(blocks, bn, side, widths, seed):
    return randomize(NotebookVGG(blocks, bn, head([blocks[-1][2] * side * side] + widths)), seed)


def expected_network(model):
    """The structure from the modules themselves (not from key numbering): what derive.ts must find."""
    if isinstance(model, NotebookVGG):
        seqs = [b.conv_block for b in model.conv_backbone.features]
        modules = [m for s in seqs for m in s]
    else:
        modules = list(model.features)
    blocks, bn, convs = [], [], []
    for i, m in enumerate(modules):
        if isinstance(m, nn.Conv2d):
            convs.append(m)
            bn.append(i + 1 < len(modules) and isinstance(modules[i + 1], nn.BatchNorm2d))
        elif isinstance(m, nn.MaxPool2d):
            blocks.append([convs[0].in_channels, len(convs), convs[-1].out_channels])
            convs = []
    cls = list(model.classifier)
    linears = []
    for i, m in enumerate(cls):
        if isinstance(m, nn.Linear):
            rest = cls[i + 1:]
            nxt = next((j for j, r in enumerate(rest) if isinstance(r, nn.Linear)), None)
            relu = nxt is not None and any(isinstance(r, nn.ReLU) for r in rest[:nxt])
            linears.append([m.out_features, m.in_features, relu])
    if isinstance(model, NotebookVGG):
        side = round((linears[0][1] / blocks[-1][2]) ** 0.5) * 2 ** len(blocks)
        return {"blocks": blocks, "batchNorm": bn, "linears": linears, "headPool": None, "inputSize": [side, side]}
    k = model.avgpool.output_size
    return {"blocks": blocks, "batchNorm": bn, "linears": linears, "headPool": list(k), "inputSize": None}
