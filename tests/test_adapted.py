"""Adapted features: trunk activations in the feature store, the tail retrained as the rare
classes fill up, a linear head every round (the search's default learner)."""

import io
import sqlite3
import subprocess
import sys
import time
from contextlib import redirect_stderr

import numpy as np
import pytest

from rarelab import get_learner
from rarelab.cli import main
from rarelab.data import DECODER_VERSION, FileKey, list_images, write_demo_folders
from rarelab.exceptions import InvalidParameterError
from rarelab.features import FAILED, FeatureStore, FileFeatures
from rarelab.learners import AdaptedProbe
from rarelab.search import init_search, open_search


def _adapted(ds, **kw):
    params = dict(dataset=ds, input_size=32, tune_blocks=2, views=1, adapt_epochs=2, epochs=3)
    return AdaptedProbe(**{**params, "random_state": 0, "progress": False, **kw})


def test_adapted_learner_contract(tiny_signs):
    ids = np.arange(500)
    learner = _adapted(tiny_signs).fit(ids, tiny_signs.targets[ids])
    assert learner.adaptations_ == 1
    p = learner.predict_proba(np.arange(600, 700))
    assert p.shape == (100, len(tiny_signs.classes)) and np.allclose(p.sum(axis=1), 1)
    assert learner.embed([0, 1]).shape == (2, 1280)
    # New images go through the same trunk, tail and head as the stored rows.
    assert np.allclose(learner.predict_proba_images(tiny_signs.images[600:610]), p[:10], atol=2e-3)
    assert get_learner("adapted", dataset=tiny_signs, input_size=32).tune_blocks == 4


def test_the_tail_is_retrained_only_when_a_class_has_grown(tiny_signs):
    y = tiny_signs.targets
    counts = np.bincount(y)
    rare = int(np.argmin(counts))
    big = np.flatnonzero(counts >= 60)[:4]  # classes above the cap in both training sets
    rare_ids = np.flatnonzero(y == rare)
    learner = _adapted(tiny_signs, adapt_per_class=20)

    def training_set(n_common, n_rare):
        return np.concatenate([*(np.flatnonzero(y == c)[:n_common] for c in big), rare_ids[:n_rare]])

    ids = training_set(30, 1)
    learner.fit(ids, y[ids])
    tail = learner.tail_
    # More items of classes already at the cap change nothing; only the head is retrained.
    more = training_set(60, 1)
    assert not learner.needs_adapting(more, y[more])
    learner.fit(more, y[more])
    assert learner.tail_ is tail and learner.adaptations_ == 1
    # A rare class that doubled does.
    grown = training_set(60, 2)
    assert learner.needs_adapting(grown, y[grown])
    learner.fit(grown, y[grown])
    assert learner.tail_ is not tail and learner.adaptations_ == 2
    assert learner.adapted_counts_[rare] == 2


def test_adapted_learner_is_deterministic_and_saves_exactly(tiny_signs, tmp_path):
    ids = np.arange(400)
    a = _adapted(tiny_signs).fit(ids, tiny_signs.targets[ids])
    b = _adapted(tiny_signs).fit(ids, tiny_signs.targets[ids])
    assert np.array_equal(a.predict_proba([500, 501, 502]), b.predict_proba([500, 501, 502]))
    a.save(tmp_path / "model.pt")
    c = _adapted(tiny_signs).load(tmp_path / "model.pt")
    assert np.array_equal(a.predict_proba([500, 501, 502]), c.predict_proba([500, 501, 502]))
    with pytest.raises(InvalidParameterError, match="tune_blocks"):
        _adapted(tiny_signs, tune_blocks=3).load(tmp_path / "model.pt")
    with pytest.raises(InvalidParameterError, match="adapt_growth"):
        _adapted(tiny_signs, adapt_growth=1).fit(ids, tiny_signs.targets[ids])


def test_long_training_prints_one_line_per_epoch_in_a_log(tiny_signs):
    err = io.StringIO()  # stderr is a file, not a terminal: no bar redraws in place there
    with redirect_stderr(err):
        _adapted(tiny_signs, progress=True, adapt_epochs=3).fit(np.arange(300), tiny_signs.targets[:300])
    lines = [ln for ln in err.getvalue().splitlines() if ln.startswith("adapting the last 2 blocks: epoch")]
    assert [ln.split(",")[0] for ln in lines] == [f"adapting the last 2 blocks: epoch {e}/3" for e in (1, 2, 3)]


# -- the search's default: stored per file, resumable, incremental, the same from Ray ---------------


def _demo(tmp_path, **kw):
    return write_demo_folders(tmp_path / "demo", **{"n_pool": 300, "n_seed": 8, "random_state": 1, **kw})


