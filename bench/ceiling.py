"""The ceiling: the fastest this stack can answer a page, with no database and no middleware.

A plain Flask endpoint returning a page of 20 comments shaped exactly like the real ones, served
by the project's own gunicorn.conf.py. The real endpoints are measured as a fraction of it.
"""

from flask import Flask, jsonify

PAGE = {
    "comments": [
        {
            "id": n,
            "thread": "bench",
            "parent_id": None,
            "name": f"Reader {n}",
            "comment": f"Benchmark comment number {n}, about as long as a short real one.",
            "created_at": "2026-11-22T21:04:05.123456Z",
        }
        for n in range(1, 21)
    ],
    "next_cursor": "djE6MjA",
}

app = Flask(__name__)
app.json.sort_keys = False


@app.get("/comments")
def page():
    return jsonify(PAGE)
