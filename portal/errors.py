"""Error pages: plain words, the right status, never an exception's text."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger("postern.errors")

MESSAGES = {
    400: ("That request could not be understood", "Please go back and try again."),
    401: ("Please sign in", "You need to sign in to see this page."),
    403: ("You do not have access to this page", "Ask an administrator if you need access."),
    404: ("Page not found", "Check the address, or go back to the previous page."),
    405: ("That action is not allowed here", "Please go back and try again."),
    # Without its own words a 410 would claim "Something went wrong on our side".
    410: ("This is no longer available", "The page or link you used has ended or was withdrawn."),
    413: ("That was too large", "The form or file you sent is larger than we accept."),
    429: (
        "Too many attempts",
        "You have tried too many times. Wait a minute, then try again.",
    ),
    500: ("Something went wrong on our side", "Nothing you did caused this. Please try again."),
    503: (
        "The service is temporarily unavailable",
        "We could not complete this just now. Nothing was lost; please try again in a minute.",
    ),
}
CSRF_MESSAGE = (
    "This form has expired",
    "For your security, forms expire. Go back, reload the page, and send it again.",
)


def _wants_json() -> bool:
    return request.is_json or request.path.startswith(("/agent/api/", "/webhooks/"))


def render_error(status: int, title: str | None = None, detail: str | None = None):
    default_title, default_detail = MESSAGES.get(status, MESSAGES[500])
    title, detail = title or default_title, detail or default_detail
    if _wants_json():
        return jsonify(error=status, message=title), status
    return render_template("errors/error.html", status=status, title=title, detail=detail), status


def init_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf_error(error):
        return render_error(400, *CSRF_MESSAGE)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        return render_error(error.code or 500)

    @app.errorhandler(OperationalError)
    def _database_unavailable(error):
        # The database is down or restarting: say so plainly; pool_pre_ping recovers by itself.
        log.error("database unavailable", extra={"error_class": type(error).__name__})
        from portal.extensions import db

        db.session.rollback()
        return render_error(503)

    @app.teardown_appcontext
    def _close_session_when_the_database_left(error) -> None:
        # Registered after Flask-SQLAlchemy's own teardown, so it runs first. If PostgreSQL went
        # away mid-request (restart, failover), closing the session sends a ROLLBACK that raises
        # from inside Flask's teardown, and gunicorn turns the finished response into a bare
        # 500. The connection is already dead: drop the session instead (pool_pre_ping
        # replaces the connection on the next checkout).
        from portal.extensions import db

        try:
            db.session.remove()
        except SQLAlchemyError:
            log.warning("database connection lost while closing the session")
            db.session.registry.clear()

    @app.errorhandler(InternalServerError)
    @app.errorhandler(Exception)
    def _unexpected(error):
        if isinstance(error, HTTPException) and not isinstance(error, InternalServerError):
            return render_error(error.code or 500)
        log.exception("unhandled error")
        return render_error(500)
