"""Starting, reopening and rescanning a search (see :mod:`rarelab.search` for its run directory)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import warnings
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..data import FileDataset, Split, check_decodable, resolve_classes
from ..exceptions import DataUnavailableError, InvalidParameterError
from ..features import FileFeatures
from ..learners import AdaptedProbe, learner_from_settings
from ..loop import ActiveLoop, LabelStore
from ..strategies import get_strategy
from ..utils import param_error, printable_path, read_json_config, write_atomic
from ._config import RUNTIME_SETTINGS, SearchConfig, parse_rare_examples
from ._items import ItemTable
from ._plan import plan_search, pool_files, stat_pool


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
    settings : dict
        Fields of :class:`SearchConfig` (``strategy``, ``per_class``, ``backbone``,
        ``engine``, ``feature_store``, ...).

    Raises
    ------
    InvalidParameterError
        A setting is out of range, or ``run_dir`` holds a search with other sources.
    DataUnavailableError
        A source is missing, holds no images, or a rare example cannot be decoded.

    Notes
    -----
    Every check runs before anything is written, and a call that fails leaves no run
    directory behind (or the one that was there untouched). Features of every file are
    extracted first; the run exists (``config.json`` is written) once they are. A killed
    ``init`` is continued by calling it again: finished features are in the feature store.
    Files that cannot be read are listed in ``failed_files.csv`` with the reason.
    Calling it on an existing run with other runtime settings (``per_class``, ``device``,
    ``num_workers``, ``engine``, ``ray_address``, ``feature_store``) updates them; other
    changes need a new run directory.

    Examples
    --------
    >>> search = init_search("runs/signs", labeled="seed/", pool="dashcam/", rare="stop")  # doctest: +SKIP
    >>> cand = search.propose_if_needed()                                                  # doctest: +SKIP
    """
    run_dir = Path(run_dir)
    pool = [_absolute(pool)] if isinstance(pool, (str, Path)) else [_absolute(p) for p in pool]
    rare = SearchConfig.rare_names(rare, labeled=labeled, rare_examples=rare_examples)
    known = set(SearchConfig.__dataclass_fields__) - {"pool", "rare", "labeled", "rare_examples", "val", "kind"}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise InvalidParameterError(f"init_search got settings it does not know: {unknown}. It knows {sorted(known)}.")
    config = SearchConfig(
        pool=pool,
        rare=rare,
        labeled=None if labeled is None else _absolute(labeled),
        rare_examples=parse_rare_examples(rare_examples, rare),
        val=None if val is None else _absolute(val),
        **settings,
    ).validate()
    wanted = json.loads(json.dumps(asdict(config)))
    if (run_dir / "config.json").exists():
        return _reopen_with(run_dir, wanted, progress=progress)
    plan = plan_search(config)
    with _new_run_dir(run_dir):
        table = ItemTable(run_dir / "items.sqlite")
        table.write(plan.classes, plan.keys, plan.parts, plan.labels, plan.skipped)
        table.close()
        search = _open(run_dir, config, progress=progress, new=True)
        try:
            if isinstance(search.learner, AdaptedProbe):  # the first tail now: the first round takes seconds
                search.learner.adapt(search.split.train, search.split.train_labels)
            write_atomic(run_dir / "config.json", json.dumps(wanted, indent=2))  # the run exists from here
        except BaseException:
            search.close()
            raise
    return search


def _shown(value) -> str:
    return "the default" if value is None else repr(value)


def _absolute(source) -> str:
    """A source as stored in ``config.json``: absolute (links kept), so later commands work
    from any folder."""
    if isinstance(source, tuple):  # (paths, labels) given in Python
        return source
    return os.path.abspath(os.path.expanduser(str(source)))


def _reopen_with(run_dir: Path, wanted: dict, *, progress: bool) -> ActiveLoop:
    """``init`` on an existing run: reopen it, updating runtime settings; refuse other changes."""
    stored = _read_config(run_dir)
    changed = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
    fixed = [k for k in changed if k not in RUNTIME_SETTINGS]
    if fixed:
        diff = "; ".join(f"{k}: {_shown(stored.get(k))} stored, {_shown(wanted.get(k))} given" for k in fixed)
        raise InvalidParameterError(
            f"The run directory {str(run_dir)!r} holds a search with other settings ({diff}); nothing was "
            "changed. Choose a new run directory for these settings, or reopen this one with "
            f"`rarelab search status {run_dir}` (new pool files: `rarelab search scan {run_dir}`)."
        )
    if changed:
        write_atomic(run_dir / "config.json", json.dumps({**stored, **{k: wanted[k] for k in changed}}, indent=2))
        diff = ", ".join(f"{k} {stored.get(k)!r} -> {wanted.get(k)!r}" for k in changed)
        warnings.warn(f"{str(run_dir)!r}: settings updated ({diff}).", UserWarning, stacklevel=3)
    return open_search(run_dir, progress=progress)


