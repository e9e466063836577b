"""``rarelab``: the headless command line over the same core the widgets use."""

from __future__ import annotations

import argparse
import html
import json
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

from ._validation import RarelabError, check_int
from .datasets import DATASETS, load_dataset
from .learners import LEARNERS
from .metrics import read_metrics, write_text_atomic
from .models import BACKBONES
from .report import format_table, gallery_html, ranking_hits, summary_table, write_report
from .strategies import STRATEGIES

_EPILOG = """examples:
  rarelab run --dataset synth_signs --rare-classes rarest:8 --rounds 3 --seeds 2 --out runs/demo
  rarelab run --dataset gtsrb --root GTSRB.npz --rare-classes rarest:10 \\
      --strategies rare-softmax,entropy,random --rounds 5 --per-class 50 --seeds 3 --out runs/gtsrb
  rarelab resume runs/gtsrb/runs/rare-softmax/seed0 --rounds 8
"""


def _seeds(text: str) -> list[int]:
    try:
        if "," in text:
            seeds = [int(s) for s in text.split(",")]
        else:
            seeds = list(range(int(text)))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds takes a count (3) or a list (0,4,7); got {text!r}") from None
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"--seeds needs at least one non-negative seed; got {text!r}")
    return seeds


def _available(name: str) -> bool:
    """Whether a strategy's optional dependency is installed (``all`` skips those that are not)."""
    if name == "taast-clip":
        import importlib.util

        return importlib.util.find_spec("open_clip") is not None
    return True


