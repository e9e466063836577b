"""Widgets' traits and handlers, without a browser: every action must reach the core."""

import numpy as np
import pytest

from rarelab import NOT_RARE, create_simulation, open_simulation
from rarelab.exceptions import InvalidParameterError, PhaseError
from rarelab.widgets import CandidateGallery, LoopStepper, ProjectionView, ToyExplorer


@pytest.fixture
def proposed(tiny_config, tmp_path):
    s = create_simulation(tiny_config(), tmp_path / "run", progress=False)
    s.train()
    s.propose()
    return s


def _msg(gallery, **content):
    gallery._on_message(gallery, content, [])


def test_gallery_traits_mirror_the_candidates(proposed):
    g = CandidateGallery(proposed, k=200)
    h = w = 96  # display resolution, whatever the stored size
    assert g.thumb_shape == [h, w]
    assert len(g.pixels) == len(g.items) * h * w * 3  # one buffer for every thumbnail
    ps = [it["p"] for it in g.items]
    assert ps == sorted(ps, reverse=True) and all(0 < p < 1 for p in ps)
    first = g.items[0]["id"]
    assert np.array_equal(
        np.frombuffer(g.pixels, np.uint8)[: h * w * 3].reshape(h, w, 3), proposed.dataset.load_images([first], 96)[0]
    )
    assert len(g.reference) == h * w * 3 and g.reference_caption == "training sample"


def test_gallery_has_a_static_picture_for_pages_without_a_kernel(proposed):
    g = CandidateGallery(proposed, k=12)
    g.label([g.items[0]["id"]], g.rare_class)
    data = g._repr_mimebundle_()
    data = data[0] if isinstance(data, tuple) else data
    assert "application/vnd.jupyter.widget-view+json" in data
    page = data["text/html"]
    assert page.count("<img") == len(g.items) and "e-0" in page and "rare" in page


def test_gallery_sends_a_larger_preview_of_the_focused_item(proposed, monkeypatch):
    g = CandidateGallery(proposed, preview_size=200)
    sent = []
    monkeypatch.setattr(g, "send", lambda content, buffers=None: sent.append((content, buffers)))
    first = g.items[0]["id"]
    _msg(g, type="preview", id=first)
    ((content, buffers),) = sent
    assert content == {"type": "preview", "id": first, "shape": [200, 200]}
    assert len(buffers) == 1 and len(buffers[0]) == 200 * 200 * 3
    with pytest.raises(InvalidParameterError, match="thumb_size"):
        CandidateGallery(proposed, thumb_size=32)


def test_gallery_says_when_a_label_could_not_be_stored(proposed, monkeypatch):
    import sqlite3

    g = CandidateGallery(proposed)
    item = g.items[0]["id"]

    def locked(*args, **kwargs):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(proposed.store, "add", locked)
    acks = []
    monkeypatch.setattr(g, "send", lambda content, buffers=None: acks.append(content))
    _msg(g, type="label", ids=[item], label=g.rare_class, t0=1.0)
    assert g.status.startswith("error:") and "not stored" in g.status and "locked" in g.status
    assert str(item) not in g.labels and acks and acks[-1]["type"] == "ack"


def test_gallery_labels_go_to_the_store_at_once(proposed, tmp_path):
    g = CandidateGallery(proposed, shortcuts={"1": 0})
    a, b = g.items[0]["id"], g.items[1]["id"]
    _msg(g, type="label", ids=[a], label=g.rare_class, t0=1.0)
    _msg(g, type="label", ids=[b], label=NOT_RARE)
    assert g.labels == {str(a): g.rare_class, str(b): NOT_RARE}
    reopened = open_simulation(tmp_path / "run", progress=False)  # what a kernel restart would see
    assert reopened.pending_labels_ == {a: g.rare_class, b: NOT_RARE}
    _msg(g, type="unlabel", ids=[b])
    assert g.labels == {str(a): g.rare_class}
    _msg(g, type="commit")
    assert proposed.round_ == 1 and a in proposed.train_ids_
    assert "committed 1 labels of round 0" in g.status and "propose_if_needed()" in g.status
    assert g.stale  # its round is over: greyed out, no input
    _msg(g, type="label", ids=[b], label=g.rare_class)
    assert g.status.startswith("error:") and "round 0, which is over" in g.status
    assert b not in proposed.pending_labels_


