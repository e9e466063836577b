"""candidates.html, the page a person labels on: opened from file:// in Chromium, labeled by
click and key, reloaded, saved as answers.csv and imported with `rarelab search label`."""

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rarelab.cli import main
from rarelab.data import read_table, write_demo_folders
from rarelab.search import labeling_page, open_search, propose_candidates

from .browser import ARGS, CHROMIUM, require_browser
from .browser import luminance as _luminance

OTHER = "other sign"


@pytest.fixture(scope="module")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    """A fresh browser profile per test: its own localStorage."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert not errors, errors


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A small real search with two rare classes (the demo's, and one from a second example)."""
    from rarelab.search import init_search

    root = tmp_path_factory.mktemp("labeling_page")
    d = write_demo_folders(root / "demo", n_pool=60, n_seed=8, n_common=3, random_state=0)
    other = root / "other_example.png"
    ex = np.asarray(Image.open(d.rare_example).convert("RGB"))
    Image.fromarray(np.ascontiguousarray(255 - ex[:, ::-1])).save(other)
    search = init_search(
        root / "run",
        labeled=d.labeled,
        pool=d.pool,
        rare=[d.rare, OTHER],
        rare_examples={d.rare: str(d.rare_example), OTHER: str(other)},
        feature_store=str(root / "store"),
        input_size=32,
        per_class=5,
        progress=False,
    )
    with search:
        propose_candidates(search)
    return root / "run"


def _open(page, path):
    page.goto(Path(path).resolve().as_uri())
    page.wait_for_selector("body[data-ready='1']")


def _labeled(page) -> int:
    return int(page.locator("#rl-count").get_attribute("data-labeled"))


def _states(page):
    return page.evaluate(
        """() => [...document.querySelectorAll('.rl-cell')].map(c =>
            c.classList.contains('rl-rare') ? 'rare' : c.classList.contains('rl-other') ? 'other'
            : c.classList.contains('rl-not') ? 'not' : '')"""
    )


def test_label_by_click_and_key_reload_save_and_import(run, page, tmp_path):
    rows = list(csv.DictReader(open(run / "candidates.csv", newline="")))
    first, second = (
        rows[0]["rare_class"],
        next(r["rare_class"] for r in rows if r["rare_class"] != rows[0]["rare_class"]),
    )
    _open(page, run / "candidates.html")
    cells = page.locator(".rl-cell")
    assert cells.count() == len(rows) == 10
    assert cells.nth(0).locator(".rl-p").inner_text().startswith(f"{float(rows[0]['probability']):.1e} #1")
    assert first in cells.nth(0).inner_text() and Path(rows[0]["path"]).name in cells.nth(0).inner_text()
    assert f"rarelab search label {run.resolve()} --csv answers.csv" in page.inner_text("#rl-import")
    assert page.locator("#rl-notice").is_hidden()  # file:// pages keep their labels here

    cells.nth(0).click()  # rare
    cells.nth(1).click()
    cells.nth(1).click()  # rare, then not rare
    page.keyboard.press("ArrowRight")
    page.keyboard.press("n")  # cell 2 not rare, focus moves on
    page.keyboard.press("y")  # cell 3 rare
    assert second == OTHER
    page.keyboard.press("2")  # cell 4: the other rare class (2 = the second rare class)
    page.keyboard.press("y")  # cell 5 rare ...
    page.keyboard.press("u")  # ... undone
    assert page.evaluate("document.activeElement.dataset.index") == "5"
    expected = ["rare", "not", "not", "rare", "other", "", "", "", "", ""]
    assert _states(page) == expected and _labeled(page) == 5
    assert "5 / 10 labeled" in page.inner_text("#rl-count")

    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    assert _states(page) == expected and _labeled(page) == 5

    with page.expect_download() as dl:
        page.click("#rl-save")
    assert dl.value.suggested_filename == "answers.csv"
    saved = tmp_path / "answers.csv"
    dl.value.save_as(saved)
    table = read_table(saved, required=("item_id", "label"))
    assert table.columns == ["item_id", "path", "label"] and len(table.rows) == 5
    assert main(["search", "label", str(run), "--csv", str(saved)]) == 0

    with open_search(run, progress=False) as search:
        names = search.dataset.classes
        want = {int(rows[0]["item_id"]): names.index(first), int(rows[3]["item_id"]): names.index(first)}
        want.update({int(rows[k]["item_id"]): -1 for k in (1, 2)})
        want[int(rows[4]["item_id"])] = names.index(second)
        assert search.store.labels() == want
        search.commit()
        propose_candidates(search)  # round 1 writes a new page over the old one
    _open(page, run / "candidates.html")
    assert _labeled(page) == 0 and _states(page) == [""] * page.locator(".rl-cell").count()
    assert "Round 1" in page.inner_text("h1")


