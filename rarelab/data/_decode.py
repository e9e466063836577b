"""Decoding image files, lazily and in ``DataLoader`` workers.

One decoder, :func:`decode_image`, for features, thumbnails, training and ``rarelab predict``:
each file is decoded to what an image viewer shows. A file that cannot be shown faithfully
raises :class:`UndecodableImage` with the reason, and becomes a recorded failure instead of an
exception in the batch iterators.
"""

from __future__ import annotations

import functools
import io
import struct

import numpy as np
import torch
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

# Bump when decode_image gives different pixels for some file: features stored under an
# older version came from other pixels.
DECODER_VERSION = 2

_WHITE = (255, 255, 255)
_HIGH_BIT_MODES = ("I", "F")  # and every "I;16..." mode
_ALPHA_MODES = {"RGBA": "RGB", "LA": "L", "PA": "RGB", "RGBa": "RGB", "La": "L"}
# Errors Pillow raises on corrupt data while decoding (besides OSError), found by its fuzzers
_CORRUPT = (OSError, SyntaxError, EOFError, struct.error, IndexError, ValueError)


class UndecodableImage(ValueError):
    """A file that cannot be shown faithfully as an 8-bit RGB image; the message says why."""


def decode_image(path, size: int | None) -> np.ndarray:
    """Read one file as an image viewer shows it: RGB uint8 (H, W, 3), squashed to ``size`` x ``size`` when given.

    The rules, in order:

    - **Format**: whatever Pillow opens; for a multi-frame file (animated GIF/PNG/WebP,
      multi-page TIFF) the first frame. JPEGs are decoded at a reduced scale (libjpeg's
      1/2, 1/4 or 1/8, never below ``size``) before resizing: much faster for big photos.
    - **Orientation**: the EXIF (or XMP/TIFF) Orientation tag is applied, all 8 values,
      as cameras and phones expect (``ImageOps.exif_transpose``).
    - **High bit depths**: 16-bit samples are scaled to 8 bits (``round(v / 257)``, so a
      16-bit copy of an 8-bit image decodes to the same pixels). 16-bit RGB(A) is kept at
      its top 8 bits. A 32-bit integer image is read as 16-bit when its values lie in
      0..65535; a floating-point image is read as 0..1 = black..white.
    - **Colour**: an embedded ICC profile is converted to sRGB (LittleCMS, perceptual
      intent); a broken profile, or one that does not fit the pixels, is ignored, as
      viewers do. CMYK without a profile uses Pillow's plain conversion (Adobe-inverted
      CMYK JPEGs included); YCbCr and CIELab are converted to RGB.
    - **Transparency**: composited over white, as a viewer shows it on a white page
      (alpha channels, palette and colour-key transparency alike).
    - **Size**: resized with bilinear filtering to ``size`` x ``size``, ignoring the aspect ratio.
    - **Failures** raise :class:`UndecodableImage` (a ``ValueError``) with the reason:
      an empty file, a file no image format recognises, a format variant Pillow cannot
      decode, truncated or corrupt data, an image over ``PIL.Image.MAX_IMAGE_PIXELS`` x 2
      pixels (a decompression bomb), integer values outside 0..65535 or floating-point
      values outside 0..1 (no standard display). A missing or unreadable file raises
      ``OSError``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> gray16 = np.linspace(0, 65535, 64, dtype=np.uint16).reshape(8, 8)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "gray16.png"
    >>> Image.fromarray(gray16).save(path)
    >>> decode_image(path, 4).shape
    (4, 4, 3)
    """
    with open(path, "rb") as fh, _open(fh) as img:  # a missing or unreadable file raises OSError here
        if size is not None and img.format == "JPEG":
            img.draft("RGB", (size, size))  # decode a JPEG at a reduced scale: much faster for big photos
        try:
            img.load()
        except _CORRUPT as exc:
            raise UndecodableImage(f"truncated or corrupt {img.format} data ({type(exc).__name__}: {exc})") from exc
        _orient(img)
        rgb = _to_rgb(img)
    if size is not None and rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.BILINEAR)
    return np.asarray(rgb, dtype=np.uint8).copy()


def _open(fh) -> Image.Image:
    try:
        return Image.open(fh)
    except Image.DecompressionBombError as exc:
        raise UndecodableImage(f"{exc} Raise PIL.Image.MAX_IMAGE_PIXELS in your script if you trust the file.") from exc
    except UnidentifiedImageError as exc:
        raise UndecodableImage(_unidentified_reason(fh)) from exc
    except _CORRUPT as exc:
        raise UndecodableImage(f"truncated or corrupt file header ({type(exc).__name__}: {exc})") from exc


def _unidentified_reason(fh) -> str:
    fh.seek(0)
    head = fh.read(32)
    if not head:
        return "empty file (0 bytes)"
    Image.init()
    formats = sorted(fmt for fmt, (_, accept) in Image.OPEN.items() if accept is not None and _accepts(accept, head))
    if formats:
        return (
            f"a {'/'.join(formats)} file in a variant Pillow cannot decode (e.g. 64-bit or multi-channel "
            "floating point, 32-bit RGB); save it as 8- or 16-bit"
        )
    return f"not an image: no image format recognises its first bytes {head[:8]!r}"


def _accepts(accept, head: bytes) -> bool:
    try:
        return bool(accept(head))
    except (*_CORRUPT, TypeError):  # a format sniffer failing on these bytes: not this format
        return False