def test_a_gallery_of_a_round_that_is_over_corrects_committed_labels_only(proposed):
    g = CandidateGallery(proposed)
    a, b = g.items[0]["id"], g.items[1]["id"]
    with pytest.raises(PhaseError, match="still open"):
        g.correct([a], g.rare_class)  # this round's labels are given, not corrected
    _msg(g, type="label", ids=[a], label=NOT_RARE, t0=1.0)
    proposed.commit()
    assert g.stale and g.labels == {str(a): NOT_RARE} and g.corrected == {}

    _msg(g, type="correct", ids=[a], label=g.rare_class, t0=1.0)
    assert proposed.store.labels(committed=True)[a] == g.rare_class
    last = proposed.store.history(a)[-1]
    assert (last["action"], last["old_label"], last["new_label"], last["source"]) == (
        "correct",
        NOT_RARE,
        g.rare_class,
        "person",
    )
    assert g.labels[str(a)] == g.rare_class and g.corrected == {str(a): NOT_RARE}
    assert "corrected 1" in g.status and "not rare → " in g.status and "next training" in g.status
    ids, labels = proposed.train_ids_, proposed.train_labels_
    assert labels[list(ids).index(a)] == g.rare_class  # the next training learns it as rare

    _msg(g, type="correct", ids=[b], label=g.rare_class, t0=1.0)  # never labeled: no new label
    assert g.status.startswith("error:") and "no committed label" in g.status
    assert b not in proposed.store.labels()
    _msg(g, type="label", ids=[b], label=g.rare_class, t0=1.0)  # the round is over
    assert g.status.startswith("error:") and b not in proposed.store.labels()

    assert g.undo() == 1  # the correction, undone the same way (a second history entry)
    assert proposed.store.labels(committed=True)[a] == NOT_RARE and g.corrected == {}
    assert [h["action"] for h in proposed.store.history(a)][-2:] == ["correct", "correct"]
    with pytest.raises(PhaseError):
        g.undo()  # nothing of this gallery's left to undo: its round's labels are committed


def test_gallery_shows_errors_instead_of_swallowing_them(proposed):
    g = CandidateGallery(proposed)
    _msg(g, type="label", ids=[int(proposed.split.train[0])], label=0)
    assert g.status.startswith("error:") and "'ids' parameter" in g.status
    _msg(g, type="bogus")
    assert g.status.startswith("error:")


def test_gallery_acknowledges_each_message(proposed, monkeypatch):
    g = CandidateGallery(proposed)
    sent = []
    monkeypatch.setattr(g, "send", lambda content, buffers=None: sent.append(content))
    _msg(g, type="label", ids=[g.items[0]["id"]], label=g.rare_class, t0=12.5)
    assert sent == [{"type": "ack", "t0": 12.5}]


def test_gallery_validates_its_arguments(proposed):
    with pytest.raises(InvalidParameterError, match="'rare_class'"):
        CandidateGallery(proposed, rare_class=10_000)
    with pytest.raises(InvalidParameterError, match="'shortcuts'"):
        CandidateGallery(proposed, shortcuts={"a": 1})


def test_gallery_for_class_agnostic_strategy_ranks_by_the_rare_probability(tiny_config, tmp_path):
    s = create_simulation(tiny_config(strategy="entropy"), tmp_path / "run", progress=False)
    s.train()
    s.propose()
    g = CandidateGallery(s)
    assert len(g.items) == len(s.candidates_)
    ps = [it["p"] for it in g.items]
    assert ps == sorted(ps, reverse=True)


def test_stepper_buttons_call_the_core(tiny_config, tmp_path):
    s = create_simulation(tiny_config(), tmp_path / "run", progress=False)
    st = LoopStepper(s)
    assert st.buttons["propose"].disabled and not st.buttons["train"].disabled
    st.buttons["train"].click()
    assert s.phase_ == "propose" and st.progress.value == s.learner.epochs
    assert len(st.loss.data[0].y) == s.learner.epochs  # live loss, one point per epoch
    st.buttons["propose"].click()
    assert isinstance(st.gallery, CandidateGallery) and "label" in st.state.value
    st.buttons["step"].click()
    assert s.round_ == 1
    assert "device cpu" in st.state.value
    n_rare_trace = [t for t in st.curves[0].data if t.name == "rare-softmax"][0]
    assert list(n_rare_trace.x) == [0]


