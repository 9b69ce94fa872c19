"""PyTorch models the tests build, with random weights (no torchvision). Each entry of ALL is
name -> (build(), example input). Kept small: 32x32/64x64 images, short sequences."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


# -- ResNet-18 --------------------------------------------------------------------------------
class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + idt)


class ResNet18(nn.Module):
    def __init__(self, classes=10, width=64):
        super().__init__()
        w = width
        self.conv1 = nn.Conv2d(3, w, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        chans = [w, w * 2, w * 4, w * 8]
        cin = w
        for i, c in enumerate(chans):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(cin, c, stride),
                                                         BasicBlock(c, c)))
            cin = c
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# -- MobileNetV2-style ------------------------------------------------------------------------
class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hid = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.conv = nn.Sequential(
            nn.Conv2d(cin, hid, 1, bias=False), nn.BatchNorm2d(hid), nn.ReLU6(),
            nn.Conv2d(hid, hid, 3, stride, 1, groups=hid, bias=False), nn.BatchNorm2d(hid),
            nn.ReLU6(), nn.Conv2d(hid, cout, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU6())
        self.blocks = nn.Sequential(InvertedResidual(16, 16, 1, 1), InvertedResidual(16, 24, 2, 6),
                                    InvertedResidual(24, 24, 1, 6), InvertedResidual(24, 32, 2, 6))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(32, classes))

    def forward(self, x):
        return self.classifier(self.pool(self.blocks(self.stem(x))).flatten(1))


# -- U-Net ------------------------------------------------------------------------------------
class DoubleConv(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU())


class UNet(nn.Module):
    def __init__(self, c=8):
        super().__init__()
        self.down1, self.down2 = DoubleConv(3, c), DoubleConv(c, 2 * c)
        self.pool = nn.MaxPool2d(2)
        self.mid = DoubleConv(2 * c, 4 * c)
        self.up2 = nn.ConvTranspose2d(4 * c, 2 * c, 2, stride=2)
        self.dec2 = DoubleConv(4 * c, 2 * c)
        self.up1 = nn.ConvTranspose2d(2 * c, c, 2, stride=2)
        self.dec1 = DoubleConv(2 * c, c)
        self.head = nn.Conv2d(c, 2, 1)

    def forward(self, x):
        d1 = self.down1(x)
        d2 = self.down2(self.pool(d1))
        m = self.mid(self.pool(d2))
        u2 = self.dec2(torch.cat([self.up2(m), d2], 1))
        u1 = self.dec1(torch.cat([self.up1(u2), d1], 1))
        return self.head(u1)


# -- transformers -----------------------------------------------------------------------------
class HandAttention(nn.Module):
    """Multi-head self-attention written out: q/k/v projections, matmul, softmax, matmul."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-2, -1) * (d // self.heads) ** -0.5, dim=-1)
        return self.proj((att @ v).transpose(1, 2).reshape(b, n, d))


class SDPABlock(nn.Module):
    """A pre-norm block with F.scaled_dot_product_attention (one Attention node)."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads) \
            .permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)
        x = x + self.proj(a)
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    def __init__(self, dim=32, heads=4, classes=10):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 8, 8)
        self.pos = nn.Parameter(torch.zeros(1, 16, dim))
        self.attn = HandAttention(dim, heads)
        self.block = SDPABlock(dim, heads)
        layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2) + self.pos
        x = x + self.attn(x)
        x = self.encoder(self.block(x))
        return self.head(x.mean(1))


class TransformerStack(nn.Module):
    """``blocks`` SDPA blocks: the benchmark's 100-block transformer."""

    def __init__(self, blocks=100, dim=64, heads=4):
        super().__init__()
        self.blocks = nn.Sequential(*[SDPABlock(dim, heads) for _ in range(blocks)])

    def forward(self, x):
        return self.blocks(x)


# -- recurrent --------------------------------------------------------------------------------
class SeqModel(nn.Module):
    def __init__(self, vocab=50, dim=16, hidden=24):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.lstm = nn.LSTM(dim, hidden, num_layers=2, batch_first=True)
        self.gru = nn.GRU(hidden, hidden, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * hidden, 5)

    def forward(self, tokens):
        y, _ = self.lstm(self.embed(tokens))
        y, _ = self.gru(y)
        return self.fc(y[:, -1])


# -- control flow that only jit.trace handles ---------------------------------------------------
class DataDependent(nn.Module):
    """Branches on a tensor's value: torch.export refuses it; jit.trace records the branch
    the example input takes. Both branches use the same layers, so every parameter is read."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        y = self.a(x)
        if x.sum() > 0:
            y = torch.relu(y)
        else:
            y = torch.tanh(y)
        return self.fc(y.mean((2, 3)))


def _seeded(cls, *args, **kwargs):
    def build():
        torch.manual_seed(0)
        return cls(*args, **kwargs).eval()
    return build


def _ones_input(*shape):
    return lambda: torch.ones(*shape)


ALL = {
    "resnet18": (_seeded(ResNet18, 10, 16), lambda: torch.randn(1, 3, 64, 64)),
    "mobilenetv2": (_seeded(MobileNetV2), lambda: torch.randn(1, 3, 32, 32)),
    "unet": (_seeded(UNet), lambda: torch.randn(1, 3, 32, 32)),
    "vit": (_seeded(ViT), lambda: torch.randn(2, 3, 32, 32)),
    "seq": (_seeded(SeqModel), lambda: torch.randint(0, 50, (2, 7))),
    "datadep": (_seeded(DataDependent), _ones_input(1, 3, 16, 16)),
}


def mobilenetv2():
    """Zero-argument factory for ``--model tests.zoo.torch_models:mobilenetv2``."""
    return ALL["mobilenetv2"][0]()


def unet():
    return ALL["unet"][0]()
