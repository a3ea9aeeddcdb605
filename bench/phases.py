"""The service with a stopwatch in it, for bench/post_profile.py --phases (never served otherwise).

`bench.phases:app` is the real app, created as gunicorn creates it, with the phases of a request
timed in every worker: wall time and the thread's own CPU time (time.thread_time_ns), so each
phase shows how long it took and how much of that the thread ran (the rest it waited: for
PostgreSQL, for a CPU, for the GIL). Phases nest: the pool wait and the round trip are inside
"database call", and everything is inside "in the app". "response write" is the time from the
app's return until gunicorn has written the response and closed it.

GET /_phases answers this worker's totals (ask until every worker has answered);
POST /_phases/reset zeroes them (after a warm-up).
"""

import collections
import json
import os
import time

import db
from api import comments as comments_api
from app import create_app
from store import pool
from web import middleware, payload

totals = collections.defaultdict(lambda: [0, 0, 0])  # phase -> [wall ns, cpu ns, count]


def timed(name, function):
    def wrapper(*args, **kwargs):
        wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
        try:
            return function(*args, **kwargs)
        finally:
            entry = totals[name]
            entry[0] += time.perf_counter_ns() - wall
            entry[1] += time.thread_time_ns() - cpu
            entry[2] += 1

    return wrapper


payload.read_body = timed("read and parse the body", payload.read_body)
comments_api.validate_new_comment = timed("validate", comments_api.validate_new_comment)
pool.ConnectionPool.acquire = timed("  pool wait", pool.ConnectionPool.acquire)
db.CommentDatabase._run = timed("database call (pool, round trip)", db.CommentDatabase._run)
comments_api.jsonify = timed("render the JSON", comments_api.jsonify)  # a post's answer
comments_api._page_answer = timed("render the JSON", comments_api._page_answer)  # a page's
middleware.log_request = timed("access log line", middleware.log_request)

flask_app = create_app()


class Written:
    """The response body; gunicorn calls close() once it has written all of it."""

    def __init__(self, body, started_wall: int, started_cpu: int):
        self.body, self.started_wall, self.started_cpu = body, started_wall, started_cpu

    def __iter__(self):
        return iter(self.body)

    def close(self):
        if hasattr(self.body, "close"):
            self.body.close()
        entry = totals["response write"]
        entry[0] += time.perf_counter_ns() - self.started_wall
        entry[1] += time.thread_time_ns() - self.started_cpu
        entry[2] += 1


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path.startswith("/_phases"):
        if path == "/_phases/reset":
            totals.clear()
        body = json.dumps({"pid": os.getpid(), "phases": totals}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
    body = timed("in the app", flask_app)(environ, start_response)
    return Written(body, time.perf_counter_ns(), time.thread_time_ns())
