"""Search your own unlabeled images: a labeled seed set, a pool of files, people label.

The real job, next to the simulation of :mod:`rarelab.experiment`. A run directory
holds ``config.json`` (the sources and settings), ``items.sqlite`` (every file with its
size, mtime, part and known label: seed and validation items only), ``labels.sqlite``
(the person's labels, each stored the moment it is given), ``model.pt`` (the trained
model of the current round), ``failed_files.csv`` (files that could not be decoded) and
``candidates.csv``/``candidates.html`` after each proposal. Features live in a
:class:`~rarelab.feature_store.FeatureStore`, shared between runs.
"""

from __future__ import annotations

import csv
import html
import io
import json
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ._atomic import write_atomic
from ._validation import DataUnavailableError, InvalidParameterError, check_int, param_error
from .datasets.files import FileDataset
from .datasets.image_folder import class_folders
from .experiment import read_config, resolve_classes
from .feature_store import ENGINES
from .images import FileKey, image_sources, is_image, read_manifest
from .labels import NOT_RARE
from .learners import LEARNERS, make_learner
from .loop import ActiveSearch
from .models import BACKBONES
from .splits import Split
from .strategies import STRATEGIES, get_strategy
from .training import LinearProbe

NOT_LABELS = ("not", "not rare", "not_rare", "-1")
KIND = "search"


@dataclass
class SearchConfig:
    """A real search's sources and settings; stored as ``config.json`` in the run directory."""

    pool: list
    rare: list
    labeled: str | None = None
    rare_examples: dict = field(default_factory=dict)  # class name -> list of files
    val: str | None = None
    strategy: str = "rare-softmax"
    per_class: int = 50
    learner: str = "linear"
    backbone: str = "efficientnet_lite0"
    input_size: int | None = None
    image_size: int = 128
    epochs: int | None = None  # None: the learner's default
    seed: int = 0
    engine: str = "local"
    num_workers: int | None = None
    ray_address: str | None = None
    feature_store: str | None = None
    device: str | None = None
    kind: str = KIND

    def validate(self) -> SearchConfig:
        owner = "init_search"
        if self.strategy not in STRATEGIES:
            raise param_error(owner, "strategy", f"one of {sorted(STRATEGIES)}", self.strategy)
        if self.learner not in LEARNERS:
            raise param_error(owner, "learner", f"one of {sorted(LEARNERS)}", self.learner)
        if self.backbone not in BACKBONES:
            raise param_error(owner, "backbone", f"one of {BACKBONES}", self.backbone)
        if self.engine not in ENGINES:
            raise param_error(owner, "engine", f"one of {ENGINES}", self.engine)
        check_int(owner, "per_class", self.per_class, low=1)
        if self.epochs is not None:
            check_int(owner, "epochs", self.epochs, low=1)
        check_int(owner, "image_size", self.image_size, low=32, high=1024)
        check_int(owner, "seed", self.seed, low=0)
        if not self.rare:
            raise param_error(owner, "rare", "at least one rare class name", self.rare)
        if not self.pool:
            raise param_error(owner, "pool", "a folder, a manifest or a list of files", self.pool)
        return self


# -- sources -----------------------------------------------------------------------------
def _labeled_source(source) -> tuple[list[str], list[str]]:
    """``(paths, label names)`` of a labeled folder tree or a CSV/Parquet manifest with labels."""
    if source is None:
        return [], []
    if isinstance(source, tuple) and len(source) == 2:
        paths, labels = source
        return [str(Path(p).resolve()) for p in paths], [str(y) for y in labels]
    p = Path(source).expanduser()
    if p.is_dir():
        classes, paths, targets = class_folders(p)
        return paths, [classes[t] for t in targets]
    cols = read_manifest(p)
    if "label" not in cols:
        raise param_error(
            "init_search", "labeled", "a folder of class folders or a manifest with a 'label' column", str(p)
        )
    return cols["path"], [str(y) for y in cols["label"]]