def test_stepper_shows_errors_in_its_output(tiny_config, tmp_path):
    s = create_simulation(tiny_config(), tmp_path / "run", progress=False)
    s.oracle = None
    st = LoopStepper(s)
    st.buttons["train"].click()
    st.buttons["propose"].click()
    st.label_with_oracle_button = st.buttons["label with oracle"]
    assert st.label_with_oracle_button.disabled  # no oracle: a person labels in the gallery
    st.buttons["propose"].disabled = False
    st.buttons["propose"].click()  # wrong phase: the PhaseError is printed, not raised into the void
    assert any("PhaseError" in o.get("text", "") for o in st.out.outputs)


def test_projection_uncentered_pca_and_lasso_labeling(proposed):
    pv = ProjectionView(proposed, max_points=300)
    coords = pv.coordinates()
    assert coords.shape == (len(pv.ids), 2)
    pool_rare = [i for i in proposed.pool_ids_ if proposed.dataset.targets[i] == pv.rare_class][:2]
    pv.selection = np.array(pool_rare)  # what a selection sets
    pv.label_selection(pv.rare_class)
    assert all(proposed.pending_labels_[i] == pv.rare_class for i in pool_rare)
    pv.method.value = "PCA"
    assert len(pv.fig.data) >= 2


def test_projection_umap_or_a_clear_install_hint(proposed):
    try:
        import umap  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="rarelab\\[umap\\]"):
            ProjectionView(proposed, method="UMAP", max_points=200)
    else:
        pv = ProjectionView(proposed, method="UMAP", max_points=200)
        assert pv.coordinates().shape[1] == 2


def test_toy_explorer_retrains_on_slider_change():
    te = ToyExplorer(random_state=0)
    before = te.result.max_p_rare
    te.sliders["n_rare"].value = 20
    assert te.result.max_p_rare > before  # more rare training points, more confident rare class
    assert "precision of the top 50" in te.readout.value
    assert len(te.fig.data) == 8


def _relayout_from_plot(pv, selections):
    """What plotly.js sends when a person draws, replaces or clears a selection."""
    pv.fig.plotly_relayout({"selections": selections}, source_view_id="browser")


