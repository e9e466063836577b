"""In-memory image datasets with the torchvision dataset interface."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np
import torch
from PIL import Image

from ..utils import param_error


class ArrayDataset(torch.utils.data.Dataset):
    """Images held as one ``uint8`` array of shape (N, H, W, 3), with integer targets.

    Items are ``(image, target)`` pairs like a torchvision dataset: ``image`` is a PIL
    image unless ``transform`` maps it to something else.

    Parameters
    ----------
    images : ndarray of shape (n_samples, height, width, 3), dtype uint8
    targets : array-like of int, shape (n_samples,)
    classes : sequence of str
        Human-readable class names; ``targets`` index into it.
    name : str
        Short name shown in ``repr`` and used in cache keys.
    transform, target_transform : callable, optional
    templates : ndarray of shape (n_classes, height, width, 3), optional
        One clean frontal render per class (synthetic start), where the dataset has them.
    template_classes : sequence of int, optional
        The classes whose template is a real render (default: every class).
    """

    def __init__(
        self,
        images: np.ndarray,
        targets,
        classes: Sequence[str],
        *,
        name: str = "array",
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        templates: np.ndarray | None = None,
        template_classes: Sequence[int] | None = None,
        groups=None,
    ):
        images = np.asarray(images)
        owner = type(self).__name__
        if images.ndim != 4 or images.shape[-1] != 3:
            raise param_error(owner, "images", "an array of shape (n, height, width, 3)", f"shape {images.shape}")
        if images.dtype != np.uint8:
            raise param_error(
                owner,
                "images",
                "a uint8 array",
                f"dtype {images.dtype}",
                "Convert with (x * 255).round().astype(np.uint8).",
            )
        targets = np.asarray(targets)
        if targets.shape != (len(images),) or not np.issubdtype(targets.dtype, np.integer):
            raise param_error(
                owner,
                "targets",
                f"an int array of shape ({len(images)},)",
                f"{targets.dtype} array of shape {targets.shape}",
            )
        if len(targets) and (targets.min() < 0 or targets.max() >= len(classes)):
            raise param_error(
                owner, "targets", f"ids in [0, {len(classes) - 1}]", f"ids in [{targets.min()}, {targets.max()}]"
            )
        self.images = images
        self.targets = targets.astype(np.int64)
        self.classes = list(classes)
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.name = name
        self.transform = transform
        self.target_transform = target_transform
        self.templates = templates
        self.template_classes = (
            None
            if templates is None
            else sorted(range(len(templates)) if template_classes is None else template_classes)
        )
        if groups is not None:
            groups = np.asarray(groups)
            if groups.shape != (len(images),):
                raise param_error(owner, "groups", f"one group id per image ({len(images)})", f"shape {groups.shape}")
        self.groups = groups  # near-duplicates (a video track): splits keep each group in one part
        # (fingerprint, length) of the dataset whose items this one starts with: caches of
        # that dataset then serve those items, and only the appended ones are computed.
        self.extends: tuple[str, int] | None = None

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        img = Image.fromarray(self.images[index])
        target = int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def load_images(self, ids, size: int | None = None) -> np.ndarray:
        """The items ``ids`` as uint8 (n, h, w, 3), resized to ``size`` squares when given."""
        images = self.images[np.asarray(ids, dtype=np.int64)]
        if size is None or images.shape[1:3] == (size, size):
            return images
        # Small images enlarged for display stay crisp (nearest); shrinking averages (bilinear).
        resample = Image.NEAREST if size > images.shape[1] else Image.BILINEAR
        return (
            np.stack([np.asarray(Image.fromarray(im).resize((size, size), resample)) for im in images])
            if len(images)
            else np.empty((0, size, size, 3), np.uint8)
        )

    @property
    def has_targets(self) -> bool:
        return True

    @property
    def image_size(self) -> int:
        return int(self.images.shape[1])

    @property
    def fingerprint(self) -> str:
        """A short hash of the pixels; keys the feature cache (features never depend on labels)."""
        h = hashlib.sha1()
        h.update(str(self.images.shape).encode())
        # A strided subset plus a checksum of every image: cheap, and any real change of data shows.
        h.update(np.ascontiguousarray(self.images[:: max(1, len(self) // 997)]).tobytes())
        h.update(self.images.reshape(len(self), -1).sum(axis=1, dtype=np.uint64).tobytes())
        return h.hexdigest()[:16]

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.targets, minlength=len(self.classes))

    def with_templates(self, classes: Sequence[int]):
        """Return a copy with the templates of ``classes`` appended, and their new item ids.

        Used for the paper's synthetic start: the single training sample of a rare class is
        a clean render instead of a real image.
        """
        if self.templates is None:
            raise param_error(
                type(self).__name__,
                "synthetic_start",
                "used with a dataset that has templates",
                self.name,
                "synth_signs and gtsrb ship class templates.",
            )
        classes = [int(c) for c in classes]
        missing = [self.classes[c] for c in classes if c not in self.template_classes]
        if missing:
            drawable = [self.classes[c] for c in self.template_classes]
            raise param_error(
                type(self).__name__,
                "synthetic_start",
                "rare classes that have a template",
                missing,
                f"Templates exist for: {drawable}.",
            )
        extra = self.templates[classes]
        if extra.shape[1:] != self.images.shape[1:]:
            extra = np.stack(
                [np.asarray(Image.fromarray(t).resize(self.images.shape[1:3], Image.BILINEAR)) for t in extra]
            )
        groups = None
        if self.groups is not None:  # each template is its own group
            start = int(np.max(self.groups)) + 1 if np.issubdtype(self.groups.dtype, np.integer) else 0
            groups = np.concatenate([self.groups, np.arange(start, start + len(classes)).astype(self.groups.dtype)])
        ds = ArrayDataset(
            np.concatenate([self.images, extra]),
            np.concatenate([self.targets, classes]),
            self.classes,
            name=self.name + "+templates",
            transform=self.transform,
            target_transform=self.target_transform,
            templates=self.templates,
            template_classes=self.template_classes,
            groups=groups,
        )
        official = getattr(self, "official_split", None)
        if official is not None:  # a template belongs to no official split
            ds.official_split = np.concatenate([official, np.full(len(classes), "template")])
        ds.extends = self.extends or (self.fingerprint, len(self))
        ids = {c: len(self) + i for i, c in enumerate(classes)}
        return ds, ids

    def __repr__(self) -> str:
        counts = self.class_counts()
        lines = [
            f"Dataset {type(self).__name__}({self.name})",
            f"    Number of datapoints: {len(self)}",
            f"    Image size: {self.images.shape[1]}x{self.images.shape[2]}",
            f"    Classes: {len(self.classes)} (items per class: min {counts.min()}, max {counts.max()})",
        ]
        if self.templates is not None:
            lines.append("    Templates: one clean render per class")
        if self.groups is not None:
            lines.append(f"    Groups: {len(np.unique(self.groups))} (near-duplicates kept in one part by splits)")
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        return "\n".join(lines)
