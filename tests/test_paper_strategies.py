"""The other papers' strategies on hand-made inputs with known answers, plus one template
test run against every registered strategy."""

import numpy as np
import pytest
import torch

from rarelab import LinearProbe, PoolContext
from rarelab.exceptions import InvalidParameterError
from rarelab.strategies import (
    NEEDS_BUDGET,
    TAAST,
    CoreSet,
    CosinePrototype,
    Mullapudi,
    Uncertainty,
    adaptive_mode,
    balancing_scores,
    diversify_by_class,
    get_strategy,
    k_center_greedy,
    least_confidence_scores,
    list_strategies,
    margin_scores,
    min_sq_distances,
    pseudo_negatives,
    rarity_weights,
    reconstruction_scores,
    should_balance,
    taast_scores,
    train_autoencoder,
    weighted_entropy_scores,
)

from .conftest import hand_made_proba


class FixedLearner:
    """Embeddings from a table: enough for the feature-space strategies' known answers."""

    def __init__(self, features):
        self.features = np.asarray(features, dtype=np.float32)

    def embed(self, ids):
        return self.features[np.asarray(ids)]


def _ctx(features, train_ids, train_labels, pool_ids, proba=None, n_classes=3, **extras):
    proba = proba if proba is not None else np.full((len(pool_ids), n_classes), 1.0 / n_classes)
    return PoolContext(
        pool_ids=np.asarray(pool_ids),
        proba=proba,
        rare_classes=(2,),
        train_ids=np.asarray(train_ids),
        train_labels=np.asarray(train_labels),
        learner=FixedLearner(features),
        n_classes=n_classes,
        extras={"round": 0, "labels_used": 0, "given_labels": {}, **extras},
    )


# -- Aggarwal ---------------------------------------------------------------------------
P = hand_made_proba([[0.5, 0.45, 0.05], [0.9, 0.05, 0.05], [0.34, 0.33, 0.33], [0.6, 0.2, 0.2]])


def test_margin_and_least_confidence_rankings():
    assert np.argsort(-margin_scores(P)).tolist()[:2] == [2, 0]
    assert np.argsort(-least_confidence_scores(P)).tolist() == [2, 0, 3, 1]


def test_inverted_puts_the_most_certain_first():
    ctx = _ctx(np.eye(4), [0], [0], np.arange(4), proba=P)
    cand = Uncertainty("least-confidence", inverted=True).query(ctx, per_class=2, random_state=0)
    assert cand.ids.tolist() == [1, 3]


def test_diversification_takes_one_per_predicted_class_in_turn():
    assert diversify_by_class(np.array([0, 0, 1, 0, 2]), 4).tolist() == [0, 2, 4, 1]
    p = hand_made_proba([[0.99, 0.005, 0.005], [0.98, 0.01, 0.01], [0.1, 0.8, 0.1], [0.97, 0.02, 0.01]])
    ctx = _ctx(np.eye(4), [0], [0], np.arange(4), proba=p)
    cand = Uncertainty("least-confidence", inverted=True, diversified=True).query(ctx, per_class=2, random_state=0)
    assert cand.ids.tolist() == [0, 2]  # the most certain of class 0, then of class 1


def test_k_center_picks_the_farthest_point():
    pts = np.array([[0.0, 0], [1, 0], [10, 0], [5, 0], [9, 0]])
    assert k_center_greedy(pts, np.array([[0.0, 0]]), 1).tolist() == [2]
    assert k_center_greedy(pts, np.array([[0.0, 0]]), 2).tolist() == [2, 3]


def test_chunked_distances_match_the_direct_ones():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((50, 8)), rng.standard_normal((30, 8))
    direct = ((a[:, None] - b[None]) ** 2).sum(-1).min(1)
    assert np.allclose(min_sq_distances(a, b, chunk=7), direct, rtol=1e-4, atol=1e-4)


def test_coreset_strategy_picks_far_from_the_labeled_set():
    feats = np.array([[0.0, 0], [0.1, 0], [5, 5], [0.2, 0], [-4, 4]])
    ctx = _ctx(feats, [0], [0], [1, 2, 3, 4])
    assert CoreSet().query(ctx, per_class=2, random_state=0).ids.tolist() == [2, 4]


