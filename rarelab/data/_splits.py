"""The traffic-sign paper's split protocol (Section III-A)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..utils import check_int, check_random_state, param_error


@dataclass(frozen=True)
class Split:
    """What a search knows and what it does not.

    Disjoint item ids of the labeled seed set (``train``, with ``train_labels``), the
    validation set (``val``, with ``val_labels`` when a person supplied them: only the
    metrics read them) and the unlabeled ``pool``, which has no labels at all: its labels
    come from people or, in simulations, from an oracle.
    """

    train: np.ndarray
    val: np.ndarray
    pool: np.ndarray
    rare_classes: tuple[int, ...]
    synthetic: Mapping[int, int] = field(default_factory=dict)  # rare class -> template item id
    train_labels: np.ndarray | None = None
    val_labels: np.ndarray | None = None

    def __post_init__(self):
        for part in ("train", "val", "pool"):
            object.__setattr__(self, part, np.asarray(getattr(self, part), dtype=np.int64))
        if self.train_labels is None:
            raise param_error(
                "Split",
                "train_labels",
                "the labels of the training items",
                None,
                "Build simulations with rare_class_split(targets, ...), which reads them.",
            )
        for part in ("train", "val"):
            labels = getattr(self, f"{part}_labels")
            if labels is None:
                continue
            labels = np.asarray(labels, dtype=np.int64)
            if labels.shape != getattr(self, part).shape:
                raise param_error(
                    "Split",
                    f"{part}_labels",
                    f"one label per {part} item ({len(getattr(self, part))})",
                    f"{len(labels)} labels",
                )
            object.__setattr__(self, f"{part}_labels", labels)

    @property
    def has_val_labels(self) -> bool:
        return self.val_labels is not None and len(self.val) > 0

    def table(self, targets, classes: Sequence[str] | None = None) -> str:
        """The rare classes' counts per part, plus the common classes' totals, as text."""
        targets = np.asarray(targets)
        name = (lambda c: classes[c]) if classes is not None else str
        rows = [("class", "train", "val", "pool")]
        for c in self.rare_classes:
            tr = int(np.sum(targets[self.train] == c))
            rows.append(
                (
                    f"{name(c)}{' (template)' if c in self.synthetic else ''}",
                    str(tr),
                    str(int(np.sum(targets[self.val] == c))),
                    str(int(np.sum(targets[self.pool] == c))),
                )
            )
        rare = np.array(self.rare_classes)
        rows.append(
            (
                "common classes",
                *(str(int(np.sum(~np.isin(targets[p], rare)))) for p in (self.train, self.val, self.pool)),
            )
        )
        rows.append(("total", str(len(self.train)), str(len(self.val)), str(len(self.pool))))
        width = [max(len(r[i]) for r in rows) for i in range(4)]

        def fmt(r):
            return "  ".join(r[0].ljust(width[0]) if i == 0 else r[i].rjust(width[i]) for i in range(4))

        return "\n".join([fmt(rows[0]), "-" * (sum(width) + 6), *map(fmt, rows[1:])])


def rarest_classes(targets, k: int) -> list[int]:
    """The ``k`` classes with the fewest items (ties broken by class id)."""
    counts = np.bincount(np.asarray(targets))
    present = np.flatnonzero(counts)
    k = check_int("rarest_classes", "k", k, low=1, high=len(present))
    return sorted(present[np.argsort(counts[present], kind="stable")[:k]].tolist())


def rare_class_split(
    targets,
    rare_classes: Sequence[int],
    *,
    n_train: int = 1,
    n_val: tuple[int, int] = (2, 3),
    pool_cap: int | None = 50,
    common_fractions: tuple[float, float, float] = (0.31, 0.05, 0.64),
    template_ids: Mapping[int, int] | None = None,
    groups=None,
    rare_train_from=None,
    random_state=None,
) -> Split:
    """Split items as in the traffic-sign paper.

    Each rare class puts exactly ``n_train`` random items into training, between
    ``n_val[0]`` and ``n_val[1]`` into validation, and the rest, at most ``pool_cap``, into
    the unlabeled pool. Common classes are split by ``common_fractions`` (train, val, pool).

    Parameters
    ----------
    targets : array-like of int
        The label of every item (hidden from the search, used only to build the split).
    rare_classes : sequence of int
    template_ids : mapping of class id to item id, optional
        Synthetic start: these items (class templates appended to the dataset) replace the
        rare class's training samples; the real items then go to validation and pool only.
    groups : array-like, optional
        A group id per item (GTSRB: the 30-frame track of one physical sign). Every group
        stays inside one part: the rare training item's track-mates are dropped, never
        put into validation or the pool, and validation and pool never share a group.
        Without groups each item is its own (the split is then the same as before).
    rare_train_from : bool array, optional
        Items a rare class's training sample may come from (e.g. the official training
        split); its validation and pool items then come from the other items (the official
        test split).
    random_state : None, int or Generator

    Examples
    --------
    >>> y = np.repeat(np.arange(3), [100, 100, 10])
    >>> s = rare_class_split(y, [2], random_state=0)
    >>> int(np.sum(y[s.train] == 2)), int(np.sum(y[s.pool] == 2)) + int(np.sum(y[s.val] == 2))
    (1, 9)
    """
    targets = np.asarray(targets)
    n_train, n_val, pool_cap, fr, rare, template_ids = _check_split_args(
        targets, rare_classes, n_train, n_val, pool_cap, common_fractions, template_ids
    )
    grouped = groups is not None
    groups = np.arange(len(targets)) if groups is None else np.asarray(groups)
    if groups.shape != targets.shape:
        raise param_error(_OWNER, "groups", f"one group id per item ({len(targets)})", f"shape {groups.shape}")
    train_from = np.ones(len(targets), bool) if rare_train_from is None else np.asarray(rare_train_from, bool)
    if train_from.shape != targets.shape:
        raise param_error(
            _OWNER, "rare_train_from", f"a boolean mask over the {len(targets)} items", f"shape {train_from.shape}"
        )
    eval_from = ~train_from if rare_train_from is not None else train_from
    rng = check_random_state(random_state)

    excluded = np.zeros(len(targets), dtype=bool)
    excluded[list(template_ids.values())] = True
    train, val, pool = [list(template_ids.values())], [], []
    for c in rare:
        mine = (targets == c) & ~excluded
        k_train = 0 if c in template_ids else n_train
        parts = _split_rare_class(
            c, mine, groups, grouped, train_from, eval_from, k_train, n_val, rng, own_eval=rare_train_from is not None
        )
        train.append(parts[0])
        val.append(parts[1])
        pool.append(parts[2] if pool_cap is None else parts[2][:pool_cap])
    common = np.flatnonzero(~np.isin(targets, rare) & ~excluded)
    for c in np.unique(targets[common]):
        for part, ids in zip(
            (train, val, pool), _split_common_class(common[targets[common] == c], groups, grouped, fr, rng)
        ):
            part.append(ids)
    cat = lambda parts: np.sort(np.concatenate(parts).astype(np.int64))  # noqa: E731
    train, val = cat(train), cat(val) if val else np.empty(0, np.int64)
    # The known labels travel with the split; the pool's stay with whoever holds the ground truth.
    return Split(train, val, cat(pool), tuple(rare), template_ids, train_labels=targets[train], val_labels=targets[val])


_OWNER = "rare_class_split"


def _check_split_args(targets, rare_classes, n_train, n_val, pool_cap, common_fractions, template_ids):
    owner = _OWNER
    if targets.ndim != 1 or not np.issubdtype(targets.dtype, np.integer):
        raise param_error(owner, "targets", "a 1-D int array", f"{targets.dtype} array of shape {targets.shape}")
    n_train = check_int(owner, "n_train", n_train, low=1)
    if not (len(n_val) == 2 and 0 <= n_val[0] <= n_val[1]):
        raise param_error(owner, "n_val", "a pair (low, high) with 0 <= low <= high", n_val)
    if pool_cap is not None:
        pool_cap = check_int(owner, "pool_cap", pool_cap, low=1)
    fr = np.asarray(common_fractions, dtype=float)
    if fr.shape != (3,) or fr.min() < 0 or abs(fr.sum() - 1) > 1e-6:
        raise param_error(
            owner, "common_fractions", "three non-negative fractions (train, val, pool) summing to 1", common_fractions
        )
    rare = [int(c) for c in rare_classes]
    if not rare or len(set(rare)) != len(rare):
        raise param_error(owner, "rare_classes", "a non-empty list of distinct class ids", rare_classes)
    absent = [c for c in rare if not np.any(targets == c)]
    if absent:
        raise param_error(owner, "rare_classes", f"classes that occur in targets (ids 0 to {targets.max()})", absent)
    template_ids = {int(c): int(i) for c, i in (template_ids or {}).items()}
    unknown = sorted(set(template_ids) - set(rare))
    if unknown:
        raise param_error(owner, "template_ids", "keyed by rare classes only", unknown)
    bad = {c: i for c, i in template_ids.items() if not 0 <= i < len(targets) or targets[i] != c}
    if bad:
        raise param_error(
            owner,
            "template_ids",
            "ids of items whose target is their class",
            bad,
            "Append the templates with dataset.with_templates(rare_classes) first.",
        )
    return n_train, n_val, pool_cap, fr, rare, template_ids


def _split_rare_class(c, mine, groups, grouped, train_from, eval_from, k_train, n_val, rng, *, own_eval):
    """``(train, val, pool)`` item ids of rare class ``c`` (its items: the mask ``mine``)."""
    # Whole groups, drawn in random order; with singleton groups this is a permutation of items.
    train_groups = rng.permutation(np.unique(groups[mine & train_from]))
    k_val = int(rng.integers(n_val[0], n_val[1] + 1))
    members: dict = {}
    for i in np.flatnonzero(mine):
        members.setdefault(groups[i], []).append(int(i))
    # Validation and pool take only items they may come from (the other official split).
    evaluable = {g: [i for i in items if eval_from[i]] for g, items in members.items()}
    taken, used = [], []
    for g in train_groups:
        if len(taken) >= k_train:
            break
        taken += members[g]
        used.append(g)
    taken = taken[:k_train]
    if not own_eval:
        rest_groups = train_groups[len(used) :]
    else:
        rest_groups = rng.permutation(np.unique(groups[mine & eval_from & ~np.isin(groups, used)]))
    n_rest = int(np.sum(mine & eval_from & np.isin(groups, rest_groups)))
    if len(taken) < k_train or len(rest_groups) < n_val[0] + 1 or n_rest < n_val[0] + 1:
        raise param_error(
            _OWNER,
            "rare_classes",
            f"classes with at least {k_train} training item(s) and "
            f"{n_val[0] + 1} validation and pool {'groups' if grouped else 'items'} besides",
            f"class {c} with {int(mine.sum())} items in {len(np.unique(groups[mine]))} groups",
            "Choose other rare classes or lower n_train/n_val.",
        )
    k_val = min(k_val, len(rest_groups) - 1)
    # Validation: one item from each of k_val groups; the pool: the other groups' items.
    val_items = [int(rng.choice(evaluable[g])) if grouped else evaluable[g][0] for g in rest_groups[:k_val]]
    rest = np.array([i for g in rest_groups[k_val:] for i in evaluable[g]], dtype=np.int64)
    if grouped:
        rest = rng.permutation(rest)  # a cap then samples many tracks, not the first one or two
    return np.asarray(taken, dtype=np.int64), np.asarray(val_items, dtype=np.int64), rest


def _split_common_class(mine, groups, grouped, fr, rng):
    """``(train, val, pool)`` item ids of a common class's items ``mine``, by ``fr``, group by group."""
    order = rng.permutation(np.unique(groups[mine]))
    ids = np.concatenate([mine[groups[mine] == g] for g in order]) if grouped else order
    sizes = np.array([np.sum(groups[mine] == g) for g in order]) if grouped else np.ones(len(order), int)
    a = int(round(fr[0] * len(ids)))
    b = a + int(round(fr[1] * len(ids)))
    # A group goes to the part where its first item falls: whole groups, fractions kept closely.
    start = np.repeat(np.cumsum(sizes) - sizes, sizes)
    return ids[start < a], ids[(start >= a) & (start < b)], ids[start >= b]
