"""Settings per environment, picked by one environment variable: ``POSTERN_ENV``.

``development`` (the default) and ``testing`` run on the embedded default: an SQLite file under
``instance/``, in-memory rate limits, the Stripe sandbox and the development outbox. They may use
throwaway secrets, which are marked ``dev-only`` so that production can recognise and refuse them.

``production`` reads everything from the environment and fails closed: a missing or throwaway
secret stops the process before it serves a single request.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from config import sso
from config.keyring import Keyring, KeyringError, parse_keyring, weak_key_problems
from config.privacy import DEV_PRIVACY_NOTICE_URL, PRIVACY_NOTICE_VERSION
from config.production_rules import production_problems

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"

#: Prefix of every throwaway value; production refuses any setting that starts with it.
THROWAWAY_PREFIX = "dev-only"

#: The embedded development database. With POSTERN_ENV unset, Postern starts as development
#: only on this one (or with no DATABASE_URL at all, which means this one): anything else may
#: be a production database, which must never be served with development's public secrets.
DEV_DATABASE_URL = f"sqlite:///{INSTANCE_DIR / 'postern.sqlite3'}"


#: Development's fixed data-encryption key (the bytes of "dev-only postern data key !!!!!!").
#: Its key id says dev-only, and production refuses these bytes under any id.
DEV_DATA_KEY_BASE64 = "ZGV2LW9ubHkgcG9zdGVybiBkYXRhIGtleSAhISEhISE="


class ConfigError(RuntimeError):
    """Raised when the environment cannot produce a safe configuration."""


#: The Stripe payment method types Postern can take (POSTERN_PAYMENT_METHOD_TYPES), and why
#: only these: a payment must settle while the customer is on the page and leave a brand and
#: last four for staff. Cards do, wallets included (Apple Pay, Google Pay: a card underneath).
#: Link, bank debits and redirect methods do not (they settle later, in "processing", or
#: carry no card), so they are refused at start-up rather than half-handled.
SUPPORTED_PAYMENT_METHOD_TYPES = frozenset({"card"})


def _env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _names_a_port(entry: str) -> bool:
    """True for ``host:port`` and ``[v6]:port``, which name one service, not a whole host."""
    host, _, port = entry.strip().rpartition(":")
    return bool(host) and port.isdigit() and (not host.startswith("[") or host.endswith("]"))


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _limit(name: str, default: str) -> str:
    """A rate limit ("30 per minute"), from POSTERN_<name> if set."""
    return os.environ.get(f"POSTERN_{name}", default)


#: The PostgreSQL driver's connect arguments for each DATABASE_POOLER. PgBouncer in transaction
#: mode runs each transaction on whichever server connection is free, but psycopg prepares a
#: statement on the server after its fifth run on a connection and then names it: the next
#: transaction may find it missing ("prepared statement ... does not exist"). PgBouncer before
#: 1.21 cannot track them, so psycopg must never prepare (``prepare_threshold=None``).
POOLER_CONNECT_ARGS: dict[str, dict] = {
    "": {},
    "pgbouncer-transaction": {"prepare_threshold": None},
}


def pooler_connect_args(settings: dict) -> dict:
    """The connect arguments DATABASE_POOLER asks of every PostgreSQL engine. Raises
    ConfigError for a value it does not know (a typo must not silently run unpooled settings
    against a transaction pool)."""
    pooler = str(settings.get("DATABASE_POOLER") or "").strip()
    if pooler not in POOLER_CONNECT_ARGS:
        known = ", ".join(repr(name) for name in POOLER_CONNECT_ARGS if name)
        raise ConfigError(f"POSTERN_DATABASE_POOLER must be empty or one of {known}")
    return dict(POOLER_CONNECT_ARGS[pooler])


def _normalise_database_url(url: str) -> str:
    """Point plain PostgreSQL URLs at psycopg 3, the driver we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class BaseConfig:
    ENV_NAME = "base"

    # Organisation shown to customers and staff.
    ORG_NAME = os.environ.get("POSTERN_ORG_NAME", "Postern Demo Ltd")
    PUBLIC_BASE_URL = os.environ.get("POSTERN_PUBLIC_BASE_URL", "http://127.0.0.1:5000")
    #: Where customers report an accessibility problem (an email address, or a phone number
    #: with its hours), named on the accessibility statement; empty: "ask the agent".
    ACCESSIBILITY_CONTACT = os.environ.get("POSTERN_ACCESSIBILITY_CONTACT", "")

    # Requests and hosts.
    MAX_CONTENT_LENGTH = 256 * 1024
    MAX_FORM_MEMORY_SIZE = 256 * 1024
    TRUSTED_HOSTS: list[str] | None = _env_list("POSTERN_TRUSTED_HOSTS") or None
    #: Number of proxies in front of the app that set X-Forwarded-*; 0 = not behind a proxy.
    PROXY_HOPS = _env_int("POSTERN_PROXY_HOPS", 0)

    # Database.
    # No pool_pre_ping: a connection is pinged only after sitting idle (portal.pool_health).
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_recycle": 1800}
    #: A pooled connection idle longer than this is pinged before use (a restart takes longer).
    DATABASE_PING_IDLE_SECONDS = 1.0
    #: Seconds to wait for a new PostgreSQL connection before failing (and answering 503).
    DATABASE_CONNECT_TIMEOUT_SECONDS = _env_int("POSTERN_DATABASE_CONNECT_TIMEOUT_SECONDS", 5)
    #: What stands between Postern and PostgreSQL (docs/scaling.md): empty for a direct
    #: connection (or a pooler in session mode), "pgbouncer-transaction" for PgBouncer with
    #: pool_mode=transaction (``pooler_connect_args``).
    DATABASE_POOLER = os.environ.get("POSTERN_DATABASE_POOLER", "")
    SQLALCHEMY_TRACK_MODIFICATIONS = False

    # Staff sessions (PCI DSS 8.2.8: 15 minutes idle; an absolute lifetime on top).
    SESSION_COOKIE_NAME = "postern_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    SESSION_IDLE_TIMEOUT = timedelta(minutes=15)
    SESSION_ABSOLUTE_LIFETIME = timedelta(hours=10)
    #: How often a live session's last-seen time is written; bounds write load on busy polls.
    SESSION_TOUCH_INTERVAL = timedelta(seconds=30)
    #: How long a password-verified login may wait for its second factor.
    MFA_PENDING_LIFETIME = timedelta(minutes=5)

    # The agent panel pushed (portal/live_push, docs/scaling.md): Server-Sent Events fed by
    # PostgreSQL LISTEN/NOTIFY, served by their own gunicorn (config/gunicorn-push.conf.py).
    # Off, on SQLite, or with the push service down, the console polls (ETag + 304) instead.
    LIVE_PUSH_ENABLED = _env_bool("POSTERN_LIVE_PUSH_ENABLED", True)
    #: True only in the push service's processes (config/gunicorn-push.conf.py sets it): the
    #: app's own workers refuse streams, which would hold their few threads for hours.
    LIVE_PUSH_SERVICE = _env_bool("POSTERN_PUSH_SERVICE", False)
    #: Where the push service LISTENs when DATABASE_URL goes through PgBouncer in transaction
    #: mode (which cannot carry LISTEN): a direct or session-mode URL. Empty: DATABASE_URL.
    LIVE_PUSH_LISTEN_URL = os.environ.get("POSTERN_LIVE_PUSH_LISTEN_URL", "")
    #: Seconds between keep-alive comments on a quiet stream (proxies close silent ones).
    LIVE_PUSH_HEARTBEAT_SECONDS = 15.0
    #: Longest a stream goes without reading its session again (PCI DSS 8.2.8: at most 60).
    LIVE_PUSH_RECHECK_SECONDS = 30.0

    # Login lockout (PCI DSS 8.3.4: at most 10 attempts, locked for at least 30 minutes).
    LOGIN_MAX_FAILURES = 10
    LOGIN_LOCKOUT = timedelta(minutes=30)
    PASSWORD_MIN_LENGTH = 12
    MFA_ISSUER = "Postern"
    #: Agents must prove a second factor too (every role that reads personal data, the audit
    #: log or an export must, whatever this says). On in production: an agent's password
    #: alone opens the console that creates payment links.
    AGENT_MFA_REQUIRED = _env_bool("POSTERN_AGENT_MFA_REQUIRED", True)
    #: Lets a discoverable passkey sign someone in without their password (user verification
    #: required, so it counts as two factors). Off by default: an operator turns it on.
    PASSKEY_SIGN_IN = _env_bool("POSTERN_PASSKEY_SIGN_IN", False)

    # Rate limits (Flask-Limiter). Memory by default; Redis in production. Each limit below can
    # be set from the environment as POSTERN_<NAME> (e.g. POSTERN_RATELIMIT_LOGIN_PER_IP="60
    # per minute"), for a contact centre whose agents all sign in from one NAT address.
    RATELIMIT_STORAGE_URI = os.environ.get("POSTERN_RATELIMIT_STORAGE_URI", "memory://")
    #: Prefix of every rate-limit key, so that two installations can share one Redis. Empty
    #: by default: Flask-Limiter keeps the first non-empty prefix it is given for its lifetime.
    RATELIMIT_KEY_PREFIX = os.environ.get("POSTERN_RATELIMIT_KEY_PREFIX", "")
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_LOGIN_PER_IP = _limit("RATELIMIT_LOGIN_PER_IP", "30 per minute")
    RATELIMIT_LOGIN_PER_ACCOUNT = _limit("RATELIMIT_LOGIN_PER_ACCOUNT", "10 per minute")
    #: Calls per API key to /api/v1 (docs/api.md), counted in the same storage.
    API_RATE_LIMIT = _limit("API_RATE_LIMIT", "300 per minute")
    #: Refused API keys per client address, before it is refused outright (429).
    API_AUTH_FAILURES_PER_IP = _limit("API_AUTH_FAILURES_PER_IP", "30 per minute")

    # CSRF: on everywhere, tests included.
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = 3600
    WTF_CSRF_SSL_STRICT = True

    # Security headers.
    FORCE_HTTPS = True
    HSTS_MAX_AGE = 63072000
    #: CSP violation reports (POST /csp-report, portal/csp_reports): largest body accepted, and
    #: how many one address may send.
    CSP_REPORT_MAX_BYTES = 16 * 1024
    RATELIMIT_CSP_REPORT_PER_IP = _limit("RATELIMIT_CSP_REPORT_PER_IP", "30 per minute")

    # Stripe (sandbox by default, real Stripe by configuration alone).
    STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "https://api.stripe.com")
    STRIPE_JS_URL = os.environ.get("STRIPE_JS_URL", "https://js.stripe.com/v3/")
    STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
    STRIPE_PUBLISHABLE_KEY = os.environ.get("STRIPE_PUBLISHABLE_KEY", "")
    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
    #: CA certificates (PEM) that Stripe's API certificate must chain to; empty means the
    #: bundle the stripe SDK ships. Set it when egress passes a TLS-inspecting proxy.
    STRIPE_CA_BUNDLE = os.environ.get("STRIPE_CA_BUNDLE", "")
    #: Seconds to wait for one Stripe API answer; the SDK retries twice more on network errors.
    STRIPE_TIMEOUT_SECONDS = float(os.environ.get("STRIPE_TIMEOUT_SECONDS", "10"))
    #: Failed card attempts (declines, failed 3-D Secure) before a payment request fails.
    PAYMENT_MAX_ATTEMPTS = _env_int("POSTERN_PAYMENT_MAX_ATTEMPTS", 5)
    #: Stripe payment method types a PaymentIntent may be paid with, comma-separated: only
    #: those in SUPPORTED_PAYMENT_METHOD_TYPES. "card" includes Apple Pay and Google Pay.
    PAYMENT_METHOD_TYPES = _env_list("POSTERN_PAYMENT_METHOD_TYPES", "card")
    #: Path of the Apple Pay domain-association file Stripe gives for this domain, served at
    #: /.well-known/apple-developer-merchantid-domain-association; empty: that answers 404.
    APPLE_PAY_DOMAIN_ASSOCIATION_FILE = os.environ.get(
        "POSTERN_APPLE_PAY_DOMAIN_ASSOCIATION_FILE", ""
    )
    #: Path of the icon served at /favicon.ico (browsers ask for it on every site); empty:
    #: the small neutral icon shipped in static/favicon.ico. An .ico, .png or .svg file.
    FAVICON_FILE = os.environ.get("POSTERN_FAVICON_FILE", "")
    #: Customer payment pages poll their status endpoint; one IP gets at most this many.
    RATELIMIT_PAYMENT_STATUS_PER_IP = _limit("RATELIMIT_PAYMENT_STATUS_PER_IP", "120 per minute")

    # Back office: refunds, re-authentication, retention (portal/refunds, portal/retention).
    #: Refunds ABOVE this many minor units need a second back-office user's approval.
    REFUND_DUAL_CONTROL_MINOR = _env_int("POSTERN_REFUND_DUAL_CONTROL_MINOR", 10000)
    #: How long a re-authentication (password + second factor) counts for refunds, approvals,
    #: erasure and staff changes.
    REAUTH_MAX_AGE = timedelta(minutes=5)
    #: Rows handled per transaction by `flask retention purge`.
    RETENTION_BATCH_SIZE = _env_int("POSTERN_RETENTION_BATCH_SIZE", 1000)
    #: The login retention uses to trim the oldest audit rows: a member of the PostgreSQL role
    #: postern_audit_maintainer, which the app's own role must not be (docs/audit-trail.md).
    #: Empty: the main DATABASE_URL, which then needs that membership for the trim to work.
    AUDIT_MAINTENANCE_DATABASE_URL = _normalise_database_url(
        os.environ.get("POSTERN_AUDIT_MAINTENANCE_DATABASE_URL", "")
    )
    #: Who links audit rows into the chain (docs/audit-trail.md): "worker", `flask audit seal`
    #: (requests then take no chain lock), or "inline", the committing transaction itself.
    AUDIT_SEAL = os.environ.get("POSTERN_AUDIT_SEAL", "worker")
    AUDIT_SEAL_POLL_SECONDS = float(os.environ.get("POSTERN_AUDIT_SEAL_POLL_SECONDS", "0.2"))

    # Delivery of links by SMS and email (portal/delivery): messages wait in an outbox table
    # and `flask outbox work` sends them, so creating a request never waits on a provider.
    #: "twilio" | "dev" | "disabled"; production refuses "dev" (the development outbox page).
    DELIVERY_SMS_BACKEND = os.environ.get("POSTERN_DELIVERY_SMS_BACKEND", "twilio")
    #: "smtp" | "dev" | "disabled"; production refuses "dev".
    DELIVERY_EMAIL_BACKEND = os.environ.get("POSTERN_DELIVERY_EMAIL_BACKEND", "smtp")
    DELIVERY_MAX_ATTEMPTS = _env_int("POSTERN_DELIVERY_MAX_ATTEMPTS", 6)
    #: Retry n waits base * 2**(n-1) seconds (capped, plus up to 25% jitter).
    DELIVERY_BACKOFF_BASE_SECONDS = _env_int("POSTERN_DELIVERY_BACKOFF_BASE_SECONDS", 10)
    DELIVERY_BACKOFF_MAX_SECONDS = _env_int("POSTERN_DELIVERY_BACKOFF_MAX_SECONDS", 600)
    #: How long a worker owns a claimed message; a crashed worker's claim lapses after this.
    DELIVERY_LEASE_SECONDS = _env_int("POSTERN_DELIVERY_LEASE_SECONDS", 120)
    DELIVERY_BATCH_SIZE = _env_int("POSTERN_DELIVERY_BATCH_SIZE", 20)
    DELIVERY_POLL_SECONDS = float(os.environ.get("POSTERN_DELIVERY_POLL_SECONDS", "1"))
    # Stripe webhooks (portal/stripe_events/inbox.py): the endpoint queues each verified
    # event and answers at once; `flask webhooks work` handles the queue.
    WEBHOOK_BATCH_SIZE = _env_int("POSTERN_WEBHOOK_BATCH_SIZE", 50)
    WEBHOOK_POLL_SECONDS = float(os.environ.get("POSTERN_WEBHOOK_POLL_SECONDS", "0.5"))
    #: How long a worker owns a leased event; a crashed worker's lease lapses after this.
    WEBHOOK_LEASE_SECONDS = _env_int("POSTERN_WEBHOOK_LEASE_SECONDS", 60)
    #: When Stripe cannot be asked: retry n waits base * 2**(n-1) seconds (capped, + jitter);
    #: after the last attempt the event is "failed" and `flask payments reconcile` repairs.
    WEBHOOK_MAX_ATTEMPTS = _env_int("POSTERN_WEBHOOK_MAX_ATTEMPTS", 10)
    WEBHOOK_RETRY_BASE_SECONDS = _env_int("POSTERN_WEBHOOK_RETRY_BASE_SECONDS", 5)
    WEBHOOK_RETRY_MAX_SECONDS = _env_int("POSTERN_WEBHOOK_RETRY_MAX_SECONDS", 900)
    # Outbound webhooks to the buyer's systems (portal/hooks, docs/webhooks.md): events wait in
    # hook_deliveries and `flask hooks work` sends them, signed (Standard Webhooks).
    HOOKS_BATCH_SIZE = _env_int("POSTERN_HOOKS_BATCH_SIZE", 20)
    HOOKS_POLL_SECONDS = float(os.environ.get("POSTERN_HOOKS_POLL_SECONDS", "1"))
    HOOKS_LEASE_SECONDS = _env_int("POSTERN_HOOKS_LEASE_SECONDS", 60)
    #: Retry n waits base * 2**(n-1) seconds (capped, + jitter), for up to the retry window;
    #: then the delivery is abandoned.
    HOOKS_RETRY_BASE_SECONDS = _env_int("POSTERN_HOOKS_RETRY_BASE_SECONDS", 10)
    HOOKS_RETRY_MAX_SECONDS = _env_int("POSTERN_HOOKS_RETRY_MAX_SECONDS", 6 * 3600)
    HOOKS_RETRY_WINDOW_SECONDS = _env_int("POSTERN_HOOKS_RETRY_WINDOW_SECONDS", 3 * 86400)
    HOOKS_CONNECT_TIMEOUT_SECONDS = float(os.environ.get("POSTERN_HOOKS_CONNECT_TIMEOUT", "5"))
    HOOKS_READ_TIMEOUT_SECONDS = float(os.environ.get("POSTERN_HOOKS_READ_TIMEOUT", "10"))
    #: An endpoint is disabled after this many failed attempts in a row spanning at least
    #: HOOKS_DISABLE_AFTER_HOURS, and its team's admins are told.
    HOOKS_DISABLE_AFTER_FAILURES = _env_int("POSTERN_HOOKS_DISABLE_AFTER_FAILURES", 20)
    HOOKS_DISABLE_AFTER_HOURS = _env_int("POSTERN_HOOKS_DISABLE_AFTER_HOURS", 24)
    #: After a secret rotation the old secret keeps signing for this long.
    HOOKS_ROTATION_OVERLAP_HOURS = _env_int("POSTERN_HOOKS_ROTATION_OVERLAP_HOURS", 24)
    #: host[:port] entries exempt from the public-address rule: an integration gateway inside
    #: the buyer's own network, the example receiver in development. Elsewhere they may also be
    #: plain http; in production each must name its port and https is still required.
    HOOKS_ALLOWED_HOSTS = _env_list("POSTERN_HOOKS_ALLOWED_HOSTS")
    #: A CA bundle (PEM) trusted for endpoints' certificates instead of the public ones, for a
    #: gateway with a certificate from the buyer's own CA. Empty: the public CAs.
    HOOKS_CA_BUNDLE = os.environ.get("POSTERN_HOOKS_CA_BUNDLE", "")
    #: Expiry times in messages are given in this zone, followed by the label.
    DELIVERY_TIMEZONE = os.environ.get("POSTERN_DELIVERY_TIMEZONE", "Europe/London")
    DELIVERY_TIMEZONE_LABEL = os.environ.get("POSTERN_DELIVERY_TIMEZONE_LABEL", "UK time")
    #: The /dev/outbox page that shows what would have been sent; never in production.
    DEV_OUTBOX_ENABLED = False
    TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
    TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
    #: Either a sender (number or alphanumeric id) or a Messaging Service.
    TWILIO_FROM = os.environ.get("TWILIO_FROM", "")
    TWILIO_MESSAGING_SERVICE_SID = os.environ.get("TWILIO_MESSAGING_SERVICE_SID", "")
    #: Empty means Twilio's own API; tests point it at a local fake.
    TWILIO_API_BASE_URL = os.environ.get("TWILIO_API_BASE_URL", "")
    TWILIO_TIMEOUT_SECONDS = _env_int("TWILIO_TIMEOUT_SECONDS", 10)
    SMTP_HOST = os.environ.get("SMTP_HOST", "")
    SMTP_PORT = _env_int("SMTP_PORT", 587)
    SMTP_USERNAME = os.environ.get("SMTP_USERNAME", "")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
    SMTP_STARTTLS = _env_bool("SMTP_STARTTLS", True)
    #: Implicit TLS (usually port 465) instead of STARTTLS.
    SMTP_SSL = _env_bool("SMTP_SSL", False)
    SMTP_FROM = os.environ.get("SMTP_FROM", "")
    SMTP_TIMEOUT_SECONDS = _env_int("SMTP_TIMEOUT_SECONDS", 10)

    # Capture requests and their one-time links (portal/capture).
    CAPTURE_DEFAULT_EXPIRY_MINUTES = _env_int("POSTERN_CAPTURE_DEFAULT_EXPIRY_MINUTES", 15)
    #: The longest a link may live, extensions included; also the token's signature max_age.
    CAPTURE_MAX_EXPIRY_MINUTES = _env_int("POSTERN_CAPTURE_MAX_EXPIRY_MINUTES", 60)
    #: Currencies agents may ask for (ISO 4217 codes); the first is the default.
    CAPTURE_CURRENCIES = _env_list("POSTERN_CAPTURE_CURRENCIES", "GBP")
    #: The largest amount an agent may request, in whole units of the currency.
    CAPTURE_MAX_AMOUNT_MAJOR = _env_int("POSTERN_CAPTURE_MAX_AMOUNT_MAJOR", 50000)
    #: Wrong identity answers before the request locks.
    CAPTURE_IDENTITY_MAX_FAILURES = 5
    #: Link signing keys, newest first: the newest signs, every listed key still verifies.
    LINK_SIGNING_KEYS: list[str] = _env_list("POSTERN_LINK_SIGNING_KEYS")
    #: Key for the HMAC of identity answers (postcode, date of birth, surname).
    IDENTITY_PEPPER = os.environ.get("POSTERN_IDENTITY_PEPPER", "")
    # Rate limits on customer link pages: every one of them checks a token.
    RATELIMIT_CUSTOMER_LINK_PER_IP = _limit("RATELIMIT_CUSTOMER_LINK_PER_IP", "120 per minute")
    RATELIMIT_CUSTOMER_START_PER_IP = _limit("RATELIMIT_CUSTOMER_START_PER_IP", "30 per minute")
    RATELIMIT_IDENTITY_PER_REQUEST_IP = _limit("RATELIMIT_IDENTITY_PER_REQUEST_IP", "10 per minute")

    # Personal-data capture (portal/personal_data). Field sets: config/field_sets.py; retention
    # periods: config/retention.py; the privacy notice: config/privacy.py.
    #: AES-256-GCM keys as "key_id:base64,key_id:base64", NEWEST FIRST (as LINK_SIGNING_KEYS):
    #: the first encrypts, every listed key decrypts. Rotation: config/keyring.py.
    DATA_ENCRYPTION_KEYS = os.environ.get("POSTERN_DATA_ENCRYPTION_KEYS", "")
    #: Rows re-encrypted per transaction by `flask keys rotate`.
    DATA_KEY_ROTATION_BATCH = _env_int("POSTERN_DATA_KEY_ROTATION_BATCH", 500)
    #: The key store: a database of its own holding each capture request's data key, wrapped
    #: by DATA_ENCRYPTION_KEYS (docs/personal-data-encryption.md). Kept apart from DATABASE_URL
    #: so that destroying a key on erasure also makes the values in older database backups
    #: unreadable. Empty outside production: a SQLite file beside the main database
    #: (``key_store_url``); production refuses empty, SQLite, or the main database itself.
    KEY_STORE_URL = os.environ.get("POSTERN_KEY_STORE_URL", "")
    PRIVACY_NOTICE_URL = os.environ.get("POSTERN_PRIVACY_NOTICE_URL", "")
    PRIVACY_NOTICE_VERSION = os.environ.get(
        "POSTERN_PRIVACY_NOTICE_VERSION", PRIVACY_NOTICE_VERSION
    )

    LOG_LEVEL = os.environ.get("POSTERN_LOG_LEVEL", "INFO")
    LOG_JSON = True

    # Metrics (portal/observability, docs/metrics.md). GET /metrics answers 404 until a token
    # is set; then only a request bearing it (and, if listed, from an allowed network).
    METRICS_TOKEN = os.environ.get("POSTERN_METRICS_TOKEN", os.environ.get("METRICS_TOKEN", ""))
    #: Networks allowed to scrape ("10.0.0.0/8,192.168.1.5"); empty: any that has the token.
    METRICS_ALLOWED_NETWORKS = _env_list("POSTERN_METRICS_ALLOWED_NETWORKS")
    #: A background worker serves its own counters on this port (0: it does not); on this
    #: address, loopback unless set. Same token and networks as /metrics.
    METRICS_WORKER_PORT = _env_int("POSTERN_METRICS_WORKER_PORT", 0)
    METRICS_WORKER_HOST = os.environ.get("POSTERN_METRICS_WORKER_HOST", "127.0.0.1")
    #: The longest a scrape waits on each of its database queries (queues, heartbeats).
    METRICS_QUERY_TIMEOUT_MS = _env_int("POSTERN_METRICS_QUERY_TIMEOUT_MS", 2000)
    #: A worker records that it is alive at most this often (or once per poll, if longer).
    WORKER_HEARTBEAT_SECONDS = float(os.environ.get("POSTERN_WORKER_HEARTBEAT_SECONDS", "30"))

    # Security notifications to admins by email (portal/security_alerts, docs/alerts.md):
    # a burst is at least THRESHOLD events within ALERTS_WINDOW_MINUTES; at most one email per
    # kind per ALERTS_THROTTLE_MINUTES, the next one counting what was held back.
    ALERTS_WINDOW_MINUTES = _env_int("POSTERN_ALERTS_WINDOW_MINUTES", 15)
    ALERTS_THROTTLE_MINUTES = _env_int("POSTERN_ALERTS_THROTTLE_MINUTES", 15)
    ALERTS_STAFF_LOCKOUTS_THRESHOLD = _env_int("POSTERN_ALERTS_STAFF_LOCKOUTS_THRESHOLD", 3)
    ALERTS_IDENTITY_LOCKS_THRESHOLD = _env_int("POSTERN_ALERTS_IDENTITY_LOCKS_THRESHOLD", 3)
    ALERTS_PAYMENT_PAGE_CSP_THRESHOLD = _env_int("POSTERN_ALERTS_PAYMENT_PAGE_CSP_THRESHOLD", 1)
    #: How often each worker loop runs the checks between batches (0: only `flask alerts check`).
    ALERTS_CHECK_SECONDS = _env_int("POSTERN_ALERTS_CHECK_SECONDS", 60)

    # Single sign-on with OpenID Connect (config/sso.py, docs/single-sign-on.md).
    #: A JSON list of providers; replaced by the parsed providers as the settings load.
    SSO_PROVIDERS = os.environ.get("POSTERN_SSO_PROVIDERS", "")
    #: On: password sign-in is refused to everyone but SSO_BREAK_GLASS_USERNAME.
    SSO_ONLY = _env_bool("POSTERN_SSO_ONLY", False)
    #: The one administrator who keeps password and second-factor sign-in in SSO-only mode.
    SSO_BREAK_GLASS_USERNAME = os.environ.get("POSTERN_SSO_BREAK_GLASS_USERNAME", "")

    #: Settings that production refuses to start without (or with a throwaway value).
    REQUIRED_SECRETS: tuple[str, ...] = (
        "SECRET_KEY",
        "SQLALCHEMY_DATABASE_URI",
        "AUDIT_CHAIN_KEY",
        "STRIPE_SECRET_KEY",
        "STRIPE_PUBLISHABLE_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "LINK_SIGNING_KEYS",
        "IDENTITY_PEPPER",
        "DATA_ENCRYPTION_KEYS",
        "PRIVACY_NOTICE_URL",
    )

    @classmethod
    def validate(cls, settings: dict) -> None:
        """Raise ConfigError if the settings are unsafe for this environment."""
        problems = data_key_problems(settings) + payment_policy_problems(settings)
        problems.extend(sso_problems(settings))
        if problems:
            raise ConfigError("refusing to start: " + "; ".join(problems))


