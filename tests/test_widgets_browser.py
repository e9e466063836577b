"""The gallery's ES module in a real browser (Chromium), with a fake anywidget model."""

import base64
import shutil

import numpy as np
import pytest

from .browser import REPO, chromium_page, require_browser, serve


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    require_browser()
    site = tmp_path_factory.mktemp("site")
    shutil.copytree(REPO / "widgets", site / "widgets")
    shutil.copy(REPO / "tests" / "gallery_harness.html", site / "index.html")
    with serve(site) as url, chromium_page() as pg:
        pg.goto(url + "/index.html")
        pg.wait_for_function("typeof window.mount === 'function'")
        yield pg


def _mount(page, n=200, size=32, shortcuts=None):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8).tobytes()
    probs = np.sort(rng.uniform(1e-4, 0.05, n))[::-1]
    state = {
        "thumb_shape": [size, size],
        "items": [{"id": 1000 + k, "rank": k + 1, "p": float(p)} for k, p in enumerate(probs)],
        "labels": {},
        "rare_class": 7,
        "class_names": [f"class {c}" for c in range(10)],
        "shortcuts": shortcuts or {"1": 3},
        "reference_caption": "training sample",
        "title": "test",
        "status": "",
        "round_shown": 0,
        "stale": False,
        "pending": 0,
        "can_advance": False,
        "corrected": {},
    }
    page.evaluate("document.getElementById('host').replaceChildren(); window.cleanup && window.cleanup()")
    page.evaluate("([s, b]) => window.mount(s, b)", [state, base64.b64encode(pixels).decode()])
    return state


def test_renders_every_candidate_with_readable_probability(page):
    state = _mount(page, n=200)
    assert page.locator(".rl-cell:not(.rl-reference)").count() == 200
    assert page.locator(".rl-reference").count() == 1
    first = page.locator(".rl-cell:not(.rl-reference) .rl-p").first.inner_text()
    assert first == f"{state['items'][0]['p']:.1e}"
    assert page.evaluate("window.formatProbability(0.0031)") == "3.1e-03"
    assert page.evaluate("window.logBarWidth(1e-3)") == pytest.approx(0.5)


def test_click_sends_a_label_and_python_reply_paints_it(page):
    _mount(page, n=10)
    page.locator(".rl-cell:not(.rl-reference)").first.click()
    sent = page.evaluate("window.model.sent")
    assert sent[-1]["type"] == "label" and sent[-1]["ids"] == [1000] and sent[-1]["label"] == 7
    page.evaluate("window.model.set('labels', {'1000': 7})")  # what Python sends back after storing
    assert "rl-rare" in page.locator(".rl-cell:not(.rl-reference)").first.get_attribute("class")
    page.locator(".rl-cell:not(.rl-reference)").first.click()  # toggles to "not"
    assert page.evaluate("window.model.sent")[-1]["label"] == -1


def test_keyboard_labels_and_keys_stay_in_the_widget(page):
    _mount(page, n=10)
    page.locator(".rarelab-gallery").focus()
    page.evaluate("window.documentKeys = []")
    for key in ("y", "ArrowRight", "n", "1", "Backspace", "u", "Enter"):
        page.keyboard.press(key)
    sent = page.evaluate("window.model.sent")
    kinds = [(m["type"], m.get("ids"), m.get("label")) for m in sent if m["type"] not in ("preview", "poll")]
    # y labels item 0 and moves on; ArrowRight skips to 2; n, then 1 (shortcut class 3) move on;
    # Backspace clears item 4; u undoes the last action; Enter commits nothing
    assert kinds == [
        ("label", [1000], 7),
        ("label", [1002], -1),
        ("label", [1003], 3),
        ("unlabel", [1004], None),
        ("undo", None, None),
    ]
    assert page.evaluate("window.documentKeys") == []  # nothing reached JupyterLab's shortcut handler


def test_jupyter_run_keys_never_commit(page):
    _mount(page, n=4)
    page.evaluate("window.model.set('pending', 2)")
    page.locator(".rarelab-gallery").focus()
    page.evaluate("window.documentKeys = []")
    for key in ("Shift+Enter", "Control+Enter", "Alt+Enter", "Enter"):
        page.keyboard.press(key)
    assert not [m for m in page.evaluate("window.model.sent") if m["type"] == "commit"]
    # the modified Enters are Jupyter's (run the cell): they pass through
    assert [k for k in page.evaluate("window.documentKeys") if k == "Enter"] == ["Enter", "Enter", "Enter"]