_MADE_BY_INIT = ("items.sqlite", "labels.sqlite", "failed_files.csv", "feature-index-")
_FOLDERS_BY_INIT = ("adapted",)  # the default learner's first tail and its features


@contextmanager
def _new_run_dir(run_dir: Path):
    """Make ``run_dir`` for a new search; if the body fails (or is interrupted), remove what
    it wrote, so a failed ``init`` leaves no run directory (or the folder as it was)."""
    existed = run_dir.exists()
    if existed:
        leftovers = [p for p in run_dir.iterdir() if p.name.startswith(_MADE_BY_INIT) or p.name in _FOLDERS_BY_INIT]
        if leftovers and LabelStore.holds_labels(run_dir / "labels.sqlite"):
            raise InvalidParameterError(
                f"{str(run_dir)!r} holds labels but no config.json; nothing was changed. Move it away (or restore "
                "its config.json) before starting a search there."
            )
        for p in leftovers:  # a killed init: its run never existed, start over
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        before = set(run_dir.iterdir())
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        if not existed:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            for p in set(run_dir.iterdir()) - before:
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        raise


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
    return _open(run_dir, _load_config(run_dir), progress=progress)


def _open(run_dir: Path, config: SearchConfig, *, progress: bool, new: bool = False) -> ActiveLoop:
    table = ItemTable(run_dir / "items.sqlite")
    try:
        classes = table.classes()
        keys, parts, labels = table.read()
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
        failed = _failed_items(dataset, files, learner, table, progress=progress)
        _write_failed(run_dir, dataset, failed, table.skipped())
    finally:
        table.close()
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
    loop = ActiveLoop(
        dataset=dataset,
        split=split,
        learner=learner,
        strategy=get_strategy(config.strategy),
        per_class=_fitting_per_class(config, len(pool), len(rare), run_dir, new=new),
        oracle=None,
        run_dir=run_dir,
        random_state=config.seed,
        name=config.strategy,
        seed=config.seed,
    )
    loop.unreadable_ = failed  # item id -> reason: answers naming them are told why
    return loop


def _fitting_per_class(config: SearchConfig, n_pool: int, n_rare: int, run_dir: Path, *, new: bool) -> int:
    """``config.per_class``, or fewer when unreadable files left a smaller pool than the files
    listed (an error for a new search: ``init`` changes nothing then)."""
    fit = n_pool // max(1, n_rare)
    if config.per_class > fit and (new or fit < 1):
        raise param_error(
            "init_search" if new else "open_search",
            "per_class",
            f"an int in [1, {fit}] (readable pool files / rare classes: {n_pool} / {n_rare}; the others are "
            "listed in failed_files.csv)",
            config.per_class,
            f"Pass --per-class {max(1, fit)} or fewer; nothing was written." if new and fit else "",
        )
    if config.per_class > fit:
        warnings.warn(
            f"The pool of {str(run_dir)!r} holds {n_pool} readable files: {fit} candidates per rare class and "
            f"round, not {config.per_class} (see failed_files.csv).",
            RuntimeWarning,
            stacklevel=3,
        )
    return min(config.per_class, fit)


def _failed_items(
    dataset: FileDataset, files: FileFeatures, learner, table: ItemTable, *, progress: bool
) -> dict[int, str]:
    """Items whose file cannot be decoded: the feature store's failures for learners that store
    every file's features or activations first, a decode check stored in ``items.sqlite`` else."""
    if hasattr(learner, "file_failures"):
        return learner.file_failures()
    todo = table.unchecked()
    paths = [dataset.paths[i] for i in todo]
    for tried, failures in check_decodable(paths, num_workers=files.num_workers, progress=progress):
        table.record_checks(todo[tried], {int(todo[k]): err for k, err in failures.items()})
    return table.undecodable()


def _write_failed(run_dir: Path, dataset: FileDataset, failed: dict[int, str], skipped) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["item_id", "path", "error"])
    for i, err in sorted(failed.items()):
        w.writerow([i, printable_path(dataset.paths[i]), err])
    for path, reason in sorted(skipped):
        w.writerow(["", printable_path(path), reason])  # listed in a source but never an item
    path = run_dir / "failed_files.csv"
    text = buf.getvalue().encode()
    if not path.exists() or path.read_bytes() != text:  # every reopen would rewrite it otherwise
        write_atomic(path, text)


def scan_pool(run_dir, *, progress: bool = True) -> ActiveLoop:
    """Add files that appeared in the pool's sources since the last scan; only they are extracted."""
    run_dir = Path(run_dir)
    config = _load_config(run_dir)
    table = ItemTable(run_dir / "items.sqlite")
    try:
        keys, _, _ = table.read()
        have = {k.path for k in keys}
        paths, skipped = pool_files(config.pool)
        new_keys, unreadable = stat_pool([p for p in paths if os.path.realpath(p) not in have])
        table.append_pool(new_keys, skipped + unreadable)
    finally:
        table.close()
    if progress:
        print(f"scan: {len(new_keys)} new files in the pool, {len(skipped) + len(unreadable)} listed but not read")
    return open_search(run_dir, progress=progress)