def test_balancing_runs_the_base_first_and_switches_at_the_budget_eq8_gives():
    from rarelab.strategies import Balanced, MaxEntropy

    # Ten labeled items of class 0 and one of class 2 before the search: Eq. 8 counts only
    # search labels, so the initial imbalance does not switch it on at round 0.
    feats = np.random.default_rng(0).normal(size=(400, 4))
    train, labels = np.arange(11), np.r_[np.zeros(10, int), 2]
    pool = np.arange(11, 400)
    strat = Balanced(MaxEntropy(), budget=120)
    search = {}
    switched_at = None
    for rnd in range(6):
        # Each round labels 20 items: 18 of class 0 and 2 of class 2 (c_ur = 1 class below the mean).
        ctx = _ctx(
            feats,
            train,
            labels,
            np.setdiff1d(pool, list(search)),
            round=rnd,
            labels_used=len(search),
            given_labels=dict(search),
        )
        cand = strat.query(ctx, per_class=20, random_state=0)
        if cand.info["balancing"].startswith("on") and switched_at is None:
            switched_at = len(search)
        for k, i in enumerate(cand.ids):
            search[int(i)] = 2 if k < 2 else 0
    # After m labels: counts (0.9 m, 0, 0.1 m); classes 1 and 2 are under-represented
    # (c_ur = 2, mean 0.05 m) and class 0 over (0.9 m): Eq. 8 says 120 - m <= 2 * 0.85 m,
    # i.e. m >= 44.4, first reached at m = 60 (round 3).
    assert switched_at == 60
    assert should_balance(120, 60, [54, 0, 6]) and not should_balance(120, 40, [36, 0, 4])


def test_balancing_switch_follows_eq8():
    counts = [30, 30, 2, 2]  # c_ur = 2, mu(or) - mu(ur) = 28: switch when b - m <= 56
    assert not should_balance(100, 43, counts)
    assert should_balance(100, 44, counts)
    assert not should_balance(100, 99, [5, 5, 5])  # balanced: never switch


def test_balancing_next_sample_follows_eq9():
    feats = np.array([[0.0, 0], [1.0, 0], [4.0, 0]])
    s = balancing_scores(feats, target_proto=[0.0, 0], majority_protos=[[5.0, 0]])
    assert np.argmax(s) == 0  # on the rare mean, farthest from the majority


# -- Mullapudi --------------------------------------------------------------------------
def test_cosine_bootstrap_ranks_the_item_nearest_the_centroid_first():
    feats = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [1.0, 0.05], [0.5, 0.5], [1.0, 0.3]])
    ctx = _ctx(feats, [0, 1], [2, 2], [2, 3, 4, 5])
    cand = CosinePrototype().query(ctx, per_class=1, random_state=0)
    assert cand.ids.tolist() == [3]


def test_pseudo_negatives_count_and_bottom_half():
    s = np.arange(1000.0)
    neg = pseudo_negatives(s, n_pos=3, n_neg=20, f_a=10, random_state=0)
    assert len(neg) == 50 and s[neg].max() < 500 and len(set(neg.tolist())) == 50


def test_adaptive_query_switches_when_positives_catch_up():
    assert adaptive_mode(5, 10) == "positive"
    assert adaptive_mode(10, 10) == "margin"
    assert adaptive_mode(3, 0) == "positive"


def test_mullapudi_uses_cosine_first_then_a_linear_model():
    rng = np.random.default_rng(0)
    feats = np.r_[rng.normal([3, 0], 0.3, (30, 2)), rng.normal([0, 3], 0.3, (300, 2))]
    labels = np.r_[np.full(30, 2), np.zeros(300, int)]
    ctx = _ctx(feats, [0], [2], np.arange(1, 330))
    m = Mullapudi(f_a=10)
    cand = m.query(ctx, per_class=10, random_state=0)
    assert m.modes_[2] == "cosine" and (labels[cand.ids] == 2).mean() >= 0.9
    search = {int(i): int(labels[i]) for i in cand.ids}
    train = np.r_[0, [i for i in cand.ids if labels[i] == 2]]
    ctx2 = _ctx(
        feats, train, np.full(len(train), 2), np.setdiff1d(np.arange(1, 330), cand.ids), round=1, given_labels=search
    )
    m.query(ctx2, per_class=10, random_state=0)
    assert m.modes_[2].split()[0] in ("positive", "margin")


