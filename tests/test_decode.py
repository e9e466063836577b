"""The decoder shows every file as an image viewer does, or says why it cannot.

Every input is generated here with Pillow (or written byte by byte where Pillow has no
writer): each test states what the decoded pixels look like.
"""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms

from rarelab.data import UndecodableImage, _decode, decode_image, iter_decoded, load_images

RED, WHITE = (255, 0, 0), (255, 255, 255)
GRADIENT = np.tile(np.arange(256, dtype=np.uint8), (4, 1))  # 8-bit gray, 4 x 256


def _blocks(h=64, w=96, block=16, seed=0) -> np.ndarray:
    """An RGB pattern of flat blocks, asymmetric under every flip and rotation (JPEG keeps flat blocks)."""
    rng = np.random.default_rng(seed)
    colours = rng.integers(0, 256, (h // block, w // block, 3), dtype=np.uint8)
    return np.repeat(np.repeat(colours, block, axis=0), block, axis=1)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _write_png16(path, samples: np.ndarray) -> None:
    """16-bit PNG of gray (H, W), RGB (H, W, 3) or RGBA (H, W, 4) samples: Pillow writes only gray."""
    samples = np.asarray(samples, dtype=">u2")
    h, w = samples.shape[:2]
    colour_type = 0 if samples.ndim == 2 else {3: 2, 4: 6}[samples.shape[2]]
    raw = b"".join(b"\x00" + samples[y].tobytes() for y in range(h))
    header = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    body = _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(raw)) + _png_chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)


def _write_tiff(path, samples: np.ndarray) -> None:
    """Uncompressed one-strip TIFF of any sample type (H, W) or (H, W, C): Pillow writes few of them."""
    samples = np.ascontiguousarray(samples)
    samples = samples.astype(samples.dtype.newbyteorder("<"))
    h, w = samples.shape[:2]
    spp = 1 if samples.ndim == 2 else samples.shape[2]
    data = samples.tobytes()
    fmt = {"u": 1, "i": 2, "f": 3}[samples.dtype.kind]
    tags = [
        (256, 4, [w]),
        (257, 4, [h]),
        (258, 3, [8 * samples.dtype.itemsize] * spp),
        (259, 3, [1]),
        (262, 3, [1 if spp < 3 else 2]),
        (273, 4, [8]),
        (277, 3, [spp]),
        (278, 4, [h]),
        (279, 4, [len(data)]),
        (284, 3, [1]),
        (339, 3, [fmt] * spp),
    ] + ([(338, 3, [2])] if spp in (2, 4) else [])
    blobs, entries = b"", []
    for tag, typ, values in tags:
        payload = struct.pack("<" + ("H" if typ == 3 else "I") * len(values), *values)
        if len(payload) <= 4:
            entries.append(struct.pack("<HHI", tag, typ, len(values)) + payload.ljust(4, b"\x00"))
        else:
            entries.append(struct.pack("<HHII", tag, typ, len(values), 8 + len(data) + len(blobs)))
            blobs += payload
    pad = b"\x00" * ((8 + len(data) + len(blobs)) % 2)
    ifd = 8 + len(data) + len(blobs) + len(pad)
    ifd_bytes = struct.pack("<H", len(entries)) + b"".join(entries) + b"\x00" * 4
    path.write_bytes(b"II*\x00" + struct.pack("<I", ifd) + data + blobs + pad + ifd_bytes)


