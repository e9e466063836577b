"""Widgets' traits and handlers, without a browser: every action must reach the core."""

import numpy as np
import pytest

from rarelab import NOT_RARE, create_simulation, open_simulation
from rarelab.exceptions import InvalidParameterError
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
    pv.selection = np.array(pool_rare)
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


def test_projection_selection_replaces_clears_counts_and_redraws(proposed):
    from types import SimpleNamespace

    pv = ProjectionView(proposed, max_points=300)
    first, second = pv.fig.data[0], pv.fig.data[1]

    def pick(trace, k, selector):
        pv._on_select(trace, SimpleNamespace(point_inds=list(range(k))), selector)

    # one lasso reaches Python as one call per trace that has points, all with one selector
    lasso, box = object(), object()
    pick(first, 5, lasso)
    pick(second, 1, lasso)
    assert len(pv.selection) == 6 and "6 selected" in pv.fig.layout.annotations[0].text
    pick(first, 2, box)  # the next selection replaces the previous one, the second trace's part too
    assert len(pv.selection) == 2 and "2 selected" in pv.fig.layout.annotations[0].text
    pv._on_deselect(first, None)  # a double click clears it
    assert len(pv.selection) == 0 and pv.label_button.disabled and pv.fig.layout.annotations[0].text == ""
    pool = [int(i) for i in np.intersect1d(pv.ids, proposed.pool_ids_)[:3]]
    pv._picked = {0: set(pool)}
    pv._show_selection()
    marked = len(pv.fig.data[-1].x)
    pv.label_selection(pv.rare_class)
    assert all(proposed.pending_labels_[i] == pv.rare_class for i in pool)
    assert len(pv.fig.data[-1].x) >= marked  # redrawn: the labeled items are now marked rare
    assert len(pv.selection) == 0 and pv.label_button.description == "labeled 3"
