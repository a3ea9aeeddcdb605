"""`pipenv run python bench/versus.py --commit 3926c32`: today's code against an earlier commit's,
interleaved in one run, with CPU per request.

The other commit is checked out into a temporary git worktree and gets its own virtualenv from
its own Pipfile.lock (`pipenv install --deploy`: what it shipped with, not today's packages) and
its own database, migrated by its own code and seeded like today's (bench/run.py's 1,000 rows).
Both are served as `pipenv run serve` serves them, with the same settings, and take turns under
the same wrk load, round by round, so the machine's drift hits both alike. Reported: each one's
median rate and CPU per request (the service's processes, PostgreSQL's), and the ratio of the
medians of per-round ratios. The issue-24 bar is against milestone 1 (3926c32): page >= 1.50,
one >= 1.20, post >= 1.00. `--commit HEAD --bare` measures what stored `html` costs a read: the
same code, one database with each comment's html and one without.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cpu import Meter  # noqa: E402
from bench.run import ONE_ID, POST_ENV, POST_SCRIPT, Databases, _seed, wrk  # noqa: E402
from store import migrate  # noqa: E402
from tests.service import Service  # noqa: E402

TARGETS = {
    "page": ("/comments?thread=bench&limit=20", None),
    "one": (f"/comments/{ONE_ID}", None),
    "post": ("/comments", POST_SCRIPT),
}
BARS = {"page": 1.50, "one": 1.20, "post": 1.00}  # against milestone 1 (issue 24)


class Checkout:
    """An earlier commit in a worktree of its own, with its own locked packages."""

    def __init__(self, commit: str):
        self.commit = commit
        self.folder = Path(tempfile.mkdtemp(prefix=f"comments-{commit[:8]}-"))
        subprocess.run(["git", "worktree", "add", "--detach", str(self.folder), commit], cwd=ROOT, check=True)
        env = {**os.environ, "PIPENV_PIPFILE": str(self.folder / "Pipfile"), "PIPENV_VENV_IN_PROJECT": "1"}
        env.pop("VIRTUAL_ENV", None)  # not today's virtualenv
        subprocess.run(["pipenv", "install", "--deploy"], cwd=self.folder, env=env, check=True)
        self.python = self.folder / ".venv" / "bin" / "python"
        # Whether its comments have an html column to seed (formatting, migration 0018).
        self.renders = (self.folder / "store" / "migrations" / "0018_formatting.sql").exists()

    def migrate(self, url: str) -> None:
        """Its own migrations, by its own runner (it moved between releases)."""
        runner = ["-m", "store.migrate"] if (self.folder / "store" / "migrate.py").exists() else ["migrate.py"]
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "versus-" + "x" * 40}
        subprocess.run([str(self.python), *runner], cwd=self.folder, env=env, check=True, capture_output=True)

    def close(self) -> None:
        subprocess.run(["git", "worktree", "remove", "--force", str(self.folder)], cwd=ROOT, check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


class CheckoutService(Service):
    """The earlier commit served as its own `pipenv run serve` would serve it."""

    def __init__(self, checkout: Checkout, database_url: str, **env: str):
        super().__init__(database_url, **env)
        self.checkout = checkout

    def start(self, wait_for: str = "/healthz", timeout: float = 30) -> "Service":
        import tests.service as service_module

        original = service_module.serve_command, service_module.ROOT
        service_module.serve_command = lambda target: [str(self.checkout.python), "-m", "gunicorn", "--config",
                                                       "gunicorn.conf.py", target]  # fmt: skip
        service_module.ROOT = self.checkout.folder
        try:
            return super().start(wait_for, timeout)
        finally:
            service_module.serve_command, service_module.ROOT = original


def run(commit: str, rounds: int, seconds: float, bare: bool = False) -> str:
    server, checkout, services = Databases(), None, []
    try:
        checkout = Checkout(commit)
        today_url, then_url = server.fresh("comments_versus_today", "comments_versus_then")
        migrate.migrate(today_url)
        checkout.migrate(then_url)
        _seed(today_url, 0)
        _seed(then_url, 0, rendered=checkout.renders and not bare)
        today = Service(today_url, **POST_ENV).start()
        services.append(today)
        then = CheckoutService(checkout, then_url, **POST_ENV).start()
        services.append(then)
        return compare({"today": today, "then": then}, server.postgres_pid(), rounds, seconds, commit)
    finally:
        for service in services:
            service.stop()
        if checkout:
            checkout.close()
        server.close()


def compare(services: dict, postgres_pid: int | None, rounds: int, seconds: float, commit: str) -> str:
    runs = {(who, target): [] for who in services for target in TARGETS}
    for service in services.values():  # warm up
        for path, script in TARGETS.values():
            wrk(service.url(path), 1, script)
    for round_number in range(rounds):
        for target, (path, script) in TARGETS.items():
            for who, service in services.items():
                meter = Meter(service.process.pid, postgres_pid)
                result = wrk(service.url(path), seconds, script)
                result["api_ms"], result["pg_ms"] = meter.per_request_ms(result["requests"])
                runs[(who, target)].append(result)
        print(f"  round {round_number + 1}/{rounds} done", flush=True)
    return report(runs, commit, rounds, seconds)


def report(runs: dict, commit: str, rounds: int, seconds: float) -> str:
    lines = [
        f"| target | today req/s | today API / PG CPU ms | {commit[:7]} req/s | {commit[:7]} API / PG CPU ms "
        "| today / then | bar vs 3926c32 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for target in TARGETS:
        today, then = runs[("today", target)], runs[("then", target)]
        ratio = statistics.median(a["rps"] / b["rps"] for a, b in zip(today, then, strict=True))
        lines.append(
            f"| {target} | {_median(today, 'rps'):.0f} | {_cpu(today)} | {_median(then, 'rps'):.0f} | {_cpu(then)} "
            f"| **{ratio:.2f}** | {BARS[target]:.2f} |"
        )
    lines.append(
        f"\nwrk -t2 -c16, {rounds} interleaved rounds of {seconds:g} s per target and service, medians; "
        f"each service with its own locked packages and database (1,000 comments in the thread)."
    )
    return "\n".join(lines)


def _median(results: list[dict], key: str) -> float:
    return statistics.median(result[key] for result in results)


def _cpu(results: list[dict]) -> str:
    pg = [result["pg_ms"] for result in results if result["pg_ms"] is not None]
    return (
        f"{_median(results, 'api_ms'):.3f} / {statistics.median(pg):.3f}" if pg else f"{_median(results, 'api_ms'):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commit", default="3926c32", help="the earlier commit (default: milestone 1, 3926c32)")
    parser.add_argument("--bare", action="store_true", help="seed the earlier commit's comments without html")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4)
    args = parser.parse_args()
    print(run(args.commit, args.rounds, args.seconds, args.bare))


if __name__ == "__main__":
    main()
