"""The routes: one module per feature, each holding its blueprint and its own SQL.

comments (post, list, read), ownership (the author's edit and delete), moderation (the admin
API), counts, media (image redirects), unsubscribe, health, openapi, widget.

May import: web/, media/, delivery/ (for what a route hands on), db, comment, config, store/,
core/. Nothing imports a route but app.py.
"""
