"""The back office: transactions, refunds, captured data, exports, audit, staff."""

from __future__ import annotations

from flask import Blueprint

from portal.security.authz import Permission
from portal.security.guards import gate_blueprint

bp = Blueprint("backoffice", __name__)
gate_blueprint(bp, Permission.BACKOFFICE_VIEW)

# The home page (``backoffice.home``) is the dashboard: portal/backoffice/dashboard.py.


from portal.backoffice import data_requests, reauth, refunds, sso_reauth, staff  # noqa: E402,F401  (registers routes)

# isort: split
from portal.backoffice import audit_log, dashboard, exports, transactions  # noqa: E402,F401  (registers routes)

# isort: split
from portal.backoffice import webhooks  # noqa: E402,F401  (registers routes)

# isort: split
from portal.backoffice import api_keys  # noqa: E402,F401  (registers routes)
