"""Partial fine-tuning: the trunk/tail split, the activation cache, the learner's contract."""

import json
import sys

import numpy as np
import pytest
import torch

from rarelab import PartialFineTune, create_simulation, get_learner, open_simulation
from rarelab.exceptions import InvalidParameterError
from rarelab.features import ActivationCache, augment_view, get_backbone, split_backbone


def _partial(ds, **kw):
    # The last block only, at 32 px: the contract at a test's cost.
    params = {"dataset": ds, "input_size": 32, "tune_blocks": 1, "views": 1, "epochs": 2}
    params.update(random_state=0, progress=False)
    return PartialFineTune(**{**params, **kw})


@pytest.mark.parametrize("tune_blocks", [1, 5, 16])
def test_trunk_then_tail_is_the_backbone(tune_blocks):
    model = get_backbone("efficientnet_lite0", 3, input_size=64).eval()
    trunk, tail = split_backbone(model, tune_blocks)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(tail(trunk(x)), model.embed(x), atol=1e-5)


def test_resnet_split_matches_too():
    model = get_backbone("resnet18", 3, weights=None, input_size=64).eval()
    trunk, tail = split_backbone(model, 2)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(tail(trunk(x)), model.embed(x), atol=1e-5)


def test_split_rejects_what_it_cannot_split():
    with pytest.raises(InvalidParameterError, match="tune_blocks"):
        split_backbone(get_backbone("efficientnet_lite0", 3), 17)
    with pytest.raises(InvalidParameterError, match="FineTune"):
        split_backbone(get_backbone("small_cnn", 3), 1)


def test_augmented_views_shift_and_brighten_but_keep_the_image():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    a = augment_view(images, torch.Generator().manual_seed(1))
    b = augment_view(images, torch.Generator().manual_seed(1))
    c = augment_view(images, torch.Generator().manual_seed(2))
    assert a.shape == images.shape and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert not np.array_equal(a, images)
    # Without brightness jitter a view only moves pixels: every value comes from its own image.
    moved = augment_view(images, torch.Generator().manual_seed(1), brightness=0.0)
    for view, image in zip(moved, images):
        assert set(map(tuple, view.reshape(-1, 3))) <= set(map(tuple, image.reshape(-1, 3)))


def test_partial_learner_contract(tiny_signs):
    ids = np.arange(600)
    learner = _partial(tiny_signs).fit(ids, tiny_signs.targets[ids])
    p = learner.predict_proba(np.arange(600, 700))
    assert p.shape == (100, len(tiny_signs.classes)) and np.allclose(p.sum(axis=1), 1)
    assert learner.embed([0, 1]).shape == (2, 1280)
    assert learner.loss_history_[-1] < learner.loss_history_[0]
    # New images go through the same trunk, tail and head as the cached ones.
    assert np.allclose(learner.predict_proba_images(tiny_signs.images[600:610]), p[:10], atol=1e-5)


def test_partial_learner_is_deterministic_and_saves_exactly(tiny_signs, tmp_path):
    ids = np.arange(400)
    a = _partial(tiny_signs).fit(ids, tiny_signs.targets[ids])
    b = _partial(tiny_signs).fit(ids, tiny_signs.targets[ids])
    assert np.array_equal(a.predict_proba([500, 501, 502]), b.predict_proba([500, 501, 502]))
    a.save(tmp_path / "model.pt")
    c = _partial(tiny_signs).load(tmp_path / "model.pt")
    assert np.array_equal(a.predict_proba([500, 501, 502]), c.predict_proba([500, 501, 502]))
    with pytest.raises(InvalidParameterError, match="tune_blocks"):
        _partial(tiny_signs, tune_blocks=2).load(tmp_path / "model.pt")


def test_tuning_more_blocks_trains_them(tiny_signs):
    learner = _partial(tiny_signs, tune_blocks=3, epochs=1).fit(np.arange(200), tiny_signs.targets[:200])
    fresh = get_backbone("efficientnet_lite0", 1, input_size=32)
    tuned, imagenet = learner.model_.features.net._blocks, fresh.features.net._blocks
    changed = [
        not torch.equal(a.state_dict()["_project_conv.weight"], b.state_dict()["_project_conv.weight"])
        for a, b in zip(tuned, imagenet)
    ]
    assert changed == [False] * 13 + [True] * 3


