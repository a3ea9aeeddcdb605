"""`pipenv run python bench/post_profile.py`: where the time of a POST goes, measured.

The first step of the POST latency study (issue 14): instrument before changing anything.
It starts PostgreSQL and the service as `pipenv run bench` does, runs the benchmark's POST
load (wrk, 16 connections) for a while, and meanwhile

- samples pg_stat_activity every 10 ms: what each of the service's backends is doing, running
  a statement (on CPU, or waiting on a named event such as WALSync or a lock) or idle waiting
  for its client (ClientRead: the API has not sent the next statement yet);
- reads the CPU time of every process from /proc before and after: gunicorn's workers,
  PostgreSQL's processes (backends, WAL writer, checkpointer...), wrk (a finished child), and
  the machine's idle time from /proc/stat.

It prints CPU microseconds per POST for each, the backends' states, and how busy the machine
was. Rerun it after any change to compare.
"""

import argparse
import collections
import contextlib
import os
import resource
import shutil
import sys
import threading
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from run import POST_ENV, POST_SCRIPT, Databases, wrk  # noqa: E402

from tests.service import Service  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
ACTIVITY = """SELECT state, coalesce(wait_event_type || ':' || wait_event, 'CPU')
    FROM pg_stat_activity WHERE application_name = 'comments-api' AND pid <> pg_backend_pid()"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (and its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def processes() -> dict[str, list[int]]:
    """Every process on the machine by the group it belongs to here."""
    groups = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "gunicorn" in command:
            groups["gunicorn"].append(int(entry.name))
        elif command.startswith("postgres") or "/bin/postgres" in command:
            groups["postgres"].append(int(entry.name))
    return groups


def group_cpu() -> dict[str, float]:
    totals = {}
    for group, pids in processes().items():
        total = 0.0
        for pid in pids:
            with contextlib.suppress(OSError):  # ended meanwhile
                total += cpu_seconds(pid)
        totals[group] = total
    return totals


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_times() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class ActivitySampler(threading.Thread):
    def __init__(self, url: str, every: float = 0.01):
        super().__init__(daemon=True)
        self.url, self.every, self.stop = url, every, threading.Event()
        self.samples: collections.Counter = collections.Counter()

    def run(self) -> None:
        conn = psycopg2.connect(self.url)
        conn.autocommit = True
        with conn.cursor() as cursor:
            while not self.stop.is_set():
                cursor.execute(ACTIVITY)
                for state, what in cursor.fetchall():
                    self.samples["idle, waiting for the API" if state == "idle" else f"active, {what}"] += 1
                time.sleep(self.every)
        conn.close()


def profile(seconds: float) -> str:
    databases = Databases()
    try:
        url, _ = databases.prepare(0)
        with Service(url, **POST_ENV) as service:
            wrk(service.url("/comments"), 2, POST_SCRIPT)  # warm up
            sampler = ActivitySampler(url)
            cpu_before, machine_before, children_before = group_cpu(), machine_times(), _children_cpu()
            sampler.start()
            run = wrk(service.url("/comments"), seconds, POST_SCRIPT)
            sampler.stop.set()
            sampler.join()
            cpu_after, machine_after = group_cpu(), machine_times()
            # wrk has exited by now: its CPU is in this process's finished children.
            cpu_after["wrk"], cpu_before["wrk"] = _children_cpu(), children_before
    finally:
        databases.close()
    posts = run["rps"] * seconds
    lines = [
        f"POST, wrk -c16 for {seconds:g} s: {run['rps']:.0f} req/s, p50 {run['p50']:.1f} ms, p99 {run['p99']:.1f} ms"
    ]
    busy = (machine_after[0] - machine_before[0]) / (machine_after[1] - machine_before[1])
    lines.append(f"machine busy: {busy:.0%} of {os.cpu_count()} CPUs")
    lines.append("CPU per POST:")
    for group in ("gunicorn", "postgres", "wrk"):
        used = cpu_after.get(group, 0.0) - cpu_before.get(group, 0.0)
        lines.append(f"  {group:9} {used / posts * 1e6:7.0f} µs")
    total = sum(sampler.samples.values())
    lines.append("the service's PostgreSQL backends, share of samples:")
    for what, count in sampler.samples.most_common():
        lines.append(f"  {count / total:6.1%}  {what}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10, help="length of the measured run (default 10)")
    seconds = parser.parse_args().seconds
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `apt-get install wrk` (Debian/Ubuntu) or `brew install wrk` (macOS).")
    print(profile(seconds))


if __name__ == "__main__":
    main()
