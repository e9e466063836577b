"""A simulation from a plain config: the paper's protocol on a labeled dataset, with an oracle."""

from __future__ import annotations

import csv
import io
import json
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..data import drop_undecodable, get_dataset, list_datasets, rare_class_split, resolve_rare_classes
from ..exceptions import InvalidParameterError
from ..learners import learner_from_settings, learner_params, list_learners
from ..loop import ActiveLoop
from ..strategies import NEEDS_BUDGET, get_strategy, list_strategies
from ..utils import check_int, param_error, printable_path, read_json_config, write_atomic
from ._oracle import SimulatedOracle


@dataclass
class SimulationConfig:
    """Everything needed to rebuild a simulation exactly; stored as ``config.json`` in its run directory.

    Fields hold the settings of every learner (``hidden`` for the linear head,
    ``tune_blocks`` and ``views`` for partial fine-tuning); the chosen learner takes its own.
    """

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

    def validate(self) -> SimulationConfig:
        owner = "SimulationConfig"
        if self.dataset not in list_datasets():
            raise param_error(owner, "dataset", f"one of {sorted(list_datasets())}", self.dataset)
        if self.strategy not in list_strategies():
            raise param_error(owner, "strategy", f"one of {sorted(list_strategies())}", self.strategy)
        if self.learner not in list_learners():
            raise param_error(owner, "learner", f"one of {sorted(list_learners())}", self.learner)
        for name in ("per_class", "n_train", "pool_cap", "rounds", "tune_blocks"):
            check_int(owner, name, getattr(self, name), low=1)
        if self.epochs is not None:
            check_int(owner, "epochs", self.epochs, low=1)
        check_int(owner, "views", self.views, low=0)
        check_int(owner, "seed", self.seed, low=0)
        # A setting of another learner, changed from its default, would be ignored: say so.
        accepted = learner_params(self.learner)
        ignored = sorted(
            name
            for name in _LEARNER_SETTINGS
            if name not in accepted and getattr(self, name) != self.__dataclass_fields__[name].default
        )
        if ignored:
            raise InvalidParameterError(
                f"The {self.learner!r} learner does not take {ignored}; they apply to "
                f"{sorted(n for n in list_learners() if set(ignored) <= set(learner_params(n)))} only."
            )
        return self


_LEARNER_SETTINGS = ("hidden", "normalize", "tune_blocks", "views", "weight_decay", "warm_start")


def spawn_seeds(seed: int) -> tuple[int, int, int]:
    # Independent streams for the split, the learner and the strategy, from one seed.
    return tuple(int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(3))


def load_dataset(config: SimulationConfig, *, dataset=None, progress: bool = True):
    """``config``'s dataset (``dataset`` when given, already loaded), files that cannot be
    read left out (:func:`~rarelab.data.drop_undecodable`): they never reach a split,
    training or a gallery. They are listed in ``dataset.left_out`` and each run's
    ``failed_files.csv``, and a warning counts them."""
    if dataset is None:
        dataset = get_dataset(config.dataset, root=config.root, **config.dataset_kwargs)
    checked = getattr(dataset, "left_out", None) is not None
    dataset, failed = drop_undecodable(dataset, progress=progress)
    if failed and not checked:
        path, why = failed[0]
        warnings.warn(
            f"{len(failed)} files of {dataset.name} cannot be read and are left out of every part of the split "
            f"(listed in each run's failed_files.csv), e.g. {printable_path(path)!r}: {why}",
            RuntimeWarning,
            stacklevel=2,
        )
    return dataset


def write_failed_files(folder: Path, dataset) -> None:
    """``folder/failed_files.csv``: the files of ``dataset`` left out, with the reason."""
    failed = getattr(dataset, "left_out", None)
    if not failed:
        return
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", "error"])
    w.writerows((printable_path(p), why) for p, why in failed)
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / "failed_files.csv", buf.getvalue())


