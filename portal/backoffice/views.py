"""The back office: transactions, refunds, captured data, exports, audit, staff."""

from __future__ import annotations

from flask import Blueprint, render_template

from portal.security.authz import Permission
from portal.security.guards import gate_blueprint

bp = Blueprint("backoffice", __name__)
gate_blueprint(bp, Permission.BACKOFFICE_VIEW)


@bp.get("/")
def home():
    return render_template("backoffice/home.html")
