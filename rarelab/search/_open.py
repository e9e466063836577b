"""Starting, reopening and rescanning a search (see :mod:`rarelab.search` for its run directory)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..data import (
    FileDataset,
    Split,
    image_sources,
    is_image,
    resolve_classes,
)
from ..exceptions import DataUnavailableError, InvalidParameterError
from ..features import FileFeatures
from ..learners import learner_from_settings
from ..loop import ActiveLoop, LabelStore
from ..strategies import get_strategy
from ..utils import param_error, read_json_config, write_atomic
from ._config import SearchConfig, _labeled_source, _rare_examples, _stat_all
from ._items import ItemTable


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
    example_files = [f for files in examples.values() for f in files]
    _stat_all(example_files, "init_search", "rare_examples")  # a missing example is named as one
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
) -> ActiveLoop:
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
    rare = SearchConfig.rare_names(rare, labeled=labeled, rare_examples=rare_examples)
    known = set(SearchConfig.__dataclass_fields__) - {"pool", "rare", "labeled", "rare_examples", "val", "kind"}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise InvalidParameterError(f"init_search got settings it does not know: {unknown}. It knows {sorted(known)}.")
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
    return read_json_config(path)


def _load_config(run_dir: Path) -> SearchConfig:
    stored = _read_config(run_dir)
    if stored.get("kind") != "search" and "dataset" in stored:
        raise InvalidParameterError(
            f"{str(run_dir)!r} holds a simulation, not a search of your own images: reopen it with "
            "rarelab.simulation.open_simulation() or `rarelab resume`."
        )
    try:
        return SearchConfig(**stored).validate()
    except TypeError as exc:
        raise InvalidParameterError(f"{str(run_dir / 'config.json')!r} has unknown or missing keys ({exc}).") from None


def open_search(run_dir, *, progress: bool = True) -> ActiveLoop:
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
        [k.path for k in keys], classes, keys=keys, image_size=config.image_size, name=f"search:{run_dir.name}"
    )
    files = FileFeatures(
        store=config.feature_store,
        engine=config.engine,
        num_workers=config.num_workers,
        ray_address=config.ray_address,
        index_dir=run_dir,
    )
    settings = dict(
        backbone=config.backbone,
        input_size=config.input_size,
        epochs=config.epochs,
        device=config.device,
        random_state=config.seed,
        progress=progress,
        files=files,
    )
    learner = learner_from_settings(config.learner, dataset=dataset, settings=settings)
    failed = _failed_items(dataset, files, config, progress=progress)
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
    store = LabelStore(run_dir / "labels.sqlite")
    saved = store.load_split_ids()
    added = np.empty(0, np.int64) if saved is None else np.setdiff1d(pool, saved["pool"])
    if len(added):
        store.extend_pool(added)  # files added to the pool since (scan_pool)
    store.close()
    strategy = get_strategy(config.strategy)
    search = ActiveLoop(
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
    return search


def _failed_items(dataset: FileDataset, files: FileFeatures, config: SearchConfig, *, progress: bool) -> dict[int, str]:
    """Files that could not be decoded (the linear learner extracts every file's features first)."""
    if config.learner == "linear":
        files.source(
            dataset, backbone=config.backbone, input_size=config.input_size, device=config.device, progress=progress
        )
        return files.failed_items(dataset, backbone=config.backbone, input_size=config.input_size)
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


def scan_pool(run_dir, *, progress: bool = True) -> ActiveLoop:
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
