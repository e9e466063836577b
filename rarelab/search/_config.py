"""A search's settings and sources: the labeled seed set, rare examples and the pool."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..data import (
    FileKey,
    class_folders,
    class_hint,
    clean_name,
    find_class,
    read_table,
    split_class_names,
    table_paths,
)
from ..exceptions import DataUnavailableError
from ..features import list_backbones, list_engines
from ..learners import list_learners
from ..strategies import list_strategies
from ..utils import check_int, param_error

# A person's answer for an item of no rare class, compared as class names are (case and
# spaces ignored); an exact class name wins over them (a class may be called "no").
NOT_LABELS = ("not", "not rare", "not_rare", "not-rare", "no", "-1")
KIND = "search"
# Settings that change how a search runs, not what it finds in which files: `init` on an
# existing run may change them.
RUNTIME_SETTINGS = frozenset({"per_class", "device", "num_workers", "engine", "ray_address", "feature_store"})


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
    learner: str = "adapted"  # "linear": frozen features (no tail training)
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

    @staticmethod
    def rare_names(rare, *, labeled=None, rare_examples=None) -> list[str]:
        """The rare classes ``rare`` (a name, or a list of names) names, each spelled as the
        labeled set's class (or a new class, words single-spaced).

        Each value is one class name as written, commas, ``=`` and quotes included. A value
        that names no class but whose every comma-separated part does names those classes
        (``"stop,yield"``). Names are matched by :func:`~rarelab.data.find_class`'s rule.
        """
        return _rare_names(rare, labeled, rare_examples)

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
def read_labeled_source(source) -> tuple[list[str], list[str]]:
    """``(paths, label names)`` of a labeled folder tree or a CSV/Parquet manifest with labels.

    A manifest's labels are taken as :func:`~rarelab.data.clean_name` writes them (Unicode
    NFC, single spaces, no spaces around): a cell's stray spaces make no class of their own.
    """
    if source is None:
        return [], []
    if isinstance(source, tuple) and len(source) == 2:
        paths, labels = source
        return [str(Path(p).resolve()) for p in paths], [str(y) for y in labels]
    p = Path(source).expanduser()
    if p.is_dir():
        classes, paths, targets = class_folders(p)
        return paths, [classes[t] for t in targets]
    table = read_table(p, required=("path", "label"), owner="init_search (a labeled manifest)")
    labels = []
    for row, line in zip(table.rows, table.lines):
        labels.append(clean_name(row["label"]))
        if not labels[-1]:
            raise table.error("the label is empty: every labeled item needs its class.", line=line, column="label")
    return table_paths(table), labels


def _class_names_of(source) -> list[str]:
    """The class names of a labeled source, without walking its files."""
    if source is None:
        return []
    p = Path(source).expanduser() if not isinstance(source, tuple) else None
    if p is not None and p.is_dir():
        return sorted(c.name for c in p.iterdir() if c.is_dir() and not c.name.startswith("."))
    if p is not None and not p.is_file():
        return []  # the plan says what is missing
    return sorted(set(read_labeled_source(source)[1]))


def _rare_names(rare, labeled, examples) -> list[str]:
    """The rare classes ``rare`` names, spelled as the labeled set (or a rare example) spells
    them; see :meth:`SearchConfig.rare_names`."""
    values = [rare] if isinstance(rare, str) else [str(r) for r in rare]
    known = _class_names_of(labeled)
    written = values + [part for v in values for part in v.split(",")]
    if isinstance(examples, dict):
        named = [str(k) for k in examples]
    else:
        named = [hit[0] for hit in (_example_spec(str(s), written) for s in examples or []) if hit]
    known += [n for n in named if find_class(n, known) is None]
    names = split_class_names(values, known)
    return list(dict.fromkeys(n if find_class(n, known) is not None else clean_name(n) for n in names if n.strip()))


def _example_spec(spec: str, names: list[str]) -> tuple[str, str] | None:
    """``(name, file)`` of a ``NAME=FILE`` spec whose NAME is one of ``names`` (names may hold
    ``=``): among the splits at each ``=`` that name one, those whose file exists first, then
    the longest name."""
    fits = []
    for k, ch in enumerate(spec):
        if ch == "=" and (i := find_class(spec[:k], names)) is not None:
            fits.append((Path(spec[k + 1 :]).expanduser().exists(), k, names[i], spec[k + 1 :]))
    return max(fits)[2:] if fits else None


def parse_rare_examples(examples, rare: list[str]) -> dict[str, list[str]]:
    """``{"stop": ["stop.png"]}``, or ``["stop=stop.png", "x.png"]`` (a bare file belongs to the
    only rare class without examples elsewhere, which the caller checks). Names are matched
    against ``rare`` by :func:`~rarelab.data.find_class`'s rule and may hold ``=`` and ``,``."""
    out: dict[str, list[str]] = {}
    if isinstance(examples, dict):
        for key, files in examples.items():
            i = find_class(key, rare)
            if i is None:
                raise param_error(
                    "init_search",
                    "rare_examples",
                    f"examples of the rare classes {rare}",
                    str(key),
                    class_hint(key, rare),
                )
            files = [files] if isinstance(files, (str, Path)) else files
            out.setdefault(rare[i], []).extend(str(Path(f).expanduser().resolve()) for f in files)
        return out
    for spec in map(str, examples or []):
        hit = _example_spec(spec, rare)
        if hit is None and "=" in spec and not Path(spec).expanduser().exists():
            name = spec.partition("=")[0]
            raise param_error(
                "init_search",
                "rare_examples",
                f"NAME=FILE with NAME one of the rare classes {rare}, or an existing FILE",
                spec,
                class_hint(name, rare),
            )
        name, path = hit or ("", spec)
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
            f"The '{name}' parameter of {owner} names {len(missing)} files that do not exist or cannot be read, e.g. {missing[:3]}."
        )
    return keys
