"""A run from a plain config: what ``rarelab run`` and ``ActiveSearch`` resumption build on."""

from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ._validation import InvalidParameterError, check_int, param_error
from .datasets import DATASETS, load_dataset
from .learners import LEARNERS, make_learner
from .loop import ActiveSearch, SimulatedOracle
from .metrics import write_text_atomic
from .splits import rare_class_split, rarest_classes
from .strategies import NEEDS_BUDGET, STRATEGIES, get_strategy


@dataclass
class RunConfig:
    """Everything needed to rebuild a run exactly; stored as ``config.json`` in the run dir."""

    dataset: str = "synth_signs"
    root: str | None = None
    dataset_kwargs: dict = field(default_factory=dict)
    rare_classes: str | list = "rarest:10"
    n_train: int = 1
    pool_cap: int = 50
    common_fractions: tuple = (0.31, 0.05, 0.64)
    synthetic_start: bool = False
    group_split: bool = True  # keep near-duplicates (GTSRB tracks) in one part, where the dataset has groups
    official_test_pool: bool = False  # rare classes: train item from the official train split, the rest from test
    strategy: str = "rare-softmax"
    per_class: int = 50
    rounds: int = 5  # planned rounds: sets the total budget of the balancing strategies
    seed: int = 0
    learner: str = "partial"  # adapted features (the feature study); "linear" for frozen ones
    backbone: str = "efficientnet_lite0"
    input_size: int | None = None
    hidden: int = 0  # linear: hidden units of the head
    normalize: bool = False  # linear: unit-length features before the head
    tune_blocks: int = 7  # partial: blocks trained, counted from the end
    views: int = 2  # partial: augmented views cached per image
    weight_decay: float = 0.0
    epochs: int | None = None  # None: the learner's default (linear 20, partial 6, finetune 20)
    warm_start: bool = False
    device: str | None = None

    def validate(self) -> RunConfig:
        owner = "RunConfig"
        if self.dataset not in DATASETS:
            raise param_error(owner, "dataset", f"one of {sorted(DATASETS)}", self.dataset)
        if self.strategy not in STRATEGIES:
            raise param_error(owner, "strategy", f"one of {sorted(STRATEGIES)}", self.strategy)
        if self.learner not in LEARNERS:
            raise param_error(owner, "learner", f"one of {sorted(LEARNERS)}", self.learner)
        for name in ("per_class", "n_train", "pool_cap", "rounds", "tune_blocks"):
            check_int(owner, name, getattr(self, name), low=1)
        if self.epochs is not None:
            check_int(owner, "epochs", self.epochs, low=1)
        check_int(owner, "views", self.views, low=0)
        check_int(owner, "seed", self.seed, low=0)
        return self


def resolve_classes(tokens, classes, *, owner: str = "resolve_classes", name: str = "rare_classes") -> list[int]:
    """Class ids of ``tokens``: names first (folders called ``00014`` are names), ids second.

    A digit token that is both a class name and a different class's id resolves to the
    name; the error for an unknown token says which names and ids exist.
    """
    out = []
    for item in tokens:
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            out.append(check_int(owner, name, int(item), low=0, high=len(classes) - 1))
            continue
        item = str(item).strip()
        if item in classes:
            out.append(classes.index(item))
        elif item.isdigit() and int(item) < len(classes):
            out.append(int(item))
        else:
            near = difflib.get_close_matches(item, classes, n=3)
            hint = (
                f"Did you mean {near}?" if near else f"Known classes: {classes[:8]}{'...' if len(classes) > 8 else ''}"
            )
            raise param_error(owner, name, f"class names, or class ids in [0, {len(classes) - 1}]", item, hint)
    return sorted(set(out))


def resolve_rare_classes(spec, targets, classes) -> list[int]:
    """``"rarest:K"``, class names, ids, or a comma-separated mix (names take precedence)."""
    if isinstance(spec, str) and spec.startswith("rarest:"):
        try:
            k = int(spec.split(":", 1)[1])
        except ValueError:
            raise param_error("resolve_rare_classes", "rare_classes", "'rarest:K' with an int K", spec) from None
        return rarest_classes(targets, k)
    items = [s for s in spec.split(",") if s.strip()] if isinstance(spec, str) else list(spec)
    return resolve_classes(items, list(classes), owner="resolve_rare_classes")


def _seeds(seed: int) -> tuple[int, int, int]:
    # Independent streams for the split, the learner and the strategy, from one seed.
    return tuple(int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(3))