def test_views_change_training_and_warm_start_keeps_the_model(tiny_signs):
    ids = np.arange(300)
    plain = _partial(tiny_signs, views=0).fit(ids, tiny_signs.targets[ids]).predict_proba([400])
    viewed = _partial(tiny_signs, views=1).fit(ids, tiny_signs.targets[ids]).predict_proba([400])
    assert not np.allclose(plain, viewed)
    warm = _partial(tiny_signs, warm_start=True).fit(ids, tiny_signs.targets[ids])
    model = warm.model_
    warm.fit(np.arange(350), tiny_signs.targets[:350])
    assert warm.model_ is model


def test_activation_cache_resumes_after_a_kill(tiny_signs, tmp_path, monkeypatch):
    kw = dict(backbone="efficientnet_lite0", input_size=32, tune_blocks=1, block=256, progress=False)
    full = ActivationCache(tiny_signs, root=tmp_path / "whole", **kw).view(1)
    calls = []
    original = type(tiny_signs).load_images

    def dying(self, ids, size=None):
        calls.append(len(ids))
        if len(calls) == 3:
            raise KeyboardInterrupt  # killed while extracting the third block
        return original(self, ids, size)

    monkeypatch.setattr(type(tiny_signs), "load_images", dying)
    with pytest.raises(KeyboardInterrupt):
        ActivationCache(tiny_signs, root=tmp_path / "part", **kw).view(1)
    state = json.loads((tmp_path / "part" / "view1.progress.json").read_text())
    assert state["rows"] == 512  # two blocks reached the disk
    monkeypatch.setattr(type(tiny_signs), "load_images", original)
    resumed = ActivationCache(tiny_signs, root=tmp_path / "part", **kw).view(1)
    assert np.array_equal(np.asarray(resumed), np.asarray(full))
    assert not (tmp_path / "part" / "view1.progress.json").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="no flock on Windows")
