"""Extension objects, created unbound; ``create_app`` binds them to an application."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    # Named constraints so Alembic migrations stay identical on SQLite and PostgreSQL.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class _CSRFProtect(CSRFProtect):
    """Flask-WTF's CSRF protection, whose HTTPS referrer check answers a malformed Referer (a
    port out of range, a broken IPv6 host: ``urlparse`` raises) with its own 400, not a 500."""

    def protect(self, apply_exemptions=False):
        try:
            return super().protect(apply_exemptions=apply_exemptions)
        except ValueError:  # its token errors (ValidationError) are handled inside
            self._error_response("The referrer header is malformed.")


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = _CSRFProtect()
talisman = Talisman()


class _Limiter(Limiter):
    """Flask-Limiter, whose per-request hook stands aside while nothing it checks exists.

    Postern sets no application, default, blueprint or meta limits: every limit is a view's
    own (``@limiter.limit``), and the decorator checks it when the view runs. The hook before
    every request would find nothing, at a cost a status poll measurably paid; it runs again as
    soon as any such limit is configured, or while the storage is down (the in-memory fallback
    is its job). The rate-limit tests (tests/security/test_ratelimit_redis.py and the 429s of the
    functional suite) hold the limits themselves.

    Each limit checked costs one Redis call (the counting script): the X-RateLimit-* and
    Retry-After headers come only with a refusal, since reading a window for them costs two
    more calls (GET and TTL) after every hit, and nothing reads them on an allowed request
    (the API counts its keys itself, ``portal.api.auth``). tests/security/
    test_ratelimit_redis_calls.py counts the calls.
    """

    @property
    def current_limit(self):
        """The limit the headers describe: a breached one only (None while all allow)."""
        limit = super().current_limit
        return limit if limit is not None and limit.breached else None

    def _check_request_limit(self, callable_name=None, in_middleware=True):
        if in_middleware and callable_name is None and self._nothing_for_the_hook():
            return None
        return super()._check_request_limit(callable_name, in_middleware)

    def _nothing_for_the_hook(self) -> bool:
        manager = self.limit_manager
        return not (
            manager._application_limits
            or manager._default_limits
            or manager._blueprint_limits
            or self._meta_limits
            or self._storage_dead
            or manager.has_hints(self.identify_request() or "")
        )


limiter = _Limiter(key_func=get_remote_address, default_limits=[])