class DevelopmentConfig(BaseConfig):
    ENV_NAME = "development"
    SECRET_KEY = os.environ.get("POSTERN_SECRET_KEY", f"{THROWAWAY_PREFIX}-secret-key")
    AUDIT_CHAIN_KEY = os.environ.get("POSTERN_AUDIT_CHAIN_KEY", f"{THROWAWAY_PREFIX}-audit-key")
    SQLALCHEMY_DATABASE_URI = _normalise_database_url(
        os.environ.get("DATABASE_URL", DEV_DATABASE_URL)
    )
    SESSION_COOKIE_SECURE = _env_bool("POSTERN_COOKIE_SECURE", False)
    FORCE_HTTPS = False
    WTF_CSRF_SSL_STRICT = False
    STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "http://127.0.0.1:12111")
    STRIPE_JS_URL = os.environ.get("STRIPE_JS_URL", "http://127.0.0.1:12111/v3/")
    STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "sk_test_postern_sandbox")
    STRIPE_PUBLISHABLE_KEY = os.environ.get("STRIPE_PUBLISHABLE_KEY", "pk_test_postern_sandbox")
    STRIPE_WEBHOOK_SECRET = os.environ.get(
        "STRIPE_WEBHOOK_SECRET", f"whsec_{THROWAWAY_PREFIX}-webhook-secret"
    )
    DELIVERY_SMS_BACKEND = os.environ.get("POSTERN_DELIVERY_SMS_BACKEND", "dev")
    DELIVERY_EMAIL_BACKEND = os.environ.get("POSTERN_DELIVERY_EMAIL_BACKEND", "dev")
    DEV_OUTBOX_ENABLED = _env_bool("POSTERN_DEV_OUTBOX", True)
    SMTP_FROM = os.environ.get("SMTP_FROM", "Postern Demo <no-reply@postern.example>")
    LINK_SIGNING_KEYS = _env_list("POSTERN_LINK_SIGNING_KEYS") or [
        f"{THROWAWAY_PREFIX}-link-signing-key"
    ]
    IDENTITY_PEPPER = os.environ.get(
        "POSTERN_IDENTITY_PEPPER", f"{THROWAWAY_PREFIX}-identity-pepper"
    )
    DATA_ENCRYPTION_KEYS = os.environ.get(
        "POSTERN_DATA_ENCRYPTION_KEYS", f"{THROWAWAY_PREFIX}-data-key-1:{DEV_DATA_KEY_BASE64}"
    )
    PRIVACY_NOTICE_URL = os.environ.get("POSTERN_PRIVACY_NOTICE_URL", DEV_PRIVACY_NOTICE_URL)
    LOG_JSON = _env_bool("POSTERN_LOG_JSON", False)
    #: Off so that `make run`'s demo agents sign in with a password alone; set it to try on.
    AGENT_MFA_REQUIRED = _env_bool("POSTERN_AGENT_MFA_REQUIRED", False)
    #: One process on SQLite: the chain is complete at every commit, no sealer needed.
    AUDIT_SEAL = os.environ.get("POSTERN_AUDIT_SEAL", "inline")


