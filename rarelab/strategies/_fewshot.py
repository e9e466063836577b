"""The traffic-sign paper's appendix: few-shot networks for the search (ProtoNet, RelationNet).

"RelationNet and ProtoNet were trained in a one-shot scenario with training episodes
containing 50 classes and 8 queries." Each round a network is trained episodically on
the labeled set; the rare class's training samples are the support, every pool item a
query. ProtoNet (Snell et al.) ranks by the smallest distance to the support prototype,
RelationNet (Sung et al.) by the highest learned relation score.

Both train an embedding network on top of the backbone. With ``backbone="finetune"`` the
backbone (the learner's, with its ImageNet weights) trains with it in every episode, on
the images, as in the paper: the GPU path. With ``backbone="frozen"`` (the default, and
what runs on a CPU) the backbone's features are the learner's cached ones and only the
few-shot network trains.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..utils import check_int, check_random_state, derive_seed, param_error
from ._base import PoolContext, Strategy


def sample_episode(labels, *, n_way: int, n_query: int, rng: np.random.Generator):
    """One one-shot episode: up to ``n_way`` classes that have at least two items, one
    support and up to ``n_query`` queries each. Returns (support idx, query idx, query class
    position in the episode)."""
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    eligible = classes[counts >= 2]  # a class with one item can be support, never its own query
    if len(eligible) < 2:
        raise param_error(
            "few-shot training",
            "labels",
            "at least two classes with two or more items",
            f"{len(eligible)} such classes",
        )
    chosen = rng.choice(eligible, size=min(n_way, len(eligible)), replace=False)
    support, query, query_pos = [], [], []
    for k, c in enumerate(chosen):
        members = rng.permutation(np.flatnonzero(labels == c))
        support.append(members[0])
        q = members[1 : 1 + n_query]
        query.extend(q)
        query_pos.extend([k] * len(q))
    return np.array(support), np.array(query), np.array(query_pos)


class _Embedding(nn.Sequential):
    def __init__(self, dim: int, hidden: int, out: int):
        super().__init__(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, out))


class _Relation(nn.Module):
    """Sung et al.'s relation module on a (support, query) pair of embeddings: a score in [0, 1].

    Sung et al. concatenate the two feature maps; on feature vectors the pair is given as
    ``|s - q|`` and ``s * q``, which keeps the score symmetric and lets the module learn
    that an identical pair (``|s - q| = 0``) is the most related.
    """

    def __init__(self, dim: int, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2 * dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, support, query):  # (s, d), (q, d) -> (q, s)
        s, q = support[None], query[:, None]
        pairs = torch.cat([(s - q).abs(), s * q], dim=2)
        return torch.sigmoid(self.net(pairs).squeeze(-1))


class _FewShot(Strategy):
    per_class_ranking = True

    def __init__(
        self,
        *,
        n_way: int = 50,
        n_query: int = 8,
        episodes: int = 200,
        hidden: int = 512,
        dim: int = 128,
        lr: float = 1e-3,
        backbone: str = "frozen",
    ):
        self.n_way = n_way
        self.n_query = n_query
        self.episodes = episodes
        self.hidden = hidden
        self.dim = dim
        self.lr = lr
        self.backbone = backbone

    def _check(self):
        owner = type(self).__name__
        for name in ("n_way", "n_query", "episodes", "hidden", "dim"):
            check_int(owner, name, getattr(self, name), low=1)
        if self.backbone not in ("frozen", "finetune"):
            raise param_error(
                owner,
                "backbone",
                "'frozen' (cached features, CPU) or 'finetune' (the backbone trains in the episodes, GPU)",
                self.backbone,
            )

    def query(self, ctx: PoolContext, *, per_class: int, random_state=None):
        self._check()
        check_int(
            type(self).__name__, "per_class", per_class, low=1, high=max(1, len(ctx.pool_ids) // len(ctx.rare_classes))
        )  # before minutes of training
        rng = check_random_state(random_state)
        if self.backbone == "frozen":
            self._fit(np.asarray(ctx.train_embeddings, dtype=np.float32), ctx.train_labels, rng)
            with torch.no_grad():
                self.pool_z_ = self.embedding_(torch.as_tensor(np.asarray(ctx.pool_embeddings, dtype=np.float32)))
                self.train_z_ = self.embedding_(torch.as_tensor(np.asarray(ctx.train_embeddings, dtype=np.float32)))
        else:
            self._fit_backbone(ctx, rng)
        cand = super().query(ctx, per_class=per_class, random_state=rng)
        info = {
            "training": f"{self.episodes} one-shot episodes, {self.n_way}-way (at most), {self.n_query} queries; "
            f"loss {self.loss_history_[0]:.3f} -> {np.mean(self.loss_history_[-20:]):.3f}"
        }
        return type(cand)(cand.ids, cand.target, cand.score, info=info)

    def _fit(self, x: np.ndarray, labels, rng: np.random.Generator):
        gen_seed = derive_seed(rng)
        with torch.random.fork_rng(devices=[]):  # layer init from our seed, torch's global RNG untouched
            torch.manual_seed(gen_seed)
            self.embedding_ = _Embedding(x.shape[1], self.hidden, self.dim)
            extra = self._extra_modules()
        params = list(self.embedding_.parameters()) + [p for m in extra for p in m.parameters()]
        opt = torch.optim.Adam(params, lr=self.lr)
        xt = torch.as_tensor(x)
        self.loss_history_ = []
        for _ in range(self.episodes):
            s, q, pos = sample_episode(labels, n_way=self.n_way, n_query=self.n_query, rng=rng)
            loss = self._episode_loss(self.embedding_(xt[s]), self.embedding_(xt[q]), torch.as_tensor(pos))
            opt.zero_grad()
            loss.backward()
            opt.step()
            self.loss_history_.append(loss.item())
        self.embedding_.eval()

    def _extra_modules(self):
        return []

    def _fit_backbone(self, ctx: PoolContext, rng: np.random.Generator, block: int = 1024):
        """Episodes on images: the learner's backbone and the few-shot network train together."""
        from ..features import get_backbone
        from ..utils import choose_device

        learner, dataset = ctx.learner, ctx.extras.get("dataset")
        if dataset is None or not hasattr(learner, "backbone"):
            raise param_error(
                type(self).__name__,
                "backbone",
                "'frozen' here",
                "finetune",
                "Fine-tuning needs the search's dataset and learner (ActiveLoop passes them).",
            )
        dev = choose_device(getattr(learner, "device", None))
        size = dataset.image_size
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(rng))
            weights = None if learner.backbone == "small_cnn" else "DEFAULT"
            net = get_backbone(learner.backbone, 1, weights=weights, input_size=getattr(learner, "input_size", None))
            self.embedding_ = _Embedding(net.feature_dim, self.hidden, self.dim)
            extra = self._extra_modules()
        net, self.embedding_ = net.to(dev).train(), self.embedding_.to(dev)
        for m in extra:
            m.to(dev)
        params = [*net.parameters(), *self.embedding_.parameters(), *(p for m in extra for p in m.parameters())]
        opt = torch.optim.Adam(params, lr=self.lr)
        images = torch.from_numpy(dataset.load_images(ctx.train_ids, size))  # the labeled set: small

        def embed(x):
            return self.embedding_(net.embed(net.preprocess(x.to(dev))))

        self.loss_history_ = []
        for _ in range(self.episodes):
            s, q, pos = sample_episode(ctx.train_labels, n_way=self.n_way, n_query=self.n_query, rng=rng)
            loss = self._episode_loss(embed(images[s]), embed(images[q]), torch.as_tensor(pos, device=dev))
            opt.zero_grad()
            loss.backward()
            opt.step()
            self.loss_history_.append(loss.item())
        net.eval()
        self.embedding_.eval()
        with torch.no_grad():
            self.train_z_ = torch.cat([embed(images[a : a + block]) for a in range(0, len(images), block)]).cpu()
            self.pool_z_ = torch.cat(
                [
                    embed(torch.from_numpy(dataset.load_images(ctx.pool_ids[a : a + block], size)))
                    for a in range(0, len(ctx.pool_ids), block)
                ]
            ).cpu()
        self.embedding_.cpu()
        for m in extra:
            m.cpu()