def _strategies(text: str) -> list[str]:
    names = (
        sorted(s for s in STRATEGIES if _available(s))
        if text == "all"
        else [s.strip() for s in text.split(",") if s.strip()]
    )
    unknown = [s for s in names if s not in STRATEGIES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown strategies {unknown}; choose from {sorted(STRATEGIES)} or 'all'")
    return names


def add_protocol_arguments(parser: argparse.ArgumentParser) -> None:
    """The data and model options of ``rarelab run`` (also the feature study's): see :func:`config_from_args`."""
    g = parser.add_argument_group("data")
    g.add_argument("--dataset", choices=sorted(DATASETS), default="synth_signs", help="default: %(default)s")
    g.add_argument(
        "--root",
        help="path of the data: an .npz or a folder (gtsrb, image_folder), a CSV/Parquet "
        "with path,label[,group] (manifest)",
    )
    g.add_argument(
        "--groups",
        default=None,
        help="image_folder only: near-duplicate groups kept in one part of the "
        "split: 'subfolder' (root/<class>/<group>/...) or a CSV/Parquet with path,group",
    )
    g.add_argument(
        "--n-samples", type=int, default=12000, help="synth_signs only: images to render (default: %(default)s)"
    )
    g.add_argument("--image-size", type=int, default=None, help="resize images to this side (dataset default)")
    g.add_argument(
        "--rare-classes",
        default="rarest:10",
        help="'rarest:K', or class names or ids separated by commas (default: %(default)s)",
    )
    g.add_argument("--pool-cap", type=int, default=50, help="max pool items per rare class (default: %(default)s)")
    g.add_argument("--n-train", type=int, default=1, help="training samples per rare class (default: %(default)s)")
    g.add_argument(
        "--synthetic-start",
        action="store_true",
        help="start each rare class from its clean template (synth_signs; gtsrb for the classes the renderer draws)",
    )
    g.add_argument(
        "--split",
        choices=["train", "test", "all"],
        default=None,
        help="gtsrb only: which official split(s) to load (default: train)",
    )
    g.add_argument(
        "--no-groups",
        dest="group_split",
        action="store_false",
        help="split item by item even where the dataset has groups (GTSRB tracks): leaks "
        "near-duplicates of the training item into the pool; for comparison only",
    )
    g.add_argument(
        "--official-test-pool",
        action="store_true",
        help="rare classes take their training item from the official training split and "
        "their validation and pool items from the official test split (gtsrb --split all)",
    )
    g = parser.add_argument_group("model")
    g.add_argument(
        "--learner",
        choices=list(LEARNERS),
        default="partial",
        help="linear: head on frozen cached features (seconds per round on a CPU); partial: the "
        "backbone's last blocks and the head on cached activations with augmented views (minutes "
        "per round on a CPU); finetune: whole network, random-crop augmentation (GPU) (default: %(default)s)",
    )
    g.add_argument("--backbone", choices=BACKBONES, default="efficientnet_lite0", help="default: %(default)s")
    g.add_argument("--input-size", type=int, default=None, help="backbone input side (default: 96 Lite0, 128 ResNet18)")
    g.add_argument("--hidden", type=int, default=0, help="linear learner: hidden units of the head, 0 = linear")
    g.add_argument("--normalize", action="store_true", help="linear learner: unit-length features before the head")
    g.add_argument(
        "--tune-blocks",
        type=int,
        default=7,
        help="partial: blocks trained, counted from the end (default: %(default)s)",
    )
    g.add_argument(
        "--views", type=int, default=2, help="partial: augmented views cached per image (default: %(default)s)"
    )
    g.add_argument("--weight-decay", type=float, default=0.0, help="training weight decay (default: %(default)s)")
    g.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="training epochs per round (default: linear 20, partial 6, finetune 20)",
    )
    g.add_argument("--warm-start", action="store_true", help="continue from the previous round's model")
    g.add_argument("--device", default=None, help="cpu, cuda, or auto (default: auto)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rarelab",
        description="Find rare classes in an unlabeled image pool by "
        "ranking it with a classifier's tiny softmax outputs (active search).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="compare strategies over seeds; writes metrics.csv and report.html",
        description="Run the active search for every strategy and seed on one split protocol, "
        "with a simulated oracle that reveals the ground truth. Each (strategy, seed) gets its "
        "own run directory under OUT/runs/, so an interrupted command resumes where it stopped.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_protocol_arguments(run)
    g = run.add_argument_group("search")
    g.add_argument(
        "--strategies",
        type=_strategies,
        default=["rare-softmax", "entropy", "random"],
        help=f"comma-separated, or 'all': {', '.join(sorted(STRATEGIES))} (default: rare-softmax,entropy,random)",
    )
    g.add_argument("--rounds", type=int, default=5, help="query rounds T (default: %(default)s)")
    g.add_argument(
        "--per-class", type=int, default=50, help="N, items labeled per rare class and round (default: %(default)s)"
    )
    g.add_argument("--seeds", type=_seeds, default=[0], help="a count (3 = seeds 0,1,2) or a list 0,4,7 (default: 1)")
    run.add_argument("--out", required=True, help="output folder")
    run.add_argument("--quiet", action="store_true", help="no progress bars")

    res = sub.add_parser(
        "resume",
        help="continue one run directory for more rounds",
        description="Reopen a run directory (labels, round and phase as stored) and run it "
        "up to --rounds query rounds.",
    )
    res.add_argument("run_dir")
    res.add_argument("--rounds", type=int, required=True, help="total query rounds to reach")
    res.add_argument("--quiet", action="store_true")

    rep = sub.add_parser(
        "report",
        help="rebuild OUT/metrics.csv and OUT/report.html from OUT/runs",
        description="Collect every run under OUT/runs into one metrics.csv and report.html.",
    )
    rep.add_argument("out")

    sub.add_parser(
        "datasets", help="list the datasets and where they come from", description="List the datasets rarelab can load."
    )
    _add_search_parser(sub)
    pr = sub.add_parser(
        "predict",
        help="apply a run's trained model to image files",
        description="Classify image files with the model saved in a search's run directory; "
        "prints CSV: path, predicted class, its probability, and each rare class's probability.",
    )
    pr.add_argument("run_dir")
    pr.add_argument("files", nargs="+", help="image files (or folders, read recursively)")
    pr.add_argument("--out", help="write the CSV here instead of standard output")
    return p


_SEARCH_EPILOG = """the workflow:
  rarelab search init runs/signs --labeled seed/ --pool dashcam/ --rare stop --rare-example stop=stop.png
  rarelab search propose runs/signs --per-class 50    # writes candidates.csv and candidates.html
  rarelab search label runs/signs --csv answers.csv   # columns path (or item_id), label (a class or 'not')
  rarelab search commit runs/signs                    # labels join training; next round
  rarelab search status runs/signs
  rarelab search export runs/signs --csv labels.csv
"""


def _add_search_parser(sub) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    se = sub.add_parser(
        "search",
        help="search your own unlabeled images (init, propose, label, commit, ...)",
        description="Find rare classes in your own unlabeled image pool: a labeled seed set, "
        "a folder of unlabeled files, and your answers.",
        epilog=_SEARCH_EPILOG,
        formatter_class=fmt,
    )
    ss = se.add_subparsers(dest="search_command", required=True, metavar="STEP")
    ini = ss.add_parser(
        "init",
        help="create a search and extract features (resumable)",
        epilog=_SEARCH_EPILOG,
        formatter_class=fmt,
        description="Register the labeled seed set and the unlabeled pool, "
        "and extract every file's features into the feature store. Run it again after a kill to "
        "continue; unreadable files are listed in RUN/failed_files.csv.",
    )
    ini.add_argument("run_dir")
    ini.add_argument("--labeled", help="labeled seed set: a folder of class folders, or a CSV/Parquet with path,label")
    ini.add_argument(
        "--pool",
        required=True,
        action="append",
        help="unlabeled images: a folder (read recursively), a .txt file list or a CSV/Parquet "
        "manifest with a path column; repeat for several",
    )
    ini.add_argument("--rare", required=True, help="rare class names, comma-separated (names, never ids)")
    ini.add_argument(
        "--rare-example",
        action="append",
        default=[],
        metavar="[NAME=]FILE",
        help="an example or clean template of a rare class with no folder in --labeled; repeatable",
    )
    ini.add_argument("--val", help="labeled validation set (folder or manifest): rare-class F1 is reported with it")
    ini.add_argument("--strategy", default="rare-softmax", choices=sorted(STRATEGIES), help="default: %(default)s")
    ini.add_argument("--per-class", type=int, default=50, help="candidates per rare class and round (default: 50)")
    ini.add_argument("--learner", choices=list(LEARNERS), default="linear", help="default: %(default)s")
    ini.add_argument("--backbone", choices=BACKBONES, default="efficientnet_lite0", help="default: %(default)s")
    ini.add_argument("--input-size", type=int, default=None, help="backbone input side (default: 96 Lite0)")
    ini.add_argument("--image-size", type=int, default=128, help="side of thumbnails and fine-tuning inputs")
    ini.add_argument("--epochs", type=int, default=None, help="default: the learner's")
    ini.add_argument("--seed", type=int, default=0)
    ini.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local: DataLoader workers; ray: Ray Data over a cluster (pip install 'rarelab[ray]')",
    )
    ini.add_argument("--ray-address", help="join a Ray cluster: 'auto' on a cluster node, or ray://HEAD:10001")
    ini.add_argument("--workers", type=int, default=None, help="decoding workers / Ray actors (default: CPUs, max 8)")
    ini.add_argument(
        "--feature-store",
        help="feature store folder (default: $RARELAB_CACHE_DIR/feature-store); on a cluster, a shared folder",
    )
    ini.add_argument("--device", default=None, help="cpu, cuda or auto (default: auto)")
    for name, text in [
        ("propose", "train if needed, score the pool, write candidates.csv and candidates.html"),
        ("commit", "move this round's labels into training; next round"),
        ("status", "where the search stands"),
        ("scan", "add files that appeared in the pool since; only they are extracted"),
    ]:
        sp = ss.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        sp.add_argument("run_dir")
        sp.add_argument("--quiet", action="store_true", help="no progress bars")
        if name == "propose":
            sp.add_argument("--per-class", type=int, default=None, help="candidates per rare class (default: init's)")
    lab = ss.add_parser(
        "label",
        help="import your answers from a CSV (each stored at once)",
        description="Import labels from a CSV with columns 'path' (or 'item_id') and 'label' "
        "(a class name, or 'not' for an item of no rare class). Every row is checked first: "
        "a file with a bad row stores nothing.",
    )
    lab.add_argument("run_dir")
    lab.add_argument("--csv", required=True)
    exp = ss.add_parser("export", help="write every label given so far as CSV")
    exp.add_argument("run_dir")
    exp.add_argument("--csv", required=True)