def _rare_examples(examples, rare: list[str]) -> dict[str, list[str]]:
    """``{"stop": ["stop.png"]}``, or ``["stop=stop.png", "x.png"]`` (a bare file belongs to the
    only rare class without examples elsewhere, which the caller checks)."""
    if isinstance(examples, dict):
        return {
            str(k): [str(Path(f).expanduser().resolve()) for f in ([v] if isinstance(v, str) else v)]
            for k, v in examples.items()
        }
    out: dict[str, list[str]] = {}
    for spec in examples or []:
        name, sep, path = str(spec).partition("=")
        if not sep:
            name, path = "", name
        out.setdefault(name, []).append(str(Path(path).expanduser().resolve()))
    if "" in out:
        if len(rare) != 1 and len([r for r in rare if r not in out]) != 1:
            raise param_error(
                "init_search",
                "rare_examples",
                "NAME=FILE when there are several rare classes",
                out[""],
                f"Write e.g. --rare-example {rare[0]}={out[''][0]}.",
            )
        target = rare[0] if len(rare) == 1 else next(r for r in rare if r not in out)
        out.setdefault(target, []).extend(out.pop(""))
    return out


def _stat_all(paths, owner: str, name: str) -> list[FileKey]:
    keys, missing = [], []
    for p in paths:
        try:
            keys.append(FileKey.of(p))
        except OSError:
            missing.append(p)
    if missing:
        raise DataUnavailableError(
            f"The '{name}' parameter of {owner} names {len(missing)} files that cannot be read, e.g. {missing[:3]}."
        )
    return keys


