"""Feature-space strategies: core-set (k-center greedy) and cosine prototypes.

No strategy here builds an N x N matrix: distances are computed in chunks.
"""

from __future__ import annotations

import numpy as np

from ..utils import check_random_state
from ._base import Candidates, PoolContext, Strategy

CHUNK = 4096


def min_sq_distances(points, centers, *, chunk: int = CHUNK) -> np.ndarray:
    """For each point, the squared L2 distance to its nearest center, chunk by chunk."""
    points = np.asarray(points, dtype=np.float32)
    centers = np.asarray(centers, dtype=np.float32)
    out = np.full(len(points), np.inf, dtype=np.float64)
    p_sq = np.einsum("ij,ij->i", points, points)
    for a in range(0, len(centers), chunk):
        c = centers[a : a + chunk]
        c_sq = np.einsum("ij,ij->i", c, c)
        for b in range(0, len(points), chunk):
            d = p_sq[b : b + chunk, None] - 2.0 * points[b : b + chunk] @ c.T + c_sq[None, :]
            np.minimum(out[b : b + chunk], d.min(axis=1), out=out[b : b + chunk])
    return np.maximum(out, 0.0)


def k_center_greedy(points, labeled, k: int, *, random_state=None) -> np.ndarray:
    """Greedy k-center (Aggarwal Eq. 7, after Sener & Savarese): repeatedly take the point
    farthest from every chosen or labeled point. With nothing labeled, the first pick is random.

    Examples
    --------
    >>> pts = np.array([[0.0, 0], [1, 0], [10, 0], [5, 0]])
    >>> k_center_greedy(pts, np.array([[0.0, 0]]), 2).tolist()
    [2, 3]
    """
    points = np.asarray(points, dtype=np.float32)
    if labeled is not None and len(labeled):
        picks: list[int] = []
        dist = min_sq_distances(points, labeled)
    else:
        picks = [int(check_random_state(random_state).integers(len(points)))]
        dist = min_sq_distances(points, points[picks])
    p_sq = np.einsum("ij,ij->i", points, points)
    while len(picks) < k:
        i = int(np.argmax(dist))
        picks.append(i)
        # ||p - x||^2 = ||p||^2 - 2 p.x + ||x||^2: a mat-vec instead of an n x d temporary per pick
        new = p_sq - 2.0 * (points @ points[i]) + p_sq[i]
        np.minimum(dist, np.maximum(new, 0.0), out=dist)
        dist[i] = 0.0
    return np.asarray(picks, dtype=np.int64)


class CoreSet(Strategy):
    """Core-set by greedy k-center in the learner's feature space (Aggarwal Sec. 3.2.3, Eq. 7).

    The labeled training set seeds the centers; the paper, which starts with no target
    labels, seeds with one random point.
    """

    name = "coreset"

    def select(self, ctx: PoolContext, budget: int, *, random_state=None) -> Candidates:
        feats = ctx.pool_embeddings
        picks = k_center_greedy(feats, ctx.train_embeddings, budget, random_state=random_state)
        score = -np.arange(len(picks), dtype=np.float64)  # pick order is the ranking
        return Candidates(ctx.pool_ids[picks], np.full(len(picks), -1), score)


def class_prototypes(features, labels, classes) -> np.ndarray:
    labels = np.asarray(labels)
    return np.stack([np.asarray(features)[labels == c].mean(axis=0) for c in classes])


def row_norms(x) -> np.ndarray:
    """L2 norm of each row without an n x d temporary."""
    return np.sqrt(np.einsum("ij,ij->i", x, x))


def normalize_rows(x, *, copy: bool = True) -> np.ndarray:
    x = np.array(x, copy=copy) if np.asarray(x).dtype in (np.float32, np.float64) else np.asarray(x, np.float64)
    x /= np.maximum(row_norms(x), 1e-12)[:, None]
    return x


def cosine_to_centroid(features, positives, *, feature_norms=None) -> np.ndarray:
    """Cosine similarity to the normalised centroid of L2-normalised positives
    (Mullapudi et al. Alg. 1, lines 3–4: computeFeatureCentroid, rankByCosineSimilarity).

    ``feature_norms`` (the rows' L2 norms) lets a caller ranking several classes normalise once.
    """
    c = normalize_rows(positives).mean(axis=0)
    c /= max(np.linalg.norm(c), 1e-12)
    f = np.asarray(features)
    norms = row_norms(f) if feature_norms is None else feature_norms
    return (f @ c.astype(f.dtype, copy=False)) / np.maximum(norms, 1e-12)


class CosinePrototype(Strategy):
    """Mullapudi et al.'s bootstrap ranking alone: cosine similarity to the rare class's
    normalised feature centroid."""

    name = "cosine"
    per_class_ranking = True

    def class_scores(self, ctx: PoolContext, cls: int) -> np.ndarray:
        if ctx.extras.get("_pool_norms") is None:  # shared by every rare class of this query
            ctx.extras["_pool_norms"] = row_norms(ctx.pool_embeddings)
        return cosine_to_centroid(
            ctx.pool_embeddings, ctx.train_embeddings[ctx.train_labels == cls], feature_norms=ctx.extras["_pool_norms"]
        )