class ProtoNet(_FewShot):
    """ProtoNet (Snell et al.) trained episodically, one-shot, 50-way, 8 queries (the
    traffic-sign paper's appendix); the pool ranked by distance to the rare class's
    support prototype, smallest first.

    Parameters
    ----------
    n_way, n_query : episode shape (the paper: 50 classes, 8 queries; fewer classes when
        fewer have two labeled items).
    episodes : training episodes per round.
    hidden, dim : the embedding network on top of the backbone's features.
    backbone : {"frozen", "finetune"}
        ``"frozen"``: train on the learner's cached features (runs on a CPU).
        ``"finetune"``: the learner's backbone trains in the episodes too, on the images.
    """

    name = "protonet"

    def _episode_loss(self, zs, zq, pos):
        d = torch.cdist(zq, zs) ** 2
        return nn.functional.cross_entropy(-d, pos)

    def class_scores(self, ctx: PoolContext, cls: int) -> np.ndarray:
        proto = self.train_z_[torch.as_tensor(ctx.train_labels == cls)].mean(0, keepdim=True)
        # The exact difference, not cdist's matrix-product shortcut: an identical item scores exactly 0.
        return -torch.cat([((z - proto) ** 2).sum(1) for z in torch.split(self.pool_z_, 65536)]).double().numpy()


class RelationNet(_FewShot):
    """RelationNet (Sung et al.) trained episodically, one-shot, 50-way, 8 queries: a
    learned relation module scores (support, query) pairs; the pool is ranked by the
    relation to the rare class's support, highest first. Parameters as :class:`ProtoNet`.
    """

    name = "relationnet"

    def __init__(
        self,
        *,
        n_way: int = 50,
        n_query: int = 8,
        episodes: int = 120,
        hidden: int = 512,
        dim: int = 64,
        lr: float = 1e-3,
        backbone: str = "frozen",
        relation_hidden: int = 32,
    ):
        super().__init__(
            n_way=n_way, n_query=n_query, episodes=episodes, hidden=hidden, dim=dim, lr=lr, backbone=backbone
        )
        self.relation_hidden = relation_hidden

    def _extra_modules(self):
        self.relation_ = _Relation(self.dim, self.relation_hidden)
        return [self.relation_]

    def _episode_loss(self, zs, zq, pos):
        target = nn.functional.one_hot(pos, num_classes=len(zs)).float()
        return nn.functional.mse_loss(self.relation_(zs, zq), target)  # Sung et al.: MSE to one-hot

    @torch.no_grad()
    def class_scores(self, ctx: PoolContext, cls: int) -> np.ndarray:
        support = self.train_z_[torch.as_tensor(ctx.train_labels == cls)].mean(0, keepdim=True)
        out = [self.relation_(support, chunk)[:, 0] for chunk in torch.split(self.pool_z_, 65536)]
        return torch.cat(out).double().numpy()