def _cmd_search(a) -> int:
    from . import search as S

    if a.search_command == "init":
        settings = dict(
            strategy=a.strategy,
            per_class=a.per_class,
            learner=a.learner,
            backbone=a.backbone,
            input_size=a.input_size,
            image_size=a.image_size,
            epochs=a.epochs,
            seed=a.seed,
            engine=a.engine,
            num_workers=a.workers,
            ray_address=a.ray_address,
            feature_store=a.feature_store,
            device=a.device,
        )
        search = S.init_search(
            a.run_dir, labeled=a.labeled, pool=a.pool, rare=a.rare, rare_examples=a.rare_example, val=a.val, **settings
        )
        print(S.status(search))
        return 0
    quiet = getattr(a, "quiet", False)
    search = (
        S.scan_pool(a.run_dir, progress=not quiet)
        if a.search_command == "scan"
        else S.open_search(a.run_dir, progress=not quiet)
    )
    if a.search_command == "propose":
        if a.per_class is not None:
            search.per_class = check_int("search propose", "per_class", a.per_class, low=1)
        if search.phase_ == "label":
            print(f"Round {search.round_} was proposed already: label its candidates, then commit.")
        else:
            if search.phase_ == "train":
                search.train()
            search.propose()
        csv_path, html_path = S.write_candidates(search)
        print(f"{len(search.candidates_)} candidates in round {search.round_}: {csv_path} and {html_path}")
    elif a.search_command == "label":
        n = S.label_from_csv(search, a.csv)
        print(f"Stored {n} labels ({len(search.pending_labels_)} waiting for commit in round {search.round_}).")
    elif a.search_command == "commit":
        n = len(search.pending_labels_)
        search.commit()
        rec = search.history_[-1]
        print(
            f"Committed {n} labels of round {rec['round']}: {rec['hits']} in rare classes. Now round {search.round_}."
        )
    elif a.search_command == "export":
        print(f"Wrote {search.export_labels(a.csv)}")
    else:
        print(S.status(search))
    search.store.close()
    return 0


