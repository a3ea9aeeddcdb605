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

- reads each process's scheduler statistics (/proc/<pid>/task/*/schedstat): how long its
  threads were runnable but waiting for a CPU (run-queue delay);
- with --phases, serves `bench.phases:app` (the real app with a stopwatch in it) and reports
  each phase of a request: wall time and the thread's own CPU time.

It prints CPU and run-queue microseconds per POST for each group, the backends' states, how busy
the machine was, and the phases. Rerun it after any change to compare.
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
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import run as run_module  # noqa: E402
from run import POST_ENV, POST_SCRIPT, Databases, ceiling_service, wrk  # noqa: E402

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


def run_delay_seconds(pid: int) -> float:
    """How long the process's threads were runnable but waited for a CPU (schedstat, field 2)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


def group_totals(measure) -> dict[str, float]:
    totals = {}
    for group, pids in processes().items():
        total = 0.0
        for pid in pids:
            with contextlib.suppress(OSError):  # ended meanwhile
                total += measure(pid)
        totals[group] = total
    return totals


def group_cpu() -> dict[str, float]:
    return group_totals(cpu_seconds)


def group_run_delay() -> dict[str, float]:
    return group_totals(run_delay_seconds)


def every_worker(service: Service, path: str, method: str = "GET", workers: int = 2) -> dict[int, dict]:
    """One answer from each worker: new connections until every worker has answered."""
    answers = {}
    for _ in range(200):
        answer = requests.request(method, service.url(path), timeout=5, headers={"Connection": "close"}).json()
        answers[answer["pid"]] = answer["phases"]
        if len(answers) == workers:
            return answers
    raise RuntimeError(f"only {len(answers)} of {workers} workers answered {path}")


def phase_lines(answers: dict[int, dict], requests_made: int) -> list[str]:
    summed = collections.defaultdict(lambda: [0, 0, 0])
    for phases in answers.values():
        for name, (wall, cpu, count) in phases.items():
            for i, value in enumerate((wall, cpu, count)):
                summed[name][i] += value
    lines = [f"phases of a request ({requests_made} timed; wall and the thread's own CPU, µs per request):"]
    order = sorted(summed, key=lambda name: -summed[name][0])
    for name in order:
        wall, cpu, count = summed[name]
        per = max(count, 1)
        lines.append(
            f"  {name:34} wall {wall / per / 1e3:7.0f}  cpu {cpu / per / 1e3:6.0f}  "
            f"waiting {(wall - cpu) / per / 1e3:6.0f}  (x{count / max(requests_made, 1):.2f} per request)"
        )
    return lines


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


TARGETS = {  # name -> (path, wrk script)
    "post": ("/comments", POST_SCRIPT),
    "page": ("/comments?thread=bench&limit=20", None),
    "ceiling": ("/comments", None),
}


def start_service(target: str, url: str, phases: bool) -> Service:
    if target == "ceiling":
        return ceiling_service()
    env = POST_ENV if target == "post" else {}
    return Service(url, "bench.phases:app" if phases else "app:app", **env).start()


def profile(target: str, seconds: float, phases: bool) -> str:
    databases = Databases()
    path, script = TARGETS[target]
    service = None
    try:
        url, _ = databases.prepare(0)
        service = start_service(target, url, phases)
        wrk(service.url(path), 2, script)  # warm up
        if phases:
            every_worker(service, "/_phases/reset", "POST")
        sampler = ActivitySampler(url)
        cpu_before, machine_before, children_before = group_cpu(), machine_times(), _children_cpu()
        delay_before = group_run_delay()
        sampler.start()
        run = wrk(service.url(path), seconds, script)
        sampler.stop.set()
        sampler.join()
        cpu_after, machine_after, delay_after = group_cpu(), machine_times(), group_run_delay()
        # wrk has exited by now: its CPU is in this process's finished children.
        cpu_after["wrk"], cpu_before["wrk"] = _children_cpu(), children_before
        timed_phases = every_worker(service, "/_phases") if phases else None
    finally:
        if service:
            service.stop()
        databases.close()
    posts = run["rps"] * seconds  # requests, whatever the target
    lines = [
        f"{target}, wrk -c{run_module.CONNECTIONS} for {seconds:g} s: {run['rps']:.0f} req/s, "
        f"p50 {run['p50']:.1f} ms, p99 {run['p99']:.1f} ms",
        f"mean time a request spends in the system (connections / rate): "
        f"{run_module.CONNECTIONS / run['rps'] * 1e3:.1f} ms",
    ]
    busy = (machine_after[0] - machine_before[0]) / (machine_after[1] - machine_before[1])
    lines.append(f"machine busy: {busy:.0%} of {os.cpu_count()} CPUs")
    lines.append("per request:          CPU   waiting for a CPU")
    for group in ("gunicorn", "postgres", "wrk"):
        used = cpu_after.get(group, 0.0) - cpu_before.get(group, 0.0)
        delayed = delay_after.get(group, 0.0) - delay_before.get(group, 0.0)
        shown = f"{delayed / posts * 1e6:7.0f} µs" if group != "wrk" else "    n/a"
        lines.append(f"  {group:9} {used / posts * 1e6:7.0f} µs  {shown}")
    total = sum(sampler.samples.values())
    lines.append("the service's PostgreSQL backends, share of samples:")
    for what, count in sampler.samples.most_common():
        lines.append(f"  {count / total:6.1%}  {what}")
    if timed_phases:
        lines += phase_lines(timed_phases, int(posts))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10, help="length of the measured run (default 10)")
    parser.add_argument("--phases", action="store_true", help="time the phases of a request (bench/phases.py)")
    parser.add_argument("--target", choices=TARGETS, default="post", help="the load (default post)")
    parser.add_argument("--connections", type=int, default=16, help="wrk's connections (default 16)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `apt-get install wrk` (Debian/Ubuntu) or `brew install wrk` (macOS).")
    run_module.CONNECTIONS = args.connections
    print(profile(args.target, args.seconds, args.phases and args.target != "ceiling"))


if __name__ == "__main__":
    main()
