"""Figures rendered by plotly.js in Chromium: nothing in a figure may overlap."""

import pytest

from .browser import chromium_page, require_browser, serve


def _boxes(page, selector):
    return page.eval_on_selector_all(
        selector,
        "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })",
    )


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _figures():
    import numpy as np

    from rarelab.reporting import projection_figure
    from rarelab.toy import run_toy_model, toy_figure

    rng = np.random.default_rng(0)
    coords = rng.normal(size=(200, 2))
    yield "toy explorer", toy_figure(run_toy_model(random_state=0))
    yield (
        "projection by P(rare)",
        projection_figure(
            coords, rng.integers(0, 2, 200), scores=rng.uniform(0, 1, 200), highlight=np.arange(5), title="projection"
        ),
    )


@pytest.mark.slow
def test_legends_never_cover_colourbars(tmp_path):
    require_browser()
    names = []
    for k, (name, fig) in enumerate(_figures()):
        fig.write_html(tmp_path / f"fig{k}.html", include_plotlyjs=True, full_html=True)
        names.append(name)
    with serve(tmp_path) as url, chromium_page() as page:
        for k, name in enumerate(names):
            page.goto(f"{url}/fig{k}.html")
            page.wait_for_selector("g.legend")
            legend, colourbars = _boxes(page, "g.legend"), _boxes(page, "g.colorbar")
            assert legend and colourbars, name
            assert not any(_overlap(legend[0], c) for c in colourbars), f"{name}: legend {legend} over {colourbars}"
