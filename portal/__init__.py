"""Postern: a secure pay-by-link and data-capture portal for contact centres.

``create_app`` reads as the list of what makes up the application. Building it has no side
effects: nothing connects, creates tables or writes files until a request or a command runs.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from config.settings import (
    PROJECT_ROOT,
    config_class,
    pooler_connect_args,
    resolve_file_settings,
)


def create_app(env_name: str | None = None, overrides: dict[str, Any] | None = None) -> Flask:
    """Build the application for ``env_name`` (default: ``POSTERN_ENV``).

    Raises ``config.settings.ConfigError`` when the configuration is unsafe (production without
    its secrets), before anything is served.
    """
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_path=str(PROJECT_ROOT / "instance"),
    )
    load_config(app, env_name, overrides)
    init_logging(app)
    init_probes(app)
    init_proxy(app)
    init_security_headers(app)
    init_input_checks(app)
    init_extensions(app)
    init_i18n(app)
    init_link_delivery(app)
    init_outbound_webhooks(app)
    register_blueprints(app)
    init_single_sign_on(app)
    init_csrf(app)
    init_staff_sessions(app)
    init_templates(app)
    register_error_handlers(app)
    register_commands(app)
    init_metrics(app)
    return app


def load_config(app: Flask, env_name: str | None, overrides: dict[str, Any] | None) -> None:
    settings = config_class(env_name)
    app.config.from_object(settings)
    if overrides:
        app.config.update(overrides)
    resolve_file_settings(app.config)
    settings.validate(app.config)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # A database host that drops packets (rather than refusing) would otherwise hold every
        # connection attempt for the operating system's timeout, minutes, workers included.
        options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        connect_args = {
            "connect_timeout": app.config["DATABASE_CONNECT_TIMEOUT_SECONDS"],
            **pooler_connect_args(app.config),  # PgBouncer in transaction mode: docs/scaling.md
        }
        options["connect_args"] = {**connect_args, **options.get("connect_args", {})}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def init_logging(app: Flask) -> None:
    from portal.observability.logging import init_logging as _init

    _init(app)


def init_probes(app: Flask) -> None:
    """Before init_proxy, so that the probes' Host is set after ProxyFix has applied its own."""
    from portal.health import init_probes as _init

    _init(app)


def init_proxy(app: Flask) -> None:
    """Trust X-Forwarded-* only from as many proxies as configured, and only when configured."""
    hops = app.config["PROXY_HOPS"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)


def init_extensions(app: Flask) -> None:
    from config.settings import database_binds
    from portal import models  # noqa: F401  (registers every table on the metadata)
    from portal.extensions import db, limiter, migrate
    from portal.pool_health import install as install_pool_health

    # The key store (wrapped data keys) is a database of its own (personal-data-encryption.md).
    app.config["SQLALCHEMY_BINDS"] = database_binds(app.config)
    db.init_app(app)
    with app.app_context():  # builds no connection: engines connect on first use
        for engine in db.engines.values():
            if engine.dialect.name == "sqlite":
                event.listen(engine, "savepoint", _begin_before_first_sqlite_savepoint)
            else:
                install_pool_health(engine, app.config["DATABASE_PING_IDLE_SECONDS"])
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    limiter.init_app(app)


def _begin_before_first_sqlite_savepoint(connection, name) -> None:
    """Make a SAVEPOINT nest inside the transaction instead of starting one of its own.

    Python's sqlite3 driver sends BEGIN only before the first INSERT/UPDATE/DELETE. A SAVEPOINT
    sent first opens the transaction itself, and its RELEASE then commits everything at once, so
    ``begin_nested()`` (audit rows, once-only inserts) would commit early and survive a rollback.
    """
    driver_connection = connection.connection.driver_connection
    if not driver_connection.in_transaction:
        driver_connection.execute("BEGIN")


def init_i18n(app: Flask) -> None:
    """English and Welsh (docs/languages.md): Babel in every template, and the customer's
    language switch. The customer side picks the language; staff pages stay English."""
    from portal.customer.language import init_customer_language, select_locale
    from portal.i18n import init_i18n as _init

    _init(app, select_locale)
    init_customer_language(app)


def init_link_delivery(app: Flask) -> None:
    """Links go out through the delivery outbox. Capture asks for it as its ``LinkCarrier``
    instead of importing it (delivery imports capture): see ``portal.capture.service``."""
    from portal.capture.service import LINK_CARRIER
    from portal.delivery import outbox

    app.extensions[LINK_CARRIER] = outbox


def init_outbound_webhooks(app: Flask) -> None:
    """Every audited action about a capture request may become an outbound webhook event.
    Audit tells its listeners instead of importing them (hooks imports audit)."""
    from portal.audit.service import AUDIT_LISTENERS
    from portal.hooks.events import record_from_audit

    app.extensions.setdefault(AUDIT_LISTENERS, []).append(record_from_audit)


