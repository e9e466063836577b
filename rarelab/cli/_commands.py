"""The ``rarelab`` command bodies: each parses nothing and decides nothing, it calls the core."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from .. import search as S
from ..comparison import build_report, compare
from ..data import dataset_summary, get_dataset, list_datasets, walk_images
from ..exceptions import DataUnavailableError
from ..features import list_backbones, list_engines
from ..learners import list_learners
from ..reporting import format_table, read_metrics, summary_table
from ..simulation import open_simulation
from ..strategies import list_strategies
from ..utils import printable_path
from ._parser import config_from_args

_SEARCH_SETTINGS = {
    "strategy": "strategy",
    "per_class": "per_class",
    "learner": "learner",
    "backbone": "backbone",
    "input_size": "input_size",
    "image_size": "image_size",
    "epochs": "epochs",
    "seed": "seed",
    "engine": "engine",
    "num_workers": "workers",
    "ray_address": "ray_address",
    "feature_store": "feature_store",
    "device": "device",
}


def cmd_compare(a) -> int:
    config = config_from_args(a, a.strategies[0], a.seeds[0])
    dataset = get_dataset(config.dataset, root=config.root, **config.dataset_kwargs)
    print(dataset)
    rows = compare(
        config,
        a.strategies,
        a.seeds,
        a.out,
        dataset=dataset,
        progress=not a.quiet,
        log=functools.partial(print, flush=True),
    )
    print("\n" + format_table(summary_table(rows)))
    print(f"\nWrote {Path(a.out) / 'metrics.csv'} and {Path(a.out) / 'report.html'}")
    return 0


def cmd_resume(a) -> int:
    with open_simulation(a.run_dir, progress=not a.quiet) as sim:
        print(f"Reopened {sim!r}")
        sim.simulate(a.rounds)
    print(format_table(summary_table(read_metrics(Path(a.run_dir) / "metrics.csv"))))
    return 0


def cmd_report(a) -> int:
    print(format_table(summary_table(build_report(a.out))))
    return 0


def cmd_list(a) -> int:
    kinds = {
        "datasets": (list_datasets, dataset_summary),
        "strategies": (list_strategies, None),
        "learners": (list_learners, None),
        "backbones": (list_backbones, None),
        "engines": (list_engines, None),
    }
    names, summary = kinds[a.kind]
    for name in names():
        print(f"{name:26} {summary(name) if summary else ''}".rstrip())
    return 0


def cmd_search(a) -> int:
    if a.search_command == "init":
        settings = {field: getattr(a, arg) for field, arg in _SEARCH_SETTINGS.items()}
        src = dict(labeled=a.labeled, pool=a.pool, rare=a.rare, rare_examples=a.rare_example, val=a.val)
        with S.init_search(a.run_dir, **src, **settings, progress=not a.quiet) as search:
            print(S.status(search))
        return 0
    progress = not getattr(a, "quiet", False)
    opener = S.scan_pool if a.search_command == "scan" else S.open_search
    with opener(a.run_dir, progress=progress) as search:
        return _SEARCH_COMMANDS.get(a.search_command, _search_status)(search, a)


def _search_propose(search, a) -> int:
    if search.phase_ == "label":
        print(f"Round {search.round_} was proposed already: label its candidates, then commit.")
    csv_path, html_path = S.propose_candidates(search, per_class=a.per_class)
    print(f"{len(search.candidates_)} candidates in round {search.round_}: {csv_path} and {html_path}")
    return 0


def _search_label(search, a) -> int:
    before = search.store.labels(committed=True)
    n = S.label_from_csv(search, a.csv)
    after = search.store.labels(committed=True)
    fixed = sum(1 for i, y in after.items() if i in before and before[i] != y)
    what = (
        f": {fixed} correction{'s' * (fixed != 1)} of committed labels (used from the next training)" if fixed else ""
    )
    print(
        f"Stored {n} label{'s' * (n != 1)}{what} ({len(search.pending_labels_)} waiting for commit in round "
        f"{search.round_})."
    )
    return 0


def _search_commit(search, a) -> int:
    n = len(search.pending_labels_)
    if not n and not a.allow_empty:
        print(
            f"rarelab: error: no labels to commit in round {search.round_}: label candidates with "
            "`rarelab search label`, or end the round without any with --allow-empty.",
            file=sys.stderr,
        )
        return 2
    rec = search.commit(allow_empty=a.allow_empty).history_[-1]
    print(f"Committed {n} labels of round {rec['round']}: {rec['hits']} in rare classes. Now round {search.round_}.")
    return 0


def _search_export(search, a) -> int:
    print(f"Wrote {search.export_labels(a.csv)}")
    return 0


def _search_status(search, a) -> int:
    print(S.status(search))
    return 0


_SEARCH_COMMANDS = {
    "propose": _search_propose,
    "label": _search_label,
    "commit": _search_commit,
    "export": _search_export,
}


def cmd_predict(a) -> int:
    missing = [f for f in a.files if not Path(f).exists()]
    if missing:
        raise DataUnavailableError(f"No such files or folders: {missing[:5]}.")
    files, skipped = [], []
    for arg in a.files:
        if Path(arg).is_dir():
            walk = walk_images(arg)
            files += walk.images
            skipped += walk.skipped
        else:
            files.append(arg)
    for p, why in skipped:
        print(f"rarelab: skipped {printable_path(p)}: {why}", file=sys.stderr)
    with S.open_search(a.run_dir, progress=False) as search:
        if a.out:
            with open(a.out, "w", newline="") as out:
                failed = S.write_predictions(search, files, out)
        else:
            failed = S.write_predictions(search, files, sys.stdout)
    for p, err in failed:
        print(f"rarelab: skipped unreadable {printable_path(p)}: {err}", file=sys.stderr)
    return 0


COMMANDS = {
    "compare": cmd_compare,
    "resume": cmd_resume,
    "report": cmd_report,
    "list": cmd_list,
    "search": cmd_search,
    "predict": cmd_predict,
}
