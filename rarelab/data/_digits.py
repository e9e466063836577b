"""``digits``: scikit-learn's bundled 8x8 handwritten digits, as RGB images."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..utils import check_int
from ._array import ArrayDataset


def digits(*, image_size: int = 32, transform=None) -> ArrayDataset:
    """Load the 1,797 digits that ship with scikit-learn (no download), upsampled to RGB.

    Examples
    --------
    >>> ds = digits()
    >>> len(ds), ds.classes[:3]
    (1797, ['0', '1', '2'])
    """
    from sklearn.datasets import load_digits

    image_size = check_int("digits", "image_size", image_size, low=8, high=256)
    bunch = load_digits()
    gray = (bunch.images / 16.0 * 255).round().astype(np.uint8)
    images = np.stack(
        [np.asarray(Image.fromarray(g).resize((image_size, image_size), Image.BILINEAR).convert("RGB")) for g in gray]
    )
    return ArrayDataset(
        images, bunch.target.astype(np.int64), [str(d) for d in range(10)], name="digits", transform=transform
    )