def register_blueprints(app: Flask) -> None:
    from portal.agent.views import bp as agent_bp
    from portal.auth import (  # noqa: F401  (add their pages to it)
        passkey_views,
        session_views,
        sso_views,
    )
    from portal.auth.views import bp as auth_bp
    from portal.backoffice.views import bp as backoffice_bp
    from portal.csp_reports.views import bp as csp_reports_bp
    from portal.customer import data_views, payment_views  # noqa: F401  (add their pages to it)
    from portal.customer.views import bp as customer_bp
    from portal.errors import speaks_json
    from portal.health import bp as health_bp
    from portal.webhooks.views import bp as webhooks_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(agent_bp, url_prefix="/agent")
    app.register_blueprint(backoffice_bp, url_prefix="/backoffice")
    app.register_blueprint(customer_bp, url_prefix="/c")
    app.register_blueprint(webhooks_bp, url_prefix="/webhooks")
    app.register_blueprint(csp_reports_bp)  # POST /csp-report (config/csp.py REPORT_PATH)
    from portal.well_known import bp as well_known_bp

    app.register_blueprint(well_known_bp)  # /.well-known/ files (Apple Pay's domain check)
    from portal.accessibility_statement import bp as accessibility_bp

    app.register_blueprint(accessibility_bp)  # /accessibility: public, linked from every footer
    from portal.api import register_api

    register_api(app)  # /api/v1: API keys, not sessions; errors in its own JSON shape
    # Every answer there is JSON, errors included: the agent console's API, Stripe's webhooks.
    speaks_json(app, "/agent/api/", "/webhooks/")
    # The development outbox page: never in production (its settings check refuses it too).
    if app.config.get("DEV_OUTBOX_ENABLED") and app.config.get("ENV_NAME") != "production":
        from portal.devtools.views import bp as devtools_bp

        app.register_blueprint(devtools_bp, url_prefix="/dev")


def init_security_headers(app: Flask) -> None:
    """Before the rate limits and CSRF checks: what they refuse gets the headers and nonce too."""
    from portal.security.headers import init_security_headers as _init

    _init(app)


def init_input_checks(app: Flask) -> None:
    from portal.security.input import init_input_checks as _init

    _init(app)


def init_csrf(app: Flask) -> None:
    from portal.security.csrf import init_csrf as _init

    _init(app)


def init_single_sign_on(app: Flask) -> None:
    """The OpenID Connect providers (POSTERN_SSO_PROVIDERS), registered without fetching; the
    sign-in page's buttons."""
    from portal.sso.client import init_sso

    init_sso(app)


def init_staff_sessions(app: Flask) -> None:
    """Load the staff member behind the session cookie, once per request, for every blueprint."""
    from portal.security.cookie_session import RememberingCookieSessionInterface
    from portal.security.sessions import CurrentStaff, load_session

    # One per app: what it remembers was verified with this app's keys.
    app.session_interface = RememberingCookieSessionInterface()

    @app.before_request
    def _load_staff() -> None:
        from flask import request

        if request.endpoint in (
            "static",
            "health.healthz",
            "health.readyz",
            "metrics.metrics",
            "well_known.apple_pay_domain_association",  # fetched by Apple, never by staff
            "well_known.favicon",  # fetched by every browser, before and after signing in
        ):
            return
        if request.path.startswith("/api/v1/"):
            return  # an API key authenticates there, never a staff cookie (portal.api.auth)
        loaded = load_session()
        g.staff_user, g.staff_session = loaded.user, loaded.row
        g.current_staff = CurrentStaff.of(loaded.user)  # what pages show; needs no database
        g.session_end_reason = loaded.ended_reason


def init_templates(app: Flask) -> None:
    from portal.payment_page.sri import init_sri

    init_sri(app)  # sri(filename): Subresource Integrity for our own <script> tags

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {
            "org_name": app.config["ORG_NAME"],
            "current_staff": g.get("current_staff"),
        }


def register_error_handlers(app: Flask) -> None:
    from portal.errors import init_error_handlers

    init_error_handlers(app)


def init_metrics(app: Flask) -> None:
    """Last: GET /metrics (token-protected), and the request timer around everything else.
    The event counters hear of audit rows as audit's listeners do (audit imports neither)."""
    from portal.audit.service import AUDIT_LISTENERS
    from portal.observability.endpoint import init_metrics as _init
    from portal.observability.metrics import note_audit_row

    app.extensions.setdefault(AUDIT_LISTENERS, []).append(note_audit_row)
    _init(app)


def register_commands(app: Flask) -> None:
    from portal.cli import register

    register(app)
