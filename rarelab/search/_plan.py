"""Planning a search: every source resolved and checked before anything is written."""

from __future__ import annotations

import os
import shlex
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..data import (
    FileKey,
    class_hint,
    class_key,
    decode_image,
    find_class,
    image_sources,
    is_image,
    resolve_classes,
    walk_images,
)
from ..exceptions import DataUnavailableError
from ..utils import param_error, printable_path
from ._config import SearchConfig, _stat_all, parse_rare_examples, read_labeled_source


def pool_files(sources) -> tuple[list[str], list[tuple[str, str]]]:
    """Files of the pool's sources, and ``(path, reason)`` of those listed but not read."""
    paths, skipped = [], []
    for src in sources:
        if Path(src).expanduser().is_dir():
            walk = walk_images(src)
            paths += walk.images
            skipped += walk.skipped
        else:
            paths += image_sources(src)
    unique: dict[str, str] = {}  # real path -> the first path it was listed by
    for p in paths:
        first = unique.setdefault(os.path.realpath(p), p)
        if first != p:
            skipped.append((p, f"the same file as {first}: listed once"))
    return list(unique.values()), skipped


def stat_pool(paths) -> tuple[list[FileKey], list[tuple[str, str]]]:
    """File keys of the pool files that can be read; the others with their reason."""
    keys, skipped = [], []
    for p in paths:
        try:
            keys.append(FileKey.of(p))
        except OSError as exc:
            skipped.append((p, f"cannot read: {exc.strerror or exc}"))
    return keys, skipped


def _labeled_skipped(source, seed_paths) -> list[tuple[str, str]]:
    """Files of a labeled folder tree that are not seed items (not images, or not in a class folder)."""
    if source is None or not Path(source).expanduser().is_dir():
        return []
    walk = walk_images(source)
    seed = set(seed_paths)
    outside = [(p, "not inside a class folder (the labeled set is root/<class name>/...)") for p in walk.images]
    return walk.skipped + [(p, why) for p, why in outside if p not in seed]


def _check_examples(examples: dict[str, list[str]]) -> None:
    """Every rare example must decode: a search cannot start without it."""
    for name, files in examples.items():
        for f in files:
            try:
                decode_image(f, 32)
            except (OSError, ValueError, SyntaxError) as exc:
                raise DataUnavailableError(
                    f"The example {printable_path(f)!r} of the rare class {name!r} cannot be decoded "
                    f"({type(exc).__name__}: {exc}); nothing was written. Give a readable image with "
                    f"--rare-example {shlex.quote(name + '=FILE')}."
                ) from None


def _warn_near_duplicates(classes) -> None:
    """Classes that differ only in case are two classes (the name rule); say so, as a
    spreadsheet with both spellings is more often a typo than a choice."""
    by_key: dict[str, list[str]] = {}
    for c in classes:
        by_key.setdefault(class_key(c), []).append(c)
    for same in (v for v in by_key.values() if len(v) > 1):
        warnings.warn(
            f"The labeled set has classes that differ only in case {same}: they are {len(same)} classes. "
            "If they are one, write them alike.",
            UserWarning,
            stacklevel=4,
        )


@dataclass
class SearchPlan:
    classes: list
    keys: list
    parts: list
    labels: list
    skipped: list


def plan_search(config: SearchConfig) -> SearchPlan:
    """Resolve and check every source of ``config``; nothing is written."""
    seed_paths, seed_names = read_labeled_source(config.labeled)
    val_paths, val_names = read_labeled_source(config.val)
    rare_names = [str(r) for r in config.rare]
    examples = parse_rare_examples(config.rare_examples, rare_names)
    unknown = sorted(set(examples) - set(rare_names))
    if unknown:
        raise param_error("init_search", "rare_examples", f"examples of the rare classes {rare_names}", unknown)
    skipped = _labeled_skipped(config.labeled, seed_paths) + _labeled_skipped(config.val, val_paths)
    classes = sorted(set(seed_names))
    _warn_near_duplicates(classes)
    classes += [r for r in rare_names if r not in classes]  # a rare class with no folder yet
    example_files = [f for files in examples.values() for f in files]
    _stat_all(example_files, "init_search", "rare_examples")  # a missing example is named as one
    _check_examples(examples)
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
            "Give one with --rare-example NAME=FILE (or rare_examples={NAME: FILE})"
            + "".join(f"; {name!r}: {class_hint(name, sorted(set(seed_names)))}" for name in empty),
        )
    if len(set(seed_names)) < 2:
        raise param_error(
            "init_search",
            "labeled",
            "examples of at least two classes (the rare one and others)",
            sorted(set(seed_names)),
            "A softmax needs common classes to contrast the rare one with.",
        )
    val_ids = {n: find_class(n, classes) for n in set(val_names)}  # one name rule: "Stop" names "stop"
    bad_val = sorted(n for n, c in val_ids.items() if c is None)
    if bad_val:
        raise param_error(
            "init_search", "val", f"classes of the labeled set {classes}", bad_val, class_hint(bad_val[0], classes)
        )
    pool_paths, pool_skipped = pool_files(config.pool)
    known = {os.path.realpath(p) for p in seed_paths + val_paths}
    pool_paths = [p for p in pool_paths if os.path.realpath(p) not in known]  # a file is labeled or in the pool
    pool_keys, unreadable = stat_pool(pool_paths)
    skipped += pool_skipped + unreadable
    if not pool_keys:
        why = f" ({len(skipped)} files listed there are not images rarelab reads, e.g. {skipped[0]})" if skipped else ""
        raise DataUnavailableError(f"No images in the pool {config.pool}{why}.")
    if config.per_class * len(rare) > len(pool_keys):
        raise param_error(
            "init_search",
            "per_class",
            f"an int in [1, {len(pool_keys) // len(rare)}] (pool files / rare classes: {len(pool_keys)} / {len(rare)})",
            config.per_class,
            f"Pass --per-class {max(1, len(pool_keys) // len(rare))} or fewer; nothing was written.",
        )
    for f in seed_paths:
        if not is_image(f):
            raise param_error("init_search", "labeled", "image files", f)
    keys = _stat_all(seed_paths, "init_search", "labeled") + _stat_all(val_paths, "init_search", "val") + pool_keys
    parts = ["seed"] * len(seed_paths) + ["val"] * len(val_paths) + ["pool"] * len(pool_keys)
    idx = {c: i for i, c in enumerate(classes)}
    labels = [idx[n] for n in seed_names] + [val_ids[n] for n in val_names] + [None] * len(pool_keys)
    return SearchPlan(classes, keys, parts, labels, skipped)