class TestingConfig(DevelopmentConfig):
    ENV_NAME = "testing"
    TESTING = True
    SQLALCHEMY_DATABASE_URI = _normalise_database_url(
        os.environ.get("TEST_DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'test.sqlite3'}")
    )
    # Argon2 at full strength costs ~50 ms a hash; tests hash hundreds of passwords.
    ARGON2_FAST = True
    LOG_JSON = True
    # As in production: plain-HTTP test requests are unaffected, and an HTTPS one must carry a
    # same-origin Referer, as a browser's does under Referrer-Policy: same-origin.
    WTF_CSRF_SSL_STRICT = True


#: Every setting in which the testing configuration differs from production, and why.
#: tests/unit/config/test_divergence.py compares the two classes against this list, so a new
#: difference fails the suite until someone writes down here why it is safe. What the
#: difference hides is tested on the production-like stack (tests/prodlike/), which runs the
#: production class itself.
TESTING_DIFFERS_FROM_PRODUCTION: dict[str, str] = {
    "ENV_NAME": "the name of the environment itself",
    "TESTING": "Flask's test mode; the error handlers still answer every exception",
    "SQLALCHEMY_DATABASE_URI": "each test run builds its own database (SQLite or PostgreSQL)",
    "ARGON2_FAST": "full-strength argon2 costs ~50 ms a hash and the suite hashes thousands",
    "FORCE_HTTPS": "the Flask test client and the development server speak plain HTTP",
    "SESSION_COOKIE_SECURE": "a Secure cookie is never sent back over plain HTTP",
    "SECRET_KEY": "a public dev-only value; production takes its own from the environment",
    "AUDIT_CHAIN_KEY": "a public dev-only value; production takes its own from the environment",
    "LINK_SIGNING_KEYS": "a public dev-only value; production takes its own from the environment",
    "IDENTITY_PEPPER": "a public dev-only value; production takes its own from the environment",
    "DATA_ENCRYPTION_KEYS": "a public dev-only key; production takes its own from the environment",
    "PRIVACY_NOTICE_URL": "a placeholder notice; production must name the operator's own",
    "STRIPE_API_BASE": "the offline Stripe sandbox instead of api.stripe.com",
    "STRIPE_JS_URL": "the sandbox's Stripe.js instead of js.stripe.com",
    "STRIPE_SECRET_KEY": "the sandbox's published test key",
    "STRIPE_PUBLISHABLE_KEY": "the sandbox's published test key",
    "STRIPE_WEBHOOK_SECRET": "a public dev-only value the sandbox signs with",
    "DELIVERY_SMS_BACKEND": "the development outbox; tests of Twilio set it to 'twilio'",
    "DELIVERY_EMAIL_BACKEND": "the development outbox; tests of SMTP set it to 'smtp'",
    "DEV_OUTBOX_ENABLED": "the page that shows what would have been sent; never in production",
    "SMTP_FROM": "a sender for the development outbox; production names its own",
    "PUBLIC_BASE_URL": "links point at the local test server; production must name its own "
    "https:// origin and refuses to start without one",
    "RATELIMIT_STORAGE_URI": "one test process counts in memory (tests of Redis set it); "
    "production refuses anything but Redis, shared by every worker",
    "AUDIT_SEAL": "audit rows are sealed into the chain as they commit, so tests read them at "
    "once; the production-like stack runs the sealer worker (flask audit seal) as production does",
    "AGENT_MFA_REQUIRED": "most tests sign agents in with a password alone; tests of agent MFA "
    "turn it on, and the production-like stack runs with it on",
}