def _two_rare_ctx(search, targets, n_pos):
    """Rare classes 2 and 3 apart in feature space; ``n_pos`` labeled positives of class 2."""
    rng = np.random.default_rng(1)
    feats = np.r_[
        rng.normal([3, 0, 0], 0.3, (60, 3)), rng.normal([0, 3, 0], 0.3, (60, 3)), rng.normal([0, 0, 3], 0.3, (400, 3))
    ]
    train = np.r_[np.arange(n_pos), 60]
    labels = np.r_[np.full(n_pos, 2), 3]
    pool = np.setdiff1d(np.arange(520), np.r_[train, list(search)])
    ctx = PoolContext(
        pool_ids=pool,
        proba=np.full((len(pool), 4), 0.25),
        rare_classes=(2, 3),
        train_ids=train,
        train_labels=labels,
        learner=FixedLearner(feats),
        n_classes=4,
        extras={"round": 1, "labels_used": len(search), "given_labels": search, "proposed_for": targets},
    )
    return ctx


def test_mullapudi_counts_negatives_per_rare_class_and_switches_to_the_margin():
    # 40 items queried for class 3 came back as class 0: negatives of class 3 only.
    search = {i: 0 for i in range(120, 160)}
    targets = dict.fromkeys(search, 3)
    search.update({i: 0 for i in range(160, 170)})  # 10 queried for class 2 that were not 2
    targets.update(dict.fromkeys(range(160, 170), 2))
    m = Mullapudi(f_a=5, background_splitting=False)
    m.query(_two_rare_ctx(search, targets, n_pos=5), per_class=5, random_state=0)
    assert m.modes_[2] == "positive (|L_p|=5, |L_n|=10)"  # |L_p| < |L_n|: most likely positives
    assert m.modes_[3] == "positive (|L_p|=1, |L_n|=40)"
    m.query(_two_rare_ctx(search, targets, n_pos=10), per_class=5, random_state=0)
    assert m.modes_[2] == "margin (|L_p|=10, |L_n|=10)"  # caught up: the margin query runs
    cand = m.query(_two_rare_ctx(search, targets, n_pos=10), per_class=5, random_state=0)
    assert "2:margin" in cand.info["query"] and "3:positive" in cand.info["query"]


def test_mullapudi_background_splitting_ranks_the_rare_cluster_first():
    search = {i: 0 for i in range(120, 140)}
    m = Mullapudi(f_a=5, background_splitting=True, n_aux=4)
    cand = m.query(_two_rare_ctx(search, dict.fromkeys(search, 2), n_pos=3), per_class=5, random_state=0)
    assert set(cand.ids[cand.target == 2].tolist()) <= set(range(60))  # all from class 2's cluster
    assert m.aux_ is not None and len(np.unique(m.aux_[1])) == 4


# -- Singh ------------------------------------------------------------------------------
def test_autoencoder_flags_an_out_of_pattern_logit_vector():
    rng = np.random.default_rng(0)
    z = np.zeros((600, 6))
    z[np.arange(600), rng.integers(0, 3, 600)] = 6.0  # head classes 0-2 dominate
    z += rng.normal(0, 0.3, z.shape)
    ae = train_autoencoder(z, epochs=60, random_state=0)
    odd = np.zeros((1, 6))
    odd[0, 5] = 6.0  # a tail-class pattern the autoencoder never saw
    scores = reconstruction_scores(ae, np.r_[z[:50], odd])
    assert np.argmax(scores) == 50