def _contrasts(page, selector):
    """WCAG contrast of each ``selector`` element's text against its nearest opaque background."""
    pairs = page.evaluate(
        """(sel) => [...document.querySelectorAll(sel)].map(el => {
            let n = el, bg = null;
            while (n && n.nodeType === 1) {
                const c = getComputedStyle(n).backgroundColor;
                if (c && !c.startsWith('rgba(0, 0, 0, 0)') && c !== 'transparent') { bg = c; break; }
                n = n.parentElement;
            }
            return [getComputedStyle(el).color, bg || 'rgb(255, 255, 255)'];
        })""",
        selector,
    )
    parse = lambda c: [float(v) for v in re.findall(r"[\d.]+", c)]  # noqa: E731
    out = []
    for fg, bg in pairs:
        la, lb = sorted((_luminance(parse(fg)), _luminance(parse(bg))), reverse=True)
        out.append((la + 0.05) / (lb + 0.05))
    return out


def _synthetic_page(tmp_path, n=12):
    """A page without a search: two rare classes, one named with a comma, paths with quotes."""
    rng = np.random.default_rng(0)
    thumbs = list(rng.integers(0, 255, (n, 24, 24, 3), dtype=np.uint8))
    rows = [
        {
            "item_id": 100 + k,
            "path": f'/pool/a "b", c/</script><!--{k}.png',
            "rare_class": "stop" if k < n // 2 else "give way, ahead",
            "score": 0.1,
            "probability": 10.0 ** -(k % 6 + 1),
        }
        for k in range(n)
    ]
    html = labeling_page(
        rows, thumbs, rare_names=["stop", "give way, ahead"], class_names=["not", "stop", "give way, ahead"],
        run_dir=tmp_path / "run", round_=3, thumb=32,
    )  # fmt: skip
    path = tmp_path / "candidates.html"
    path.write_text(html, encoding="utf-8")
    return path, rows, html


def test_json_block_holds_file_names_that_look_like_html(tmp_path):
    _, rows, html = _synthetic_page(tmp_path)
    assert html.count("</script>") == 2  # the page's own two script elements
    block = re.search(r'<script type="application/json" id="rl-data">(.*?)</script>', html, re.S).group(1)
    data = json.loads(block)
    assert [c["path"] for c in data["candidates"]] == [r["path"] for r in rows]
    assert data["not_label"] == "not rare"  # a class is called "not": its exact name would win


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_captions_have_aa_contrast(tmp_path, page, scheme):
    path, _, _ = _synthetic_page(tmp_path)
    page.emulate_media(color_scheme=scheme)
    _open(page, path)
    cells = page.locator(".rl-cell")
    cells.nth(0).click()  # rare
    cells.nth(1).click()
    cells.nth(1).click()  # not rare
    page.keyboard.press("ArrowRight")
    page.keyboard.press("2")  # other rare class; cells 3.. stay unlabeled
    bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert (bg == "rgb(18, 18, 18)") == (scheme == "dark")
    for selector in [".rl-cell figcaption > div", ".rl-label", ".rl-keys", ".rl-count", ".rl-import", "h2"]:
        ratios = _contrasts(page, selector)
        assert ratios and min(ratios) >= 4.5, (scheme, selector, min(ratios))
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # the focused candidate is visibly marked


def test_saved_csv_quotes_class_names_and_paths(tmp_path, page):
    path, rows, _ = _synthetic_page(tmp_path)
    _open(page, path)
    page.locator(".rl-cell").nth(6).click()  # "give way, ahead"
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("n")
    with page.expect_download() as dl:
        page.click("#rl-save")
    saved = tmp_path / "answers.csv"
    dl.value.save_as(saved)
    table = read_table(saved, required=("item_id", "label"))
    got = [(r["item_id"], r["path"], r["label"]) for r in table.rows]
    assert got == [("105", rows[5]["path"], "not rare"), ("106", rows[6]["path"], "give way, ahead")]


def test_keys_act_on_the_cell_that_has_focus(run, page):
    """Focus moved by Tab or a screen reader (not by a click) is where the next key lands."""
    _open(page, run / "candidates.html")
    page.locator(".rl-cell").nth(0).click()  # the page's cursor on cell 0 (labeled rare)
    page.locator(".rl-cell").nth(6).focus()
    page.keyboard.press("n")
    states = _states(page)
    assert states[6] == "not" and states[0] == "rare" and states[1] == ""
    assert page.evaluate("document.activeElement.dataset.index") == "7"  # moved on, as after a click
