"""Backbone surgery: a frozen trunk (run once per image) and a trainable tail.

The tail holds the last ``tune_blocks`` blocks and whatever follows them up to the pooled
penultimate features, so ``tail(trunk(x)) == embed(x)``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..utils import check_int, param_error
from ._backbones import Classifier


class _LiteTrunk(nn.Module):
    def __init__(self, net, cut: int):
        super().__init__()
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = nn.ModuleList(net._blocks[:cut])

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return x


class _LiteTail(nn.Module):
    def __init__(self, net, cut: int):
        super().__init__()
        self.blocks = nn.ModuleList(net._blocks[cut:])
        self.head_conv = nn.Sequential(net._conv_head, net._bn1, net._swish)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return torch.flatten(nn.functional.adaptive_avg_pool2d(self.head_conv(x), 1), 1)


def _resnet_blocks(net) -> list[nn.Module]:
    return [b for layer in (net.layer1, net.layer2, net.layer3, net.layer4) for b in layer]


class _ResNetTrunk(nn.Module):
    def __init__(self, net, cut: int):
        super().__init__()
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.blocks = nn.Sequential(*_resnet_blocks(net)[:cut])

    def forward(self, x):
        return self.blocks(self.stem(x))


class _ResNetTail(nn.Module):
    def __init__(self, net, cut: int):
        super().__init__()
        self.blocks = nn.Sequential(*_resnet_blocks(net)[cut:])

    def forward(self, x):
        return torch.flatten(nn.functional.adaptive_avg_pool2d(self.blocks(x), 1), 1)


def _blocks_of(model: Classifier) -> list[nn.Module]:
    if model.name.startswith("efficientnet_lite"):
        return list(model.features.net._blocks)
    if model.name == "resnet18":
        return _resnet_blocks(model.features)
    raise param_error(
        "split_backbone",
        "backbone",
        "a pretrained backbone (EfficientNet-Lite or ResNet18)",
        model.name,
        "small_cnn has no pretrained trunk to cache: train it with FineTune.",
    )


def split_backbone(model: Classifier, tune_blocks: int) -> tuple[nn.Module, nn.Module]:
    """``(trunk, tail)`` of ``model``: ``tail(trunk(x)) == model.embed(x)``.

    The tail holds the last ``tune_blocks`` blocks and whatever follows them up to the
    pooled penultimate features; both share ``model``'s parameters.
    """
    total = len(_blocks_of(model))
    tune_blocks = check_int("split_backbone", "tune_blocks", tune_blocks, low=1, high=total)
    cut = total - tune_blocks
    if model.name == "resnet18":
        return _ResNetTrunk(model.features, cut), _ResNetTail(model.features, cut)
    return _LiteTrunk(model.features.net, cut), _LiteTail(model.features.net, cut)