def test_weighted_entropy_matches_the_printed_formula():
    from rarelab import entropy_scores

    p = hand_made_proba([[0.7, 0.3, 1e-12], [0.2, 0.3, 0.5]])
    # Uniform shares b_k = 1/C make q = p: plain entropy, in both readings.
    assert np.allclose(weighted_entropy_scores(p, np.full(3, 1 / 3), form="literal"), entropy_scores(p))
    assert np.allclose(weighted_entropy_scores(p, np.full(3, 1 / 3)), entropy_scores(p))
    # By hand for b = (0.5, 0.25, 0.25): q = p / (b C).
    b = np.array([0.5, 0.25, 0.25])
    q = p[1] / (b * 3)
    assert weighted_entropy_scores(p, b, form="literal")[1] == pytest.approx(-np.sum(q * np.log(q)))
    assert weighted_entropy_scores(p, b)[1] == pytest.approx(-np.sum(q * np.log(p[1])))
    # As printed, q > 1 for a class with a small share makes the term negative: leaning
    # towards a rare class *lowers* the score.
    s = weighted_entropy_scores(
        hand_made_proba([[0.7, 0.3, 1e-12], [0.7, 1e-12, 0.3]]), [0.6, 0.399, 0.001], form="literal"
    )
    assert s[1] < 0 < s[0]


def test_weighted_entropy_by_inverse_proportions_is_non_negative_and_favours_rare_leaning_items():
    rng = np.random.default_rng(0)
    shares = np.array([0.6, 0.399, 0.001])
    s = weighted_entropy_scores(hand_made_proba(rng.uniform(1e-6, 1, (500, 3))), shares)
    assert (s >= 0).all()
    confident_common, rare_leaning = hand_made_proba([[0.98, 0.01, 0.01], [0.6, 0.1, 0.3]])
    a, b = weighted_entropy_scores(np.stack([confident_common, rare_leaning]), shares)
    assert b > a


# -- TAAST ------------------------------------------------------------------------------
def test_rarity_weight_and_integral_value():
    w = rarity_weights([0, 1, 100], beta=1)
    assert w[0] == w[1] == pytest.approx(1 / np.log(2)) and w[2] == pytest.approx(1 / np.log(101))
    p = hand_made_proba([[0.5, 0.0, 0.5], [0.0, 0.5, 0.5]][::1])
    phi = taast_scores(hand_made_proba([[0.6, 0.4, 1e-12], [1e-12, 0.4, 0.6]]), [100, 100, 1])
    assert phi[1] > phi[0]  # same entropy, the second is predicted as the rare class
    assert p.shape == (2, 3)


def test_taast_pseudo_labels_filter_and_one_representative_per_cluster():
    rng = np.random.default_rng(0)
    n = 200
    proba = hand_made_proba(rng.dirichlet([1, 1, 1], n))
    proba[:20] = hand_made_proba(np.tile([0.9, 0.05, 0.05], (20, 1)))  # confident: pseudo-labels
    feats = rng.standard_normal((n + 1, 4))
    ctx = _ctx(feats, [n], [0], np.arange(n), proba=proba, dataset=None)
    cand = TAAST(embeddings="backbone").query(ctx, per_class=5, random_state=0)
    assert len(cand) == 5 and len(set(cand.ids.tolist())) == 5
    confident = np.flatnonzero(proba.max(axis=1) >= 0.8)
    assert set(range(20)) <= set(confident.tolist())
    assert set(cand.pseudo_ids.tolist()) == set(confident.tolist())
    assert np.array_equal(cand.pseudo_labels, proba[confident].argmax(axis=1))
    assert not set(cand.ids.tolist()) & set(confident.tolist())  # chosen from U \ P
    # n_c of Eq. 5 counts the labeled item and the pseudo-labels
    counts = np.array([1, 0, 0]) + np.bincount(proba[confident].argmax(axis=1), minlength=3)
    assert np.array_equal(TAAST().counts(ctx), counts) and counts[0] >= 21
    phi = taast_scores(proba, counts)
    rest = np.setdiff1d(np.arange(n), confident)
    cutoff = np.sort(phi[rest])[::-1][int(np.ceil(0.2 * len(rest))) - 1]
    assert (phi[cand.ids] >= cutoff).all()  # the top-20 % filter
    assert "backbone" in cand.info["embeddings"]


# -- ProtoNet and RelationNet (the traffic-sign paper's appendix) -------------------------
def _clusters(n_classes=6, per_class=12, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 1.5, (n_classes, dim))
    labels = np.repeat(np.arange(n_classes), per_class)
    return centers[labels] + rng.normal(0, 0.8, (len(labels), dim)), labels


