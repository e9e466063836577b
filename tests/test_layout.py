"""The package layout, checked statically (``ast``; nothing is imported).

* No import cycles. The graph is taken at subpackage granularity (``rarelab.data``,
  ``rarelab.features``, ..., ``rarelab.exceptions``, and the top-level ``rarelab``
  ``__init__``) from every import of every module, module-level or inside a function, and
  must be acyclic: then importing any module never reaches a partially initialised one.
  Inside a subpackage, a module must not import its own package's ``__init__``
  (``from . import name``, ``from ..data import name`` in ``rarelab/data/_x.py``): the
  ``__init__`` imports its private modules, so that is the one cycle the subpackage graph
  cannot see. ``from . import _sibling`` names a module and is fine; so is a
  ``__main__.py``, which runs after its package is fully imported and which nothing imports.
  Private modules of one subpackage must not import each other in a cycle either.
* Private names stay private: a subpackage imports another one's public names only (no
  ``rarelab.x._module``, no ``_name``); tests, benchmarks, docs scripts and the notebooks
  likewise.
* No module under ``rarelab/`` is longer than :data:`MAX_LINES` lines.

The checkers take a directory, so ``test_checkers_report_*`` run them on a fake package.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "rarelab"
MAX_LINES = 400

# Private imports tests may keep, as (file relative to the repository root, module, name),
# each with why no public name serves.
TEST_ALLOWLIST = {
    # Monkeypatches the module global ``clip_embeddings`` that TAAST looks up at call time to
    # simulate "no network"; patching a re-export would not reach it.
    ("tests/test_paper_strategies.py", "rarelab.strategies", "_taast"),
    # Modes only Pillow makes (PA, La, RGBa, HSV) never come out of a file: the decoder's colour
    # step is tested on images made in memory; the ICC transform cache is internal.
    ("tests/test_decode.py", "rarelab.data", "_decode"),
}


@dataclass(frozen=True)
class Import:
    """One imported module (and the names taken from it) at ``where`` (``path:line``)."""

    where: str
    module: str
    names: tuple[str, ...] = ()


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    imports: list[Import] = field(default_factory=list)


def _resolve(module: str | None, level: int, importer: str, is_package: bool) -> str | None:
    """The absolute name of ``from <level dots><module> import ...`` written in ``importer``."""
    if level == 0:
        return module
    parts = importer.split(".")
    if not is_package:
        parts = parts[:-1]
    if level - 1 > len(parts) - 1:
        return None  # beyond the top-level package: Python raises ImportError anyway
    base = parts[: len(parts) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _imports(tree: ast.AST, importer: str, is_package: bool, label: str) -> list[Import]:
    """Every import statement anywhere in ``tree`` (module level, functions, classes, ifs)."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [Import(f"{label}:{node.lineno}", a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(node.module, node.level, importer, is_package)
            if target is not None and target != "__future__":
                out.append(Import(f"{label}:{node.lineno}", target, tuple(a.name for a in node.names)))
    return out