def delivery_problems(settings: dict) -> list[str]:
    """What stops link delivery from working safely in production (empty list: nothing)."""
    problems = []
    if settings.get("DEV_OUTBOX_ENABLED"):
        problems.append("DEV_OUTBOX_ENABLED must be off in production")
    sms, email = settings.get("DELIVERY_SMS_BACKEND"), settings.get("DELIVERY_EMAIL_BACKEND")
    if sms not in ("twilio", "disabled"):
        problems.append("POSTERN_DELIVERY_SMS_BACKEND must be 'twilio' or 'disabled'")
    if email not in ("smtp", "disabled"):
        problems.append("POSTERN_DELIVERY_EMAIL_BACKEND must be 'smtp' or 'disabled'")
    needed = []
    if sms == "twilio":
        needed += ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"]
        if not (settings.get("TWILIO_FROM") or settings.get("TWILIO_MESSAGING_SERVICE_SID")):
            problems.append("TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID must be set")
    if email == "smtp":
        needed += ["SMTP_HOST", "SMTP_FROM"]
        if settings.get("SMTP_USERNAME"):
            needed.append("SMTP_PASSWORD")
        loopback = settings.get("SMTP_HOST") in ("localhost", "127.0.0.1", "::1")
        if not (settings.get("SMTP_STARTTLS") or settings.get("SMTP_SSL") or loopback):
            problems.append("SMTP needs STARTTLS or SSL unless the relay is on this host")
    for name in needed:
        value = settings.get(name)
        if not value:
            problems.append(f"{name} is not set")
        elif THROWAWAY_PREFIX in str(value):
            problems.append(f"{name} holds a development-only value")
    return problems


