"""The backing services' clients and the SQL that is about storage rather than one feature: the
PostgreSQL connection pool, read-replica routing, the rate limiter's table, the outbox table
(events are written in the change's own transaction), the S3 object store client, and the
migration runner with its migrations/.

db.py (CommentDatabase) sits beside this package and uses it. May import: comment, config,
core/. Nothing of web/, media/, delivery/ or api/.
"""
