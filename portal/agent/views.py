"""The agent console: create capture requests and watch them live."""

from __future__ import annotations

from flask import Blueprint, render_template

from portal.security.authz import Permission
from portal.security.guards import gate_blueprint

bp = Blueprint("agent", __name__)
gate_blueprint(bp, Permission.CAPTURE_VIEW_OWN)


@bp.get("/")
def console():
    return render_template("agent/console.html")
