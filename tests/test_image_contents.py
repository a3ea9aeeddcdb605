"""The runtime image copies the top-level files and whole packages, never a list of modules, so
a new module inside a package reaches the image by itself. Checked from the Dockerfile here, in
a second; tests/test_containers.py imports every module inside the built image."""

import re

import pytest

from tests.service import ROOT

pytestmark = pytest.mark.skipif(
    not (ROOT / "Dockerfile").exists(), reason="running inside the image, which has no Dockerfile to check"
)

DEV_ONLY = {"devtools", "tests", "bench"}


def runtime_copies() -> set[str]:
    """What the runtime stage's COPY lines take from the build context (files, and folders as 'name/')."""
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    runtime = dockerfile.split(" AS runtime", 1)[1].split(" AS test", 1)[0]
    copied = set()
    for line in runtime.splitlines():
        if re.match(r"\s*COPY\s", line) and "--from" not in line:
            copied.update(line.split()[1:-1])
    return copied


def production_packages() -> set[str]:
    return {path.parent.name for path in ROOT.glob("*/__init__.py")} - DEV_ONLY


def test_every_package_is_copied_whole():
    missing = {f"{package}/" for package in production_packages()} - runtime_copies()
    assert not missing, f"add to the runtime stage of the Dockerfile: COPY {sorted(missing)}"


def test_every_top_level_module_is_copied():
    modules = {path.name for path in ROOT.glob("*.py")}
    assert modules - runtime_copies() == set()


def test_modules_are_not_listed_one_by_one():
    listed = {source for source in runtime_copies() if "/" in source.rstrip("/") and source.endswith(".py")}
    assert not listed, f"copy the package instead of its modules: {sorted(listed)}"


def test_nothing_dev_only_is_copied_into_the_image():
    assert not {source.rstrip("/") for source in runtime_copies()} & DEV_ONLY
