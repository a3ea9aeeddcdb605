"""`pipenv run python bench/ab.py`: one change against the current code, measured in the same run.

Two services on the same database, A as `pipenv run serve` runs it and B with the change, take
turns under the same wrk load (rounds interleaved, so the machine's drift hits both alike). The
change is what B gets on top of A: environment variables (`--b-env NAME=VALUE`) and PostgreSQL
session settings (`--b-pg "commit_delay=100"`, passed as libpq `options`).

    pipenv run python bench/ab.py --b-pg commit_delay=100 --b-pg commit_siblings=2
    pipenv run python bench/ab.py --target page --b-env GUNICORN_THREADS=4
"""

import argparse
import statistics
import sys
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from run import POST_ENV, POST_SCRIPT, Databases, wrk  # noqa: E402

from tests.service import Service  # noqa: E402

TARGETS = {"post": ("/comments", POST_SCRIPT, POST_ENV), "page": ("/comments?thread=bench&limit=20", None, {})}


def with_session_settings(url: str, settings: list[str]) -> str:
    if not settings:
        return url
    options = quote(" ".join(f"-c {setting}" for setting in settings))
    return f"{url}{'&' if '?' in url else '?'}options={options}"


def compare(target: str, b_env: dict, b_pg: list[str], rounds: int, seconds: float) -> str:
    path, script, env = TARGETS[target]
    databases = Databases()
    services = []
    try:
        url, _ = databases.prepare(0)
        a = Service(url, **env).start()
        services.append(a)
        b = Service(with_session_settings(url, b_pg), **env, **b_env).start()
        services.append(b)
        results = {"A": [], "B": []}
        for service in (a, b):
            wrk(service.url(path), 2, script)  # warm up
        for _ in range(rounds):
            for name, service in (("A", a), ("B", b)):
                results[name].append(wrk(service.url(path), seconds, script))
    finally:
        for service in services:
            service.stop()
        databases.close()
    change = ", ".join([*(f"{k}={v}" for k, v in b_env.items()), *(f"PostgreSQL {s}" for s in b_pg)])
    lines = [f"{target}: A = current code, B = {change}; {rounds} interleaved rounds of {seconds:g} s"]
    for name, runs in results.items():
        rates = [run["rps"] for run in runs]
        p99 = statistics.median(run["p99"] for run in runs)
        lines.append(
            f"  {name}: median {statistics.median(rates):6.0f} req/s (rounds {min(rates):.0f} to {max(rates):.0f}), "
            f"p99 {p99:.1f} ms, errors {sum(run['errors'] for run in runs)}"
        )
    ratio = statistics.median(r["rps"] for r in results["B"]) / statistics.median(r["rps"] for r in results["A"])
    lines.append(f"  B / A = {ratio:.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=TARGETS, default="post")
    parser.add_argument("--b-env", action="append", default=[], metavar="NAME=VALUE", help="B's extra variables")
    parser.add_argument("--b-pg", action="append", default=[], metavar="SETTING=VALUE", help="B's session settings")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    b_env = dict(pair.split("=", 1) for pair in args.b_env)
    if not b_env and not args.b_pg:
        parser.error("give B a change: --b-env and/or --b-pg")
    print(compare(args.target, b_env, args.b_pg, args.rounds, args.seconds))


if __name__ == "__main__":
    main()
