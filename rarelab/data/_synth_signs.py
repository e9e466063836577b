"""``synth_signs``: procedurally rendered traffic signs, so demos need no download.

Each class is a shape (circle, triangle, inverted triangle, octagon, diamond, square)
with border and fill colours and a glyph (speed numbers, arrows, letters, pictograms).
Samples add realistic nuisance: cluttered backgrounds, scale, small rotation and
perspective, blur, noise and brightness. Class frequencies follow a Zipf law, so the
tail classes are rare, as in real traffic-sign data.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from tqdm.auto import tqdm

from ..utils import cache_dir, check_int, check_random_state, param_error, save_npz_atomic
from ._array import ArrayDataset

RED, WHITE, BLACK, BLUE = (200, 20, 30), (245, 245, 240), (20, 20, 20), (20, 70, 170)
YELLOW, GREY, ORANGE, GREEN = (245, 190, 20), (120, 120, 120), (235, 120, 20), (20, 120, 60)

# (name, shape, border, fill, glyph, glyph colour)
_SPECS = [
    *[(f"speed limit {v}", "circle", RED, WHITE, str(v), BLACK) for v in (20, 30, 40, 50, 60, 70, 80, 100, 120)],
    ("end of speed limit 80", "circle", GREY, WHITE, "80/", GREY),
    ("no overtaking", "circle", RED, WHITE, "car2", BLACK),
    ("no vehicles", "circle", RED, WHITE, "", BLACK),
    ("no entry", "circle", RED, RED, "bar", WHITE),
    ("no parking", "circle", RED, BLUE, "slash", RED),
    ("no stopping", "circle", RED, BLUE, "cross", RED),
    ("no bicycles", "circle", RED, WHITE, "bicycle", BLACK),
    ("no pedestrians", "circle", RED, WHITE, "person", BLACK),
    ("end of restrictions", "circle", GREY, WHITE, "slash", GREY),
    ("ahead only", "circle", BLUE, BLUE, "up", WHITE),
    ("turn left ahead", "circle", BLUE, BLUE, "left", WHITE),
    ("turn right ahead", "circle", BLUE, BLUE, "right", WHITE),
    ("keep right", "circle", BLUE, BLUE, "downright", WHITE),
    ("keep left", "circle", BLUE, BLUE, "downleft", WHITE),
    ("roundabout", "circle", BLUE, BLUE, "ring", WHITE),
    ("bicycle path", "circle", BLUE, BLUE, "bicycle", WHITE),
    ("footpath", "circle", BLUE, BLUE, "person", WHITE),
    ("general danger", "triangle", RED, WHITE, "!", BLACK),
    ("curve left", "triangle", RED, WHITE, "left", BLACK),
    ("curve right", "triangle", RED, WHITE, "right", BLACK),
    ("bumpy road", "triangle", RED, WHITE, "wave", BLACK),
    ("pedestrians", "triangle", RED, WHITE, "person", BLACK),
    ("cyclists", "triangle", RED, WHITE, "bicycle", BLACK),
    ("slippery road", "triangle", RED, WHITE, "car2", BLACK),
    ("snow", "triangle", RED, WHITE, "*", BLUE),
    ("traffic signals", "triangle", RED, WHITE, "lights", BLACK),
    ("road works", "triangle", RED, YELLOW, "person", BLACK),
    ("yield", "inverted triangle", RED, WHITE, "", BLACK),
    ("yield ahead", "inverted triangle", RED, WHITE, "bar", RED),
    ("stop", "octagon", WHITE, RED, "STOP", WHITE),
    ("all-way stop", "octagon", WHITE, RED, "ALL", WHITE),
    ("priority road", "diamond", WHITE, YELLOW, "", BLACK),
    ("end of priority road", "diamond", WHITE, YELLOW, "slash", BLACK),
    ("parking", "square", WHITE, BLUE, "P", WHITE),
    ("bus stop", "square", WHITE, BLUE, "H", WHITE),
    ("information", "square", WHITE, BLUE, "i", WHITE),
    ("crosswalk", "square", WHITE, BLUE, "person", BLACK),
    ("hospital", "square", WHITE, BLUE, "+", RED),
    ("one way", "square", WHITE, BLUE, "up", WHITE),
    ("dead end", "square", WHITE, BLUE, "T", WHITE),
    ("detour", "square", BLACK, ORANGE, "right", BLACK),
    ("exit", "square", WHITE, GREEN, "EXIT", WHITE),
    ("school zone", "diamond", BLACK, YELLOW, "person", BLACK),
    ("deer crossing", "diamond", BLACK, YELLOW, "!", BLACK),
    ("minimum speed 30", "circle", BLUE, BLUE, "30", WHITE),
]
CLASSES = [s[0] for s in _SPECS]

_HI = 96  # templates are drawn at this size, then warped down to the sample size


def _shape_polygon(shape: str, c: float, r: float) -> list[tuple[float, float]]:
    if shape == "circle":
        n, start = 48, 0.0
    elif shape == "triangle":
        n, start = 3, -math.pi / 2
    elif shape == "inverted triangle":
        n, start = 3, math.pi / 2
    elif shape == "octagon":
        n, start = 8, math.pi / 8
    elif shape == "diamond":
        n, start = 4, -math.pi / 2
    else:  # square
        n, start = 4, math.pi / 4
        r *= 1.0
    if shape in ("triangle", "inverted triangle"):
        c_y = c + (0.18 * r if shape == "triangle" else -0.18 * r)
        r *= 1.15
    else:
        c_y = c
    return [
        (c + r * math.cos(start + 2 * math.pi * k / n), c_y + r * math.sin(start + 2 * math.pi * k / n))
        for k in range(n)
    ]


def _arrow(d: ImageDraw.ImageDraw, c: float, s: float, angle: float, col) -> None:
    # A shaft plus a head, rotated by ``angle`` (0 = up).
    pts = [(-0.12, 0.45), (0.12, 0.45), (0.12, -0.05), (0.3, -0.05), (0.0, -0.45), (-0.3, -0.05), (-0.12, -0.05)]
    ca, sa = math.cos(angle), math.sin(angle)
    d.polygon([(c + s * (x * ca - y * sa), c + s * (x * sa + y * ca)) for x, y in pts], fill=col)


def _glyph(d: ImageDraw.ImageDraw, glyph: str, c: float, r: float, col) -> None:
    s = r * 0.9
    w = max(2, int(r * 0.14))
    if glyph == "":
        return
    arrows = {
        "up": 0.0,
        "left": -math.pi / 2,
        "right": math.pi / 2,
        "downright": 3 * math.pi / 4,
        "downleft": -3 * math.pi / 4,
    }
    if glyph in arrows:
        _arrow(d, c, s, arrows[glyph], col)
    elif glyph == "bar":
        d.rectangle([c - 0.6 * r, c - 0.13 * r, c + 0.6 * r, c + 0.13 * r], fill=col)
    elif glyph == "slash":
        d.line([c - 0.6 * r, c + 0.6 * r, c + 0.6 * r, c - 0.6 * r], fill=col, width=w)
    elif glyph == "cross":
        d.line([c - 0.6 * r, c + 0.6 * r, c + 0.6 * r, c - 0.6 * r], fill=col, width=w)
        d.line([c - 0.6 * r, c - 0.6 * r, c + 0.6 * r, c + 0.6 * r], fill=col, width=w)
    elif glyph == "ring":
        d.ellipse([c - 0.45 * r, c - 0.45 * r, c + 0.45 * r, c + 0.45 * r], outline=col, width=w)
        _arrow(d, c + 0.45 * r, 0.4 * r, math.pi, col)
    elif glyph == "wave":
        pts = [
            (c - 0.6 * r + 1.2 * r * t / 20, c + 0.15 * r - 0.25 * r * abs(math.sin(t / 20 * 2 * math.pi)))
            for t in range(21)
        ]
        d.line(pts, fill=col, width=w)
    elif glyph == "person":
        d.ellipse([c - 0.1 * r, c - 0.6 * r, c + 0.1 * r, c - 0.4 * r], fill=col)
        d.line([c, c - 0.4 * r, c, c + 0.1 * r], fill=col, width=w)
        d.line([c, c + 0.1 * r, c - 0.25 * r, c + 0.55 * r], fill=col, width=w)
        d.line([c, c + 0.1 * r, c + 0.25 * r, c + 0.55 * r], fill=col, width=w)
        d.line([c - 0.3 * r, c - 0.2 * r, c + 0.3 * r, c - 0.2 * r], fill=col, width=w)
    elif glyph == "bicycle":
        for dx in (-0.32, 0.32):
            d.ellipse([c + (dx - 0.22) * r, c, c + (dx + 0.22) * r, c + 0.44 * r], outline=col, width=max(1, w // 2))
        d.line([c - 0.32 * r, c + 0.22 * r, c, c - 0.2 * r, c + 0.32 * r, c + 0.22 * r], fill=col, width=max(1, w // 2))
    elif glyph == "car2":
        for dx, shade in ((-0.28, col), (0.28, RED)):
            d.rectangle([c + (dx - 0.2) * r, c - 0.2 * r, c + (dx + 0.2) * r, c + 0.25 * r], fill=shade)
    elif glyph == "lights":
        for k, lc in enumerate((RED, YELLOW, GREEN)):
            y = c - 0.35 * r + k * 0.3 * r
            d.ellipse([c - 0.12 * r, y - 0.12 * r, c + 0.12 * r, y + 0.12 * r], fill=lc)
    else:
        text, strike = (glyph[:-1], True) if glyph.endswith("/") and len(glyph) > 1 else (glyph, False)
        size = int(r * (1.0 if len(text) <= 1 else 0.85 if len(text) == 2 else 0.6 if len(text) == 3 else 0.45))
        font = ImageFont.load_default(size=size)
        d.text((c, c), text, fill=col, font=font, anchor="mm")
        if strike:
            d.line([c - 0.6 * r, c + 0.6 * r, c + 0.6 * r, c - 0.6 * r], fill=col, width=max(1, w // 2))


def render_template(class_id: int, size: int = _HI) -> Image.Image:
    """The clean frontal RGBA render of one class (the paper's Fig. 3a synthetic sample)."""
    return render_sign(*_SPECS[class_id][1:], size=size)


def render_sign(shape: str, border, fill, glyph: str, glyph_colour, *, size: int = _HI) -> Image.Image:
    """A clean frontal RGBA render of a sign: ``shape`` (circle, triangle, inverted triangle,
    octagon, diamond, square) with ``border`` and ``fill`` colours and a ``glyph``."""
    gcol = glyph_colour
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    c, r = size / 2, size * 0.46
    d.polygon(_shape_polygon(shape, c, r), fill=border + (255,))
    d.polygon(_shape_polygon(shape, c, r * 0.8), fill=fill + (255,))
    _glyph(d, glyph, c, r * 0.75, gcol + (255,))
    return img


def _perspective_coeffs(dst, src) -> np.ndarray:
    # PIL's PERSPECTIVE maps output (x, y) to input; solve the 8 homography unknowns.
    a = []
    for (x, y), (u, v) in zip(dst, src):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    b = np.asarray(src, dtype=float).reshape(8)
    return np.linalg.solve(np.asarray(a, dtype=float), b)


def _render_sample(template: Image.Image, size: int, rng: np.random.Generator) -> np.ndarray:
    # Cluttered background: a tinted base with a few random boxes and blobs.
    base = tuple(int(v) for v in rng.integers(40, 200, 3))
    bg = Image.new("RGB", (size, size), base)
    d = ImageDraw.Draw(bg)
    for _ in range(int(rng.integers(2, 6))):
        x0, y0 = rng.uniform(-0.2, 1.0, 2) * size
        w, h = rng.uniform(0.1, 0.7, 2) * size
        col = tuple(int(v) for v in np.clip(np.array(base) + rng.integers(-70, 70, 3), 0, 255))
        (d.rectangle if rng.random() < 0.6 else d.ellipse)([x0, y0, x0 + w, y0 + h], fill=col)
    # Scale, position, small rotation and perspective of the sign.
    scale = rng.uniform(0.62, 0.95) * size
    cx, cy = size / 2 + rng.uniform(-0.08, 0.08, 2) * size
    theta = math.radians(rng.uniform(-10, 10))
    corners = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    corners = corners + rng.uniform(-0.06, 0.06, corners.shape)  # perspective jitter
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    dst = corners @ rot.T * scale + [cx, cy]
    hi = template.size[0]
    src = [(0, 0), (hi, 0), (hi, hi), (0, hi)]
    warped = template.transform((size, size), Image.PERSPECTIVE, tuple(_perspective_coeffs(dst, src)), Image.BILINEAR)
    bg.paste(warped, (0, 0), warped)
    blur = rng.uniform(0, 0.9) * size / 32
    if blur > 0.25:
        bg = bg.filter(ImageFilter.GaussianBlur(blur))
    arr = np.asarray(bg, dtype=np.float32)
    gain = rng.uniform(0.5, 1.35) * rng.uniform(0.9, 1.1, 3)  # brightness and white balance
    arr = arr * gain + rng.normal(0, rng.uniform(1, 9), arr.shape)
    return np.clip(arr, 0, 255).astype(np.uint8)


def zipf_counts(n_classes: int, n_samples: int, *, a: float, min_count: int) -> np.ndarray:
    """Items per class rank: proportional to ``rank ** -a``, at least ``min_count``."""
    w = 1.0 / np.arange(1, n_classes + 1) ** a
    counts = np.maximum(min_count, np.floor(w / w.sum() * n_samples)).astype(int)
    return counts


def synth_signs(
    *,
    n_samples: int = 12000,
    image_size: int = 32,
    zipf_a: float = 1.0,
    min_per_class: int = 12,
    random_state: int = 0,
    cache: bool = True,
    transform=None,
    progress: bool = True,
) -> ArrayDataset:
    """Load the embedded synthetic traffic-sign dataset (rendered once, then cached).

    Parameters
    ----------
    n_samples : int
        Approximate total number of images; classes get Zipf-distributed shares.
    image_size : int
        Side in pixels (16 to 128); 32 and 64 are the usual choices.
    zipf_a : float
        Zipf exponent of the class frequencies: 0 is balanced, 1 is strongly skewed.
    min_per_class : int
        Floor on each class's count, so the rarest classes still have a pool to search.
    random_state : int
        Seed: which classes are frequent and every nuisance draw. Same seed, same pixels.

    Returns
    -------
    ArrayDataset
        With ``templates``: a clean frontal render of every class at ``image_size``.

    Examples
    --------
    >>> ds = synth_signs(n_samples=500, image_size=32, progress=False)
    >>> len(ds.classes) >= 40, ds[0][0].size
    (True, (32, 32))
    """
    owner = "synth_signs"
    n_samples = check_int(owner, "n_samples", n_samples, low=len(CLASSES))
    image_size = check_int(owner, "image_size", image_size, low=16, high=128)
    min_per_class = check_int(owner, "min_per_class", min_per_class, low=1)
    if not (isinstance(zipf_a, (int, float)) and 0 <= zipf_a <= 3):
        raise param_error(owner, "zipf_a", "a float in [0, 3]", zipf_a)
    random_state = check_int(owner, "random_state", random_state, low=0)

    templates = np.stack([template_array(render_template(k), image_size) for k in range(len(CLASSES))])
    key = f"v1-n{n_samples}-s{image_size}-a{zipf_a}-m{min_per_class}-r{random_state}"
    path = cache_dir("synth_signs") / f"{key}.npz"
    if cache and path.exists():
        with np.load(path) as f:
            images, targets = f["images"], f["targets"]
    else:
        rng = check_random_state(random_state)
        order = rng.permutation(len(CLASSES))  # which class gets which frequency rank
        counts = np.empty(len(CLASSES), dtype=int)
        counts[order] = zipf_counts(len(CLASSES), n_samples, a=zipf_a, min_count=min_per_class)
        targets = rng.permutation(np.repeat(np.arange(len(CLASSES)), counts))
        hi = [render_template(k) for k in range(len(CLASSES))]
        images = np.empty((len(targets), image_size, image_size, 3), dtype=np.uint8)
        for i in tqdm(range(len(targets)), desc="rendering synth_signs", disable=not progress, mininterval=0.5):
            images[i] = _render_sample(hi[targets[i]], image_size, rng)
        if cache:
            save_npz_atomic(path, images=images, targets=targets)
    return ArrayDataset(
        images, targets, CLASSES, name=f"synth_signs-{image_size}px", transform=transform, templates=templates
    )


def template_array(img: Image.Image, size: int) -> np.ndarray:
    """A template render on white, at ``size`` pixels, as uint8 HWC."""
    return np.asarray(_composite_on(img, WHITE).resize((size, size), Image.LANCZOS))


def _composite_on(img: Image.Image, colour) -> Image.Image:
    bg = Image.new("RGB", img.size, colour)
    bg.paste(img, (0, 0), img)
    return bg