def build_search(config: RunConfig, *, run_dir=None, dataset=None, progress: bool = True) -> ActiveSearch:
    """Build dataset, split, learner, strategy and oracle from ``config`` (validated first)."""
    config.validate()
    if dataset is None:
        dataset = load_dataset(config.dataset, root=config.root, **config.dataset_kwargs)
    rare = resolve_rare_classes(config.rare_classes, dataset.targets, dataset.classes)
    split_seed, learner_seed, strategy_seed = _seeds(config.seed)
    template_ids = None
    if config.synthetic_start:
        dataset, template_ids = dataset.with_templates(rare)
    groups = getattr(dataset, "groups", None) if config.group_split else None
    train_from = None
    if config.official_test_pool:
        official = getattr(dataset, "official_split", None)
        if official is None or not np.any(official == "test") or not np.any(official == "train"):
            raise param_error(
                "RunConfig",
                "official_test_pool",
                "used with a dataset holding both official splits",
                dataset.name,
                "Load GTSRB with split='all' (--split all).",
            )
        train_from = official == "train"
        if template_ids:
            train_from = np.r_[train_from, np.ones(len(dataset) - len(train_from), bool)]
    split = rare_class_split(
        dataset.targets,
        rare,
        n_train=config.n_train,
        pool_cap=config.pool_cap,
        common_fractions=tuple(config.common_fractions),
        template_ids=template_ids,
        groups=groups,
        rare_train_from=train_from,
        random_state=split_seed,
    )
    learner = make_learner(
        config.learner,
        dataset=dataset,
        backbone=config.backbone,
        input_size=config.input_size,
        hidden=config.hidden,
        normalize=config.normalize,
        tune_blocks=config.tune_blocks,
        views=config.views,
        weight_decay=config.weight_decay,
        epochs=config.epochs,
        warm_start=config.warm_start,
        device=config.device,
        random_state=learner_seed,
        progress=progress,
    )
    budget = config.rounds * config.per_class * len(rare) if config.strategy in NEEDS_BUDGET else None
    return ActiveSearch(
        dataset=dataset,
        split=split,
        learner=learner,
        strategy=get_strategy(config.strategy, budget=budget),
        per_class=config.per_class,
        oracle=SimulatedOracle(dataset.targets),
        run_dir=run_dir,
        random_state=strategy_seed,
        name=config.strategy,
        seed=config.seed,
    )


def create_run(config: RunConfig, run_dir, *, dataset=None, progress: bool = True) -> ActiveSearch:
    """Start a run in ``run_dir`` or reopen it if it holds the same config.

    Everything is validated before anything is written, so a bad config leaves no
    half-made run directory behind.
    """
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    if cfg_path.exists():
        stored = read_config(cfg_path)
        wanted = json.loads(json.dumps(asdict(config)))
        try:  # a config written before a setting existed holds that setting's default
            stored = json.loads(json.dumps(asdict(RunConfig(**stored))))
        except TypeError:
            pass  # unknown keys: reported as another config below
        # More rounds is a continuation of the same run, not another run.
        if {k: v for k, v in stored.items() if k != "rounds"} != {k: v for k, v in wanted.items() if k != "rounds"}:
            raise InvalidParameterError(
                f"The run directory {str(run_dir)!r} holds a run with another config. Choose a new --out, "
                "or reopen it with `rarelab resume` / open_run()."
            )
        if stored.get("rounds") != wanted["rounds"]:
            write_text_atomic(cfg_path, json.dumps(wanted, indent=2))
        return open_run(run_dir, dataset=dataset, progress=progress)
    if dataset is None:
        dataset = load_dataset(config.validate().dataset, root=config.root, **config.dataset_kwargs)
    build_search(config, run_dir=None, dataset=dataset, progress=progress)  # validates everything
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(cfg_path, json.dumps(asdict(config), indent=2))
    return build_search(config, run_dir=run_dir, dataset=dataset, progress=progress)


def open_run(run_dir, *, dataset=None, progress: bool = True) -> ActiveSearch:
    """Reopen a run directory: same split, labels, round and phase as when it stopped."""
    cfg_path = Path(run_dir) / "config.json"
    if not cfg_path.is_file():
        raise InvalidParameterError(f"No rarelab run in {str(run_dir)!r}: config.json is missing.")
    stored = read_config(cfg_path)
    if stored.get("kind") == "search":  # a search of your own images (rarelab.search)
        from .search import open_search

        return open_search(run_dir, progress=progress)
    try:
        config = RunConfig(**stored)
    except TypeError as exc:
        known = sorted(RunConfig.__dataclass_fields__)
        raise InvalidParameterError(
            f"{str(cfg_path)!r} does not describe a rarelab run ({exc}); its keys must be among {known}."
        ) from None
    return build_search(config, run_dir=run_dir, dataset=dataset, progress=progress)


def read_config(path) -> dict:
    """A run's ``config.json``, with a clear error for a file that is not JSON."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InvalidParameterError(
            f"{str(path)!r} is not valid JSON ({exc}). Restore it, or start a new run in another folder."
        ) from None
    if not isinstance(data, dict):
        raise InvalidParameterError(f"{str(path)!r} must hold a JSON object, not {type(data).__name__}.")
    return data
