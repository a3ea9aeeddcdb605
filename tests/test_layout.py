"""The house rules, checked from the source: the top level holds the design card's files and
packages named for their subsystems; no name shadows the standard library or an installed
distribution; imports flow one way (routes -> web, media and delivery helpers -> storage ->
core) with no cycle; every package says what it holds; nothing in production imports devtools."""

import ast
import importlib.metadata
import importlib.util
import sys
from functools import cache

import pytest

from tests.service import ROOT

TOP_LEVEL_MODULES = {"app", "db", "comment", "config"}  # plus gunicorn.conf.py, which is not imported
PACKAGES = {"api", "web", "store", "media", "delivery", "transfer", "core", "devtools"}
# Lower imports nothing higher. Within a level, only the listed sideways imports are allowed.
LEVELS = {
    "core": 0,
    "config": 0,
    "comment": 1,
    "store": 1,
    "db": 1,
    "web": 2,
    "media": 2,
    "delivery": 2,
    "transfer": 2,
    "api": 3,
    "app": 4,
    "devtools": 5,
}
# (store, db): the migration runner shares db.py's encoding check. (transfer, web): an import
# computes client pseudonyms exactly as requests get them (web/auth.py).
SIDEWAYS = {
    ("transfer", "web"),
    ("media", "web"),
    ("delivery", "media"),
    ("db", "store"),
    ("db", "comment"),
    ("store", "comment"),
    ("store", "db"),
}


def test_the_top_level_holds_the_design_cards_files_and_the_packages():
    modules = {path.stem for path in ROOT.glob("*.py")} - {"gunicorn.conf"}
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    assert modules == TOP_LEVEL_MODULES
    assert packages == PACKAGES


@pytest.mark.parametrize("name", sorted(TOP_LEVEL_MODULES | PACKAGES | {"tests", "bench"}))
def test_no_name_shadows_the_standard_library_or_an_installed_distribution(name):
    assert name not in sys.stdlib_module_names
    assert name not in importlib.metadata.packages_distributions(), f"{name} is also an installed distribution"


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_every_package_says_what_it_holds_and_what_it_may_import(package):
    docstring = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text()))
    assert docstring and len(docstring.splitlines()) >= 2


@cache
def our_modules() -> dict[str, str]:
    """Dotted name -> source, for the top-level modules and every module of every package."""
    found = {name: (ROOT / f"{name}.py").read_text() for name in TOP_LEVEL_MODULES}
    for package in PACKAGES:
        for path in (ROOT / package).glob("*.py"):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            found[name] = path.read_text()
    return found


def imports_of(source: str) -> set[str]:
    """Our modules that a source imports (absolute imports, at any depth of the code)."""
    modules, imported = our_modules(), set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                imported.add(name)
    return imported


def graph() -> dict[str, set[str]]:
    edges = {name: imports_of(source) - {name} for name, source in our_modules().items()}
    for name in edges:  # a module imports its package's __init__ too, which is a docstring here
        edges[name] -= {name.partition(".")[0]}
    return edges


def room(module: str) -> str:
    return module.partition(".")[0]


def test_imports_flow_one_way():
    wrong = []
    for importer, imported_modules in graph().items():
        for imported in imported_modules:
            low, high = room(imported), room(importer)
            if low == high or (high, low) in SIDEWAYS:
                continue
            if LEVELS[low] >= LEVELS[high]:
                wrong.append(f"{importer} imports {imported}")
    assert not wrong, wrong


def test_no_import_cycles():
    edges, state, cycles = graph(), {}, []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(edges[module]):
            if state.get(imported) == "open":
                cycles.append(" -> ".join([*path[path.index(imported) :], imported]))
            elif imported not in state:
                visit(imported, [*path, imported])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not cycles, cycles


def test_production_code_never_imports_devtools():
    offenders = [name for name, imported in graph().items() if room(name) != "devtools" and any(
        room(module) == "devtools" for module in imported
    )]  # fmt: skip
    assert not offenders, offenders


def test_the_rules_see_real_imports():
    """The graph is not empty by accident: the factory imports the routes, a route the store."""
    edges = graph()
    assert "api.comments" in edges["app"] and "db" in edges["api.comments"]
    assert "store.pool" in edges["db"]


@pytest.mark.skipif(not (ROOT / "bench").exists(), reason="the image carries no benchmark")
@pytest.mark.parametrize("script", ["run", "ab", "post_profile", "widget_load", "ceiling", "duplicate_cost", "seams"])
def test_the_benchmark_scripts_import(script, monkeypatch):
    """bench/ is not imported by the service or the suite otherwise: a move must not break it."""
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location(f"bench_{script}", ROOT / "bench" / f"{script}.py")
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
