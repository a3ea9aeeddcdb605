"""How a long import shows it is alive: a progress bar on a terminal (count, rate, time left),
and one JSON log line per 10,000 comments when its output goes to a file or a log collector."""

import logging
import sys
import time
from collections.abc import Callable

log = logging.getLogger("comments.import")

LOG_EVERY = 10_000
REDRAW_EVERY = 0.1  # seconds


class Progress:
    def __init__(self, phase: str, done_fraction: Callable[[], float | None] = lambda: None, stream=None):
        self.phase, self.done_fraction = phase, done_fraction
        self.stream = stream or sys.stderr
        self.on_terminal = self.stream.isatty()
        self.count, self.started, self.drawn = 0, time.monotonic(), 0.0

    def advance(self, by: int) -> None:
        before, self.count = self.count, self.count + by
        if self.on_terminal:
            if time.monotonic() - self.drawn >= REDRAW_EVERY:
                self._draw()
        elif self.count // LOG_EVERY > before // LOG_EVERY:
            log.info("import progress", extra={"phase": self.phase, **self._figures()})

    def finish(self) -> None:
        if self.on_terminal:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()

    def _figures(self) -> dict:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        fraction = self.done_fraction()
        left = elapsed * (1 - fraction) / fraction if fraction else None
        return {
            "comments": self.count,
            "per_second": round(self.count / elapsed),
            "seconds": round(elapsed, 1),
            "seconds_left": round(left, 1) if left is not None else None,
        }

    def _draw(self) -> None:
        figures, self.drawn = self._figures(), time.monotonic()
        fraction = self.done_fraction()
        bar = "" if fraction is None else "[" + "#" * int(fraction * 30) + "." * (30 - int(fraction * 30)) + "] "
        left = figures["seconds_left"]
        self.stream.write(
            f"\r{self.phase}: {bar}{figures['comments']:,} comments, {figures['per_second']:,}/s,"
            f" {_clock(figures['seconds'])} elapsed" + (f", {_clock(left)} left " if left is not None else " ")
        )
        self.stream.flush()


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}"