def _icc_profile(red_xyz, green_xyz, blue_xyz, gamma=2.2) -> bytes:
    """A minimal ICC v2 matrix/TRC RGB profile: three colorants and one gamma curve."""

    def s15(*values):
        return b"".join(struct.pack(">i", round(v * 65536)) for v in values)

    def pad(b):
        return b + b"\x00" * (-len(b) % 4)

    text = b"rarelab test profile\x00"
    desc = b"desc" + b"\x00" * 4 + struct.pack(">I", len(text)) + text + b"\x00" * (4 + 4 + 2 + 1 + 67)
    curve = b"curv" + b"\x00" * 4 + struct.pack(">IH", 1, round(gamma * 256))
    tags = [
        (b"desc", desc),
        (b"wtpt", b"XYZ " + b"\x00" * 4 + s15(0.9642, 1.0, 0.8249)),
        (b"rXYZ", b"XYZ " + b"\x00" * 4 + s15(*red_xyz)),
        (b"gXYZ", b"XYZ " + b"\x00" * 4 + s15(*green_xyz)),
        (b"bXYZ", b"XYZ " + b"\x00" * 4 + s15(*blue_xyz)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
        (b"cprt", b"text" + b"\x00" * 4 + b"none\x00"),
    ]
    offset, table, data = 128 + 4 + 12 * len(tags), b"", b""
    for sig, body in tags:
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += pad(body)
    size = offset + len(data)
    header = (
        struct.pack(">I", size)
        + b"lcms"
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + b"\x00" * 12
        + b"acsp"
        + b"\x00" * 24
        + struct.pack(">I", 0)
        + s15(0.9642, 1.0, 0.8249)
        + b"\x00" * 48
    )
    return header + struct.pack(">I", len(tags)) + table + data


SRGB_RED, SRGB_GREEN, SRGB_BLUE = (0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141)
SWAPPED = _icc_profile(SRGB_BLUE, SRGB_GREEN, SRGB_RED)  # the file's red is sRGB blue and vice versa


def _old_decoder(path, size):
    """The decoder before orientation, bit depth, transparency and ICC were handled."""
    with Image.open(path) as img:
        if size is not None and img.format == "JPEG":
            img.draft("RGB", (size, size))
        img = img.convert("RGB")
        if size is not None and img.size != (size, size):
            img = img.resize((size, size), Image.BILINEAR)
        return np.asarray(img, dtype=np.uint8).copy()


# --- ordinary files: unchanged -------------------------------------------------------------


@pytest.mark.parametrize("name", ["rgb.png", "gray.png", "photo.jpg", "small.jpg", "rgb.webp", "rgb.bmp"])
@pytest.mark.parametrize("size", [None, 24])
def test_ordinary_files_decode_as_before(tmp_path, name, size):
    pattern = _blocks(256, 192) if name == "photo.jpg" else _blocks()
    img = Image.fromarray(pattern).convert("L") if name.startswith("gray") else Image.fromarray(pattern)
    img.save(tmp_path / name)
    got = decode_image(tmp_path / name, size)
    assert got.dtype == np.uint8 and got.shape == ((size, size, 3) if size else (*pattern.shape[:2], 3))
    np.testing.assert_array_equal(got, _old_decoder(tmp_path / name, size))


# --- orientation ---------------------------------------------------------------------------

# Orientation tag -> how the camera stored the upright picture (the inverse of the viewer's transpose)
_STORED = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def _save_oriented(path, upright: np.ndarray, orientation: int, **kw) -> None:
    img = Image.fromarray(upright)
    if _STORED[orientation] is not None:
        img = img.transpose(_STORED[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.save(path, exif=exif, **kw)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("size", [None, 32])  # 32: the JPEG is decoded at 1/4 scale first
def test_every_exif_orientation_of_a_jpeg_decodes_upright(tmp_path, orientation, size):
    upright = _blocks(256, 192)
    Image.fromarray(upright).save(tmp_path / "upright.jpg", quality=95)
    _save_oriented(tmp_path / "tagged.jpg", upright, orientation, quality=95)
    want = decode_image(tmp_path / "upright.jpg", size).astype(int)
    got = decode_image(tmp_path / "tagged.jpg", size).astype(int)
    assert got.shape == want.shape
    assert np.abs(got - want).mean() < 3  # JPEG noise; the wrong way round differs by ~80


@pytest.mark.parametrize("ext", ["png", "tif", "webp"])
def test_orientation_of_other_formats_is_applied(tmp_path, ext):
    upright = _blocks()
    _save_oriented(tmp_path / f"tagged.{ext}", upright, 6, **({"lossless": True} if ext == "webp" else {}))
    np.testing.assert_array_equal(decode_image(tmp_path / f"tagged.{ext}", None), upright)


# --- high bit depths -----------------------------------------------------------------------


def _save_gray(path, kind):
    g16 = GRADIENT.astype(np.uint16) * 257
    if kind == "png16":
        Image.fromarray(g16).save(path)  # the file: mode I;16
    elif kind == "tif16":
        Image.fromarray(g16).save(path)
    elif kind == "tif16b":
        Image.frombytes("I;16B", g16.shape[::-1], g16.astype(">u2").tobytes()).save(path)
    elif kind == "tif32":
        Image.fromarray(g16.astype(np.int32)).save(path)  # mode I
    elif kind == "tif32u":
        _write_tiff(path, g16.astype(np.uint32))
    elif kind == "float":
        Image.fromarray(GRADIENT.astype(np.float32) / 255).save(path)  # mode F, 0..1


@pytest.mark.parametrize(
    ("kind", "ext", "mode"),
    [
        ("png16", "png", "I;16"),
        ("tif16", "tif", "I;16"),
        ("tif16b", "tif", "I;16B"),
        ("tif32", "tif", "I"),
        ("tif32u", "tif", "I"),
        ("float", "tif", "F"),
    ],
)
def test_high_bit_depth_gray_decodes_to_the_8bit_gradient(tmp_path, kind, ext, mode):
    path = tmp_path / f"gray.{ext}"
    _save_gray(path, kind)
    with Image.open(path) as img:
        assert img.mode == mode
    got = decode_image(path, None)
    np.testing.assert_array_equal(got, np.repeat(GRADIENT[..., None], 3, axis=2))


@pytest.mark.parametrize("ext", ["png", "tif"])
def test_16bit_rgb_keeps_its_colours(tmp_path, ext):
    rgb = _blocks()
    (_write_png16 if ext == "png" else _write_tiff)(tmp_path / f"rgb16.{ext}", rgb.astype(np.uint16) * 257)
    np.testing.assert_array_equal(decode_image(tmp_path / f"rgb16.{ext}", None), rgb)


@pytest.mark.parametrize("ext", ["png", "tif"])
def test_16bit_rgba_transparency_shows_white(tmp_path, ext):
    rgba = np.zeros((8, 8, 4), np.uint16)
    rgba[..., 0] = 65535  # red everywhere, hidden on the left half
    rgba[:, 4:, 3] = 65535
    (_write_png16 if ext == "png" else _write_tiff)(tmp_path / f"rgba16.{ext}", rgba)
    got = decode_image(tmp_path / f"rgba16.{ext}", None)
    assert (got[:, :4] == WHITE).all() and (got[:, 4:] == RED).all()


# --- transparency and other modes ----------------------------------------------------------


@pytest.mark.parametrize(("mode", "colour", "shown"), [("RGBA", RED, RED), ("LA", (80,), (80, 80, 80))])
def test_alpha_is_composited_on_white(tmp_path, mode, colour, shown):
    arr = np.zeros((8, 8, len(mode)), np.uint8)
    arr[..., :-1] = colour  # everywhere, hidden on the left half
    arr[:, 4:, -1] = 255
    Image.fromarray(arr, mode).save(tmp_path / "a.png")
    got = decode_image(tmp_path / "a.png", None)
    assert (got[:, :4] == WHITE).all() and (got[:, 4:] == shown).all()


def test_half_transparent_red_is_pink(tmp_path):
    Image.new("RGBA", (4, 4), (255, 0, 0, 128)).save(tmp_path / "pink.png")
    np.testing.assert_allclose(decode_image(tmp_path / "pink.png", None), np.full((4, 4, 3), (255, 127, 127)), atol=1)


def _palette_image():
    img = Image.new("P", (8, 8), 0)
    img.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)  # 0 red, 1 blue
    img.paste(1, (4, 0, 8, 8))
    return img


@pytest.mark.parametrize("ext", ["png", "gif"])
def test_palette_transparency_shows_white(tmp_path, ext):
    _palette_image().save(tmp_path / f"p.{ext}", transparency=0)
    got = decode_image(tmp_path / f"p.{ext}", None)
    assert (got[:, :4] == WHITE).all() and (got[:, 4:] == (0, 0, 255)).all()


def test_palette_without_transparency_keeps_its_colours(tmp_path):
    _palette_image().save(tmp_path / "p.png")
    got = decode_image(tmp_path / "p.png", None)
    assert (got[:, :4] == RED).all() and (got[:, 4:] == (0, 0, 255)).all()


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_colour_key_transparency_shows_white(tmp_path, mode):
    img = Image.new(mode, (8, 8), 0)
    img.paste(100 if mode == "L" else (0, 100, 0), (4, 0, 8, 8))
    img.save(tmp_path / "key.png", transparency=0 if mode == "L" else (0, 0, 0))
    got = decode_image(tmp_path / "key.png", None)
    assert (got[:, :4] == WHITE).all() and (got[:, 4:] == ((100,) * 3 if mode == "L" else (0, 100, 0))).all()


@pytest.mark.parametrize(
    ("mode", "fill", "want"),
    [
        ("PA", None, WHITE),  # palette + alpha: hidden red
        ("La", (0, 0), WHITE),
        ("RGBa", (0, 0, 0, 0), WHITE),
        ("RGBX", (1, 2, 3, 0), (1, 2, 3)),
        ("HSV", (0, 255, 255), RED),
    ],
)
def test_modes_only_pillow_makes_decode_as_they_look(mode, fill, want):
    if mode == "PA":
        img = _palette_image().convert("PA")
        img.putalpha(0)
    else:
        img = Image.new(mode, (4, 4), fill)
    got = np.asarray(_decode._to_rgb(img))
    assert (got == want).all()


def test_bilevel_decodes_black_and_white(tmp_path):
    img = Image.new("1", (8, 8), 0)
    img.paste(1, (4, 0, 8, 8))
    img.save(tmp_path / "b.png")
    got = decode_image(tmp_path / "b.png", None)
    assert (got[:, :4] == 0).all() and (got[:, 4:] == 255).all()


def test_cmyk_jpeg_with_adobe_inverted_data_is_red(tmp_path):
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(tmp_path / "c.jpg", quality=95)
    with Image.open(tmp_path / "c.jpg") as img:
        assert img.mode == "CMYK" and "adobe" in img.info  # Pillow stores inverted CMYK with an Adobe marker
    np.testing.assert_allclose(decode_image(tmp_path / "c.jpg", 8), np.full((8, 8, 3), RED), atol=3)


@pytest.mark.parametrize("mode", ["CMYK", "YCbCr", "LAB"])
def test_other_colour_spaces_in_tiff_look_like_the_rgb_they_came_from(tmp_path, mode):
    rgb = _blocks() // 2 + 64  # muted: 8-bit Lab rounds saturated colours by up to 17 levels
    if mode == "LAB":
        to_lab = ImageCms.buildTransform(ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), "RGB", "LAB")
        img = ImageCms.applyTransform(Image.fromarray(rgb), to_lab)
    else:  # CMYK: Pillow's plain conversion, what a viewer without a CMYK profile shows
        img = Image.fromarray(rgb).convert(mode)
    img.save(tmp_path / "x.tif")
    with Image.open(tmp_path / "x.tif") as back:
        assert back.mode == mode
    diff = np.abs(decode_image(tmp_path / "x.tif", None).astype(int) - rgb)
    assert diff.max() <= 3


# --- ICC profiles ---------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["png", "jpg", "tif"])
def test_icc_profile_is_converted_to_srgb(tmp_path, ext):
    arr = np.zeros((16, 16, 3), np.uint8)
    arr[:, :8] = RED  # in the file's colour space: sRGB blue
    arr[:, 8:] = (0, 0, 255)  # sRGB red
    Image.fromarray(arr).save(tmp_path / f"icc.{ext}", icc_profile=SWAPPED, **({"quality": 95} if ext == "jpg" else {}))
    got = decode_image(tmp_path / f"icc.{ext}", None).astype(int)
    assert np.abs(got[:, :6] - (0, 0, 255)).max() <= 12 and np.abs(got[:, 10:] - RED).max() <= 12


def test_transforms_are_cached_by_profile_bytes(tmp_path):
    Image.fromarray(_blocks()).save(tmp_path / "a.png", icc_profile=SWAPPED)
    Image.fromarray(_blocks(seed=1)).save(tmp_path / "b.png", icc_profile=SWAPPED)
    decode_image(tmp_path / "a.png", None)
    before = _decode._transform.cache_info()
    decode_image(tmp_path / "b.png", None)
    after = _decode._transform.cache_info()
    assert after.hits == before.hits + 1 and after.misses == before.misses


@pytest.mark.parametrize(
    ("mode", "profile"),
    [("RGB", b"not a profile at all"), ("RGB", SWAPPED[:200]), ("L", SWAPPED)],  # broken, cut, wrong colour space
)
def test_an_unusable_profile_is_ignored_as_viewers_do(tmp_path, mode, profile):
    img = Image.fromarray(_blocks()).convert(mode)
    img.save(tmp_path / "bad.png", icc_profile=profile)
    np.testing.assert_array_equal(decode_image(tmp_path / "bad.png", None), np.asarray(img.convert("RGB")))


# --- multi-frame files ---------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["gif", "tif", "png", "webp"])
def test_first_frame_of_an_animation_or_multi_page_file(tmp_path, ext):
    frames = [Image.new("RGB", (8, 8), c) for c in (RED, (0, 0, 255), (0, 255, 0))]
    kw = {"lossless": True} if ext == "webp" else {}
    frames[0].save(tmp_path / f"anim.{ext}", save_all=True, append_images=frames[1:], **kw)
    with Image.open(tmp_path / f"anim.{ext}") as img:
        assert getattr(img, "n_frames", 1) == 3
    assert (decode_image(tmp_path / f"anim.{ext}", 4) == RED).all()


# --- what cannot be shown: a reason, and a failure in the batch iterators ------------------


def _bomb(path):
    """A PNG header claiming 20000 x 20000 pixels (400 M, over twice Pillow's limit)."""
    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IEND", b""))


def _truncated(path, fmt):
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path, fmt)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