def test_episodes_are_one_shot_with_queries_from_classes_that_have_them():
    from rarelab.strategies import sample_episode

    labels = np.r_[np.repeat(np.arange(5), 10), 7]  # class 7 has a single item: never in an episode
    s, q, pos = sample_episode(labels, n_way=50, n_query=8, rng=np.random.default_rng(0))
    assert len(s) == 5 and len(set(labels[s])) == 5 and 7 not in labels[s]
    assert len(q) == 5 * 8 and np.array_equal(labels[q], labels[s][pos]) and not set(s) & set(q)


@pytest.mark.parametrize("cls", ["protonet", "relationnet"])
def test_fewshot_networks_rank_the_rare_class_first(cls):
    feats, labels = _clusters()
    rare = 5
    train = np.r_[np.flatnonzero(labels != rare)[::2], np.flatnonzero(labels == rare)[:1]]
    pool = np.setdiff1d(np.arange(len(labels)), train)
    ctx = PoolContext(
        pool_ids=pool,
        proba=np.full((len(pool), 6), 1 / 6),
        rare_classes=(rare,),
        train_ids=train,
        train_labels=labels[train],
        learner=FixedLearner(feats),
        n_classes=6,
        extras={"round": 0},
    )
    strat = get_strategy(cls, episodes=150)
    cand = strat.query(ctx, per_class=5, random_state=0)
    assert (labels[cand.ids] == rare).mean() >= 0.8
    assert np.mean(strat.loss_history_[-20:]) < strat.loss_history_[0]  # the episodes trained it


@pytest.mark.parametrize("cls", ["protonet", "relationnet"])
def test_fewshot_networks_can_fine_tune_the_backbone_in_the_episodes(cls, tiny_signs):
    from rarelab import FineTune, rare_class_split, rarest_classes

    rare = rarest_classes(tiny_signs.targets, 2)
    split = rare_class_split(tiny_signs.targets, rare, random_state=0)
    learner = FineTune(dataset=tiny_signs, backbone="small_cnn", epochs=1, random_state=0, progress=False)
    ctx = PoolContext(
        pool_ids=split.pool,
        proba=np.full((len(split.pool), len(tiny_signs.classes)), 0.02),
        rare_classes=tuple(rare),
        train_ids=split.train,
        train_labels=split.train_labels,
        learner=learner,
        n_classes=len(tiny_signs.classes),
        extras={"round": 0, "dataset": tiny_signs},
    )
    strat = get_strategy(cls, episodes=3, backbone="finetune")
    cand = strat.query(ctx, per_class=4, random_state=0)
    assert len(cand) == 8 and len(strat.loss_history_) == 3 and strat.pool_z_.shape[0] == len(split.pool)
    with pytest.raises(InvalidParameterError, match="'backbone' parameter"):
        get_strategy(cls, backbone="imagenet").query(ctx, per_class=4, random_state=0)


def test_relationnet_ranks_a_query_identical_to_the_support_first():
    feats, labels = _clusters()
    rare = 5
    train = np.r_[np.flatnonzero(labels != rare)[::2], np.flatnonzero(labels == rare)[:1]]
    twin = len(feats)
    feats = np.r_[feats, feats[train[-1]][None]]  # an exact copy of the rare support sample
    pool = np.r_[np.setdiff1d(np.arange(len(labels)), train), twin]
    ctx = PoolContext(
        pool_ids=pool,
        proba=np.full((len(pool), 6), 1 / 6),
        rare_classes=(rare,),
        train_ids=train,
        train_labels=labels[train],
        learner=FixedLearner(feats),
        n_classes=6,
        extras={"round": 0},
    )
    for name in ("relationnet", "protonet"):
        assert get_strategy(name, episodes=150).query(ctx, per_class=3, random_state=0).ids[0] == twin