def test_commit_is_a_visible_button_and_zero_labels_need_a_second_click(page):
    _mount(page, n=4)
    button = page.locator(".rl-commit")
    assert button.is_visible() and "no labels" in button.inner_text()
    button.click()
    assert not [m for m in page.evaluate("window.model.sent") if m["type"] == "commit"]
    assert "Click again" in button.inner_text()
    button.click()  # a double click is not a second thought: still armed, nothing sent
    assert not [m for m in page.evaluate("window.model.sent") if m["type"] == "commit"]
    page.wait_for_timeout(700)
    button.click()
    commits = [m for m in page.evaluate("window.model.sent") if m["type"] == "commit"]
    assert commits == [{"type": "commit", "allow_empty": True, "t0": commits[0]["t0"]}]
    page.evaluate("window.model.set('pending', 3)")
    assert button.inner_text() == "Commit 3 labels of round 0"
    button.click()
    assert [m for m in page.evaluate("window.model.sent") if m["type"] == "commit"][-1].get("allow_empty") is None


def test_a_stale_gallery_greys_out_and_takes_no_input(page):
    _mount(page, n=4)
    page.evaluate(
        "window.model.set('stale', true); window.model.set('status', 'This gallery shows round 0, which is over')"
    )
    assert "rl-stale" in page.locator(".rarelab-gallery").get_attribute("class")
    assert page.locator(".rl-commit").is_disabled() and not page.locator(".rl-commit").is_visible()
    before = len(page.evaluate("window.model.sent"))
    page.locator(".rarelab-gallery").focus()
    page.keyboard.press("y")
    page.locator(".rl-cell:not(.rl-reference)").first.click(force=True)
    assert len(page.evaluate("window.model.sent")) == before
    assert "round 0, which is over" in page.locator(".rl-status").inner_text()


def test_a_gallery_of_a_round_that_is_over_offers_corrections_of_committed_labels_only(page):
    _mount(page, n=4)
    page.evaluate("window.model.set('labels', {'1000': -1}); window.model.set('stale', true)")
    cells = page.locator(".rl-cell:not(.rl-reference)")
    assert "rl-committed" in cells.nth(0).get_attribute("class")
    assert "rl-committed" not in cells.nth(1).get_attribute("class")
    assert "correct its committed label" in page.locator(".rl-help").inner_text()
    before = len(page.evaluate("window.model.sent"))
    cells.nth(1).click(force=True)  # never labeled: nothing to correct, nothing sent
    assert "takes no new labels" in page.locator(".rl-correct").inner_text()
    cells.nth(0).click()
    offer = page.locator(".rl-correct")
    assert "committed label (not rare)" in offer.inner_text()
    assert offer.locator(".rl-correct-to").all_inner_texts() == ["rare", "class 3"]  # the others, shortcuts too
    assert len(page.evaluate("window.model.sent")) == before
    offer.locator(".rl-correct-to", has_text="rare").click()
    sent = page.evaluate("window.model.sent")[-1]
    assert {k: sent[k] for k in ("type", "ids", "label")} == {"type": "correct", "ids": [1000], "label": 7}
    assert offer.is_hidden()
    # Python's reply: the stored label and what it was before the correction
    page.evaluate("window.model.set('labels', {'1000': 7}); window.model.set('corrected', {'1000': -1})")
    assert "rl-corrected" in cells.nth(0).get_attribute("class")
    assert cells.nth(0).locator(".rl-label").inner_text() == "rare (corrected)"
    assert cells.nth(0).get_attribute("title") == "corrected after commit: was not rare, now rare"
    page.locator(".rarelab-gallery").focus()
    page.keyboard.press("u")  # undo the correction: Python decides whether there is one
    assert page.evaluate("window.model.sent")[-1]["type"] == "undo"


def test_bulk_keys_label_everything_shown(page):
    _mount(page, n=6)
    page.locator(".rarelab-gallery").focus()
    page.keyboard.press("a")
    assert page.evaluate("window.model.sent")[-1] == {
        "type": "label",
        "ids": list(range(1000, 1006)),
        "label": 7,
        "t0": page.evaluate("window.model.sent")[-1]["t0"],
    }
    page.keyboard.press("x")
    assert page.evaluate("window.model.sent")[-1]["label"] == -1


def test_status_errors_are_shown_in_red(page):
    _mount(page, n=3)
    page.evaluate("window.model.set('status', 'error: item is not in the pool')")
    status = page.locator(".rl-status")
    assert "rl-error" in status.get_attribute("class") and "not in the pool" in status.inner_text()


def test_cleanup_detaches_listeners(page):
    _mount(page, n=3)
    page.evaluate("window.cleanup()")
    handlers = page.evaluate("Object.values(window.model.handlers).reduce((n, l) => n + l.length, 0)")
    assert handlers == 0