def resolve_file_settings(settings: dict) -> None:
    """Make the settings that name files absolute, relative to the working directory Postern
    was started in, as an operator writing a relative path expects. Done once, as the settings
    load: the start-up check reads a relative path against the working directory, but Flask's
    ``send_file`` reads one against the application package, so unresolved the file found at
    start-up would not be the one served."""
    for name in ("APPLE_PAY_DOMAIN_ASSOCIATION_FILE", "FAVICON_FILE"):
        if settings.get(name):
            settings[name] = os.path.abspath(settings[name])


def payment_policy_problems(settings: dict) -> list[str]:
    """What is wrong with the payment-method policy and the Apple Pay domain file (empty
    list: nothing). Names the setting and the unknown type, never a path's contents."""
    problems = []
    # Absent (a partial settings dict) means the default; set but empty is a mistake.
    types = list(settings.get("PAYMENT_METHOD_TYPES", ["card"]) or [])
    if not types:
        problems.append("POSTERN_PAYMENT_METHOD_TYPES must name at least one type, e.g. card")
    for kind in types:
        if kind not in SUPPORTED_PAYMENT_METHOD_TYPES:
            supported = ", ".join(sorted(SUPPORTED_PAYMENT_METHOD_TYPES))
            problems.append(
                f"POSTERN_PAYMENT_METHOD_TYPES: {kind!r} is not a payment method type Postern "
                f"supports ({supported})"
            )
    association = str(settings.get("APPLE_PAY_DOMAIN_ASSOCIATION_FILE") or "")
    if association and not Path(association).is_file():
        problems.append("POSTERN_APPLE_PAY_DOMAIN_ASSOCIATION_FILE does not name an existing file")
    return problems


