"""`pipenv run python bench/import_scale.py [--posts N]`: how long `pipenv run import` takes on a
Disqus export of a million posts, and how much memory it needs (the bar: under 3 minutes, peak
RSS under 250 MB), then how long running the same import again takes (it adds nothing).

The export is synthetic (devtools/sample_exports.py: threads of ~50 posts, a third of them
replies, some listed before their parents, a few deleted or spam). The import runs as the real
command against a throwaway embedded PostgreSQL with its default settings; its peak RSS and CPU
come from the kernel's accounting of the child process. The table goes into
docs/performance.md between its import markers (--no-readme to leave it alone).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools import sample_exports  # noqa: E402
from devtools.embedded_postgres import EmbeddedPostgres  # noqa: E402
from store import migrate  # noqa: E402

MARKERS = "<!-- import:start -->", "<!-- import:end -->"
DOC = ROOT / "docs" / "performance.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--no-readme", action="store_true", help="print the table only")
    arguments = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="comments-import-bench-"))
    server = EmbeddedPostgres(folder / "data")
    try:
        export = folder / "disqus.xml"
        with export.open("w", encoding="utf-8") as file:
            sample_exports.disqus(arguments.posts, file)
        url = server.start()
        migrate.migrate(url)
        size = export.stat().st_size
        first, again = run(url, export), run(url, export)
        table = render(arguments.posts, size, first, again)
        print(table)
        if not arguments.no_readme:
            write(table)
    finally:
        server.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


def run(url: str, export: Path) -> dict:
    """One import as a child process: wall time, CPU and peak RSS (os.wait4), and its summary."""
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-secret-" + "x" * 32, "LOG_LEVEL": "info"}
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "transfer.importer", str(export)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the import failed: {errors.decode()[-2000:]}")
    (summary,) = [orjson.loads(line) for line in errors.splitlines() if b'"import finished"' in line]
    return {
        "seconds": seconds,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
        "summary": summary,
    }


def render(posts: int, size: int, first: dict, again: dict) -> str:
    phases = first["summary"]["phase_seconds"]
    lines = [
        f"Disqus export of {posts:,} posts ({size / 1e6:,.0f} MB), `pipenv run import`, embedded PostgreSQL 15:",
        "",
        "| run | comments imported | already there | wall time | import's CPU | peak RSS |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, result in (("first", first), ("same file again", again)):
        summary = result["summary"]
        lines.append(
            f"| {name} | {summary['imported']:,} | {summary['already_there']:,} | {result['seconds']:.0f} s"
            f" | {result['cpu']:.0f} s | {result['rss_mb']:.0f} MB |"
        )
    lines += [
        "",
        f"First run by step: read and stage {phases['read']:.0f} s, resolve {phases['resolve']:.0f} s,"
        f" insert {phases['insert']:.0f} s.",
    ]
    return "\n".join(lines)


def write(table: str) -> None:
    start, end = MARKERS
    text = DOC.read_text()
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    DOC.write_text(pattern.sub(lambda _: f"{start}\n{table}\n{end}", text))


if __name__ == "__main__":
    main()