def _init_args(demo, run, store):
    return [
        "search", "init", str(run), "--labeled", str(demo.labeled), "--pool", str(demo.pool),
        "--rare", demo.rare, "--rare-example", str(demo.rare_example), "--input-size", "32",
        "--per-class", "5", "--feature-store", str(store), "--quiet",
    ]  # fmt: skip


def test_init_stores_the_tail_and_the_next_process_continues_from_it(tmp_path):
    demo = _demo(tmp_path)
    run = tmp_path / "run"
    assert main(_init_args(demo, run, tmp_path / "store")) == 0
    assert (run / "adapted" / "tail.pt").exists() and len(list((run / "adapted").glob("features-*.npy"))) == 1
    search = open_search(run, progress=False)
    assert isinstance(search.learner, AdaptedProbe)
    assert not search.learner.needs_adapting(search.split.train, search.split.train_labels)
    search.train()
    assert getattr(search.learner, "adaptations_", 0) == 0  # the first round reused init's tail
    cand = search.propose()
    assert len(cand.ids) == 5 and set(cand.ids) <= set(search.pool_ids_)


_KILLED_INIT = """
import sys
from rarelab.features import FeatureStore
FeatureStore.__init__.__kwdefaults__["chunk_size"] = 40  # many chunks in a test-sized pool
from rarelab.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _committed(index):
    try:
        return (
            sqlite3.connect(index)
            .execute("SELECT COALESCE(SUM(n_rows), 0) FROM chunks WHERE committed=1")
            .fetchone()[0]
        )
    except sqlite3.OperationalError:
        return 0


def test_a_killed_init_resumes_its_caching_and_redoes_no_committed_chunk(tmp_path):
    demo = _demo(tmp_path, n_pool=600)
    run, store = tmp_path / "run", tmp_path / "store"
    args = _init_args(demo, run, store)
    key = f"efficientnet_lite0-DEFAULT-32px-trunk-tune4-view0-decode{DECODER_VERSION}"
    index = store / key / "index.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_INIT, *args], stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None and _committed(index) < 120:
        time.sleep(0.05)
    assert proc.poll() is None, "init finished before it could be killed"
    proc.kill()
    proc.wait()
    assert not (run / "config.json").exists()  # the run does not exist yet
    fs = FeatureStore(store, input_size=32, tune_blocks=4, chunk_size=40)
    keys = [FileKey.of(p) for p in [*list_images(demo.labeled), *list_images(demo.pool), demo.rare_example]]
    chunk, row = fs.lookup(keys)
    done = np.flatnonzero(chunk >= 0)
    assert len(done) >= 120
    before, chunks_before = fs.read(chunk[done], row[done]), set(np.unique(chunk[done]))
    committed_rows = _committed(index)
    (run / "adapted").mkdir(exist_ok=True)  # as a kill during the first tail's training leaves it
    (run / "adapted" / "features-0123456789abcdef.npy").write_bytes(b"half a file")
    assert main(args) == 0
    assert not (run / "adapted" / "features-0123456789abcdef.npy").exists()  # removed, not reused
    chunk2, row2 = fs.lookup(keys)
    # Every committed row is reused as it was, and what was not committed is computed once.
    np.testing.assert_array_equal(chunk2[done], chunk[done])
    np.testing.assert_array_equal(fs.read(chunk2[done], row2[done]), before)
    n_items = len(open_search(run, progress=False).dataset)
    failed = int(np.sum(chunk2 == FAILED))
    assert _committed(index) == n_items - failed  # no row extracted twice
    assert _committed(index) - committed_rows == n_items - failed - committed_rows
    # The values are those of an extraction that was never killed.
    fresh = FeatureStore(tmp_path / "fresh", input_size=32, tune_blocks=4)
    fresh.extract(keys, num_workers=0, progress=False)
    c3, r3 = fresh.lookup(keys)
    ok = np.flatnonzero(chunk2 >= 0)
    np.testing.assert_array_equal(c3 >= 0, chunk2 >= 0)
    np.testing.assert_allclose(fs.read(chunk2[ok], row2[ok]), fresh.read(c3[ok], r3[ok]), rtol=2e-3, atol=1e-3)
    assert chunks_before <= set(np.unique(chunk2))


def test_added_pool_files_are_the_only_ones_computed(tmp_path):
    import shutil

    demo = _demo(tmp_path)
    run, store = tmp_path / "run", tmp_path / "store"
    assert main(_init_args(demo, run, store)) == 0
    search = open_search(run, progress=False)
    feats_before = np.load(next((run / "adapted").glob("features-*.npy")))
    fs = FeatureStore(store, input_size=32, tune_blocks=4)
    rows_before = fs._db.execute("SELECT COUNT(*) FROM rows").fetchone()[0]
    (demo.pool / "later").mkdir()
    for k, src in enumerate(sorted(demo.pool.glob("0*.png"))[:5]):
        shutil.copy(src, demo.pool / "later" / f"new{k}.png")
    search.close()
    assert main(["search", "scan", str(run), "--quiet"]) == 0
    assert fs._db.execute("SELECT COUNT(*) FROM rows").fetchone()[0] - rows_before == 5
    again = open_search(run, progress=False)
    again.train()
    feats_after = np.load(next((run / "adapted").glob("features-*.npy")))
    # The same tail: old rows kept as they were, five rows added (copies of pool files: equal rows).
    assert len(feats_after) == len(feats_before) + 5
    np.testing.assert_array_equal(feats_after[: len(feats_before)], feats_before)
    copies = [again.dataset.paths.index(str(p)) for p in sorted(demo.pool.glob("0*.png"))[:5]]
    np.testing.assert_allclose(feats_after[-5:], feats_after[copies], atol=1e-2)


def test_ray_engine_gives_the_in_process_trunk_rows(tmp_path):
    ray = pytest.importorskip("ray", reason="needs the ray extra (installed by make test)")
    pytest.importorskip("ray.data")
    _demo(tmp_path, n_pool=40)
    keys = [FileKey.of(p) for p in list_images(tmp_path / "demo" / "pool")]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
    try:  # one Ray instance for both views (the engine joins it instead of starting its own)
        for view in (0, 1):
            kw = dict(input_size=32, tune_blocks=4, view=view, chunk_size=16)
            local = FeatureStore(tmp_path / f"local{view}", **kw)
            distributed = FeatureStore(tmp_path / f"ray{view}", **kw)
            local.extract(keys, num_workers=0, progress=False)
            report = distributed.extract(keys, engine="ray", num_workers=2, progress=False)
            assert report.engine == "ray" and report.n_extracted + len(report.failed) == len(keys)
            a_chunk, a_row = local.lookup(keys)
            b_chunk, b_row = distributed.lookup(keys)
            np.testing.assert_array_equal(a_chunk == FAILED, b_chunk == FAILED)
            ok = a_chunk >= 0
            a, b = local.read(a_chunk[ok], a_row[ok]), distributed.read(b_chunk[ok], b_row[ok])
            assert a.shape[1] == int(np.prod(local.shape))
            # float16 on disk: equal to its rounding (one ulp of the largest values)
            np.testing.assert_allclose(a, b, rtol=2e-3, atol=np.abs(a).max() * 2**-10)
    finally:
        ray.shutdown()


def test_views_are_drawn_per_file_so_a_file_extracted_alone_gets_the_same_row(tmp_path):
    _demo(tmp_path, n_pool=30)
    keys = [FileKey.of(p) for p in list_images(tmp_path / "demo" / "pool")]
    together = FeatureStore(tmp_path / "a", input_size=32, tune_blocks=4, view=1)
    together.extract(keys, num_workers=0, progress=False)
    alone = FeatureStore(tmp_path / "b", input_size=32, tune_blocks=4, view=1)
    alone.extract(keys[5:6], num_workers=0, progress=False)
    clean = FeatureStore(tmp_path / "c", input_size=32, tune_blocks=4, view=0)
    clean.extract(keys[5:6], num_workers=0, progress=False)
    one = together.read(*[a[5:6] for a in together.lookup(keys)])
    np.testing.assert_allclose(alone.read(*alone.lookup(keys[5:6])), one, rtol=2e-3, atol=1e-3)
    assert not np.allclose(clean.read(*clean.lookup(keys[5:6])), one)


def test_the_search_files_features_of_the_training_sample_only_get_views(tmp_path):
    demo = _demo(tmp_path)
    run, store = tmp_path / "run", tmp_path / "store"
    search = init_search(
        run,
        labeled=demo.labeled,
        pool=demo.pool,
        rare=demo.rare,
        rare_examples=[str(demo.rare_example)],
        feature_store=str(store),
        input_size=32,
        per_class=5,
        progress=False,
    )
    viewed = FeatureStore(store, input_size=32, tune_blocks=4, view=1)
    n_viewed = viewed._db.execute("SELECT COUNT(*) FROM rows").fetchone()[0]
    assert n_viewed == len(search.split.train) < len(search.dataset)
    assert isinstance(search.learner.files, FileFeatures)


def test_an_unreadable_stored_tail_is_trained_again(tmp_path):
    demo = _demo(tmp_path)
    run = tmp_path / "run"
    assert main(_init_args(demo, run, tmp_path / "store")) == 0
    (run / "adapted" / "tail.pt").write_bytes(b"not a torch file")  # a disk that lost it
    search = open_search(run, progress=False)
    assert search.learner.needs_adapting(search.split.train, search.split.train_labels)
    search.train()
    assert search.learner.adaptations_ == 1 and search.propose() is not None
