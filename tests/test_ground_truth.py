"""Outside the oracle and the metrics, nothing reads pool or validation labels."""

import pytest

from rarelab import (
    ActiveLoop,
    ArrayDataset,
    LinearProbe,
    SimulatedOracle,
    rare_class_split,
    rarest_classes,
)
from rarelab.data import FileDataset
from rarelab.exceptions import GroundTruthUnavailable
from rarelab.strategies import NEEDS_BUDGET, get_strategy, list_strategies


class Sealed:
    """Ground truth behind a seal: any read fails the test."""

    def _refuse(self, *args, **kwargs):
        raise AssertionError("ground truth was read outside the oracle and the metrics")

    __getitem__ = __array__ = __len__ = __iter__ = __eq__ = _refuse
    __hash__ = None


@pytest.mark.parametrize("name", [s for s in list_strategies() if s != "taast-clip"])
def test_a_simulation_reads_labels_only_through_the_oracle_and_the_split(name, tiny_signs, tmp_path):
    targets = tiny_signs.targets.copy()
    ds = ArrayDataset(tiny_signs.images, targets, tiny_signs.classes)
    rare = rarest_classes(targets, 3)
    split = rare_class_split(targets, rare, random_state=0)  # the simulation's builder: it may read them
    oracle = SimulatedOracle(targets)  # the one reader of pool labels
    learner = LinearProbe(dataset=ds, input_size=32, epochs=2, random_state=0, progress=False)
    ds.targets = Sealed()
    strategy = get_strategy(name, budget=30) if name in NEEDS_BUDGET else get_strategy(name)
    search = ActiveLoop(
        dataset=ds,
        split=split,
        learner=learner,
        strategy=strategy,
        per_class=3,
        oracle=oracle,
        run_dir=tmp_path / "run",
    )
    search.simulate(rounds=2)
    assert len(search.history_) == 3 and search.history_[1]["labels_used"] == 9
    assert search.history_[-1]["f1_rare"] is not None  # validation labels came with the split


def test_widgets_and_export_read_no_ground_truth(tiny_signs, tmp_path):
    from rarelab.strategies import RareSoftmax
    from rarelab.widgets import CandidateGallery, ProjectionView

    targets = tiny_signs.targets.copy()
    ds = ArrayDataset(tiny_signs.images, targets, tiny_signs.classes)
    split = rare_class_split(targets, rarest_classes(targets, 2), random_state=0)
    learner = LinearProbe(dataset=ds, input_size=32, epochs=2, random_state=0, progress=False)
    ds.targets = Sealed()
    search = ActiveLoop(
        dataset=ds, split=split, learner=learner, strategy=RareSoftmax(), per_class=4, run_dir=tmp_path / "run"
    )  # no oracle: a person labels
    search.train().propose()
    gallery = CandidateGallery(search)
    gallery.label([gallery.items[0]["id"]], gallery.rare_class)
    ProjectionView(search, max_points=200)
    search.export_labels(tmp_path / "labels.csv")
    search.commit()
    assert search.history_[0]["hits"] == 1


def test_a_file_pool_has_no_targets(tmp_path):
    ds = FileDataset([str(tmp_path / "a.png")], ["x", "y"])
    with pytest.raises(GroundTruthUnavailable, match="no ground truth"):
        ds.targets  # noqa: B018
    assert not ds.has_targets and "none" in repr(ds)
