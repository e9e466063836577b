"""``ProjectionView``: where pool and validation items fall in the trained model's feature space."""

from __future__ import annotations

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go

from ..loop import NOT_RARE
from ..reporting import pca_2d, png_bytes, project, projection_figure, umap_2d, uncentered_pca
from ..utils import param_error
from ._common import shows_errors, themed
from ._selection import in_selections

METHODS = ("uncentered PCA", "PCA", "UMAP")
_GEOMETRY = ("type", "xref", "yref", "x0", "x1", "y0", "y1", "path")


class ProjectionView(W.VBox):
    """A plotly scatter of validation and pool items in 2-D, for one rare class.

    ``uncentered PCA`` is the paper's Fig. 6: the SVD of the rare class's training
    features without centering; the x-axis is the first component. Colour by label or by
    P(rare class); hover shows the thumbnail; a lasso or box selection can be labeled.

    The selection is read from the figure's ``layout.selections``, the boxes and lassos that
    plotly.js draws and syncs, so Python holds exactly the points the plot outlines.

    "Label" means what is known: labels people gave (and, in a simulation, what the
    simulation's oracle reveals, the only reader of ground truth). A real pool's unlabeled
    items are shown as such.
    """

    def __init__(
        self,
        loop,
        *,
        rare_class: int | None = None,
        method: str = "uncentered PCA",
        max_points: int = 4000,
        random_state: int = 0,
    ):
        if method not in METHODS:
            raise param_error("ProjectionView", "method", f"one of {METHODS}", method)
        self.loop = loop
        self.random_state = random_state
        rare = loop.rare_classes
        self.rare_class = rare[0] if rare_class is None else rare_class
        rng = np.random.default_rng(random_state)
        ds = loop.dataset
        # The rare class's known items always stay in; other items are subsampled for speed.
        ids = np.concatenate([loop.split.val, loop.pool_ids_])
        keep = self._known_rare(ids)
        rest = np.flatnonzero(~keep)
        if len(rest) > max_points:
            rest = rng.choice(rest, max_points, replace=False)
        self.ids = np.sort(ids[np.r_[np.flatnonzero(keep), rest]])
        self.out = W.Output()
        self.method = W.ToggleButtons(options=METHODS, value=method)
        self.colour = W.ToggleButtons(options=["label", "P(rare)"], value="label")
        self.thumb = W.Image(format="png", width=96, height=96)
        self.hover_text = W.HTML()
        self.label_pick = W.Dropdown(
            options=[("rare: " + ds.classes[self.rare_class], self.rare_class), ("not rare", NOT_RARE)],
            description="label as",
        )
        self.label_button = W.Button(description="label selection", disabled=True)
        self.selection: np.ndarray = np.empty(0, np.int64)
        self._coords: dict[str, np.ndarray] = {}  # per method: UMAP takes tens of seconds, once
        self._drawn_method: str | None = None
        self.busy = W.HTML()
        self.fig = go.FigureWidget()
        wrap = shows_errors(self.out)
        self._on_selections = wrap(self._on_selections)
        self.method.observe(wrap(lambda _c: self.redraw()), names=["value"])
        self.colour.observe(wrap(lambda _c: self.redraw()), names=["value"])
        self.label_button.on_click(wrap(lambda _b: self.label_selection(self.label_pick.value)))
        super().__init__(
            [
                W.HBox([self.method, self.colour, self.busy]),
                W.HBox([self.fig, W.VBox([self.thumb, self.hover_text])]),
                W.HBox([self.label_pick, self.label_button]),
                self.out,
            ]
        )
        themed(self)
        self.redraw()
        loop.observe(self._on_loop_change)

    def _on_loop_change(self, _loop, event: str) -> None:
        if event in ("label", "unlabel", "correct", "commit", "refresh"):
            self.redraw()  # colours follow the labels; the coordinates are cached

    def coordinates(self) -> np.ndarray:
        """2-D coordinates of ``self.ids`` for the chosen method (core functions), computed
        once per method."""
        method = self.method.value
        if method not in self._coords:
            self.busy.value = f"<i>computing the {method} projection of {len(self.ids)} items...</i>"
            # The plot on screen is about to be replaced: its selection must not be labeled meanwhile.
            self.label_button.disabled = True
            try:
                self._coords[method] = self._compute(method)
            finally:
                self.busy.value = ""
        return self._coords[method]

    def _compute(self, method: str) -> np.ndarray:
        feats = self.loop.learner.embed(self.ids)
        if method == "uncentered PCA":
            s = self.loop
            train_ids = s.train_ids_[s.train_labels_ == self.rare_class]
            comps = uncentered_pca(s.learner.embed(train_ids))
            return project(feats, comps)
        if method == "PCA":
            return pca_2d(feats, random_state=self.random_state)
        return umap_2d(feats, random_state=self.random_state)

    def _known_rare(self, ids) -> np.ndarray:
        """Which of ``ids`` are known to be the rare class: a person's label, the validation
        labels, or (simulations only) the oracle's answer."""
        s = self.loop
        if s.oracle is not None:
            return np.asarray(s.oracle(ids)) == self.rare_class
        known = {i: y for i, y in s.store.labels().items()}
        if s.split.has_val_labels:
            known.update(zip(s.split.val.tolist(), s.split.val_labels.tolist()))
        return np.array([known.get(int(i)) == self.rare_class for i in ids], dtype=bool)

    def redraw(self):
        ds = self.loop.dataset
        coords = self.coordinates()
        is_rare = self._known_rare(self.ids)
        p = self.loop.learner.predict_proba(self.ids)[:, self.rare_class]
        fig = projection_figure(
            coords,
            is_rare.astype(int),
            names=["other classes", ds.classes[self.rare_class]],
            scores=p if self.colour.value == "P(rare)" else None,
            title=f"{self.method.value} of the features: {ds.classes[self.rare_class]}",
            highlight=np.flatnonzero(is_rare),
        )
        same_method = self._drawn_method == self.method.value
        # A box or lasso outlines a region of this method's coordinates: it survives a new
        # colouring or new labels, not a new projection.
        fig.layout.selections = self.selections() if same_method else []
        fig.layout.dragmode = self.fig.layout.dragmode or fig.layout.dragmode  # the person's box or lasso
        same_traces = [t.name for t in self.fig.data] == [t.name for t in fig.data]
        with self.fig.batch_update():
            if same_traces:  # in place: the traces keep their ids, so hovers keep reaching Python
                for old, new in zip(self.fig.data, fig.data):
                    old.update(new.to_plotly_json(), overwrite=True)
            else:
                self.fig.data = []
                self.fig.add_traces(fig.data)
            self.fig.layout = fig.layout
            self.fig.layout.autosize = True
            self.fig.layout.width = None
        self._drawn_method = self.method.value
        # A new layout object has no callbacks: observe each one (a relayout from plotly.js
        # that adds, replaces or clears a selection changes "selections").
        self.fig.layout.on_change(self._on_selections, "selections")
        self._on_selections()
        if not same_traces:
            for trace in self.fig.data:
                trace.on_hover(self._on_hover)
                trace.on_deselect(self._on_deselect)

    def selections(self) -> list[dict]:
        """The boxes and lassos drawn on the plot, as plotly.js last synced them
        (``layout.selections`` entries as dicts: ``rect`` ranges or a lasso ``path``)."""
        # plotly.py stores a relayout's selections in the layout's dict but leaves the
        # ``layout.selections`` tuple as it was: read the dict. Only the geometry: what
        # plotly.js adds for drawing (a line colour it left undefined) does not validate.
        return [
            {k: sel[k] for k in _GEOMETRY if k in sel}
            for sel in self.fig.layout.to_plotly_json().get("selections") or []
        ]

    def select(self, selections: list[dict]) -> None:
        """Draw ``selections`` (``layout.selections`` dicts) on the plot; the selection
        follows. ``select([])`` clears it, as a double click on the plot does."""
        # what plotly.js sends for a drawn selection; on_change recomputes the selection (the
        # ``layout.selections`` setter compares with the outdated tuple and may send nothing)
        self.fig.plotly_relayout({"selections": list(selections)})

    @staticmethod
    def _rows(trace, point_inds) -> np.ndarray:
        """Rows of ``self.ids`` behind a trace's points (projection_figure puts them in customdata)."""
        cd = np.asarray(trace.customdata)
        return (cd if cd.ndim == 1 else cd[:, 0]).astype(np.int64)[list(point_inds)]

    def _on_hover(self, trace, points, _state):
        if not points.point_inds:
            return
        item = int(self.ids[self._rows(trace, points.point_inds[:1])[0]])
        ds = self.loop.dataset
        self.thumb.value = png_bytes(ds.load_images([item], 96)[0], 96)
        rare = bool(self._known_rare([item])[0])
        self.hover_text.value = f"item {item}<br>{ds.classes[self.rare_class] if rare else 'not known as rare'}"

    def _on_selections(self, *_args):
        coords = self.coordinates()
        inside = in_selections(coords[:, 0], coords[:, 1], self.selections())
        self._show_selection(self.ids[inside])

    def _on_deselect(self, _trace, _points):
        # plotly.js follows a deselect with "selections": []; clearing here as well keeps the
        # plot and Python agreeing should that relayout not come
        if self.selections():
            self.select([])
        else:
            self._show_selection(np.empty(0, np.int64))

    def _show_selection(self, selection: np.ndarray):
        self.selection = np.unique(np.asarray(selection, dtype=np.int64))
        in_pool = np.intersect1d(self.selection, self.loop.pool_ids_)
        self.label_button.disabled = self.loop.phase_ != "label" or len(in_pool) == 0
        self.label_button.description = (
            f"label {len(in_pool)} selected pool items" if len(self.selection) else "label selection"
        )
        self.fig.layout.annotations = [
            dict(
                text=f"{len(self.selection)} selected ({len(in_pool)} in the pool)" if len(self.selection) else "",
                xref="paper",
                yref="paper",
                x=1,
                y=1.06,
                showarrow=False,
                xanchor="right",
            )
        ]

    def label_selection(self, label: int):
        """Label the selected pool items through ``loop.label`` (stored at once)."""
        ids = np.intersect1d(self.selection, self.loop.pool_ids_)
        self.loop.label(ids, np.full(len(ids), int(label)), source="person")  # the loop redraws this view
        self.select([])  # these items are done: the next selection starts from nothing
        self.label_button.description = f"labeled {len(ids)}"