def test_focus_requests_a_larger_preview_and_paints_the_reply(page):
    _mount(page, n=6)
    page.locator(".rarelab-gallery").focus()
    page.keyboard.press("ArrowRight")
    asked = [m["id"] for m in page.evaluate("window.model.sent") if m["type"] == "preview"]
    assert asked == [1000, 1001]  # the first focus on mount, then the move
    # Python's reply: one binary buffer of 256 x 256 RGB for the focused item
    page.evaluate("""() => {
        const px = new Uint8Array(256 * 256 * 3).fill(200);
        window.model.emit('msg:custom', {type: 'preview', id: 1001, shape: [256, 256]}, [new DataView(px.buffer)]);
    }""")
    assert page.locator(".rarelab-gallery").get_attribute("data-preview-id") == "1001"
    assert page.locator(".rl-preview canvas").evaluate("c => [c.width, c.height]") == [256, 256]


def test_after_its_commit_a_gallery_offers_the_next_round(page):
    _mount(page, n=3)
    assert not page.locator(".rl-next").is_visible()
    page.evaluate("window.model.set('stale', true); window.model.set('can_advance', true)")
    page.locator(".rl-next").click()
    assert page.evaluate("window.model.sent")[-1]["type"] == "next"
    assert page.locator(".rl-next").is_disabled()  # one click, one round


def test_a_person_ticks_next_page_labels_a_page_by_clicks_and_the_next_page_arrives(page, tiny_config, tmp_path):
    """The ES module bridged to a real Python gallery: messages go to its handlers, and its
    trait changes come back, from the kernel's thread and from the background job's."""
    import collections
    import threading

    from rarelab import create_simulation
    from rarelab.widgets import CandidateGallery

    s = create_simulation(tiny_config(rare_classes="rarest:1", per_class=5), tmp_path / "run", progress=False)
    s.propose_if_needed()
    g = CandidateGallery(s)
    synced = [n for n in g.traits(sync=True) if not n.startswith("_") and n not in ("layout", "tabbable", "tooltip")]
    changes = collections.deque()  # (name, value) in order, appended from any thread
    g.observe(lambda ch: changes.append((ch["name"], ch["new"])), names=synced)

    def encode(v):
        return {"$b64": base64.b64encode(v).decode()} if isinstance(v, bytes) else v

    def drain():
        out = {}
        while changes:
            name, value = changes.popleft()
            out[name] = encode(value)
        return out

    def py_send(msg):
        g._on_message(g, msg, [])
        return drain()

    def py_save(state):
        for name, value in state.items():
            setattr(g, name, value)
        return drain()

    opened, reached = threading.Event(), threading.Event()

    def gate(epoch, loss):
        reached.set()
        assert opened.wait(120)

    pg = page.context.browser.new_page()  # a page of its own: the Python bridge is exposed to it alone
    try:
        pg.goto(page.url)
        pg.wait_for_function("typeof window.mount === 'function'")
        pg.expose_function("pySend", py_send)
        pg.expose_function("pySave", py_save)
        state = {n: encode(getattr(g, n)) for n in synced}
        pg.evaluate("([s, b]) => window.mount(s, b)", [state, state["pixels"]["$b64"]])
        pg.evaluate("c => window.applyState(c)", {"reference": state["reference"]})
        first = [it["id"] for it in g.items]
        cells = pg.locator(".rl-cell:not(.rl-reference)")
        assert cells.count() == 5 and pg.locator(".rl-training").is_hidden()

        pg.locator(".rl-auto input").check()  # the person asks for the next page by itself
        pg.wait_for_function("() => window.model.get('auto_advance') === true")
        s.learner.callbacks = [gate]
        for k in range(5):
            cells.nth(k).click()
        # The last click commits the page; the job trains while the page stays, greyed, with the news.
        pg.wait_for_function("() => !document.querySelector('.rl-training').hidden", timeout=120_000)
        assert reached.wait(120) and s.busy_ and g.auto_advance  # held mid-training
        assert "training round 1" in pg.locator(".rl-training").inner_text()
        assert "rl-stale" in pg.locator(".rarelab-gallery").get_attribute("class")
        assert [int(c.get_attribute("data-item-id")) for c in cells.all()] == first
        assert "committed 5 labels of round 0" in pg.locator(".rl-status").inner_text()

        opened.set()
        assert g.next_page_.result(timeout=120) == 1
        s.background_.result(timeout=120)
        pg.evaluate("c => window.applyState(c)", drain())  # what the kernel sent from the job's thread
        pg.wait_for_function("() => document.querySelector('.rl-training').hidden")
        now = [int(c.get_attribute("data-item-id")) for c in cells.all()]
        assert now == [it["id"] for it in g.items] and len(now) == 5 and not set(now) & set(first)
        assert "rl-stale" not in pg.locator(".rarelab-gallery").get_attribute("class")
        assert "0/5 labeled" in pg.locator(".rl-header").inner_text()
        assert pg.locator(".rl-status").inner_text().startswith("round 1: 5 new candidates")
        cells.nth(0).click()  # the new page takes labels at once
        pg.wait_for_function("() => document.querySelector('.rl-header').textContent.includes('1/5 labeled')")
        assert s.pending_labels_ == {now[0]: g.rare_class}
    finally:
        pg.close()
