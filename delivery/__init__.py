"""The worker process type and what it delivers: the worker loop (worker), signed webhooks
(webhooks), reply e-mails (mail), and a bound on a whole network exchange (deadline). Events
come from the outbox table (store/outbox.py).

May import: media/ (the worker collects unused images), db, comment, config, store/, core/.
Never a route; nothing in web/ or media/ imports it.
"""