def data_key_problems(settings: dict, *, production: bool = False) -> list[str]:
    """What makes DATA_ENCRYPTION_KEYS unusable (empty list: nothing). Never quotes a key."""
    import base64

    value = settings.get("DATA_ENCRYPTION_KEYS")
    if production and not value:
        return []  # reported as "not set" with the other required secrets
    try:
        keyring = parse_keyring(value)
    except KeyringError as problem:
        return [f"DATA_ENCRYPTION_KEYS: {problem}"]
    problems = []
    if production:
        dev_key = base64.b64decode(DEV_DATA_KEY_BASE64)
        real = []
        for key_id, key in keyring.keys:
            if THROWAWAY_PREFIX in key_id or key == dev_key:
                problems.append(f"data key {key_id!r} is the development-only key")
            else:
                real.append((key_id, key))
        weak = weak_key_problems(Keyring(tuple(real)))
        problems.extend(f"POSTERN_DATA_ENCRYPTION_KEYS: {problem}" for problem in weak)
    return problems


def key_store_url(settings: dict) -> str:
    """Where the key store lives: KEY_STORE_URL, normalised; unset outside production, a
    SQLite file of its own derived from the main database's URL, so each database (each test
    run's included) gets its own key store: ``instance/postern.sqlite3`` keeps its keys in
    ``instance/postern-keys.sqlite3``, and a PostgreSQL database ``postern`` in the database
    ``postern_keys`` on the same server (which must exist: the test suite creates its own)."""
    from sqlalchemy.engine import make_url

    configured = _normalise_database_url(str(settings.get("KEY_STORE_URL") or "").strip())
    if configured or settings.get("ENV_NAME") == "production":
        return configured
    main = str(settings.get("SQLALCHEMY_DATABASE_URI") or DEV_DATABASE_URL)
    if main.startswith("sqlite:///") and main != "sqlite:///:memory:":
        path = Path(main[len("sqlite:///") :].partition("?")[0])
        suffix = path.suffix or ".sqlite3"
        return f"sqlite:///{path.with_name(f'{path.stem}-keys{suffix}')}"
    if main.startswith("sqlite"):
        return "sqlite://"  # an in-memory database of its own
    # A server database (a test run's, a bench's): a database of its own beside it, on the same
    # server, as production has one. Its search_path option, if any, stays with the main one.
    server = make_url(main)
    query = {name: value for name, value in server.query.items() if name != "options"}
    keys = server.set(database=f"{server.database}_keys", query=query)
    return keys.render_as_string(hide_password=False)


