"""Error pages: plain words, the right status, never an exception's text, never the database.

An error page must still draw when the database is the very thing that failed. So it renders
only from what is already in memory (``portal.security.sessions.CurrentStaff``, copied when
the session was loaded), and
if even the template fails, a fixed page with the right status answers instead of the server's
bare "Internal Server Error".
"""

from __future__ import annotations

import logging

from flask import (
    Flask,
    Response,
    current_app,
    g,
    jsonify,
    make_response,
    render_template,
    request,
)
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError, SecurityError

from portal.i18n import N_, gettext

log = logging.getLogger("postern.errors")
JSON = "application/json"

MESSAGES = {
    400: (
        N_("We could not read what was sent"),
        N_("Please go back, reload the page and try again."),
    ),
    401: (N_("Please sign in"), N_("You need to sign in to see this page.")),
    403: (
        N_("You do not have access to this page"),
        N_("If you need it for your work, ask an administrator."),
    ),
    404: (
        N_("Page not found"),
        N_("If you typed the address, check it. Otherwise, go back and try again."),
    ),
    405: (N_("That action is not allowed here"), N_("Please go back and try again.")),
    # Without its own words a 410 would claim "Something went wrong on our side".
    410: (
        N_("This is no longer available"),
        N_("The page or link you used has ended or was withdrawn."),
    ),
    413: (N_("That was too large"), N_("The form or file you sent is larger than we accept.")),
    429: (
        N_("Too many attempts"),
        N_("You have tried too many times. Wait a minute, then try again."),
    ),
    500: (
        N_("Something went wrong on our side"),
        N_("Nothing you did caused this. Please try again."),
    ),
    503: (
        N_("The service is temporarily unavailable"),
        N_("We could not complete this just now. Nothing was lost; please try again in a minute."),
    ),
}
CSRF_MESSAGE = (
    N_("This form has expired"),
    N_("For your security, forms expire. Go back, reload the page, and send it again."),
)
#: A Host header that POSTERN_TRUSTED_HOSTS does not list: a mistyped or forged address.
UNTRUSTED_HOST_MESSAGE = (
    "This web address is not one we answer to",
    "Check the address you typed, or open the link you were sent again.",
)

# After a form was sent, what it asked for may already be saved, so these words never say
# "nothing was lost". A customer's page shows where things stand when the form is sent again
# (a link binds once, details are taken once); staff are told to look first, since a fresh
# form is a second action.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SENT_MESSAGES = {
    500: (
        N_("Something went wrong on our side"),
        N_("Nothing you did caused this. Please wait a minute, then try again."),
    ),
    503: (
        N_("The service is temporarily unavailable"),
        N_("We could not finish this just now. Please wait a minute, then try again."),
    ),
}
UNCONFIRMED_TITLE = "We could not confirm that this finished"
UNCONFIRMED_CAUSE = {
    500: "Something went wrong on our side while saving this, so it may have gone through.",
    503: "Our system stopped responding while saving this, so it may have gone through.",
}
#: (endpoint prefix, where staff can see whether it went through); the first match wins.
WHERE_TO_CHECK = (
    (
        "backoffice.refund",
        "Check the Refunds page (or the request's timeline) before you try again, so the "
        "customer is not refunded twice.",
    ),
    (
        "agent.",
        "Check your recent requests on the console before you try again, so nothing is done twice.",
    ),
)
CHECK_ELSEWHERE = "Go back and check whether it was saved before you try again."

#: PostgreSQL's "cannot execute ... in a read-only transaction" (a hot standby, or a database
#: made read-only). SQLite says SQLITE_READONLY, as an OperationalError.
READ_ONLY_SQLSTATE = "25006"

PLAIN_PAGE = (
    '<!doctype html>\n<html lang="en-GB">\n<meta charset="utf-8">\n'
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    "<title>{title}</title>\n<h1>{title}</h1>\n<p>{detail}</p>\n<p>Error {status}</p>\n</html>\n"
)


#: Where ``speaks_json`` keeps an app's JSON areas, in ``app.extensions``.
JSON_AREAS = "postern_json_areas"


#: Where areas with their own error body keep their renderer (prefix -> callable(status)).
ERROR_RENDERERS = "postern_error_renderers"


def renders_own_errors(app: Flask, url_prefix: str, renderer) -> None:
    """Errors under ``url_prefix`` are answered by ``renderer(status, message=None) ->
    Response`` (the integration API's one JSON error shape), whatever raised them."""
    speaks_json(app, url_prefix)
    renderers = app.extensions.get(ERROR_RENDERERS, {})
    app.extensions[ERROR_RENDERERS] = {**renderers, url_prefix: renderer}


def own_error_renderer():
    """The renderer ``renders_own_errors`` gave the current path's part of the site, if any."""
    for prefix, renderer in current_app.extensions.get(ERROR_RENDERERS, {}).items():
        if request.path.startswith(prefix):
            return renderer
    return None