def _orient(img: Image.Image) -> None:
    """Apply the EXIF Orientation in place; an unreadable EXIF block is ignored, as viewers do."""
    try:
        ImageOps.exif_transpose(img, in_place=True)
    except _CORRUPT:
        pass


def _to_rgb(img: Image.Image) -> Image.Image:
    """The loaded ``img`` as it looks on a white page, in 8-bit sRGB."""
    icc = img.info.get("icc_profile")
    base, alpha = _split_alpha(_to_8bit(img))
    base = _with_profile(base, icc) or base.convert("RGB")
    if alpha is not None:
        page = Image.new("RGB", base.size, _WHITE)
        page.paste(base, mask=alpha)
        base = page
    return base


def _to_8bit(img: Image.Image) -> Image.Image:
    """High-bit-depth gray (``I;16*``, ``I``, ``F``) as ``L`` (``LA`` with a colour key)."""
    if not (img.mode in _HIGH_BIT_MODES or img.mode.startswith("I;16")):
        return img
    raw = np.asarray(img)
    if raw.dtype.kind == "f":
        lo, hi = float(np.min(raw)), float(np.max(raw))
        if not (np.isfinite(lo) and np.isfinite(hi) and lo >= -1 / 512 and hi <= 1 + 1 / 512):
            raise UndecodableImage(
                f"floating-point image with values from {lo:g} to {hi:g}: only 0..1 has a standard display; "
                "rescale it to 0..1 or save it as 8- or 16-bit"
            )
        gray = np.rint(np.clip(raw, 0, 1) * 255).astype(np.uint8)
    else:
        lo, hi = int(np.min(raw)), int(np.max(raw))
        if lo < 0 or hi > 65535:
            raise UndecodableImage(
                f"{8 * raw.dtype.itemsize}-bit integer image with values from {lo} to {hi}, outside 0..65535: "
                "no faithful 8-bit display; save it as 8- or 16-bit"
            )
        gray = ((raw.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    out = Image.fromarray(gray)
    key = img.info.get("transparency")
    if isinstance(key, int):
        out = Image.merge("LA", (out, Image.fromarray(np.where(raw == key, 0, 255).astype(np.uint8))))
    return out


def _split_alpha(img: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """``(colour image in L, RGB, CMYK or LAB, alpha or None)``."""
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif img.mode in ("1", "L", "RGB") and "transparency" in img.info:
        img = img.convert("LA" if img.mode != "RGB" else "RGBA")
    if img.mode in _ALPHA_MODES:
        img = img.convert("LA" if _ALPHA_MODES[img.mode] == "L" else "RGBA")
        return img.convert(_ALPHA_MODES[img.mode]), img.getchannel("A")
    if img.mode in ("L", "RGB", "CMYK", "LAB"):
        return img, None
    try:
        return img.convert("RGB"), None
    except ValueError as exc:
        raise UndecodableImage(f"{img.mode} images have no conversion to RGB in Pillow ({exc})") from exc


def _with_profile(img: Image.Image, icc: bytes | None) -> Image.Image | None:
    """``img`` converted from its ICC profile to sRGB, or None without a usable profile."""
    transform = _transform(icc, img.mode) if icc else None
    return None if transform is None else ImageCms.applyTransform(img, transform)


@functools.lru_cache(maxsize=32)
def _transform(icc: bytes, mode: str):
    """A cached profile -> sRGB transform for ``mode`` pixels; None when the profile is broken or does not fit."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.buildTransform(source, _srgb(), mode, "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None


@functools.cache
def _srgb():
    return ImageCms.createProfile("sRGB")


class FileImages(torch.utils.data.Dataset):
    """Decode ``paths[i]`` at ``size`` px on demand; items are ``(i, image or None, error)``."""

    def __init__(self, paths, size: int):
        self.paths = list(paths)
        self.size = size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        try:
            return i, decode_image(self.paths[i], self.size), ""
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            return i, None, f"{type(exc).__name__}: {exc}"


def collate_decoded(batch):
    """Stack the decoded images of a batch; keep the failures apart, by position."""
    ok = [(i, im) for i, im, _ in batch if im is not None]
    failed = [(i, err) for i, im, err in batch if im is None]
    idx = np.array([i for i, _ in ok], dtype=np.int64)
    images = torch.from_numpy(np.stack([im for _, im in ok])) if ok else torch.empty(0, 0, 0, 3, dtype=torch.uint8)
    return idx, images, failed


def iter_decoded(paths, size: int, *, batch_size: int = 64, num_workers: int = 0):
    """Yield ``(positions, images NHWC uint8, failures)`` batches through a multi-worker DataLoader."""
    loader = torch.utils.data.DataLoader(
        FileImages(paths, size),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=collate_decoded,
        persistent_workers=False,
        prefetch_factor=4 if num_workers else None,
    )
    yield from loader


def load_images(paths, size: int, *, num_workers: int = 0, fill: int = 0) -> tuple[np.ndarray, list]:
    """Decode a few files into one array (gallery pages, training batches); unreadable ones are
    filled with ``fill`` and returned as ``(position, error)`` pairs."""
    out = np.full((len(paths), size, size, 3), fill, dtype=np.uint8)
    failed = []
    for idx, images, bad in iter_decoded(paths, size, batch_size=64, num_workers=num_workers):
        if len(idx):
            out[idx] = images.numpy()
        failed += bad
    return out, failed