def package_modules(root: Path, package: str = PACKAGE) -> dict[str, Module]:
    """Every module of ``root/package`` by dotted name, with its imports."""
    mods = {}
    for path in sorted((root / package).rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        parts = list(rel.parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        name = ".".join(parts)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        mods[name] = Module(name, path, is_package, _imports(tree, name, is_package, rel.as_posix() + ".py"))
    return mods


def _targets(imp: Import, mods: dict[str, Module]) -> set[str]:
    """Modules of the tree an import executes: the module, and names that are submodules."""
    found = {imp.module} if imp.module in mods else set()
    found |= {f"{imp.module}.{n}" for n in imp.names if f"{imp.module}.{n}" in mods}
    return found


def _node(module: str) -> str:
    """The subpackage a module belongs to (``rarelab.data._x`` -> ``rarelab.data``)."""
    return ".".join(module.split(".")[:2])


def _sccs(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def _cycle_report(graph: dict[str, set[str]], where: dict[tuple[str, str], list[str]], label: str) -> list[str]:
    problems = []
    for comp in _sccs(graph):
        edges = [f"    {a} -> {b} ({', '.join(where[a, b])})" for a in comp for b in sorted(graph[a]) if b in comp]
        problems.append(f"{label} cycle among {', '.join(comp)}:\n" + "\n".join(edges))
    return problems


def find_cycles(root: Path, package: str = PACKAGE) -> list[str]:
    """Import cycles: between subpackages, into a module's own package, among private modules."""
    mods = package_modules(root, package)
    problems = []

    # 1. Subpackages (and the top-level __init__, and plain modules such as exceptions).
    graph: dict[str, set[str]] = {_node(m): set() for m in mods}
    where: dict[tuple[str, str], list[str]] = {}
    for mod in mods.values():
        for imp in mod.imports:
            for target in _targets(imp, mods):
                a, b = _node(mod.name), _node(target)
                if a != b:
                    graph[a].add(b)
                    where.setdefault((a, b), []).append(imp.where)
    problems += _cycle_report(graph, where, "subpackage")

    # 2. A module importing a package above it inside its subpackage: that package's
    #    __init__ imports the module, so it would see a partially initialised package.
    for mod in mods.values():
        own = _node(mod.name)
        if mod.name == own or mod.name.endswith(".__main__"):
            continue  # a subpackage's own __init__ (its imports are edges of graph 1), or an entry point
        ancestors = {p for p in _parents(mod.name)[:-1] if p == own or p.startswith(own + ".")}
        for imp in mod.imports:
            hit = {t for t in _targets(imp, mods) if t in ancestors}
            if imp.module in ancestors and imp.names and all(f"{imp.module}.{n}" in mods for n in imp.names):
                hit.discard(imp.module)  # from . import _sibling: the sibling module, not the __init__'s names
            if hit:
                problems.append(
                    f"{imp.where}: {mod.name} imports its own package {', '.join(sorted(hit))}"
                    f" (names: {', '.join(imp.names) or '-'}); import from the private module instead"
                )

    # 3. Private modules inside one subpackage (edges into the __init__ are reported by 2).
    graph = {m: set() for m in mods}
    where = {}
    for mod in mods.values():
        for imp in mod.imports:
            for target in _targets(imp, mods):
                if _node(target) == _node(mod.name) and target != mod.name and not mods[target].is_package:
                    graph[mod.name].add(target)
                    where.setdefault((mod.name, target), []).append(imp.where)
    problems += _cycle_report(graph, where, "module")
    return problems


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _private_parts(imp: Import, package: str) -> list[str]:
    """What is private in an import from ``package``: module path components, imported names."""
    parts = imp.module.split(".")
    if parts[0] != package:
        return []
    bad = [p for p in parts[1:] if _is_private(p)]
    return bad + [n for n in imp.names if _is_private(n)]


def find_private_imports(root: Path, package: str = PACKAGE) -> list[str]:
    """Imports of another subpackage's private module or name, inside the package."""
    problems = []
    for mod in package_modules(root, package).values():
        for imp in mod.imports:
            if imp.module.split(".")[0] != package or _node(imp.module) == _node(mod.name):
                continue
            bad = _private_parts(imp, package)
            if bad:
                problems.append(f"{imp.where}: {mod.name} imports private {', '.join(bad)} from {imp.module}")
    return problems


def _code_cells(path: Path, label: str) -> list[tuple[str, str]]:
    """(label, source) of each code cell of a notebook; IPython magics and shell lines blanked."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
        if src.lstrip().startswith("%%"):
            continue  # a cell magic: not Python
        lines = ["" if ln.lstrip().startswith(("%", "!")) else ln for ln in src.splitlines()]
        out.append((f"{label}[cell {i}]", "\n".join(lines)))
    return out


def _embedded_code(tree: ast.AST, label: str) -> list[tuple[str, ast.AST]]:
    """Scripts kept in string constants (child processes) that import the package."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "import" in node.value:
            try:
                sub = ast.parse(node.value)
            except SyntaxError:
                continue
            out.append((f"{label}:{node.lineno}(string)", sub))
    return out


def external_sources(root: Path) -> list[Path]:
    """Code outside the package that must use public names only."""
    files = [*sorted((root / "tests").rglob("*.py")), *sorted((root / "benchmarks").rglob("*.py"))]
    files += sorted((root / "docs").glob("*.py")) + sorted((root / "notebooks").glob("*.ipynb"))
    return files


def find_external_private_imports(root: Path, files: list[Path], package: str = PACKAGE) -> list[Import]:
    """Imports of private modules or names of ``package`` in ``files`` (.py or .ipynb)."""
    found = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        if path.suffix == ".ipynb":
            sources = _code_cells(path, rel)
        else:
            sources = [(rel, path.read_text(encoding="utf-8"))]
        for label, src in sources:
            try:
                tree = ast.parse(src, filename=label)
            except SyntaxError as exc:
                found.append(Import(f"{label}:{exc.lineno}", "<a syntax error: the file cannot be checked>"))
                continue
            for sub_label, t in [(label, tree), *_embedded_code(tree, label)]:
                for imp in _imports(t, "__external__", False, sub_label):
                    if imp.module.split(".")[0] == package and _private_parts(imp, package):
                        found.append(imp)
    return found


def find_long_modules(root: Path, package: str = PACKAGE, limit: int = MAX_LINES) -> list[str]:
    """Modules of more than ``limit`` physical lines."""
    problems = []
    for path in sorted((root / package).rglob("*.py")):
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > limit:
            problems.append(f"{path.relative_to(root).as_posix()}: {n} lines (at most {limit})")
    return problems


def _not_allowed(imp: Import) -> tuple[list[str], set[tuple[str, str, str]]]:
    """The private parts of ``imp`` that :data:`TEST_ALLOWLIST` does not cover, and the entries used."""
    rel = imp.where.split(":")[0]
    if imp.module.startswith("<"):
        return [imp.module], set()  # a file that does not parse cannot be checked
    keys = {p: (rel, imp.module, p) for p in _private_parts(imp, PACKAGE)}
    used = {k for k in keys.values() if rel.startswith("tests/") and k in TEST_ALLOWLIST}
    return [p for p, k in keys.items() if k not in used], used


# ---------------------------------------------------------------------------------------
# The real tree


def test_no_import_cycles():
    problems = find_cycles(ROOT)
    assert not problems, "import cycles in rarelab/:\n" + "\n".join(problems)


def test_subpackages_import_only_public_names_of_each_other():
    problems = find_private_imports(ROOT)
    assert not problems, "private names imported across subpackages:\n" + "\n".join(problems)


def test_tests_benchmarks_docs_and_notebooks_import_only_public_names():
    msg, used = [], set()
    for imp in find_external_private_imports(ROOT, external_sources(ROOT)):
        bad, ok = _not_allowed(imp)
        used |= ok
        if imp.module.startswith("<"):
            msg.append(f"{imp.where}: {imp.module}")
        elif bad:
            msg.append(f"{imp.where}: imports private {', '.join(bad)} from {imp.module}")
    msg += [
        f"allowlisted import no longer used, remove it from TEST_ALLOWLIST: {s}" for s in sorted(TEST_ALLOWLIST - used)
    ]
    assert not msg, "private rarelab names outside the package (use the subpackage's public names):\n" + "\n".join(msg)


def test_modules_are_short():
    problems = find_long_modules(ROOT)
    assert not problems, "modules too long (split them):\n" + "\n".join(problems)


# ---------------------------------------------------------------------------------------
# The checkers themselves, on a fake package


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


CLEAN = {
    "pkg/__init__.py": "from .a import f\nfrom .b import g\n",
    "pkg/errors.py": "class E(Exception): pass\n",
    "pkg/a/__init__.py": "from ._one import f\nfrom ._two import h\n",
    "pkg/a/_one.py": "from ..errors import E\nfrom . import _two\nfrom ._two import h\ndef f(): return h()\n",
    "pkg/a/_two.py": "import os\ndef h():\n    return 1\n" + "\n" * 397,
    "pkg/b/__init__.py": "from ._three import g\n",
    "pkg/b/_three.py": "from ..a import f\nimport pkg.errors\ndef g(): return f()\n",
    "pkg/cli/__init__.py": "from .. import b\ndef main(): pass\n",
    "pkg/cli/__main__.py": "from . import main\nmain()\n",
    "tests/test_x.py": "from pkg.a import f\nfrom pkg import __version__\nfrom .helpers import _x\n",
    "nb/n.ipynb": json.dumps(
        {"cells": [{"cell_type": "code", "source": ["%matplotlib inline\n", "!ls\n", "from pkg.b import g\n"]}]}
    ),
}


def test_checkers_pass_a_clean_fake_tree(tmp_path):
    _write(tmp_path, CLEAN)
    assert find_long_modules(tmp_path, "pkg") == []  # _two.py has exactly 400 lines
    assert find_cycles(tmp_path, "pkg") == []
    assert find_private_imports(tmp_path, "pkg") == []
    files = [tmp_path / "tests/test_x.py", tmp_path / "nb/n.ipynb"]
    assert find_external_private_imports(tmp_path, files, "pkg") == []


def test_checkers_report_a_module_cycle_inside_a_subpackage(tmp_path):
    # a._one imports a._two at module level; a function-level import back closes the cycle.
    _write(tmp_path, {**CLEAN, "pkg/a/_two.py": "def h():\n    from ._one import f\n    return f\n"})
    problems = find_cycles(tmp_path, "pkg")
    assert len(problems) == 1 and problems[0].startswith("module cycle among pkg.a._one, pkg.a._two"), problems


def test_checkers_report_a_subpackage_cycle(tmp_path):
    _write(tmp_path, {**CLEAN, "pkg/a/_two.py": "def h():\n    from ..b import g\n    return g()\n"})
    problems = find_cycles(tmp_path, "pkg")
    assert len(problems) == 1 and problems[0].startswith("subpackage cycle among pkg.a, pkg.b"), problems
    assert "pkg/a/_two.py:2" in problems[0] and "pkg/b/_three.py:1" in problems[0]


def test_checkers_report_a_cycle_through_the_top_level_package(tmp_path):
    _write(tmp_path, {**CLEAN, "pkg/a/_two.py": "from .. import errors\nfrom .. import b\ndef h(): pass\n"})
    problems = find_cycles(tmp_path, "pkg")
    assert len(problems) == 1 and problems[0].startswith("subpackage cycle among pkg, pkg.a, pkg.b"), problems


def test_checkers_report_a_module_importing_its_own_package(tmp_path):
    for text in ("from . import f\n", "from ..a import f\n", "import pkg.a\n", "from . import f, os\n"):
        _write(tmp_path, {**CLEAN, "pkg/a/_two.py": text + "def h(): pass\n"})
        problems = find_cycles(tmp_path, "pkg")
        assert len(problems) == 1 and "pkg.a._two imports its own package pkg.a" in problems[0], (text, problems)
    # Through the top-level package: also a subpackage cycle pkg -> pkg.a -> pkg.
    _write(tmp_path, {**CLEAN, "pkg/a/_two.py": "from .. import a\ndef h(): pass\n"})
    problems = find_cycles(tmp_path, "pkg")
    assert any("pkg.a._two imports its own package pkg.a" in p for p in problems), problems


def test_checkers_report_private_imports(tmp_path):
    _write(
        tmp_path,
        {
            **CLEAN,
            "pkg/b/_three.py": "from ..a._one import f\nfrom ..a import _one\nimport pkg.a._two\nfrom . import _x\n",
            "tests/test_x.py": "from pkg.a._one import f\nfrom pkg.a import _one\ndef t():\n    import pkg.a._two\n",
            "nb/n.ipynb": json.dumps({"cells": [{"cell_type": "code", "source": "%time 1\nfrom pkg.a import _h\n"}]}),
        },
    )
    problems = find_private_imports(tmp_path, "pkg")
    assert [p.split(": ")[0] for p in problems] == ["pkg/b/_three.py:1", "pkg/b/_three.py:2", "pkg/b/_three.py:3"]
    found = find_external_private_imports(tmp_path, [tmp_path / "tests/test_x.py", tmp_path / "nb/n.ipynb"], "pkg")
    assert [i.where for i in found] == [
        "tests/test_x.py:1",
        "tests/test_x.py:2",
        "tests/test_x.py:4",
        "nb/n.ipynb[cell 0]:2",
    ]


def test_checkers_report_a_long_module(tmp_path):
    _write(tmp_path, {**CLEAN, "pkg/b/_long.py": "x = 1\n" * 401})
    assert find_long_modules(tmp_path, "pkg") == ["pkg/b/_long.py: 401 lines (at most 400)"]
