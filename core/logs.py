"""Logs as one event stream: every record is a single JSON line on stdout."""

import logging
import logging.config
import sys
import time
from contextvars import ContextVar

import orjson

# What a line never shows (see JsonFormatter), so no record gathers it: the caller's file and
# line (a walk up the stack), the thread and the process. With one access line per request
# these were a fifth of the line's cost in the service.
logging._srcfile = None
logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

# The id of the request being handled in this thread, added to every line logged meanwhile.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        current_request = request_id.get()
        if current_request:
            entry["request_id"] = current_request
        entry.update((key, value) for key, value in record.__dict__.items() if key not in _STANDARD)
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


# The last whole second formatted, as one tuple swapped whole: threads see the old pair or the new.
_last_second: tuple[int, str] = (-1, "")


def _timestamp(created: float) -> str:
    global _last_second
    second = int(created)
    cached_second, text = _last_second
    if second != cached_second:  # strftime was the dearest part of a line: once a second will do
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _last_second = (second, text)
    return f"{text}.{int(created % 1 * 1000):03d}Z"


def handler_config(level: str, stream=None) -> dict:
    """A logging.config dictConfig that sends every logger to stdout as JSON (used by gunicorn too).
    A command whose stdout is its output (export) passes stderr instead."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": stream or sys.stdout}},
        "root": {"level": level.upper(), "handlers": ["stdout"]},
        # gunicorn's own messages join the same stream (its access log is off: see gunicorn.conf.py).
        "loggers": {"gunicorn.error": {"level": level.upper(), "handlers": [], "propagate": True}},
    }


def configure(level: str, stream=None) -> None:
    logging.config.dictConfig(handler_config(level, stream))
