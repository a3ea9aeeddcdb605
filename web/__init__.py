"""What every route shares in handling a request: parsing bodies and queries (payload), who is
asking (auth: bearer and edit tokens, client identity), safe retries (idempotency), what
happens around each request (middleware), errors turned into responses (errors), the JSON
provider, and gunicorn's per-request deadline (gthread_deadline).

May import: db, comment, config, store/, core/. Never a route (api/).
"""
