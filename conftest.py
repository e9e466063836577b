"""Shared by the test suite and the docstring examples (``--doctest-modules rarelab``)."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    # Rendered datasets and features go to a per-session folder, never the user's cache.
    mp = pytest.MonkeyPatch()
    mp.setenv("RARELAB_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()
