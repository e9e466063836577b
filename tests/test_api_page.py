"""Every public name is exported where it lives and documented on the API page."""

import importlib
import re
from pathlib import Path

import pytest

import rarelab

ROOT = Path(__file__).resolve().parent.parent
SUBPACKAGES = sorted(
    p.parent.name for p in (ROOT / "rarelab").glob("*/__init__.py") if not p.parent.name.startswith("_")
)


def _section(text: str, module: str) -> str:
    """The part of the API page from ``module``'s heading to the next module's heading."""
    start = re.search(rf"^#+ .*`{re.escape(module)}`", text, flags=re.M)
    assert start, f"docs/api.md has no section headed `{module}`"
    nxt = re.search(r"^#+ .*`rarelab[\w.]*`", text[start.end() :], flags=re.M)
    return text[start.end() : start.end() + nxt.start()] if nxt else text[start.end() :]


@pytest.mark.parametrize("module", ["rarelab.exceptions"] + [f"rarelab.{s}" for s in SUBPACKAGES])
def test_every_public_name_is_on_the_api_page(module):
    text = (ROOT / "docs" / "api.md").read_text()
    mod = importlib.import_module(module)
    section = _section(text, module)
    missing = [n for n in mod.__all__ if not re.search(rf"(?<![\w]){re.escape(n)}(?![\w])", section)]
    assert not missing, f"{module}: {missing} are in __all__ but not on its API page section"


@pytest.mark.parametrize("module", ["rarelab", "rarelab.exceptions"] + [f"rarelab.{s}" for s in SUBPACKAGES])
def test_all_lists_exactly_what_the_module_exports(module):
    mod = importlib.import_module(module)
    assert len(set(mod.__all__)) == len(mod.__all__), "duplicates in __all__"
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.__all__ names {name!r}, which it does not define"
    public = {
        n for n, v in vars(mod).items() if not n.startswith("_") and getattr(v, "__module__", "").startswith(module)
    }
    assert public <= set(mod.__all__) | {"annotations"}, (
        f"{module} defines {sorted(public - set(mod.__all__))} outside __all__"
    )


def test_top_level_names_are_documented():
    text = (ROOT / "docs" / "api.md").read_text()
    missing = [n for n in rarelab.__all__ if not re.search(rf"(?<![\w]){re.escape(n)}(?![\w])", text)]
    assert not missing
