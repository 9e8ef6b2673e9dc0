"""Files other services fetch from fixed ``/.well-known/`` paths of Postern's own domain.

``GET /.well-known/apple-developer-merchantid-domain-association``: Apple fetches it to verify
the domain before Apple Pay may appear on the payment page (Stripe registers the domain and
gives the operator the file; docs/payments.md). It is public and says nothing secret, so it is
served with no session, cached, from the file ``APPLE_PAY_DOMAIN_ASSOCIATION_FILE`` names;
while that is unset the path answers 404, as for any page that does not exist.

``GET /favicon.ico``: every browser asks for it, whatever the pages link to. Served from the
file ``FAVICON_FILE`` names (the organisation's own icon), or the small neutral icon shipped
in ``static/favicon.ico`` while that is unset, so the address never answers 404.
"""

from __future__ import annotations

import logging
import mimetypes
from pathlib import Path

from flask import Blueprint, abort, current_app, send_file

bp = Blueprint("well_known", __name__)
log = logging.getLogger("postern.well_known")

APPLE_PAY_PATH = "/.well-known/apple-developer-merchantid-domain-association"
#: Seconds browsers and proxies may keep the file: it changes only when the operator replaces it.
CACHE_SECONDS = 3600
FAVICON_PATH = "/favicon.ico"
SHIPPED_FAVICON = "favicon.ico"  # in the app's static folder


@bp.get(APPLE_PAY_PATH)
def apple_pay_domain_association():
    path = current_app.config.get("APPLE_PAY_DOMAIN_ASSOCIATION_FILE")
    if not path:
        abort(404)
    try:
        return send_file(path, mimetype="text/plain", max_age=CACHE_SECONDS, conditional=True)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        # Checked at start-up (config/settings.py), but the file may have gone since.
        log.warning("Apple Pay domain-association file is missing")
        abort(404)


@bp.get(FAVICON_PATH)
def favicon():
    configured = current_app.config.get("FAVICON_FILE")
    path = configured or str(Path(current_app.static_folder or "static") / SHIPPED_FAVICON)
    kind = mimetypes.guess_type(path)[0] or "image/x-icon"
    try:
        return send_file(path, mimetype=kind, max_age=CACHE_SECONDS, conditional=True)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        log.warning("favicon file is missing")
        abort(404)