def _cmd_predict(a) -> int:
    import csv

    from .images import list_images
    from .search import open_search, predict_files

    search = open_search(a.run_dir, progress=False)
    files = []
    for f in a.files:
        files += list_images(f) if Path(f).is_dir() else [f]
    paths, proba, failed = predict_files(search, files)
    names = search.dataset.classes
    rare = list(search.rare_classes)
    out = open(a.out, "w", newline="") if a.out else sys.stdout
    try:
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["path", "predicted", "probability", *[f"p_{names[c]}" for c in rare]])
        for p, row in zip(paths, proba):
            k = int(np.argmax(row))
            w.writerow([p, names[k], f"{row[k]:.4g}", *[f"{row[c]:.3e}" for c in rare]])
    finally:
        if a.out:
            out.close()
    for p, err in failed:
        print(f"rarelab: skipped unreadable {p}: {err}", file=sys.stderr)
    return 0


def config_from_args(a, strategy: str, seed: int):
    """The :class:`~rarelab.experiment.RunConfig` of parsed :func:`add_protocol_arguments`
    (plus ``per_class``, ``rounds`` and ``quiet``) for one strategy and seed."""
    from .experiment import RunConfig

    kwargs = {}
    if a.dataset == "synth_signs":
        kwargs["n_samples"] = a.n_samples
    if a.image_size is not None:
        kwargs["image_size"] = a.image_size
    if a.split is not None:
        kwargs["split"] = a.split
    if a.groups is not None:
        if a.dataset != "image_folder":
            raise RarelabError(
                "--groups applies to --dataset image_folder only (a manifest carries a group column, GTSRB its tracks)."
            )
        kwargs["groups"] = a.groups
    if a.quiet and a.dataset in ("synth_signs", "gtsrb", "image_folder", "manifest"):
        kwargs["progress"] = False
    return RunConfig(
        dataset=a.dataset,
        root=a.root,
        dataset_kwargs=kwargs,
        rare_classes=a.rare_classes,
        n_train=a.n_train,
        pool_cap=a.pool_cap,
        synthetic_start=a.synthetic_start,
        group_split=a.group_split,
        official_test_pool=a.official_test_pool,
        strategy=strategy,
        per_class=a.per_class,
        rounds=a.rounds,
        seed=seed,
        learner=a.learner,
        backbone=a.backbone,
        input_size=a.input_size,
        hidden=a.hidden,
        normalize=a.normalize,
        tune_blocks=a.tune_blocks,
        views=a.views,
        weight_decay=a.weight_decay,
        epochs=a.epochs,
        warm_start=a.warm_start,
        device=a.device,
    )


