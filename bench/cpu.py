"""CPU time used by a process tree (a gunicorn master and its workers, a postmaster and its
backends), to report a benchmark's CPU per request beside its rate: wrk, PostgreSQL and the
service share the machine's cores, so a rate alone hides who paid for it."""

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def tree_seconds(pid: int) -> float:
    """User and system time of `pid` and every live descendant, plus what their reaped children
    used (a backend that exited is counted in its postmaster's cutime once reaped)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rpartition(")")[2].split()
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited meanwhile: its time is in its parent's cutime
        # After the command: state is field 3, utime..cstime are fields 14-17 (stat(5)).
        total += sum(int(value) for value in fields[11:15]) / TICKS
        for task in tasks:
            children = (task / "children").read_text().split() if (task / "children").exists() else []
            pending += [int(child) for child in children]
    return total


class Meter:
    """CPU of the service's and PostgreSQL's process trees across one measured run."""

    def __init__(self, service_pid: int, postgres_pid: int | None):
        self.pids = (service_pid, postgres_pid)
        self.start = self._now()

    def _now(self) -> tuple[float, float | None]:
        service, postgres = self.pids
        return tree_seconds(service), tree_seconds(postgres) if postgres else None

    def per_request_ms(self, requests: int) -> tuple[float, float | None]:
        """Milliseconds of CPU per request since the meter started, in the service and in PostgreSQL."""
        (service0, postgres0), (service1, postgres1) = self.start, self._now()
        requests = max(requests, 1)
        postgres = (postgres1 - postgres0) * 1000 / requests if postgres0 is not None else None
        return (service1 - service0) * 1000 / requests, postgres
