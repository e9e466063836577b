"""Sphinx configuration of rarelab's documentation site (``make docs``)."""

import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS))
(DOCS / "_static").mkdir(exist_ok=True)  # filled with plotly.min.js when the build starts
(DOCS / "_extra").mkdir(exist_ok=True)

project = "rarelab"
author = "the rarelab developers"
copyright = "2026, the rarelab developers"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx_copybutton",
]
exclude_patterns = ["_build", "README.md", "**.ipynb_checkpoints", "jupyter_execute"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Tutorials are executed by build_tutorials.py (with the outputs stored); the comparison
# page executes its own cells here.
nb_execution_mode = "off"
nb_execution_timeout = 600
nb_ipywidgets_js = {}  # no widget manager from a CDN: the site works offline and logs no errors
# A page has no kernel: prefer the static HTML a widget offers (the gallery's picture).
nb_mime_priority_overrides = [("html", "text/html", 0), ("html", "application/vnd.jupyter.widget-view+json", None)]

autosummary_generate = True
# Class pages (docs/_templates/autosummary/class.rst) document inherited members, but only
# rarelab's own (_own_members): ActiveLoop's methods live in mixins (rarelab/loop/_sync.py,
# _state.py, _drivers.py), the gallery's round controls in rarelab/widgets/_rounds.py.
templates_path = ["_templates"]
autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_typehints = "description"
napoleon_numpy_docstring = True
napoleon_google_docstring = False

html_theme = "pydata_sphinx_theme"
html_title = "rarelab"
html_favicon = "_static/favicon.svg"  # without one, every browser asks for /favicon.ico and logs a 404
html_static_path = ["_static"]
html_extra_path = ["_extra"]  # favicon.ico at the root, written when the build starts
html_js_files = ["plotly.min.js"]  # figures in the pages draw with this copy: no CDN
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2, "use_edit_page_button": False}
html_show_sourcelink = False
html_context = {"default_mode": "light"}


def _prepare(app):
    import plotly

    static = DOCS / "_static"
    static.mkdir(exist_ok=True)
    shutil.copy(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", static / "plotly.min.js")
    from PIL import Image, ImageDraw

    icon = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    ImageDraw.Draw(icon).polygon([(16, 2), (30, 28), (2, 28)], fill="white", outline="#d62728", width=3)
    icon.save(DOCS / "_extra" / "favicon.ico")  # browsers ask /favicon.ico on their own: no 404 in the log
    from cli_reference import write_cli_reference

    write_cli_reference(DOCS / "cli.md")


def _own_members(app, what, name, obj, skip, options):
    """Leave out what a class inherits from outside rarelab (ipywidgets, traitlets, Exception)."""
    if skip or what != "class":
        return None
    target = getattr(obj, "fget", obj)  # a property's getter knows its module
    return None if (getattr(target, "__module__", None) or "").startswith("rarelab") else True


def setup(app):
    app.connect("builder-inited", _prepare)
    app.connect("autodoc-skip-member", _own_members)