# -- the item table ----------------------------------------------------------------------
class ItemTable:
    """``items.sqlite``: every file of the search, its part and its known label (or none)."""

    PARTS = ("seed", "val", "pool")

    def __init__(self, path):
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript("""
            CREATE TABLE IF NOT EXISTS items (item_id INTEGER PRIMARY KEY, path TEXT NOT NULL, size INTEGER NOT NULL,
                mtime_ns INTEGER NOT NULL, part TEXT NOT NULL, label INTEGER);
            CREATE TABLE IF NOT EXISTS classes (id INTEGER PRIMARY KEY, name TEXT NOT NULL);""")

    def close(self) -> None:
        self._db.close()

    def classes(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT name FROM classes ORDER BY id")]

    def write(self, classes, keys, parts, labels) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM items")
            self._db.execute("DELETE FROM classes")
            self._db.executemany("INSERT INTO classes VALUES (?, ?)", list(enumerate(classes)))
            self._db.executemany(
                "INSERT INTO items VALUES (?, ?, ?, ?, ?, ?)",
                [(i, k.path, k.size, k.mtime_ns, p, y) for i, (k, p, y) in enumerate(zip(keys, parts, labels))],
            )

    def append_pool(self, keys) -> np.ndarray:
        """Add new pool files; returns their item ids."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            start = self._db.execute("SELECT COALESCE(MAX(item_id) + 1, 0) FROM items").fetchone()[0]
            self._db.executemany(
                "INSERT INTO items VALUES (?, ?, ?, ?, 'pool', NULL)",
                [(start + j, k.path, k.size, k.mtime_ns) for j, k in enumerate(keys)],
            )
        return np.arange(start, start + len(keys), dtype=np.int64)

    def read(self):
        rows = self._db.execute("SELECT path, size, mtime_ns, part, label FROM items ORDER BY item_id").fetchall()
        keys = [FileKey(p, s, m) for p, s, m, _, _ in rows]
        parts = np.array([r[3] for r in rows], dtype=object)
        labels = np.array([-1 if r[4] is None else r[4] for r in rows], dtype=np.int64)
        return keys, parts, labels


# -- building and opening ----------------------------------------------------------------
def _plan(config: SearchConfig):
    """Resolve every source of ``config`` into (classes, rare ids, keys, parts, labels)."""
    seed_paths, seed_names = _labeled_source(config.labeled)
    val_paths, val_names = _labeled_source(config.val)
    rare_names = [str(r) for r in config.rare]
    examples = _rare_examples(config.rare_examples, rare_names)
    unknown = sorted(set(examples) - set(rare_names))
    if unknown:
        raise param_error("init_search", "rare_examples", f"examples of the rare classes {rare_names}", unknown)
    classes = sorted(set(seed_names))
    classes += [r for r in rare_names if r not in classes]  # a rare class with no folder yet
    for name, files in examples.items():
        seed_paths += files
        seed_names += [name] * len(files)
    rare = resolve_classes(rare_names, classes, owner="init_search", name="rare")
    counts = {c: seed_names.count(classes[c]) for c in rare}
    empty = [classes[c] for c, n in counts.items() if n == 0]
    if empty:
        raise param_error(
            "init_search",
            "rare",
            "rare classes with at least one labeled example",
            empty,
            "Give one with --rare-example NAME=FILE (or rare_examples={NAME: FILE}).",
        )
    if len(set(seed_names)) < 2:
        raise param_error(
            "init_search",
            "labeled",
            "examples of at least two classes (the rare one and others)",
            sorted(set(seed_names)),
            "A softmax needs common classes to contrast the rare one with.",
        )
    bad_val = sorted(set(val_names) - set(classes))
    if bad_val:
        raise param_error("init_search", "val", f"classes of the labeled set {classes}", bad_val)
    pool_paths = []
    for src in config.pool:
        pool_paths += image_sources(src)
    known = set(seed_paths) | set(val_paths)
    pool_paths = [p for p in dict.fromkeys(pool_paths) if p not in known]  # a file is labeled or in the pool
    if not pool_paths:
        raise DataUnavailableError(f"No images in the pool {config.pool}.")
    for f in seed_paths:
        if not is_image(f):
            raise param_error("init_search", "labeled", "image files", f)
    keys = (
        _stat_all(seed_paths, "init_search", "labeled")
        + _stat_all(val_paths, "init_search", "val")
        + _stat_all(pool_paths, "init_search", "pool")
    )
    parts = ["seed"] * len(seed_paths) + ["val"] * len(val_paths) + ["pool"] * len(pool_paths)
    idx = {c: i for i, c in enumerate(classes)}
    labels = [idx[n] for n in seed_names] + [idx[n] for n in val_names] + [None] * len(pool_paths)
    return classes, rare, keys, parts, labels


def init_search(
    run_dir, *, pool, rare, labeled=None, rare_examples=None, val=None, progress: bool = True, **settings
) -> ActiveSearch:
    """Start a search of your own images in ``run_dir`` (or resume one with the same config).

    Parameters
    ----------
    run_dir : path
    pool : folder, manifest (.csv/.parquet/.txt) or list of files, or a list of those
        The unlabeled images, read recursively. No labels are read from them.
    rare : str or list of str
        Names of the rare classes to find (matched as names first: ``"00014"`` is a name).
    labeled : folder or manifest, optional
        The labeled seed set: ``root/<class>/`` images or a ``path,label`` CSV/Parquet.
    rare_examples : dict or list, optional
        ``{"stop": "stop.png"}`` or ``["stop=stop.png"]``: the one example (or clean
        template) of a rare class that has no folder in ``labeled``.
    val : folder or manifest, optional
        Labeled validation images; with them each round reports rare-class F1.
    settings : fields of :class:`SearchConfig` (``strategy``, ``per_class``, ``backbone``,
        ``engine``, ``feature_store``, ...).

    Features of every file are extracted first (resumable: calling this again after a
    kill continues). Files that cannot be decoded are listed in ``failed_files.csv``.

    Examples
    --------
    >>> search = init_search("runs/signs", labeled="seed/", pool="dashcam/", rare="stop")  # doctest: +SKIP
    >>> cand = search.train().propose()                                                    # doctest: +SKIP
    """
    run_dir = Path(run_dir)
    pool = [str(pool)] if isinstance(pool, (str, Path)) else [str(p) for p in pool]
    rare = [r.strip() for r in rare.split(",") if r.strip()] if isinstance(rare, str) else [str(r) for r in rare]
    config = SearchConfig(
        pool=pool,
        rare=rare,
        labeled=None if labeled is None else str(labeled),
        rare_examples=_rare_examples(rare_examples, rare),
        val=None if val is None else str(val),
        **settings,
    ).validate()
    cfg_path = run_dir / "config.json"
    wanted = json.loads(json.dumps(asdict(config)))
    if cfg_path.exists():
        stored = _read_config(run_dir)
        if stored != wanted:
            changed = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
            raise InvalidParameterError(
                f"The run directory {str(run_dir)!r} holds a search with other settings "
                f"({', '.join(changed)}). Choose a new run directory, or reopen it with "
                "open_search() / `rarelab search status`."
            )
        return open_search(run_dir, progress=progress)
    classes, _, keys, parts, labels = _plan(config)  # validates every source before anything is written
    run_dir.mkdir(parents=True, exist_ok=True)
    table = ItemTable(run_dir / "items.sqlite")
    table.write(classes, keys, parts, labels)
    table.close()
    write_atomic(cfg_path, json.dumps(wanted, indent=2))
    return open_search(run_dir, progress=progress)


def _read_config(run_dir) -> dict:
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise InvalidParameterError(
            f"No rarelab search in {str(run_dir)!r}: config.json is missing. Start one with `rarelab search init`."
        )
    return read_config(path)


def _load_config(run_dir: Path) -> SearchConfig:
    try:
        return SearchConfig(**_read_config(run_dir)).validate()
    except TypeError as exc:
        raise InvalidParameterError(f"{str(run_dir / 'config.json')!r} has unknown or missing keys ({exc}).") from None


def open_search(run_dir, *, progress: bool = True) -> ActiveSearch:
    """Reopen a search: items, labels, round, phase and trained model as stored.

    Features missing from the store (an extraction that was killed) are extracted first.
    """
    run_dir = Path(run_dir)
    config = _load_config(run_dir)
    table = ItemTable(run_dir / "items.sqlite")
    classes = table.classes()
    keys, parts, labels = table.read()
    table.close()
    dataset = FileDataset(
        [k.path for k in keys],
        classes,
        keys=keys,
        image_size=config.image_size,
        name=f"search:{run_dir.name}",
        feature_store=config.feature_store,
        engine=config.engine,
        num_workers=config.num_workers,
        ray_address=config.ray_address,
        index_dir=run_dir,
    )
    learner = make_learner(
        config.learner,
        dataset=dataset,
        backbone=config.backbone,
        input_size=config.input_size,
        epochs=config.epochs,
        device=config.device,
        random_state=config.seed,
        progress=progress,
    )
    failed = _failed_items(dataset, config, progress=progress)
    _write_failed(run_dir, dataset, failed)
    ok = np.ones(len(keys), bool)
    ok[list(failed)] = False
    ids = np.arange(len(keys))
    rare = resolve_classes(config.rare, classes, owner="open_search", name="rare")
    seed = ids[(parts == "seed") & ok]
    lost = [classes[c] for c in rare if not np.any(labels[seed] == c)]
    if lost:
        raise DataUnavailableError(
            f"Every example of the rare classes {lost} failed to decode (see "
            f"{str(run_dir / 'failed_files.csv')!r}); give a readable one with --rare-example."
        )
    val = ids[(parts == "val") & ok]
    pool = ids[(parts == "pool") & ok]
    split = Split(seed, val, pool, tuple(rare), train_labels=labels[seed], val_labels=labels[val] if len(val) else None)
    from .labels import LabelStore

    store = LabelStore(run_dir / "labels.sqlite")
    saved = store.load_split_ids()
    added = np.empty(0, np.int64) if saved is None else np.setdiff1d(pool, saved["pool"])
    if len(added):
        store.extend_pool(added)  # files added to the pool since (scan_pool)
    store.close()
    strategy = get_strategy(config.strategy)
    return ActiveSearch(
        dataset=dataset,
        split=split,
        learner=learner,
        strategy=strategy,
        per_class=config.per_class,
        oracle=None,
        run_dir=run_dir,
        random_state=config.seed,
        name=config.strategy,
        seed=config.seed,
    )


def _failed_items(dataset: FileDataset, config: SearchConfig, *, progress: bool) -> dict[int, str]:
    if config.learner == "linear":
        dataset.feature_source(
            backbone=config.backbone, input_size=config.input_size, device=config.device, progress=progress
        )
        return dataset.failed_items(backbone=config.backbone, input_size=config.input_size)
    return {}


def _write_failed(run_dir: Path, dataset: FileDataset, failed: dict[int, str]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["item_id", "path", "error"])
    for i, err in sorted(failed.items()):
        w.writerow([i, dataset.paths[i], err])
    path = run_dir / "failed_files.csv"
    if not path.exists() or path.read_text() != buf.getvalue():  # every reopen would rewrite it otherwise
        write_atomic(path, buf.getvalue())


def scan_pool(run_dir, *, progress: bool = True) -> ActiveSearch:
    """Add files that appeared in the pool's sources since the last scan; only they are extracted."""
    run_dir = Path(run_dir)
    config = _load_config(run_dir)
    table = ItemTable(run_dir / "items.sqlite")
    keys, _, _ = table.read()
    have = {k.path for k in keys}
    new = []
    for src in config.pool:
        new += [p for p in image_sources(src) if p not in have]
    table.append_pool(_stat_all(list(dict.fromkeys(new)), "scan_pool", "pool"))
    table.close()
    return open_search(run_dir, progress=progress)


# -- what a person reads and writes --------------------------------------------------------
def candidate_rows(search: ActiveSearch) -> list[dict]:
    """The current candidates as rows of ``candidates.csv``, best first."""
    cand = search.candidates_
    if cand is None:
        return []
    rare = list(search.rare_classes)
    names = search.dataset.classes
    paths = getattr(search.dataset, "paths", None)
    rows = []
    for k, (i, t, s) in enumerate(zip(cand.ids.tolist(), cand.target.tolist(), cand.score.tolist())):
        p = search.candidate_proba_[k]
        col = rare.index(t) if t in rare else int(np.argmax(p))  # class-agnostic: its likeliest rare class
        rows.append(
            {
                "item_id": i,
                "path": paths[i] if paths else "",
                "rare_class": names[rare[col]],
                "score": s,
                "probability": float(p[col]),
            }
        )
    return rows


def write_candidates(search: ActiveSearch, run_dir=None, *, thumb: int = 96) -> tuple[Path, Path]:
    """Write ``candidates.csv`` and a static ``candidates.html`` gallery of the current candidates."""
    from .report import png_data_uri

    run_dir = Path(run_dir or search.run_dir)
    rows = candidate_rows(search)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["item_id", "path", "rare_class", "score", "probability"], lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({**r, "score": f"{r['score']:.6g}", "probability": f"{r['probability']:.6g}"})
    csv_path = write_atomic(run_dir / "candidates.csv", buf.getvalue())
    images = search.dataset.load_images([r["item_id"] for r in rows], thumb) if rows else []
    cells = []
    for r, im in zip(rows, images):
        cells.append(
            f'<figure><img src="{png_data_uri(im)}" width="{thumb}" height="{thumb}" alt="">'
            f"<figcaption><b>{r['probability']:.1e}</b> {html.escape(r['rare_class'])}<br>"
            f"<small>#{r['item_id']} {html.escape(Path(r['path']).name)}</small></figcaption></figure>"
        )
    page = (
        f"<!doctype html><meta charset='utf-8'><title>rarelab candidates, round {search.round_}</title>"
        "<style>body{font-family:sans-serif;margin:1em}figure{display:inline-block;margin:4px;width:"
        f"{thumb + 8}px;font-size:11px;vertical-align:top}}img{{image-rendering:auto}}</style>"
        f"<h1>Round {search.round_}: {len(rows)} candidates</h1><p>Label them in a CSV with columns "
        "<code>path</code> (or <code>item_id</code>) and <code>label</code> (a class name or <code>not</code>), "
        "then run <code>rarelab search label RUN --csv FILE</code>.</p>" + "".join(cells)
    )
    html_path = write_atomic(run_dir / "candidates.html", page)
    return csv_path, html_path


def parse_label_csv(search: ActiveSearch, path) -> tuple[np.ndarray, np.ndarray]:
    """Read a person's answers (``path`` or ``item_id``, and ``label``): every row is checked
    before any is stored, so a bad file changes nothing."""
    path = Path(path)
    try:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            cols = reader.fieldnames or []
    except OSError as exc:
        raise DataUnavailableError(f"Cannot read the labels file {str(path)!r}: {exc}") from exc
    if "label" not in cols or not ({"path", "item_id"} & set(cols)):
        raise param_error("search label", "csv", "a CSV with columns 'path' or 'item_id', and 'label'", cols)
    paths = getattr(search.dataset, "paths", [])
    by_path = {p: i for i, p in enumerate(paths)}
    classes = list(search.dataset.classes)
    ids, labels, errors = [], [], []
    for n, r in enumerate(rows, start=2):
        item = None
        if r.get("item_id", "").strip():
            try:
                item = int(r["item_id"])
            except ValueError:
                errors.append(f"line {n}: item_id {r['item_id']!r} is not an int")
                continue
        elif r.get("path", "").strip():
            item = by_path.get(str(Path(r["path"]).expanduser().resolve()), by_path.get(r["path"]))
            if item is None:
                errors.append(f"line {n}: {r['path']!r} is not a file of this search")
                continue
        else:
            errors.append(f"line {n}: neither path nor item_id")
            continue
        text = r["label"].strip()
        if text.lower() in NOT_LABELS:
            labels.append(NOT_RARE)
        elif text in classes:  # names first: a folder called 00014 is a name
            labels.append(classes.index(text))
        else:
            errors.append(f"line {n}: label {text!r} is not a class ({', '.join(classes[:6])}...) or 'not'")
            continue
        ids.append(item)
    pool = set(search.pool_ids_.tolist())
    errors += [f"item {i} is not an unlabeled pool item" for i in ids if i not in pool]
    if errors:
        raise InvalidParameterError(
            f"{str(path)!r} has {len(errors)} bad rows; nothing was stored. " + "; ".join(errors[:5])
        )
    return np.asarray(ids, dtype=np.int64), np.asarray(labels, dtype=np.int64)


def label_from_csv(search: ActiveSearch, path) -> int:
    """Store a person's answers from a CSV, each row in its own transaction; returns the count."""
    ids, labels = parse_label_csv(search, path)
    for i, y in zip(ids, labels):
        search.label([i], [y], source="person")
    return len(ids)


def predict_files(search: ActiveSearch, files) -> tuple[list[str], np.ndarray, list[tuple[str, str]]]:
    """Apply the run's trained model to image files: ``(readable paths, proba, failures)``."""
    from .images import load_images
    from .models import DEFAULT_INPUT_SIZE

    learner = search.learner
    model = None if search.run_dir is None else search.run_dir / "model.pt"
    if not hasattr(learner, "model_") and model is not None and model.exists():
        learner.load(model)  # the last trained round's model (a committed round retrains only on demand)
    if not hasattr(learner, "model_"):
        raise InvalidParameterError(
            f"The run in {str(search.run_dir)!r} has no trained model yet: run "
            "`rarelab search propose` (or search.train()) first."
        )
    size = (
        (learner.input_size or DEFAULT_INPUT_SIZE[learner.backbone])
        if isinstance(learner, LinearProbe)
        else search.dataset.image_size
    )
    paths = [str(Path(f).expanduser().resolve()) for f in files]
    images, failed = load_images(paths, size)
    bad = {i for i, _ in failed}
    keep = [i for i in range(len(paths)) if i not in bad]
    proba = learner.predict_proba_images(images[keep]) if keep else np.empty((0, len(search.dataset.classes)))
    return [paths[i] for i in keep], proba, [(paths[i], e) for i, e in failed]


_NEXT_STEP = {"train": "propose", "propose": "propose", "label": "label the candidates, then commit"}


def status(search: ActiveSearch) -> str:
    """A few lines on where the search stands."""
    ds, s = search.dataset, search.split
    names = ds.classes
    committed = search.store.labels(committed=True)
    pending = search.pending_labels_
    found = {names[c]: sum(1 for y in committed.values() if y == c) for c in search.rare_classes}
    failed = getattr(ds, "failed_", np.empty(0))
    lines = [
        f"round {search.round_}, phase {search.phase_!r} (next: {_NEXT_STEP[search.phase_]})",
        f"items: {len(s.train)} seed, {len(s.val)} validation, {len(search.pool_ids_)} unlabeled in the pool, "
        f"{len(failed)} unreadable (failed_files.csv)",
        f"rare classes: {', '.join(names[c] for c in search.rare_classes)}",
        f"labels: {len(committed)} committed ({', '.join(f'{k}: {v}' for k, v in found.items())} rare found), "
        f"{len(pending)} waiting for commit",
        f"candidates: {0 if search.candidates_ is None else len(search.candidates_)}",
    ]
    if search.history_:
        last = search.history_[-1]
        f1 = last.get("f1_rare")
        lines.append(
            f"last trained round {last['round']}: train size {last.get('train_size')}, "
            + (f"rare F1 on validation {f1:.3f}" if f1 is not None else "no validation labels (no F1)")
        )
    return "\n".join(lines)
