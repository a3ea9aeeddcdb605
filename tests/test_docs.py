"""The documentation stays true: every relative link and anchor in README.md and docs/ resolves,
every environment variable config.py reads is explained in docs/operations.md and listed in
.env.example, and every command in the README's sh blocks exists."""

import ast
import re
import shlex
import tomllib
from pathlib import Path

import pytest

from tests.service import ROOT

pytestmark = pytest.mark.skipif(not (ROOT / "README.md").exists(), reason="the image carries no documentation")

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
KNOWN_PROGRAMS = {"pipenv", "docker", "curl", "python", "pip"}


def prose(path: Path) -> str:
    """A Markdown file without its fenced code blocks and inline code spans."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", path.read_text()))


def anchors(path: Path) -> set[str]:
    """The anchors GitHub makes of a file's headings: lower case, punctuation dropped, spaces to
    hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", FENCE.sub("", path.read_text()), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", "")).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_relative_link_and_anchor_resolves(document):
    broken = []
    for match in LINK.finditer(prose(document)):
        target = match.group(1) or match.group(2)
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        linked = (document.parent / path_part).resolve() if path_part else document
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (linked.suffix != ".md" or anchor not in anchors(linked)):
            broken.append(f"{target}: no such heading")
    assert not broken, broken


def test_the_readme_is_a_front_door():
    assert len((ROOT / "README.md").read_text().splitlines()) < 250


def configured_variables() -> set[str]:
    """The names config.py reads: its upper-case string constants (it holds no others)."""
    tree = ast.parse((ROOT / "config.py").read_text())
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(r"[A-Z][A-Z0-9_]{2,}", node.value)
    }


def test_every_variable_is_explained_and_listed():
    variables = configured_variables()
    assert {"DATABASE_URL", "PORT", "MAX_IMAGE_FRAMES", "AWS_REGION"} <= variables  # the scan finds them
    operations = (ROOT / "docs" / "operations.md").read_text()
    example = (ROOT / ".env.example").read_text()
    unexplained = {name for name in variables if f"`{name}`" not in operations}
    unlisted = {name for name in variables if not re.search(rf"^#? ?{name}=", example, re.M)}
    assert not unexplained, f"add to docs/operations.md: {sorted(unexplained)}"
    assert not unlisted, f"add to .env.example: {sorted(unlisted)}"


def readme_commands() -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S):
        for line in block.splitlines():
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith("#"):
                commands += [shlex.split(part) for part in line.split("&&")]
    return commands


def test_every_command_in_the_readme_exists():
    scripts = tomllib.loads((ROOT / "Pipfile").read_text())["scripts"]
    commands = readme_commands()
    assert commands, "the README shows commands"
    missing = []
    for words in commands:
        program = words[0]
        if program not in KNOWN_PROGRAMS:
            missing.append(" ".join(words))
        elif words[:2] == ["pipenv", "run"] and words[2] not in scripts:
            missing.append(f"pipenv run {words[2]}: no such script in the Pipfile")
        elif program == "python" and words[1] == "-m" and not (ROOT / (words[2].replace(".", "/") + ".py")).exists():
            missing.append(f"python -m {words[2]}: no such module")
        elif words[:2] == ["docker", "compose"] and not (ROOT / "docker-compose.yml").exists():
            missing.append("docker compose: no docker-compose.yml")
    assert not missing, missing
