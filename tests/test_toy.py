"""The toy model (rarelab.toy) and its explorer: tiny probabilities, a ranking the bias cannot move."""

import numpy as np
import pytest

from rarelab.exceptions import InvalidParameterError
from rarelab.toy import RARE, run_toy_model, toy_figure
from rarelab.widgets import ToyExplorer


def test_default_probabilities_are_tiny_and_the_ranking_finds_the_rare_cluster():
    results = [run_toy_model(random_state=s) for s in range(10)]
    max_p = np.array([r.max_p_rare for r in results])
    base = np.mean(results[0].data.y_pool == RARE)
    assert max_p.max() < 0.1  # the paper's Fig. 2: below 0.1 for all samples
    assert np.mean([r.precision_at_k for r in results]) > 8 * base
    assert all(r.rare_direction[0] > 0 and r.rare_bias < 0 for r in results)  # w points right, b pushes down


def test_without_weight_decay_the_single_rare_point_is_fitted_harder():
    assert run_toy_model(weight_decay=0.0, random_state=0).max_p_rare > run_toy_model(random_state=0).max_p_rare


@pytest.mark.parametrize("shift", [-3.0, -0.5, 1.0, 4.0])
def test_rare_bias_shift_moves_every_probability_and_keeps_the_ranking(shift):
    r = run_toy_model(random_state=1)
    s = r.with_rare_bias(shift)
    assert s.model.coef_ is r.model.coef_  # no retraining
    assert s.rare_bias == pytest.approx(r.rare_bias + shift)
    moved = s.pool_p_rare > r.pool_p_rare if shift > 0 else s.pool_p_rare < r.pool_p_rare
    assert moved.all()
    assert list(s.top_k) == list(r.top_k) and s.precision_at_k == r.precision_at_k
    assert np.array_equal(
        np.argsort(s.pool_p_rare, kind="stable")[-200:], np.argsort(r.pool_p_rare, kind="stable")[-200:]
    )
    assert s.with_rare_bias(0.0).pool_p_rare == pytest.approx(r.pool_p_rare)


def test_logit_parts_add_up_to_the_rare_logit_relative_to_the_mean():
    r = run_toy_model(random_state=0).with_rare_bias(1.5)
    X = r.data.X_pool[:20]
    wz, b = r.logit_parts(X)
    logits = X @ r.model.coef_ + r.model.intercept_
    assert wz + b == pytest.approx(logits[:, RARE] - logits.mean(1))


def test_plane_covers_every_point_and_colours_end_at_the_data_maximum():
    r = run_toy_model(random_state=0, sigma=0.9)
    every = np.r_[r.data.X_train, r.data.X_pool]
    assert r.grid_x[0] < every[:, 0].min() and r.grid_x[-1] > every[:, 0].max()
    assert r.grid_y[0] < every[:, 1].min() and r.grid_y[-1] > every[:, 1].max()
    fig = toy_figure(r)
    assert fig.data[0].zmax == pytest.approx(r.max_p_rare)
    assert fig.layout.annotations[0].text.startswith("w_rare")  # the weight vector's arrow
    logit = toy_figure(r, "logit")
    assert "b = " in logit.layout.title.text and logit.layout.yaxis.type == "log"
    with pytest.raises(InvalidParameterError, match="kind"):
        toy_figure(r, "contour")


def test_explorer_bias_control_changes_every_probability_and_keeps_the_top_k():
    te = ToyExplorer(random_state=0)
    before, trained = te.result, te.trained
    te.bias_slider.value = 2.5
    after = te.result
    assert te.trained is trained  # the bias control does not retrain
    assert (after.pool_p_rare > before.pool_p_rare).all()
    assert set(after.top_k) == set(before.top_k)
    assert f"shift {2.5:+.2f}" in te.readout.value and "w·z" in te.readout.value
    te.sliders["sigma"].value = 0.6  # a training slider retrains, and keeps the shift
    assert te.trained is not trained and te.result.bias_shift == 2.5
    assert all(not s.continuous_update for s in [*te.sliders.values(), te.bias_slider])
