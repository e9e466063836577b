"""Score functions on hand-made probabilities with known rankings, and the shared selector."""

import numpy as np
import pytest

from rarelab import (
    MaxEntropy,
    PoolContext,
    RandomSampling,
    RareSoftmax,
    entropy_scores,
    random_scores,
    rare_class_scores,
    select_top,
)
from rarelab.exceptions import InvalidParameterError

from .conftest import hand_made_proba

# Class 2 is rare: its probability is tiny everywhere, but highest for items 3 and 1.
PROBA = hand_made_proba(
    [
        [0.90, 0.0999, 0.0001],
        [0.50, 0.4970, 0.0030],
        [0.34, 0.33, 0.33],
        [0.98, 0.0120, 0.0080],
        [0.999, 0.0009, 0.0001],
    ]
)


def test_rare_class_scores_rank_by_the_tiny_probability():
    assert select_top(rare_class_scores(PROBA, 2), 2).tolist() == [2, 3]
    assert np.argsort(-rare_class_scores(PROBA, 2))[:3].tolist() == [2, 3, 1]


def test_entropy_ranks_the_uniform_row_first():
    s = entropy_scores(PROBA)
    assert select_top(s, 2).tolist() == [2, 1]
    assert s[2] == pytest.approx(np.log(3), rel=1e-3)


def test_entropy_of_a_one_hot_row_is_zero():
    assert entropy_scores(np.array([[1.0, 0.0, 0.0]]))[0] == 0.0


def test_random_scores_follow_the_seed():
    assert np.array_equal(random_scores(10, 3), random_scores(10, 3))
    assert not np.array_equal(random_scores(10, 3), random_scores(10, 4))


def test_select_top_breaks_ties_with_the_seed():
    s = np.zeros(100)
    a, b = select_top(s, 5, random_state=1), select_top(s, 5, random_state=1)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, select_top(s, 5, random_state=2))


def test_select_top_partial_sort_matches_full_sort():
    s = np.random.default_rng(0).random(10_000)
    assert np.array_equal(select_top(s, 20), np.argsort(-s)[:20])


def test_select_top_respects_exclusions():
    assert select_top([0.9, 0.8, 0.1], 1, exclude=[True, False, False]).tolist() == [1]


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.array([[0.5, np.nan]]), "NaN"),
        (np.array([0.5, 0.5]), "2-D"),
        (np.array([[1, 0]]), "float"),
        (np.array([[0.9, 0.9]]), "summing to 1"),
    ],
)
def test_scores_reject_bad_probabilities(bad, match):
    with pytest.raises(InvalidParameterError, match=match):
        entropy_scores(bad)


def test_rare_class_scores_rejects_unknown_class():
    with pytest.raises(InvalidParameterError, match="'cls' parameter"):
        rare_class_scores(PROBA, 3)


def test_select_top_rejects_too_many():
    with pytest.raises(InvalidParameterError, match="'k' parameter"):
        select_top([0.1, 0.2], 3)


def _ctx(proba=PROBA, rare=(2,)):
    n = len(proba)
    return PoolContext(
        pool_ids=np.arange(100, 100 + n),
        proba=proba,
        rare_classes=tuple(rare),
        train_ids=np.array([0]),
        train_labels=np.array([0]),
    )


def test_rare_softmax_query_returns_item_ids_per_class():
    cand = RareSoftmax().query(_ctx(rare=(1, 2)), per_class=2, random_state=0)
    assert cand.ids.tolist()[:2] == [101, 102] and cand.target.tolist() == [1, 1, 2, 2]
    assert len(set(cand.ids.tolist())) == 4  # never one item for two classes
    assert cand.ids.tolist()[2:] == [103, 100]


@pytest.mark.parametrize("strategy", [RareSoftmax(), MaxEntropy(), RandomSampling()])
class TestStrategyTemplate:
    def test_budget_is_per_class_times_rare_classes(self, strategy):
        cand = strategy.query(_ctx(rare=(1, 2)), per_class=2, random_state=0)
        assert len(cand) == 4 and set(cand.ids) <= set(range(100, 105))

    def test_deterministic(self, strategy):
        a = strategy.query(_ctx(), per_class=2, random_state=5)
        b = strategy.query(_ctx(), per_class=2, random_state=5)
        assert np.array_equal(a.ids, b.ids)

    def test_does_not_mutate_the_context(self, strategy):
        ctx = _ctx()
        before = ctx.proba.copy()
        strategy.query(ctx, per_class=2, random_state=0)
        assert np.array_equal(ctx.proba, before)

    def test_per_class_larger_than_pool_is_an_error(self, strategy):
        with pytest.raises(InvalidParameterError, match="'per_class' parameter"):
            strategy.query(_ctx(), per_class=6, random_state=0)

    def test_empty_pool_is_an_error(self, strategy):
        ctx = PoolContext(
            pool_ids=np.array([], int),
            proba=np.empty((0, 3)),
            rare_classes=(2,),
            train_ids=np.array([0]),
            train_labels=np.array([0]),
        )
        with pytest.raises(InvalidParameterError, match="empty pool"):
            strategy.query(ctx, per_class=1, random_state=0)
