"""The ``rarelab`` command line's declarations: every command, option and help text.

Command bodies are in :mod:`rarelab.cli._commands`; each is a few calls of the core.
"""

from __future__ import annotations

import argparse
import importlib.util

from ..data import list_datasets
from ..exceptions import RarelabError
from ..features import list_backbones, list_engines
from ..learners import list_learners
from ..simulation import SimulationConfig
from ..strategies import list_strategies

_EPILOG = """examples:
  rarelab compare --dataset synth_signs --rare-classes rarest:8 --rounds 3 --seeds 2 --out runs/demo
  rarelab compare --dataset gtsrb --root GTSRB.npz --rare-classes rarest:10 \\
      --strategies rare-softmax,entropy,random --rounds 5 --per-class 50 --seeds 3 --out runs/gtsrb
  rarelab resume runs/gtsrb/runs/rare-softmax/seed0 --rounds 8
"""


def parse_seeds(text: str) -> list[int]:
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
        return importlib.util.find_spec("open_clip") is not None
    return True


def parse_strategies(text: str) -> list[str]:
    names = (
        sorted(s for s in list_strategies() if _available(s))
        if text == "all"
        else [s.strip() for s in text.split(",") if s.strip()]
    )
    unknown = [s for s in names if s not in list_strategies()]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown strategies {unknown}; choose from {sorted(list_strategies())} or 'all'"
        )
    return names


