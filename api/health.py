"""Liveness and readiness, for the platform that runs the service."""

from flask import Blueprint, current_app

from core.exceptions import SchemaNotReady
from db import database

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    """Alive: never touches the database, so an outage does not get the process restarted."""
    return {"status": "ok"}


@blueprint.get("/readyz")
def readyz():
    """Ready: the database answers, takes writes, and has every migration this code needs. A read
    replica's state is reported but never makes the service unready: reads fall back."""
    missing = current_app.extensions["schema_versions"] - database().applied_migrations()
    if missing:
        raise SchemaNotReady(f"{len(missing)} migration(s) pending: run migrate.")
    database().check_writable()
    replica = database().replica
    return {"status": "ok", "replica": replica.report() if replica else {"state": "not configured"}}