def database_binds(settings: dict) -> dict[str, dict]:
    """``SQLALCHEMY_BINDS``: the key store (bind ``keys``) beside the main database. Its engine
    gets the main one's safety options, not its driver arguments (SQLite takes none)."""
    url = key_store_url(settings)
    options: dict = {"url": url, "pool_pre_ping": True}
    if url.startswith("postgresql"):
        options["pool_recycle"] = 1800
        options["connect_args"] = {
            "connect_timeout": settings.get("DATABASE_CONNECT_TIMEOUT_SECONDS", 5),
            **pooler_connect_args(settings),  # behind PgBouncer too: docs/scaling.md
        }
    return {**dict(settings.get("SQLALCHEMY_BINDS") or {}), "keys": options}


def sso_problems(settings: dict, *, production: bool = False) -> list[str]:
    """Parse the single sign-on providers in place (``config.sso.resolve_providers``) and say
    what is wrong with them (empty list: nothing)."""
    try:
        sso.resolve_providers(settings)
    except sso.SsoConfigError as problem:
        return [str(problem)]
    if production:
        return sso.production_problems(settings)
    return sso.sso_only_problems(settings)


def _is_throwaway(value) -> bool:
    """A development-only value, or a list (such as key lists) holding one."""
    if isinstance(value, (list, tuple)):
        return any(THROWAWAY_PREFIX in str(item) for item in value)
    return isinstance(value, str) and THROWAWAY_PREFIX in value