def add_simulation_arguments(parser: argparse.ArgumentParser) -> None:
    """The data and model options of ``rarelab compare`` (also the feature study's): see :func:`config_from_args`."""
    g = parser.add_argument_group("data")
    g.add_argument("--dataset", choices=sorted(list_datasets()), default="synth_signs", help="default: %(default)s")
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
        action="append",
        metavar="CLASSES",
        help="'rarest:K', or a class name or id; repeat for several. A name is taken whole, commas and "
        "spaces included (quote it); 'a,b' names two classes when each part is a known name or id. "
        "Names match ignoring case and spaces when only one class fits (default: rarest:10)",
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
        choices=list(list_learners()),
        default="partial",
        help="linear: head on frozen cached features (seconds per round on a CPU); partial: the "
        "backbone's last blocks and the head on cached activations with augmented views (minutes "
        "per round on a CPU); finetune: whole network, random-crop augmentation (GPU) (default: %(default)s)",
    )
    g.add_argument("--backbone", choices=list_backbones(), default="efficientnet_lite0", help="default: %(default)s")
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
    """The ``rarelab`` parser with every command (``rarelab --help``)."""
    p = argparse.ArgumentParser(
        prog="rarelab",
        description="Find rare classes in an unlabeled image pool by "
        "ranking it with a classifier's tiny softmax outputs (active search).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    cmp = sub.add_parser(
        "compare",
        help="compare strategies over seeds; writes metrics.csv and report.html",
        description="A comparison: one simulation per strategy and seed on one split protocol, "
        "with a simulated oracle that reveals the ground truth. Each (strategy, seed) gets its "
        "own run directory under OUT/runs/, so an interrupted command resumes where it stopped.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_simulation_arguments(cmp)
    g = cmp.add_argument_group("simulation")
    g.add_argument(
        "--strategies",
        type=parse_strategies,
        default=["rare-softmax", "entropy", "random"],
        help=f"comma-separated, or 'all': {', '.join(sorted(list_strategies()))} (default: rare-softmax,entropy,random)",
    )
    g.add_argument("--rounds", type=int, default=5, help="query rounds T (default: %(default)s)")
    g.add_argument(
        "--per-class", type=int, default=50, help="N, items labeled per rare class and round (default: %(default)s)"
    )
    g.add_argument(
        "--seeds", type=parse_seeds, default=[0], help="a count (3 = seeds 0,1,2) or a list 0,4,7 (default: 1)"
    )
    cmp.add_argument("--out", required=True, help="output folder")
    cmp.add_argument("--quiet", action="store_true", help="no progress bars")

    res = sub.add_parser(
        "resume",
        help="continue one simulation of a comparison for more rounds",
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

    ls = sub.add_parser(
        "list",
        help="list what can be chosen by name: datasets, strategies, learners, backbones, engines",
        description="List the names rarelab knows for one kind of component, with a line on each.",
    )
    ls.add_argument("kind", choices=["datasets", "strategies", "learners", "backbones", "engines"])
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
  rarelab search propose runs/signs --per-class 50    # writes candidates.csv and candidates.html (label there)
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
    ini.add_argument(
        "--rare",
        required=True,
        action="append",
        metavar="NAME",
        help="a rare class to find, by name (never an id); repeat for several. The name is taken whole, "
        "commas, '=' and spaces included: --rare 'no entry, except buses'. 'stop,yield' names two classes "
        "when both are class names. A name matches a class exactly, else ignoring spaces and Unicode form, "
        "else ignoring case, when only one class fits",
    )
    ini.add_argument(
        "--rare-example",
        action="append",
        default=[],
        metavar="[NAME=]FILE",
        help="an example or clean template of a rare class with no folder in --labeled; repeatable. "
        "NAME is one of the --rare names (it may hold '=' or ','); a bare FILE belongs to the one rare "
        "class without an example (a file whose name starts with -: --rare-example=NAME=-x.png or ./-x.png)",
    )
    ini.add_argument("--val", help="labeled validation set (folder or manifest): rare-class F1 is reported with it")
    ini.add_argument(
        "--strategy", default="rare-softmax", choices=sorted(list_strategies()), help="default: %(default)s"
    )
    ini.add_argument("--per-class", type=int, default=50, help="candidates per rare class and round (default: 50)")
    ini.add_argument(
        "--learner",
        choices=list(list_learners()),
        default="adapted",
        help="adapted: a head on features adapted by tuning the backbone's last blocks, retuned as the rare "
        "classes fill up (seconds per round, a minute when retuned); linear: frozen features (default: %(default)s)",
    )
    ini.add_argument("--backbone", choices=list_backbones(), default="efficientnet_lite0", help="default: %(default)s")
    ini.add_argument("--input-size", type=int, default=None, help="backbone input side (default: 96 Lite0)")
    ini.add_argument("--image-size", type=int, default=128, help="side of thumbnails and fine-tuning inputs")
    ini.add_argument("--epochs", type=int, default=None, help="default: the learner's")
    ini.add_argument("--seed", type=int, default=0)
    ini.add_argument(
        "--engine",
        choices=list(list_engines()),
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
    ini.add_argument("--quiet", action="store_true", help="no progress bars")
    for name, text in [
        (
            "propose",
            "train if needed, score the pool, write candidates.csv and candidates.html: a page to open in a "
            "browser, label by click or key and save as answers.csv for 'rarelab search label'",
        ),
        ("commit", "move this round's labels into training; next round"),
        ("status", "where the search stands"),
        ("scan", "add files that appeared in the pool since; only they are extracted"),
    ]:
        sp = ss.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        sp.add_argument("run_dir")
        sp.add_argument("--quiet", action="store_true", help="no progress bars")
        if name == "propose":
            sp.add_argument("--per-class", type=int, default=None, help="candidates per rare class (default: init's)")
        if name == "commit":
            sp.add_argument(
                "--allow-empty", action="store_true", help="end the round even if none of its candidates was labeled"
            )
    lab = ss.add_parser(
        "label",
        help="import your answers from a CSV (each stored at once)",
        description="Import labels from a CSV with columns 'path' (or 'item_id') and 'label' "
        "(a class name, or 'not' for an item of no rare class). Spreadsheet CSVs are read as saved "
        "(UTF-8 with or without BOM; ',', ';', tab or '|'). A path is read from the CSV's own folder, or "
        "is the bare file name (or path end) of exactly one file of the search. Rows with an empty label "
        "are skipped. Every row is checked first: a file with a bad row stores nothing.",
    )
    lab.add_argument("run_dir")
    lab.add_argument("--csv", required=True)
    exp = ss.add_parser("export", help="write every label given so far as CSV")
    exp.add_argument("run_dir")
    exp.add_argument("--csv", required=True)


def _rare_classes(values):
    """``--rare-classes`` as :class:`~rarelab.simulation.SimulationConfig` takes it: one value
    as a string (as stored before the option was repeatable), several as a list."""
    if not values:
        return "rarest:10"
    return values[0] if len(values) == 1 else list(values)


def config_from_args(a, strategy: str, seed: int):
    """The :class:`~rarelab.simulation.SimulationConfig` of parsed :func:`add_simulation_arguments`
    (plus ``per_class``, ``rounds`` and ``quiet``) for one strategy and seed."""
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
    return SimulationConfig(
        dataset=a.dataset,
        root=a.root,
        dataset_kwargs=kwargs,
        rare_classes=_rare_classes(a.rare_classes),
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