UNSHOWABLE = {
    "empty.png": (lambda p: p.write_bytes(b""), "empty file"),
    "text.png": (lambda p: p.write_text("hello, I am not a picture\n"), "not an image"),
    "truncated.png": (lambda p: _truncated(p, "PNG"), "truncated or corrupt PNG"),
    "truncated.jpg": (lambda p: _truncated(p, "JPEG"), "truncated or corrupt JPEG"),
    "bomb.png": (_bomb, "decompression bomb"),
    "int32.tif": (lambda p: Image.fromarray(np.full((4, 4), 70000, np.int32)).save(p), "outside 0..65535"),
    "negative.tif": (lambda p: Image.fromarray(np.full((4, 4), -5, np.int32)).save(p), "outside 0..65535"),
    "hdr.tif": (lambda p: Image.fromarray(np.full((4, 4), 3.5, np.float32)).save(p), "only 0..1"),
    "nan.tif": (lambda p: Image.fromarray(np.full((4, 4), np.nan, np.float32)).save(p), "only 0..1"),
    "float64.tif": (lambda p: _write_tiff(p, np.zeros((4, 4), np.float64)), "TIFF file in a variant"),
    "rgbfloat.tif": (lambda p: _write_tiff(p, np.zeros((4, 4, 3), np.float32)), "TIFF file in a variant"),
    "gray16alpha.tif": (lambda p: _write_tiff(p, np.zeros((4, 4, 2), np.uint16)), "TIFF file in a variant"),
}