class ProductionConfig(BaseConfig):
    ENV_NAME = "production"
    # No development defaults: unset, these are reported as such (config/production_rules.py).
    PUBLIC_BASE_URL = os.environ.get("POSTERN_PUBLIC_BASE_URL", "")
    RATELIMIT_STORAGE_URI = os.environ.get("POSTERN_RATELIMIT_STORAGE_URI", "")
    SECRET_KEY = os.environ.get("POSTERN_SECRET_KEY", "")
    AUDIT_CHAIN_KEY = os.environ.get("POSTERN_AUDIT_CHAIN_KEY", "")
    SQLALCHEMY_DATABASE_URI = _normalise_database_url(os.environ.get("DATABASE_URL", ""))

    @classmethod
    def validate(cls, settings: dict) -> None:
        problems = []
        for name in settings.get("REQUIRED_SECRETS", cls.REQUIRED_SECRETS):
            value = settings.get(name)
            if not value:
                problems.append(f"{name} is not set")
            elif _is_throwaway(value):
                problems.append(f"{name} holds a development-only value")
        uri = settings.get("SQLALCHEMY_DATABASE_URI") or ""
        if uri.startswith("sqlite"):
            problems.append("DATABASE_URL must point at PostgreSQL in production")
        if not settings.get("TRUSTED_HOSTS"):
            problems.append("POSTERN_TRUSTED_HOSTS must list the host names Postern answers to")
        if not settings.get("SESSION_COOKIE_SECURE"):
            problems.append("session cookies must be Secure in production")
        if any(not _names_a_port(entry) for entry in settings.get("HOOKS_ALLOWED_HOSTS") or ()):
            problems.append(
                "each POSTERN_HOOKS_ALLOWED_HOSTS entry must be host:port in production: it "
                "lets webhooks reach that one private address"
            )
        problems.extend(delivery_problems(settings))
        problems.extend(payment_policy_problems(settings))
        problems.extend(data_key_problems(settings, production=True))
        problems.extend(production_problems(settings, THROWAWAY_PREFIX))
        problems.extend(sso_problems(settings, production=True))
        if problems:
            raise ConfigError("refusing to start: " + "; ".join(problems))


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_class(env_name: str | None = None) -> type[BaseConfig]:
    """Return the settings class named by ``env_name`` or ``POSTERN_ENV``.

    Raises ConfigError for an unknown name, rather than guessing, and for an unset one unless
    the database is the embedded development one (``unset_environment_problem``).
    """
    name = env_name or os.environ.get("POSTERN_ENV", "").strip()
    if not name:
        problem = unset_environment_problem(os.environ.get("DATABASE_URL"))
        if problem:
            raise ConfigError(f"refusing to start: {problem}")
        name = "development"
    try:
        return CONFIGS[name]
    except KeyError:
        raise ConfigError(f"POSTERN_ENV={name!r} is not one of {sorted(CONFIGS)}") from None


def unset_environment_problem(database_url: str | None) -> str | None:
    """Why Postern must not start as development when POSTERN_ENV is unset, or None.

    Development is assumed only with its own marker, the embedded SQLite database. Any other
    DATABASE_URL may be production's: served as development, it would run on public secrets.
    The message names the kind of database, never the URL (it may hold a password).
    """
    if not database_url or database_url.strip() == DEV_DATABASE_URL:
        return None
    scheme = database_url.partition(":")[0].partition("+")[0].lower()
    kind = "a PostgreSQL database" if scheme.startswith("postgres") else f"a {scheme} database"
    if not scheme.isalnum():
        kind = "a database"
    return (
        f"POSTERN_ENV is not set and DATABASE_URL names {kind} other than the embedded "
        "development one (instance/postern.sqlite3). Set POSTERN_ENV=production to serve it "
        "(with its own secrets: README, Configuration), or POSTERN_ENV=development to develop "
        "against it on purpose"
    )