def test_a_second_process_waits_for_the_cache_it_shares(tiny_signs, tmp_path, monkeypatch):
    import threading

    from rarelab.data import ArrayDataset
    from rarelab.utils import exclusive

    small = ArrayDataset(tiny_signs.images[:64], tiny_signs.targets[:64], tiny_signs.classes)
    kw = dict(backbone="efficientnet_lite0", input_size=32, tune_blocks=1, progress=False)
    calls = []
    original = ArrayDataset.load_images
    monkeypatch.setattr(ArrayDataset, "load_images", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    other = ActivationCache(small, root=tmp_path, **kw)
    with exclusive(tmp_path / "view0.lock"):  # another kernel is filling view 0
        filler = threading.Thread(target=other.view, args=(0,))
        filler.start()
        filler.join(timeout=3)
        assert filler.is_alive() and not calls  # it waits instead of writing beside the other
        # The other kernel finishes the view meanwhile.
        ActivationCache(small, root=tmp_path, **kw)._fill_locked(
            0, tmp_path / "view0.npy", tmp_path / "view0.progress.json"
        )
    filler.join(timeout=60)
    assert not filler.is_alive()
    assert len(calls) == 1  # the waiting one found the view complete and computed nothing
    assert other.view(0).shape[0] == 64


def test_templates_share_their_datasets_activation_cache(tiny_signs, tmp_path, monkeypatch):
    from rarelab.data import ArrayDataset

    monkeypatch.setenv("RARELAB_CACHE_DIR", str(tmp_path))
    kw = dict(backbone="efficientnet_lite0", input_size=32, tune_blocks=1, block=512, progress=False)
    base = ActivationCache(tiny_signs, **kw)
    grown_ds, ids = tiny_signs.with_templates([4, 7])
    grown = ActivationCache(grown_ds, **kw)
    assert grown.dir == base.dir  # a synthetic start caches nothing again
    old = np.arange(len(tiny_signs))
    for v in (0, 1):
        assert grown.view(v).shape == (len(grown_ds), *base.view(v).shape[1:])
        assert np.array_equal(grown.view(v)[old], np.asarray(base.view(v)))
    assert [p.name for p in (tmp_path / "activations").iterdir()] == [base.dir.name]
    # The appended rows are the trunk's activations of the templates themselves.
    alone = ArrayDataset(grown_ds.images[-2:], [4, 7], tiny_signs.classes)
    expected = ActivationCache(alone, root=tmp_path / "alone", **kw).view(0)
    assert np.array_equal(grown.view(0)[[ids[4], ids[7]]], np.asarray(expected))
    # A learner trains on them like on any item.
    train = np.r_[np.arange(200), ids[4], ids[7]]
    p = _partial(grown_ds).fit(train, grown_ds.targets[train]).predict_proba([ids[4], 300])
    assert p.shape == (2, len(tiny_signs.classes))


def test_a_partial_run_resumes_exactly(tiny_config, tmp_path):
    config = lambda: tiny_config(learner="partial", tune_blocks=1, views=1, epochs=2)  # noqa: E731
    whole = create_simulation(config(), tmp_path / "whole", progress=False).simulate(2)
    part = create_simulation(config(), tmp_path / "part", progress=False).simulate(1)
    part.close()
    resumed = open_simulation(tmp_path / "part", progress=False).simulate(2)
    strip = lambda h: [{k: v for k, v in r.items() if k != "train_seconds"} for r in h]  # noqa: E731
    assert strip(resumed.history_) == strip(whole.history_)
    assert np.array_equal(
        resumed.learner.predict_proba(resumed.split.val), whole.learner.predict_proba(whole.split.val)
    )


def test_get_learner_refuses_parameters_a_learner_does_not_take(tiny_signs):
    linear = get_learner("linear", dataset=tiny_signs, hidden=8, epochs=None)
    assert linear.hidden == 8 and linear.epochs == 20 and not hasattr(linear, "views")
    partial = get_learner("partial", dataset=tiny_signs, views=3, tune_blocks=2)
    assert (partial.views, partial.tune_blocks, partial.epochs) == (3, 2, 6)
    # A setting of another learner is named, not dropped.
    with pytest.raises(InvalidParameterError, match=r"does not take: \['views'\]"):
        get_learner("linear", dataset=tiny_signs, hidden=8, views=3)
    with pytest.raises(InvalidParameterError, match="hidden"):
        get_learner("partial", dataset=tiny_signs, hidden=8)
    with pytest.raises(InvalidParameterError, match="linear"):
        get_learner("frozen", dataset=tiny_signs)


def test_a_simulation_passes_each_learner_its_own_settings_and_refuses_others(tiny_signs):
    from rarelab import SimulationConfig, build_simulation

    cfg = SimulationConfig(rare_classes="rarest:2", pool_cap=5, per_class=2, learner="linear", hidden=8)
    with build_simulation(cfg, dataset=tiny_signs, progress=False) as sim:
        assert sim.learner.hidden == 8 and not hasattr(sim.learner, "views")
    # A setting only another learner takes, changed from its default, would be ignored: refused.
    with pytest.raises(InvalidParameterError, match=r"does not take \['views'\].*partial"):
        SimulationConfig(learner="linear", views=3).validate()


def test_bad_partial_settings_are_clear_errors(tiny_signs):
    with pytest.raises(InvalidParameterError, match="views"):
        _partial(tiny_signs, views=-1).fit([0, 1], [0, 1])
    with pytest.raises(InvalidParameterError, match="weight_decay"):
        _partial(tiny_signs, weight_decay=-0.1).fit([0, 1], [0, 1])
    with pytest.raises(InvalidParameterError, match="ids"):
        _partial(tiny_signs).fit([len(tiny_signs)], [0])


def test_partial_learner_on_image_files(tmp_path):
    from PIL import Image

    from rarelab import image_folder

    rng = np.random.default_rng(0)
    for cls, colour in (("red", (200, 30, 30)), ("blue", (30, 30, 200))):
        (tmp_path / cls).mkdir()
        for k in range(6):
            pixels = np.clip(np.array(colour) + rng.integers(-30, 30, (20, 20, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / cls / f"{k}.png")
    ds = image_folder(tmp_path, image_size=32, progress=False)
    learner = _partial(ds, epochs=3).fit(np.arange(len(ds)), ds.targets)
    p = learner.predict_proba(np.arange(len(ds)))
    assert p.shape == (12, 2) and np.allclose(p.sum(axis=1), 1)
    # The cache is keyed by the files: a changed file is a new cache.
    key = learner.cache_.dir.name
    (tmp_path / "red" / "0.png").write_bytes((tmp_path / "red" / "1.png").read_bytes() + b"\0")
    assert _partial(image_folder(tmp_path, image_size=32, progress=False)).cache_.dir.name != key


def test_every_learner_takes_weight_decay(tiny_signs):
    for name in ("linear", "partial", "finetune"):
        assert get_learner(name, dataset=tiny_signs, weight_decay=0.01).weight_decay == 0.01
