"""Rules about the code itself, checked from the source: domain errors live in one place with no
HTTP or database imports and each maps to a status; routes come from feature blueprints; no
HTTP call in the suite can wait forever."""

import ast
import inspect

import pytest

from core import exceptions
from tests.service import ROOT
from web import errors


def imported_modules(path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_domain_errors_import_neither_http_nor_database_code():
    assert not imported_modules(ROOT / "core" / "exceptions.py") & {"flask", "werkzeug", "psycopg2", "db", "web"}


def test_the_error_mapping_does_not_depend_on_the_database():
    assert not imported_modules(ROOT / "web" / "errors.py") & {"psycopg2", "db", "store"}


@pytest.mark.parametrize(
    "kind",
    [
        kind
        for _, kind in inspect.getmembers(exceptions, inspect.isclass)
        if issubclass(kind, exceptions.ServiceError) and kind is not exceptions.ServiceError
    ],
    ids=lambda kind: kind.__name__,
)
def test_every_domain_error_has_a_status_and_a_stable_code(kind):
    error = kind.__new__(kind)
    assert 400 <= errors.status_of(error) < 500 or errors.status_of(error) == 503
    assert kind.code.replace("_", "").isalpha() and kind.code.islower()


def test_every_route_belongs_to_a_feature_blueprint(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert all("." in endpoint for endpoint in endpoints), endpoints


HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head", "options", "request"}


def calls_without_timeout(path) -> list[str]:
    """requests.<method>(...) and <something>session.<method>(...) calls with no timeout=."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        target = node.func.value
        name = target.id if isinstance(target, ast.Name) else ""
        is_http = node.func.attr in HTTP_METHODS and (name == "requests" or "session" in name.lower())
        if is_http and not any(keyword.arg == "timeout" for keyword in node.keywords):
            found.append(f"{path.name}:{node.lineno}")
    return found


def test_no_http_call_in_the_suite_can_wait_forever():
    sources = [*sorted((ROOT / "tests").glob("*.py")), *sorted((ROOT / "bench").glob("*.py"))]
    missing = [place for path in sources for place in calls_without_timeout(path)]
    assert not missing, f"add timeout= to: {missing}"