@pytest.mark.parametrize("name", sorted(UNSHOWABLE))
def test_unshowable_files_raise_with_a_reason(tmp_path, name):
    make, reason = UNSHOWABLE[name]
    make(tmp_path / name)
    with pytest.raises(UndecodableImage, match=reason):
        decode_image(tmp_path / name, 32)


def test_unshowable_files_are_failures_of_the_batch_iterators(tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(_blocks()).save(good)
    bad = []
    for name, (make, _) in sorted(UNSHOWABLE.items()):
        make(tmp_path / name)
        bad.append(tmp_path / name)
    paths = [good, *bad, good]
    (idx, images, failed), *rest = list(iter_decoded(paths, 16, batch_size=len(paths)))
    assert not rest and idx.tolist() == [0, len(paths) - 1] and images.shape == (2, 16, 16, 3)
    assert [i for i, _ in failed] == list(range(1, len(paths) - 1))
    assert all(err.startswith("UndecodableImage: ") for _, err in failed)
    grey, failures = load_images(paths, 16, fill=127)
    assert (grey[1 : len(paths) - 1] == 127).all() and len(failures) == len(bad)


def test_a_missing_file_is_an_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        decode_image(tmp_path / "gone.png", 8)


# --- end to end: a search over a pool with such files -------------------------------------


@pytest.mark.slow
def test_a_search_sees_what_a_viewer_shows(tmp_path, capsys):
    """(a) a 16-bit gray PNG has its 8-bit twin's features, (b) an EXIF-rotated JPEG gets its
    upright twin's predictions, (c) an unshowable file is listed with its reason, not pooled."""
    import csv

    from rarelab.cli import main
    from rarelab.data import FileKey, write_demo_folders
    from rarelab.features import FeatureStore
    from rarelab.search import init_search

    demo = write_demo_folders(tmp_path / "demo", n_pool=30, n_seed=4, random_state=3)
    source = np.asarray(Image.open(sorted(demo.pool.glob("*.png"))[0]).convert("RGB"))
    gray = np.asarray(Image.fromarray(source).convert("L"))
    Image.fromarray(gray).save(demo.pool / "gray8.png")
    Image.fromarray(gray.astype(np.uint16) * 257).save(demo.pool / "gray16.png")
    photo = np.asarray(Image.fromarray(source).resize((96, 64), Image.BILINEAR))
    Image.fromarray(photo).save(demo.pool / "upright.jpg", quality=95)
    _save_oriented(demo.pool / "rotated.jpg", photo, 6, quality=95)
    Image.fromarray(np.full((8, 8), 200.0, np.float32)).save(demo.pool / "float255.tif")  # 0..255 in a float

    store = tmp_path / "store"
    search = init_search(
        tmp_path / "run",
        labeled=demo.labeled,
        pool=demo.pool,
        rare=demo.rare,
        rare_examples=[str(demo.rare_example)],
        feature_store=str(store),
        input_size=32,
        epochs=2,
        per_class=3,
        num_workers=0,  # worker processes take longer to start than these few files to decode
        progress=False,
    )
    paths = [str(p) for p in search.dataset.paths]

    fs = FeatureStore(store, input_size=32, tune_blocks=4)  # the default learner's trunk activations
    chunk, row = fs.lookup([FileKey.of(demo.pool / n) for n in ("gray8.png", "gray16.png")])
    assert (chunk >= 0).all()
    twins = fs.read(chunk, row)
    np.testing.assert_array_equal(twins[0], twins[1])

    with open(tmp_path / "run" / "failed_files.csv", newline="") as fh:
        failed = {r["path"]: r for r in csv.DictReader(fh)}
    bad = str(demo.pool / "float255.tif")
    assert failed[bad]["error"].startswith("UndecodableImage: floating-point image with values from 200 to 200")
    assert int(failed[bad]["item_id"]) not in set(search.pool_ids_.tolist())
    assert {paths.index(str(demo.pool / n)) for n in ("gray16.png", "rotated.jpg")} <= set(search.pool_ids_.tolist())

    search.train().propose()
    search.close()
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "run"), str(demo.pool / "upright.jpg"), str(demo.pool / "rotated.jpg")]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    p = np.array([[float(v) for k, v in r.items() if k.startswith("p_")] for r in rows])
    assert len(rows) == 2 and rows[0]["predicted"] == rows[1]["predicted"]
    np.testing.assert_allclose(p[0], p[1], rtol=0.02)  # 0.1758 vs 0.1754; 0.166 decoded sideways
