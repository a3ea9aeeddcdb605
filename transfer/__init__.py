"""Moving comments in and out: one-off admin commands over the whole database. Today `export`
(this service's own format, JSON lines, streamed); importers from other services follow.

May import: db, comment, config, store/, core/. Never a route; nothing imports it.
"""