def build_simulation(config: SimulationConfig, *, run_dir=None, dataset=None, progress: bool = True) -> ActiveLoop:
    """Build dataset, split, learner, strategy and oracle from ``config`` (validated first)."""
    config.validate()
    dataset = load_dataset(config, dataset=dataset, progress=progress)
    if run_dir is not None:
        write_failed_files(Path(run_dir), dataset)
    rare = resolve_rare_classes(config.rare_classes, dataset.targets, dataset.classes)
    split_seed, learner_seed, strategy_seed = spawn_seeds(config.seed)
    template_ids = None
    if config.synthetic_start:
        dataset, template_ids = dataset.with_templates(rare)
    groups = getattr(dataset, "groups", None) if config.group_split else None
    train_from = None
    if config.official_test_pool:
        official = getattr(dataset, "official_split", None)
        if official is None or not np.any(official == "test") or not np.any(official == "train"):
            raise param_error(
                "SimulationConfig",
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
    settings = dict(
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
    learner = learner_from_settings(config.learner, dataset=dataset, settings=settings)
    budget = config.rounds * config.per_class * len(rare) if config.strategy in NEEDS_BUDGET else None
    return ActiveLoop(
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


def create_simulation(config: SimulationConfig, run_dir, *, dataset=None, progress: bool = True) -> ActiveLoop:
    """Start a run in ``run_dir`` or reopen it if it holds the same config.

    Everything is validated before anything is written, so a bad config leaves no
    half-made run directory behind.
    """
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    if cfg_path.exists():
        stored = read_json_config(cfg_path)
        wanted = json.loads(json.dumps(asdict(config)))
        try:  # a config written before a setting existed holds that setting's default
            stored = json.loads(json.dumps(asdict(SimulationConfig(**stored))))
        except TypeError:
            pass  # unknown keys: reported as another config below
        # More rounds is a continuation of the same run, not another run.
        if {k: v for k, v in stored.items() if k != "rounds"} != {k: v for k, v in wanted.items() if k != "rounds"}:
            raise InvalidParameterError(
                f"The run directory {str(run_dir)!r} holds a run with another config. Choose a new --out, "
                "or reopen it with `rarelab resume` / open_simulation()."
            )
        if stored.get("rounds") != wanted["rounds"]:
            write_atomic(cfg_path, json.dumps(wanted, indent=2))
        return open_simulation(run_dir, dataset=dataset, progress=progress)
    if dataset is None:
        dataset = get_dataset(config.validate().dataset, root=config.root, **config.dataset_kwargs)
    build_simulation(config, run_dir=None, dataset=dataset, progress=progress)  # validates everything
    run_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(cfg_path, json.dumps(asdict(config), indent=2))
    return build_simulation(config, run_dir=run_dir, dataset=dataset, progress=progress)


def open_simulation(run_dir, *, dataset=None, progress: bool = True) -> ActiveLoop:
    """Reopen a run directory: same split, labels, round and phase as when it stopped."""
    cfg_path = Path(run_dir) / "config.json"
    if not cfg_path.is_file():
        hint = (
            f" It holds a comparison: reopen one of its simulations, {str(Path(run_dir) / 'runs')!r}/<strategy>/seed<k>, "
            "or run the same `rarelab compare --out` again to continue them all."
            if (Path(run_dir) / "runs").is_dir()
            else ""
        )
        raise InvalidParameterError(f"No rarelab run in {str(run_dir)!r}: config.json is missing.{hint}")
    stored = read_json_config(cfg_path)
    if stored.get("kind") == "search":
        raise InvalidParameterError(
            f"{str(run_dir)!r} holds a search of your own images, not a simulation: reopen it with "
            "rarelab.search.open_search() or `rarelab search status`."
        )
    try:
        config = SimulationConfig(**stored)
    except TypeError as exc:
        known = sorted(SimulationConfig.__dataclass_fields__)
        raise InvalidParameterError(
            f"{str(cfg_path)!r} does not describe a rarelab run ({exc}); its keys must be among {known}."
        ) from None
    return build_simulation(config, run_dir=run_dir, dataset=dataset, progress=progress)
