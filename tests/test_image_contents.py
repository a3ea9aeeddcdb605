"""The runtime image copies an explicit list of modules; every module the service imports must
be on it. Checked from the source, so a forgotten file fails here in a second, not in Docker."""

import ast
import re

import pytest

from tests.service import ROOT

pytestmark = pytest.mark.skipif(
    not (ROOT / "Dockerfile").exists(), reason="running inside the image, which has no Dockerfile to check"
)

ENTRY_POINTS = ["app.py", "migrate.py", "gunicorn.conf.py", "worker.py"]


def local_imports(path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return {f"{name}.py" for name in names if (ROOT / f"{name}.py").exists()}


def needed_by_the_service() -> set[str]:
    needed, pending = set(), list(ENTRY_POINTS)
    while pending:
        module = pending.pop()
        if module not in needed:
            needed.add(module)
            pending.extend(local_imports(ROOT / module))
    return needed


def copied_into_runtime_image() -> set[str]:
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    runtime = dockerfile.split(" AS runtime", 1)[1].split(" AS test", 1)[0]
    copied = set()
    for line in runtime.splitlines():
        if re.match(r"\s*COPY\s", line) and "--from" not in line:
            copied.update(word for word in line.split()[1:-1] if word.endswith(".py"))
    return copied


def test_every_module_the_service_imports_is_copied_into_the_image():
    missing = needed_by_the_service() - copied_into_runtime_image()
    assert not missing, f"add to the runtime COPY in Dockerfile: {sorted(missing)}"


def test_nothing_dev_only_is_copied_into_the_image():
    assert not copied_into_runtime_image() & {"dev.py", "embedded_postgres.py"}
