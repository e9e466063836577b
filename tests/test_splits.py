import numpy as np
import pytest

from rarelab import rare_class_split, rarest_classes
from rarelab.exceptions import InvalidParameterError


@pytest.fixture
def targets():
    # Two common classes of 200, three rare ones of 80, 12 and 5 items.
    return np.repeat(np.arange(5), [200, 200, 80, 12, 5])


def test_counts_per_rare_class(targets):
    s = rare_class_split(targets, [2, 3, 4], random_state=0)
    for c, n in ((2, 80), (3, 12), (4, 5)):
        tr, va, po = (int(np.sum(targets[p] == c)) for p in (s.train, s.val, s.pool))
        assert tr == 1 and 2 <= va <= 3
        assert po == min(50, n - 1 - va)  # the rest, capped at 50


def test_common_classes_split_by_fractions(targets):
    s = rare_class_split(targets, [4], common_fractions=(0.5, 0.1, 0.4), random_state=0)
    for c in (0, 1, 2, 3):
        assert int(np.sum(targets[s.train] == c)) == int(round(0.5 * np.sum(targets == c)))


def test_parts_are_disjoint_and_sorted(targets):
    s = rare_class_split(targets, [2, 3, 4], random_state=1)
    allids = np.concatenate([s.train, s.val, s.pool])
    assert len(np.unique(allids)) == len(allids)
    assert all(np.all(np.diff(p) > 0) for p in (s.train, s.val, s.pool))


def test_template_start_replaces_the_real_training_sample(targets):
    t = len(targets)  # the appended item t is class 3's template
    ext = np.concatenate([targets, [3]])
    s = rare_class_split(ext, [3, 4], template_ids={3: t}, random_state=0)
    assert t in s.train and t not in s.pool and t not in s.val
    real_train_3 = [i for i in s.train if ext[i] == 3 and i != t]
    assert real_train_3 == []  # only the template trains class 3
    assert int(np.sum(ext[s.pool] == 3)) + int(np.sum(ext[s.val] == 3)) == 12
    assert s.synthetic == {3: t}


def test_same_seed_same_split(targets):
    a = rare_class_split(targets, [2, 3], random_state=7)
    b = rare_class_split(targets, [2, 3], random_state=7)
    c = rare_class_split(targets, [2, 3], random_state=8)
    assert np.array_equal(a.pool, b.pool) and not np.array_equal(a.pool, c.pool)


def test_table_lists_rare_classes(targets):
    s = rare_class_split(targets, [3, 4], random_state=0)
    text = s.table(targets, ["a", "b", "c", "d", "e"])
    assert "d" in text.splitlines()[2] and "total" in text


def test_rarest_classes(targets):
    assert rarest_classes(targets, 2) == [3, 4]


def test_errors_name_the_parameter(targets):
    with pytest.raises(InvalidParameterError, match="class 4 with 5 items"):
        rare_class_split(targets, [4], n_train=3)
    with pytest.raises(InvalidParameterError, match="'common_fractions'"):
        rare_class_split(targets, [4], common_fractions=(0.5, 0.5, 0.5))
    with pytest.raises(InvalidParameterError, match="'rare_classes'"):
        rare_class_split(targets, [])
    with pytest.raises(InvalidParameterError, match="'targets'"):
        rare_class_split(targets.astype(float), [4])
    with pytest.raises(InvalidParameterError, match="'template_ids'"):
        rare_class_split(targets, [4], template_ids={2: 0})
    with pytest.raises(InvalidParameterError, match="'template_ids'"):
        rare_class_split(targets, [4], template_ids={4: 10_000})


def _tracks(n_classes=6, tracks=(5, 8, 20, 20, 20, 20), length=30):
    targets, groups = [], []
    for c in range(n_classes):
        for t in range(tracks[c]):
            targets += [c] * length
            groups += [c * 1000 + t] * length
    return np.array(targets), np.array(groups)


@pytest.mark.parametrize("seed", range(5))
def test_a_group_never_crosses_parts(seed):
    y, g = _tracks()
    s = rare_class_split(y, [0, 1], groups=g, random_state=seed)
    part = {}
    for name in ("train", "val", "pool"):
        for i in getattr(s, name):
            assert part.setdefault(g[i], name) == name, f"group {g[i]} in {part[g[i]]} and {name}"
    for c in (0, 1):
        (item,) = s.train[y[s.train] == c]
        mates = np.flatnonzero(g == g[item])
        assert not np.isin(mates, np.r_[s.val, s.pool]).any()  # the training item's track is nowhere else
        val_groups = g[s.val[y[s.val] == c]]
        assert len(set(val_groups)) == len(val_groups)  # one frame per validation track
    assert len(set(g[s.pool[y[s.pool] == 1]])) >= 4  # the capped pool samples several of class 1's tracks


def test_groups_need_enough_tracks_for_every_part():
    y, g = _tracks(tracks=(2, 8, 20, 20, 20, 20))
    with pytest.raises(InvalidParameterError, match="groups"):
        rare_class_split(y, [0], groups=g, n_val=(2, 2), random_state=0)


def test_rare_training_item_from_one_split_the_rest_from_the_other():
    y, g = _tracks()
    official_train = np.arange(len(y)) % 2 == 0
    g = np.where(official_train, g, 10**6 + np.arange(len(y)))  # "test" items: singletons
    s = rare_class_split(y, [0, 1], groups=g, rare_train_from=official_train, random_state=0)
    rare_train = s.train[np.isin(y[s.train], [0, 1])]
    assert official_train[rare_train].all()
    rare_rest = np.r_[s.val, s.pool][np.isin(y[np.r_[s.val, s.pool]], [0, 1])]
    assert not official_train[rare_rest].any() and len(rare_rest)


def test_gtsrb_tracks_from_file_names_and_storage_order(tmp_path):
    from rarelab import gtsrb

    from .conftest import SHARED_DATA

    full = SHARED_DATA / "gtsrb32.npz"
    if not full.is_file():
        pytest.skip("the shared GTSRB copy is not present")
    ds = gtsrb(full, progress=False)
    assert len(np.unique(ds.groups)) == 1307  # 39,209 frames in tracks of 30 (one of 29)
    assert np.all(np.bincount(np.unique(ds.groups, return_inverse=True)[1]) <= 30)