def _cmd_run(a) -> int:
    from .experiment import create_run

    out = Path(a.out)
    t0 = time.perf_counter()
    first = config_from_args(a, a.strategies[0], a.seeds[0])
    dataset = load_dataset(first.dataset, root=first.root, **first.dataset_kwargs)
    print(dataset)
    for strategy in a.strategies:
        for seed in a.seeds:
            cfg = config_from_args(a, strategy, seed)
            search = create_run(cfg, out / "runs" / strategy / f"seed{seed}", dataset=dataset, progress=not a.quiet)
            if strategy == a.strategies[0] and seed == a.seeds[0]:
                print(f"\nSplit (seed {seed}):\n" + search.split.table(search.dataset.targets, search.dataset.classes))
                print(f"Learner: {a.learner} on {a.backbone}\n")
            search.run(a.rounds)
            last = search.history_[-1]
            first_hits = search.history_[0].get("hits")
            print(
                f"{strategy:>14} seed {seed}: round-1 hits per rare class "
                f"{first_hits / len(search.rare_classes):.1f}, final N_rare {last['n_rare']:.1f}, "
                f"final rare F1 {last['f1_rare']:.3f}  [{time.perf_counter() - t0:.0f}s]",
                flush=True,
            )
            search.store.close()
    rows = _collect(out)
    print("\n" + format_table(summary_table(rows)))
    print(f"\nWrote {out / 'metrics.csv'} and {out / 'report.html'} in {time.perf_counter() - t0:.0f}s")
    return 0


