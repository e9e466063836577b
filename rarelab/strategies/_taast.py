"""Ivanov's TAAST (Tail-Aware Active Self-Training), adapted from detection to classification:
entropy x rarity weight (Eqs. 6–7), the top-20 % filter (Eq. 8), k-means++ on L2-normalised
embeddings with one representative per cluster (Eqs. 9–11), and pseudo-labels at
confidence >= 0.8 added to training (Eq. 4)."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans

from ..exceptions import DataUnavailableError
from ..utils import check_random_state, derive_seed, param_error
from ._base import Candidates, PoolContext, Strategy
from ._geometry import normalize_rows
from ._scores import entropy_scores


def rarity_weights(counts, beta: float = 1.0) -> np.ndarray:
    """Eq. 6: ``omega_c = 1 / log(n_c + beta)``. With beta = 1 a class of zero examples would
    divide by log 1 = 0, so counts are floored at 1 (rarest weight 1 / log 2)."""
    return 1.0 / np.log(np.maximum(np.asarray(counts, dtype=np.float64), 1.0) + beta)


def taast_scores(proba, counts, beta: float = 1.0) -> np.ndarray:
    """Eq. 7: ``phi(x) = omega_{c(x)} * E(x)``, c(x) the predicted class."""
    proba = np.asarray(proba)
    return rarity_weights(counts, beta)[proba.argmax(axis=1)] * entropy_scores(proba)


def clip_embeddings(
    dataset, ids, *, model: str = "ViT-B-32", pretrained: str = "openai", batch_size: int = 256
) -> np.ndarray:
    """CLIP image embeddings through open_clip (needs the ``clip`` extra and its weights)."""
    import open_clip
    import torch
    from PIL import Image

    net, _, preprocess = open_clip.create_model_and_transforms(model, pretrained=pretrained)
    net.eval()
    out = []
    with torch.no_grad():
        for a in range(0, len(ids), batch_size):
            x = torch.stack([preprocess(Image.fromarray(im)) for im in dataset.load_images(ids[a : a + batch_size])])
            out.append(net.encode_image(x).float().numpy())
    return np.concatenate(out)


class TAAST(Strategy):
    """Entropy x rarity, top-fraction filter, k-means diversity, pseudo-labels.

    Parameters
    ----------
    beta : float
        Eq. 6 constant (the paper's 1).
    top_fraction : float
        Eq. 8 filter (the paper's 20 %); widened to the budget when it holds fewer items.
    confidence : float
        Pseudo-label threshold tau (the paper's 0.8).
    embeddings : {"backbone", "clip"}
        What k-means clusters: the learner's features (default; strategy ``taast``) or
        open_clip's CLIP ViT-B-32 (the paper's choice; strategy ``taast-clip``), which
        raises a clear error where its weights cannot load, never falls back.
    """

    name = "taast"

    def __init__(
        self, *, beta: float = 1.0, top_fraction: float = 0.2, confidence: float = 0.8, embeddings: str = "backbone"
    ):
        if embeddings not in ("clip", "backbone"):
            raise param_error("TAAST", "embeddings", "'clip' or 'backbone'", embeddings)
        self.beta = beta
        self.top_fraction = top_fraction
        self.confidence = confidence
        self.embeddings = embeddings

    def counts(self, ctx: PoolContext) -> np.ndarray:
        """n_c of Eq. 5: labeled items plus this round's pseudo-labels (confident predictions)."""
        proba = ctx.proba
        pseudo = proba.max(axis=1) >= self.confidence
        return ctx.labelled_counts(proba.shape[1]) + np.bincount(proba.argmax(axis=1)[pseudo], minlength=proba.shape[1])

    def scores(self, ctx: PoolContext, random_state=None) -> np.ndarray:
        return taast_scores(ctx.proba, self.counts(ctx), self.beta)

    def _embed(self, ctx: PoolContext, positions) -> tuple[np.ndarray, str]:
        if self.embeddings == "clip":
            # No silent fallback: the same seed must give the same candidates on every install.
            try:
                return clip_embeddings(ctx.extras["dataset"], ctx.pool_ids[positions]), "CLIP ViT-B-32 (open_clip)"
            except (ImportError, OSError, RuntimeError, ValueError) as exc:
                raise DataUnavailableError(
                    f"TAAST(embeddings='clip') could not load CLIP ({type(exc).__name__}: {str(exc)[:120]}). "
                    "Install `rarelab[clip]` where open_clip can download its weights, or use "
                    "embeddings='backbone' (strategy 'taast')."
                ) from exc
        return ctx.pool_embeddings[positions], "backbone features"

    def select(self, ctx: PoolContext, budget: int, *, random_state=None) -> Candidates:
        rng = check_random_state(random_state)
        proba = ctx.proba
        conf = proba.max(axis=1)
        pseudo = conf >= self.confidence  # Eq. 4: P, confident machine labels
        phi = self.scores(ctx)
        eligible = np.flatnonzero(~pseudo)  # U \ P
        if len(eligible) < budget:
            eligible = np.arange(len(phi))
        k = max(budget, int(np.ceil(self.top_fraction * len(eligible))))
        top = eligible[np.argsort(-phi[eligible], kind="stable")[:k]]  # Eq. 8, S_phi
        z, source = self._embed(ctx, top)
        z = normalize_rows(z)  # Eq. 9
        km = KMeans(n_clusters=budget, init="k-means++", n_init=1, max_iter=100, random_state=derive_seed(rng)).fit(z)
        d = np.linalg.norm(z - km.cluster_centers_[km.labels_], axis=1)
        reps = []
        for j in range(budget):  # Eq. 11: the member nearest each centroid
            members = np.flatnonzero(km.labels_ == j)
            if len(members):
                reps.append(members[np.argmin(d[members])])
        picked = top[np.array(reps, dtype=np.int64)]
        picked = picked[np.argsort(-phi[picked], kind="stable")]
        p_ids = ctx.pool_ids[np.flatnonzero(pseudo)]
        p_lab = proba.argmax(axis=1)[pseudo]
        return Candidates(
            ctx.pool_ids[picked],
            np.full(len(picked), -1),
            phi[picked],
            p_ids,
            p_lab,
            info={"embeddings": source, "pseudo_labels": int(pseudo.sum()), "filtered": f"top {k} of {len(eligible)}"},
        )