def test_projection_selection_replaces_clears_counts_and_redraws(proposed):
    pv = ProjectionView(proposed, method="PCA", max_points=300)  # points spread in both axes
    xy = pv.coordinates()
    (x0, x1), (y0, y1) = np.quantile(xy[:, 0], [0.1, 0.6]), np.quantile(xy[:, 1], [0.1, 0.9])
    box = dict(type="rect", xref="x", yref="y", x0=x0, x1=x1, y0=y1, y1=y0)  # plotly writes y top first
    in_box = (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
    _relayout_from_plot(pv, [box])
    assert np.array_equal(pv.selection, pv.ids[in_box]) and in_box.sum() > 10
    assert f"{in_box.sum()} selected" in pv.fig.layout.annotations[0].text and not pv.label_button.disabled

    # a lasso replaces the box: a triangle through three points' corners, as plotly writes it
    (ax, ay), (bx, by), (cx, cy) = xy.min(0), (xy[:, 0].max(), xy[:, 1].min()), (xy[:, 0].max(), xy[:, 1].max())
    lasso = dict(type="path", xref="x", yref="y", path=f"M{ax},{ay}L{bx},{by}L{cx},{cy}Z")
    _relayout_from_plot(pv, [lasso])
    below = (xy[:, 1] - ay) * (cx - ax) <= (xy[:, 0] - ax) * (cy - ay) + 1e-9  # under the line a-c
    assert 0 < len(pv.selection) < len(pv.ids) and set(pv.selection) <= set(pv.ids[below])
    assert f"{len(pv.selection)} selected" in pv.fig.layout.annotations[0].text

    # shift adds a second region: both count, as both are outlined
    _relayout_from_plot(pv, [lasso, box])
    assert set(pv.selection) >= set(pv.ids[in_box])

    _relayout_from_plot(pv, [])  # a double click on the plot clears every region
    assert len(pv.selection) == 0 and pv.label_button.disabled and pv.fig.layout.annotations[0].text == ""
    _relayout_from_plot(pv, [box])
    pv._on_deselect(pv.fig.data[0], None)  # a deselect event alone clears too, on the plot as well
    assert len(pv.selection) == 0 and pv.selections() == []

    # a new colouring keeps the region and the selection; a new projection clears both
    _relayout_from_plot(pv, [box])
    pv.colour.value = "P(rare)"
    assert np.array_equal(pv.selection, pv.ids[in_box]) and len(pv.selections()) == 1
    pv.colour.value = "label"
    pv.fig.plotly_relayout({"dragmode": "select"}, source_view_id="browser")  # the modebar's box tool
    pv.method.value = "uncentered PCA"
    assert len(pv.selection) == 0 and pv.selections() == []
    assert pv.fig.layout.dragmode == "select"  # a redraw keeps the person's tool

    pool = np.intersect1d(pv.ids, proposed.pool_ids_)
    xy = pv.coordinates()
    rows = np.flatnonzero(np.isin(pv.ids, pool[:3]))
    (x0, y0), (x1, y1) = xy[rows].min(0), xy[rows].max(0)
    pv.select([dict(type="rect", xref="x", yref="y", x0=x0, x1=x1, y0=y0, y1=y1)])  # what a drag does, from Python
    chosen = np.intersect1d(pv.selection, proposed.pool_ids_)
    assert set(pool[:3]) <= set(chosen)
    marked = len(pv.fig.data[-1].x)
    pv.label_selection(pv.rare_class)
    assert all(proposed.pending_labels_[i] == pv.rare_class for i in chosen)
    assert len(pv.fig.data[-1].x) >= marked  # redrawn: the labeled items are now marked rare
    assert len(pv.selection) == 0 and pv.selections() == [] and pv.label_button.description == f"labeled {len(chosen)}"


def test_selection_geometry_matches_plotly_paths():
    from rarelab.widgets import in_selections, path_polygons

    # a lasso plotly wrote (numbers as JavaScript prints them) and a self-crossing bow tie
    (poly,) = path_polygons("M-6.13,5.83L1.5e1,5.83L15,-4.2e0Z")
    assert poly.shape == (3, 2) and poly[1, 0] == 15.0
    bow = dict(type="path", path="M0,0L2,2L2,0L0,2Z")  # even-odd: the two triangles, not the middle band
    assert in_selections([0.2, 1.8, 1.0], [1.0, 1.0, 0.2], [bow]).tolist() == [True, True, False]
    two = dict(type="path", path="M0,0L1,0L1,1L0,1ZM5,5L6,5L6,6L5,6Z")  # two polygons in one path
    assert in_selections([0.5, 5.5, 3], [0.5, 5.5, 3], [two]).tolist() == [True, True, False]
    assert in_selections([1.0], [1.0], []).tolist() == [False]


def test_undo_never_erases_a_newer_label_from_another_view(proposed):
    a, b = CandidateGallery(proposed), CandidateGallery(proposed)  # two views of one open round
    item = a.items[0]["id"]
    a.label([item], a.rare_class)
    b.label([item], NOT_RARE)  # the newer decision, given elsewhere
    from rarelab.exceptions import StaleStateError

    with pytest.raises(StaleStateError, match="Not undone.*changed these items"):
        a.undo()
    assert proposed.pending_labels_[item] == NOT_RARE  # kept
    assert b.undo() == 1 and proposed.pending_labels_[item] == a.rare_class  # b's own action undoes cleanly


def test_a_second_commit_click_is_quiet_and_a_same_label_correction_is_no_change(proposed):
    g = CandidateGallery(proposed)
    item = g.items[0]["id"]
    _msg(g, type="label", ids=[item], label=NOT_RARE, t0=1.0)
    _msg(g, type="commit", t0=1.0)
    status = g.status
    _msg(g, type="commit", t0=1.0)  # a double click
    assert g.status == status and not status.startswith("error:")
    before = len(proposed.store.history(item))
    proposed.correct([item], [NOT_RARE])
    assert len(proposed.store.history(item)) == before


def test_projection_takes_no_labels_while_a_new_projection_is_computed(proposed, monkeypatch):
    pv = ProjectionView(proposed, max_points=300)
    seen = []
    original = pv._compute

    def slow(method):
        seen.append((pv.label_button.disabled, pv.busy.value))  # what the person sees meanwhile
        return original(method)

    monkeypatch.setattr(pv, "_compute", slow)
    pv.method.value = "PCA"
    assert seen and seen[0][0] is True and "computing" in seen[0][1]