def speaks_json(app: Flask, *url_prefixes: str) -> None:
    """Declare the parts of the site (by URL prefix) that answer in JSON whatever happens:
    errors, and "sign in again" for a session that ended, are JSON there too."""
    app.extensions[JSON_AREAS] = (*app.extensions.get(JSON_AREAS, ()), *url_prefixes)


def wants_json() -> bool:
    """Whether the current request is answered in JSON rather than a page: it is in a part of
    the site that speaks JSON (``speaks_json``; even a path that matches no route there), or the
    client sent JSON, or prefers JSON to HTML. A browser's Accept prefers HTML."""
    if request.path.startswith(current_app.extensions.get(JSON_AREAS, ())) or request.is_json:
        return True
    return request.accept_mimetypes.best_match(["text/html", JSON]) == JSON


def _words(status: int) -> tuple[str, str]:
    """The title and text for ``status``, honest about what a sent form may have done."""
    if request.method in SAFE_METHODS or status not in SENT_MESSAGES:
        return MESSAGES.get(status, MESSAGES[500])
    if g.get("current_staff") is None:
        return SENT_MESSAGES[status]
    endpoint = request.endpoint or ""
    check = next((w for prefix, w in WHERE_TO_CHECK if endpoint.startswith(prefix)), None)
    return UNCONFIRMED_TITLE, f"{UNCONFIRMED_CAUSE[status]} {check or CHECK_ELSEWHERE}"


def _plain_page(status: int, title: str, detail: str) -> Response:
    """The error page without a template: fixed markup and our own words, nothing else."""
    body = PLAIN_PAGE.format(status=status, title=escape(title), detail=escape(detail))
    return Response(body, status, mimetype="text/html")


def render_error(status: int, title: str | None = None, detail: str | None = None):
    """Our page (or JSON, for API and webhook paths) for ``status``. Touches no database."""
    own = own_error_renderer()
    if own is not None:
        return own(status)
    default_title, default_detail = _words(status)
    # Translated here, where the page's language is known (a customer's may be Welsh).
    title, detail = gettext(title or default_title), gettext(detail or default_detail)
    if wants_json():
        return jsonify(error=status, message=title), status
    try:
        page = render_template("errors/error.html", status=status, title=title, detail=detail)
    except Exception:
        # Still our words and the right status, never the server's bare 500.
        log.exception("error page drawn without its template")
        return _plain_page(status, title, detail)
    return page, status


def _untrusted_host():
    """400 for a Host that TRUSTED_HOSTS does not list, on every route (the probes, which
    answer any Host, never get here: portal/health.py). Flask refused the Host before it could
    build a URL, so no template can draw (they build links to static files): JSON where the
    site speaks JSON, else the fixed page. Both need only the path and headers, never the Host."""
    title, detail = UNTRUSTED_HOST_MESSAGE
    own = own_error_renderer()
    if own is not None:
        return own(400, title)
    if wants_json():
        return jsonify(error=400, message=title), 400
    return _plain_page(400, title, detail)


def is_read_only(error: DBAPIError) -> bool:
    """The database refused a write because it is read-only, not because the write was wrong."""
    driver_error = error.orig
    return getattr(driver_error, "sqlstate", None) == READ_ONLY_SQLSTATE or str(
        getattr(driver_error, "sqlite_errorname", "")
    ).startswith("SQLITE_READONLY")


def _database_gone(error: DBAPIError) -> bool:
    """The database is down, restarting or read-only, rather than our query being wrong."""
    return isinstance(error, OperationalError) or is_read_only(error)


def forget_failed_transaction() -> None:
    """After a read the database refused, caught so that a page can still be drawn: roll the
    session back, so the request's next read starts a transaction of its own (PostgreSQL
    refuses every statement in a transaction after one failed); if even that fails, the
    connection is gone, so drop the session (the next read checks out a new one)."""
    from portal.extensions import db

    try:
        db.session.rollback()
    except SQLAlchemyError:
        db.session.registry.clear()


def init_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf_error(error):
        return render_error(400, *CSRF_MESSAGE)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if isinstance(error, SecurityError):
            return _untrusted_host()
        response = make_response(render_error(error.code or 500))
        if error.code == 405 and getattr(error, "valid_methods", None):
            # The methods the address does take (RFC 9110 asks for them).
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(InternalServerError)
    @app.errorhandler(Exception)
    def _unexpected(error):
        if isinstance(error, HTTPException) and not isinstance(error, InternalServerError):
            return render_error(error.code or 500)
        log.exception("unhandled error")
        return render_error(500)

    @app.errorhandler(DBAPIError)
    def _database_error(error: DBAPIError):
        if not _database_gone(error):
            return _unexpected(error)
        # No rollback here: the connection may be dead, and a rollback that raises would turn
        # this page into a bare 500. The session is closed (and rolled back) at teardown.
        log.error("database unavailable", extra={"error_class": type(error).__name__})
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
