"""A search's settings and sources: the labeled seed set, rare examples and the pool."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..data import (
    FileKey,
    class_folders,
    read_manifest,
)
from ..exceptions import DataUnavailableError
from ..features import list_backbones, list_engines
from ..learners import list_learners
from ..strategies import list_strategies
from ..utils import check_int, param_error

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
        if self.strategy not in list_strategies():
            raise param_error(owner, "strategy", f"one of {sorted(list_strategies())}", self.strategy)
        if self.learner not in list_learners():
            raise param_error(owner, "learner", f"one of {sorted(list_learners())}", self.learner)
        if self.backbone not in list_backbones():
            raise param_error(owner, "backbone", f"one of {list_backbones()}", self.backbone)
        if self.engine not in list_engines():
            raise param_error(owner, "engine", f"one of {list_engines()}", self.engine)
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
