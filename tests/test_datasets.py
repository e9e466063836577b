"""One template test run against every dataset loader, on data the tests make themselves."""

import numpy as np
import pytest
from PIL import Image

from rarelab import digits, gtsrb, image_folder, synth_signs
from rarelab.data import GTSRB_CLASSES, get_dataset
from rarelab.exceptions import DataUnavailableError, InvalidParameterError

from .conftest import SHARED_DATA


def _fake_gtsrb_npz(path, n=60, size=32):
    rng = np.random.default_rng(0)
    np.savez(
        path,
        Xtr=rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8),
        ytr=rng.integers(0, 43, n),
        Xte=rng.integers(0, 255, (n // 2, size, size, 3), dtype=np.uint8),
        yte=rng.integers(0, 43, n // 2),
    )
    return path


def _fake_gtsrb_layout(root, classes=(0, 14), per_class=4):
    rng = np.random.default_rng(1)
    base = root / "GTSRB" / "Final_Training" / "Images"
    for c in classes:
        d = base / f"{c:05d}"
        d.mkdir(parents=True)
        lines = ["Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"]
        for k in range(per_class):
            name = f"00000_{k:05d}.ppm"
            Image.fromarray(rng.integers(0, 255, (40, 37, 3), dtype=np.uint8)).save(d / name)
            lines.append(f"{name};37;40;5;5;30;30;{c}")
        (d / f"GT-{c:05d}.csv").write_text("\n".join(lines))
    return root


def _fake_image_folder(root):
    rng = np.random.default_rng(2)
    for cls, n in (("cats", 3), ("dogs", 2)):
        (root / cls).mkdir(parents=True)
        for k in range(n):
            Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(root / cls / f"{k}.png")
    return root


LOADERS = {
    "synth_signs": lambda tmp: synth_signs(n_samples=300, image_size=32, progress=False),
    "gtsrb_npz": lambda tmp: gtsrb(_fake_gtsrb_npz(tmp / "g.npz")),
    "gtsrb_layout": lambda tmp: gtsrb(_fake_gtsrb_layout(tmp), progress=False),
    "digits": lambda tmp: digits(),
    "image_folder": lambda tmp: image_folder(_fake_image_folder(tmp / "imgs"), image_size=24, progress=False),
}


@pytest.mark.parametrize("name", sorted(LOADERS))
class TestDatasetTemplate:
    def test_items_follow_torchvision(self, name, tmp_path):
        ds = LOADERS[name](tmp_path)
        img, target = ds[0]
        assert isinstance(img, Image.Image) and img.mode == "RGB"
        assert isinstance(target, int) and target == ds.targets[0]
        assert len(ds) == len(ds.targets)
        assert ds.class_to_idx[ds.classes[target]] == target
        first = ds.load_images([0, len(ds) - 1])
        assert first.dtype == np.uint8 and first.shape[0] == 2 and first.shape[-1] == 3
        assert ds.load_images([0], 40).shape == (1, 40, 40, 3)

    def test_repr_is_informative(self, name, tmp_path):
        text = repr(LOADERS[name](tmp_path))
        assert "Number of datapoints" in text and "Classes" in text

    def test_transform_is_applied(self, name, tmp_path):
        ds = LOADERS[name](tmp_path)
        ds.transform = lambda im: np.asarray(im).shape
        assert ds[0][0] == ds.load_images([0])[0].shape


def test_synth_signs_is_deterministic_and_zipf_like():
    a = synth_signs(n_samples=2000, random_state=3, cache=False, progress=False)
    b = synth_signs(n_samples=2000, random_state=3, cache=False, progress=False)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.targets, b.targets)
    assert len(a.classes) >= 40
    counts = np.sort(a.class_counts())[::-1]
    assert counts[0] > 10 * counts[-1]  # a long tail of rare classes
    assert a.templates.shape == (len(a.classes), 32, 32, 3)


def test_synth_signs_cache_returns_the_same_pixels():
    first = synth_signs(n_samples=400, random_state=5, progress=False)
    again = synth_signs(n_samples=400, random_state=5, progress=False)
    assert np.array_equal(first.images, again.images)


def test_synth_signs_sizes():
    ds = synth_signs(n_samples=200, image_size=64, cache=False, progress=False)
    assert ds.images.shape[1:] == (64, 64, 3)
    with pytest.raises(InvalidParameterError, match="'image_size' parameter of synth_signs"):
        synth_signs(image_size=8)


def test_with_templates_appends_clean_renders():
    ds = synth_signs(n_samples=300, cache=False, progress=False)
    ext, ids = ds.with_templates([4, 7])
    assert len(ext) == len(ds) + 2 and ext.targets[ids[7]] == 7
    assert np.array_equal(ext.images[ids[4]], ds.templates[4])
    with pytest.raises(InvalidParameterError, match="templates"):
        digits().with_templates([1])


def test_gtsrb_reads_official_layout_with_resize(tmp_path):
    ds = gtsrb(_fake_gtsrb_layout(tmp_path), image_size=32, progress=False)
    assert ds.images.shape == (8, 32, 32, 3)
    assert sorted(set(ds.targets.tolist())) == [0, 14] and len(ds.classes) == 43


def test_gtsrb_errors_say_what_to_do(tmp_path):
    with pytest.raises(DataUnavailableError, match="download=True"):
        gtsrb(tmp_path)
    with pytest.raises(DataUnavailableError, match="does not exist"):
        gtsrb(tmp_path / "missing.npz")
    np.savez(tmp_path / "bad.npz", X=np.zeros(3))
    with pytest.raises(DataUnavailableError, match="lacks the arrays"):
        gtsrb(tmp_path / "bad.npz")
    with pytest.raises(InvalidParameterError, match="'split' parameter"):
        gtsrb(tmp_path / "bad.npz", split="validation")


def test_image_folder_stays_on_disk_and_names_unreadable_files(tmp_path):
    root = _fake_image_folder(tmp_path / "imgs")
    (root / "cats" / "broken.png").write_bytes(b"not a png")
    ds = image_folder(root, image_size=24, progress=False)  # lists files, decodes nothing
    assert not hasattr(ds, "images") and len(ds.paths) == 6
    broken = next(i for i, p in enumerate(ds.paths) if p.endswith("broken.png"))
    with pytest.raises(DataUnavailableError, match="broken.png"):
        ds[broken]
    assert ds.load_images([broken]).shape == (1, 24, 24, 3)  # a gallery shows a grey tile, not a crash


def test_image_folder_errors(tmp_path):
    with pytest.raises(DataUnavailableError, match="not a folder"):
        image_folder(tmp_path / "nope")
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(DataUnavailableError, match="No images"):
        image_folder(tmp_path / "empty")


def test_load_dataset_validates_names_and_root():
    with pytest.raises(InvalidParameterError, match="one of"):
        get_dataset("mnist")
    with pytest.raises(InvalidParameterError, match="--root"):
        get_dataset("gtsrb")


def test_array_dataset_rejects_bad_arrays():
    from rarelab import ArrayDataset

    with pytest.raises(InvalidParameterError, match="uint8"):
        ArrayDataset(np.zeros((2, 4, 4, 3)), [0, 1], ["a", "b"])
    with pytest.raises(InvalidParameterError, match="shape"):
        ArrayDataset(np.zeros((2, 4, 4), np.uint8), [0, 1], ["a", "b"])
    with pytest.raises(InvalidParameterError, match="ids in"):
        ArrayDataset(np.zeros((2, 4, 4, 3), np.uint8), [0, 5], ["a", "b"])


@pytest.mark.skipif(not (SHARED_DATA / "gtsrb-layout-sample").is_dir(), reason="shared GTSRB sample not present")
def test_real_gtsrb_official_layout_sample():
    train = gtsrb(SHARED_DATA / "gtsrb-layout-sample", split="train", progress=False)
    assert len(train) == 60 and set(np.unique(train.targets).tolist()) == {0, 14, 33}
    ds = gtsrb(SHARED_DATA / "gtsrb-layout-sample", split="all", progress=False)
    assert len(ds) == 90
    assert ds.classes[14] == "stop" and len(GTSRB_CLASSES) == 43


@pytest.mark.skipif(not (SHARED_DATA / "gtsrb32_small.npz").is_file(), reason="shared GTSRB npz not present")
def test_real_gtsrb_npz():
    ds = gtsrb(SHARED_DATA / "gtsrb32_small.npz", split="test")
    assert len(ds) == 2580 and ds.images.shape[1:] == (32, 32, 3)


def test_folder_and_manifest_groups_reach_the_split(tmp_path):
    from rarelab import rare_class_split
    from rarelab.data import image_manifest

    rng = np.random.default_rng(0)
    rows = ["path,label,group"]
    for cls, bursts in (("common", 12), ("rare", 5)):
        for b in range(bursts):
            folder = tmp_path / "imgs" / cls / f"burst{b}"
            folder.mkdir(parents=True)
            for k in range(4):
                Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(folder / f"{k}.png")
                rows.append(f"imgs/{cls}/burst{b}/{k}.png,{cls},{cls}-{b}")
    ds = image_folder(tmp_path / "imgs", groups="subfolder", progress=False)
    assert len(np.unique(ds.groups)) == 17
    (tmp_path / "labels.csv").write_text("\n".join(rows))
    man = image_manifest(tmp_path / "labels.csv")
    assert man.classes == ["common", "rare"] and len(np.unique(man.groups)) == 17
    for d in (ds, man):
        s = rare_class_split(d.targets, [d.class_to_idx["rare"]], groups=d.groups, random_state=0)
        parts = {
            g: {p for p in ("train", "val", "pool") if np.isin(np.flatnonzero(d.groups == g), getattr(s, p)).any()}
            for g in np.unique(d.groups)
        }
        assert all(len(v) <= 1 for v in parts.values())


def test_gtsrb_templates_cover_the_classes_the_renderer_draws(tmp_path):
    ds = gtsrb(_fake_gtsrb_npz(tmp_path / "g.npz"), split="all")
    drawable = [GTSRB_CLASSES.index(n) for n in ("speed limit 20", "keep left", "bicycles crossing")]
    ext, ids = ds.with_templates(drawable)
    assert len(ext) == len(ds) + 3 and list(ext.targets[-3:]) == drawable
    # A clean render: the speed-limit template has the red ring, white inside and black digits.
    t = ext.images[ids[drawable[0]]]
    assert t[16, 1, 0] > 150 and t[16, 1, 1] < 100 and t[8, 16].min() > 200 and t[16, 12:20].min() < 90
    assert list(ext.official_split[-3:]) == ["template"] * 3
    with pytest.raises(InvalidParameterError, match="road narrows"):
        ds.with_templates([GTSRB_CLASSES.index("road narrows on the right")])
