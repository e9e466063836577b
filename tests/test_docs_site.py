"""The built documentation site (``make docs``): pages load cleanly, links resolve, tutorials
show their figures. Skipped when the site was not built, except under ``make docs``."""

import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from .browser import REPO, chromium_page, require_browser, serve

# Only against the site `make docs` has just built: a site left from an older build
# would test old pages.
SITE = Path(os.environ.get("RARELAB_DOCS_SITE", REPO / "docs" / "_build" / "html"))
pytestmark = pytest.mark.skipif(
    "RARELAB_DOCS_SITE" not in os.environ, reason="tests the site make docs builds (it sets RARELAB_DOCS_SITE)"
)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])
        if tag in ("link", "script", "img") and (attrs.get("href") or attrs.get("src")):
            self.hrefs.append(attrs.get("href") or attrs.get("src"))


def _pages():
    return sorted(p for p in SITE.rglob("*.html") if "_static" not in p.parts and "_sources" not in p.parts)


def _parse(path):
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_the_site_has_every_part():
    assert (SITE / "index.html").exists(), f"no site in {SITE}: run make docs"
    names = {p.relative_to(SITE).as_posix() for p in _pages()}
    assert {"index.html", "cli.html", "api.html", "comparison.html", "tutorials.html"} <= names
    assert sum(n.startswith("tutorials/") for n in names) == 6
    assert sum(n.startswith("generated/") for n in names) >= 20  # API pages from the docstrings
    assert "rarelab search init" in (SITE / "cli.html").read_text()


def test_every_internal_link_resolves():
    parsed = {p: _parse(p) for p in _pages()}
    broken = []
    for page, links in parsed.items():
        for href in links.hrefs:
            parts = urlsplit(href)
            if parts.scheme or href.startswith(("//", "mailto:", "data:", "javascript:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(SITE)} -> {href}")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{page.relative_to(SITE)} -> {href} (no such anchor)")
    assert not broken, "\n".join(broken[:20])


def test_pages_load_without_console_errors_and_tutorials_show_figures():
    require_browser()
    errors = []
    with serve(SITE) as url, chromium_page() as page:
        page.on("console", lambda m: m.type == "error" and errors.append(f"{page.url}: {m.text}"))
        page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
        # ERR_ABORTED: a request cut short by the next navigation, not a failure of the page
        page.on(
            "requestfailed",
            lambda r: (
                "ERR_ABORTED" not in (r.failure or "")
                and errors.append(f"{page.url}: request failed {r.url} ({r.failure})")
            ),
        )
        page.on("response", lambda r: r.status >= 400 and errors.append(f"{page.url}: {r.status} {r.url}"))
        for path in _pages():
            rel = path.relative_to(SITE).as_posix()
            page.goto(f"{url}/{rel}", wait_until="load")
            if rel.startswith("tutorials/") or rel == "comparison.html":
                page.wait_for_timeout(300)  # plotly draws after load
                drawn = page.locator(".plotly-graph-div .main-svg").count()
                images = page.locator(".cell_output img, .output img").count()
                assert drawn + images >= 1, f"{rel} shows no rendered figure"
    assert not errors, "\n".join(errors[:20])


def test_readme_is_the_landing_page():
    text = (SITE / "index.html").read_text()
    readme = (REPO / "README.md").read_text()
    first_section = re.search(r"^## (.+)$", readme, re.M).group(1)
    assert first_section in text