def _collect(out: Path) -> list[dict]:
    """Merge the runs' metrics into OUT/metrics.csv and rebuild OUT/report.html."""
    from .experiment import open_run

    # A run interrupted before its first round has no metrics yet: nothing to report for it.
    run_dirs = sorted(d for d in (out / "runs").glob("*/seed*") if (d / "metrics.csv").is_file())
    if not run_dirs:
        raise RarelabError(f"No finished rounds under {str(out / 'runs')!r}: run `rarelab run --out {out}` first.")
    rows, galleries, max_n_rare, notes = [], [], None, ""
    csv_parts = []
    for d in run_dirs:
        text = (d / "metrics.csv").read_text()
        csv_parts.append(text if not csv_parts else text.split("\n", 1)[1])
        rows += read_metrics(d / "metrics.csv")
    write_text_atomic(out / "metrics.csv", "".join(csv_parts))
    # Every run under OUT shares one dataset (one `rarelab run`): load it once.
    first = json.loads((run_dirs[0] / "config.json").read_text())
    base = load_dataset(first["dataset"], root=first["root"], **first["dataset_kwargs"])
    pr_curves, n_relevant = _ranking_hits(run_dirs, base)
    # Fig. 2: the first rare class's top 30 in round 0 of the first per-class ranking run.
    for d in run_dirs:
        cfg = json.loads((d / "config.json").read_text())
        if cfg["strategy"] != "rare-softmax":
            continue
        search = open_run(d, dataset=base, progress=False)
        ds, rare = search.dataset, search.rare_classes
        pool_per_class = [int(np.sum(ds.targets[search.split.pool] == c)) for c in rare]
        max_n_rare = float(
            np.mean(np.array(pool_per_class) + [np.sum(ds.targets[search.split.train] == c) for c in rare])
        )
        cand = search.store.candidates(0)
        for c in rare[:3]:
            top = [(i, s) for i, t, s, _ in cand if t == c][:30]
            ids = np.array([i for i, _ in top], dtype=np.int64)
            ref_id = search.split.synthetic.get(c, next((i for i in search.split.train if ds.targets[i] == c), None))
            galleries.append(
                gallery_html(
                    ds.load_images(ids),
                    [s for _, s in top],
                    ds.targets[ids] == c,
                    title=f"{ds.classes[c]}: top {len(top)} of the pool in round 0 "
                    f"({int(np.sum(ds.targets[ids] == c))} are this class)",
                    reference=ds.load_images([ref_id])[0] if ref_id is not None else None,
                )
            )
        notes = (
            f"Dataset {ds.name}; {len(rare)} rare classes; device {search.history_[0].get('device', '?')}; "
            f"config of the first run: {html.escape(json.dumps(cfg))}"
        )
        search.store.close()
        break
    write_report(
        out / "report.html",
        rows,
        title=f"rarelab: {out.name}",
        max_n_rare=max_n_rare,
        galleries=galleries,
        notes=notes,
        pr_curves=pr_curves,
        n_relevant=n_relevant,
    )
    return rows


def _ranking_hits(run_dirs, dataset) -> tuple[dict, int]:
    """Round-0 hit sequences per strategy (from the stores: the oracle's labels) and the
    number of rare items in the pool (from the first run's split and dataset)."""
    from .labels import LabelStore

    curves: dict = {}
    n_relevant = 0
    for d in run_dirs:
        store = LabelStore(d / "labels.sqlite")
        try:
            rare = store.get("rare_classes", [])
            cand = store.candidates(0)
            if cand:
                labels = store.labels(round=0)
                curves.setdefault(json.loads((d / "config.json").read_text())["strategy"], []).append(
                    ranking_hits(cand, labels, rare)
                )
            if not n_relevant:
                from .experiment import open_run

                search = open_run(d, dataset=dataset, progress=False)
                n_relevant = int(np.isin(search.dataset.targets[search.split.pool], rare).sum())
                search.store.close()
        finally:
            store.close()
    return curves, n_relevant


def _cmd_resume(a) -> int:
    from .experiment import open_run

    search = open_run(a.run_dir, progress=not a.quiet)
    print(f"Reopened {search!r}")
    search.run(a.rounds)
    print(format_table(summary_table(read_metrics(Path(a.run_dir) / "metrics.csv"))))
    return 0


def _cmd_datasets(a) -> int:
    for name, fn in DATASETS.items():
        print(f"{name:13} {(fn.__doc__ or '').strip().splitlines()[0]}")
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    try:
        if a.command == "run":
            return _cmd_run(a)
        if a.command == "resume":
            return _cmd_resume(a)
        if a.command == "report":
            rows = _collect(Path(a.out))
            print(format_table(summary_table(rows)))
            return 0
        if a.command == "search":
            return _cmd_search(a)
        if a.command == "predict":
            return _cmd_predict(a)
        return _cmd_datasets(a)
    except (RarelabError, OSError, json.JSONDecodeError, sqlite3.Error) as exc:
        # Everything a user can cause (bad input, a missing or unreadable file, a locked
        # store) is one line and exit code 2, never a traceback.
        print(
            f"rarelab: error: {type(exc).__name__ + ': ' if not isinstance(exc, RarelabError) else ''}{exc}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("rarelab: interrupted; every committed label and feature chunk is kept.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