# -- template over every strategy --------------------------------------------------------
@pytest.fixture(scope="module")
def real_ctx(tiny_signs):
    ds = tiny_signs
    rng = np.random.default_rng(0)
    learner = LinearProbe(dataset=ds, input_size=32, epochs=2, random_state=0, progress=False)
    order = rng.permutation(len(ds))
    train, pool = np.sort(order[:600]), np.sort(order[600:1100])
    learner.fit(train, ds.targets[train])
    rare = tuple(int(c) for c in np.argsort(ds.class_counts())[:2])

    def make():
        return PoolContext(
            pool_ids=pool,
            proba=learner.predict_proba(pool),
            rare_classes=rare,
            train_ids=train,
            train_labels=ds.targets[train],
            learner=learner,
            n_classes=len(ds.classes),
            extras={"round": 0, "labels_used": 0, "given_labels": {}, "dataset": ds},
        )

    return learner, make


def _strategy(name):
    if name == "taast-clip":
        pytest.importorskip("open_clip", reason="taast-clip needs the clip extra and its weights")
    return get_strategy(name, budget=1000) if name in NEEDS_BUDGET else get_strategy(name)


def test_taast_clip_never_falls_back_silently(real_ctx, monkeypatch):
    from rarelab.exceptions import DataUnavailableError
    from rarelab.strategies import _taast

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(_taast, "clip_embeddings", offline)
    _, make = real_ctx
    with pytest.raises(DataUnavailableError, match="embeddings='backbone'"):
        get_strategy("taast-clip").query(make(), per_class=2, random_state=0)
    cand = get_strategy("taast").query(make(), per_class=2, random_state=0)
    assert cand.info["embeddings"] == "backbone features"


@pytest.mark.parametrize("name", list_strategies())
class TestEveryStrategy:
    def test_contract(self, name, real_ctx):
        _, make = real_ctx
        ctx = make()
        cand = _strategy(name).query(ctx, per_class=4, random_state=0)
        assert len(cand) == 8 and len(set(cand.ids.tolist())) == 8
        assert set(cand.ids.tolist()) <= set(ctx.pool_ids.tolist())
        assert cand.ids.shape == cand.target.shape == cand.score.shape
        assert np.all(np.isfinite(cand.score))
        assert set(cand.target.tolist()) <= {-1, *ctx.rare_classes}

    def test_deterministic(self, name, real_ctx):
        _, make = real_ctx
        a = _strategy(name).query(make(), per_class=3, random_state=7)
        b = _strategy(name).query(make(), per_class=3, random_state=7)
        assert np.array_equal(a.ids, b.ids)

    def test_leaves_the_model_and_inputs_alone(self, name, real_ctx):
        learner, make = real_ctx
        ctx = make()
        before = {k: v.clone() for k, v in learner.model_.state_dict().items()}
        proba = ctx.proba.copy()
        rng_state = torch.random.get_rng_state()
        _strategy(name).query(ctx, per_class=2, random_state=0)
        assert all(torch.equal(before[k], v) for k, v in learner.model_.state_dict().items())
        assert np.array_equal(proba, ctx.proba)
        assert torch.equal(rng_state, torch.random.get_rng_state())

    def test_errors(self, name, real_ctx):
        _, make = real_ctx
        with pytest.raises(InvalidParameterError, match="per_class"):
            _strategy(name).query(make(), per_class=10_000, random_state=0)


def test_unknown_strategy_and_missing_budget():
    with pytest.raises(InvalidParameterError, match="'name' parameter"):
        get_strategy("bald")
    with pytest.raises(InvalidParameterError, match="'budget' parameter"):
        get_strategy("coreset+balancing")


def test_singh_hold_out_never_takes_a_rare_class_only_item_and_the_autoencoder_scales():
    from rarelab.strategies import LogitAutoencoder, holdout_mask

    y = np.r_[np.repeat(np.arange(5), 40), 5, 6, 6]
    for seed in range(300):
        hold = holdout_mask(y, 7, np.random.default_rng(seed), fraction=0.5)
        assert not hold[y == 5].any() and not hold[y == 6].all()
    ae = LogitAutoencoder(43)
    assert ae.encoder[2].out_features == 42 and ae.encoder[0].out_features == 43  # not 43 -> 10 -> 9
    z = np.random.default_rng(0).normal(size=(300, 5)) * 3
    trained = train_autoencoder(z, epochs=20, random_state=0)
    assert trained.converged_ and trained.loss_history_[-1] < trained.loss_history_[0]
