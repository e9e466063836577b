"""Errors of the loop say what to do in the interface the person is using: the Python call,
and for a search (a run directory a shell may drive) the `rarelab` command too."""

import pytest

from rarelab import create_simulation
from rarelab.cli import main
from rarelab.exceptions import PhaseError, StaleStateError
from rarelab.search import open_search

from .test_class_names import small_search


def test_phase_errors_name_the_command_and_the_call(tmp_path, capsys):
    run, _ = small_search(tmp_path, rare="stop")
    # phase 'train': nothing proposed yet, so no round to end
    assert main(["search", "commit", str(run), "--allow-empty"]) == 2
    err = capsys.readouterr().err
    assert f"`rarelab search propose {run}`" in err and "train()" in err

    assert main(["search", "propose", str(run), "--quiet"]) == 0
    with open_search(run, progress=False) as s, pytest.raises(PhaseError) as exc:
        s.propose()  # phase 'label': label first
    assert "label(...) then commit()" in str(exc.value)
    assert f"`rarelab search label {run} --csv answers.csv, then rarelab search commit {run}`" in str(exc.value)
    with open_search(run, progress=False) as s, pytest.raises(PhaseError, match="--allow-empty"):
        s.commit()


def test_simulations_and_stale_objects_get_advice_that_fits(tiny_config, tmp_path):
    s = create_simulation(tiny_config(), tmp_path / "sim", progress=False)
    with pytest.raises(PhaseError) as exc:
        s.propose()
    assert "Call train() next." in str(exc.value) and "rarelab search" not in str(exc.value)  # an oracle's run
    other = create_simulation(tiny_config(), tmp_path / "sim", progress=False)  # a second writer
    other.train()
    with pytest.raises(StaleStateError, match="refresh\\(\\).*a `rarelab` command: run it again"):
        s.train()
