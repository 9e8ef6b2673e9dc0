"""Liveness and readiness probes: no authentication, nothing sensitive."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from portal.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is alive and serving requests."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """The database answers; load balancers send no traffic here while it does not."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ready", database="ok")
