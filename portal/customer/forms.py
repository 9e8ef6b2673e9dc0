"""Customer forms: Start (only a CSRF token, bound to the link) and the identity question."""

from __future__ import annotations

import hashlib
import hmac
import logging

from flask import current_app, request
from flask_wtf import FlaskForm
from flask_wtf.csrf import same_origin
from itsdangerous import BadData, URLSafeTimedSerializer
from wtforms import StringField
from wtforms.csrf.core import CSRF
from wtforms.validators import DataRequired, Length, ValidationError

from portal.i18n import lazy_gettext
from portal.security.validators import NoCardNumbers

logger = logging.getLogger(__name__)

#: Start's tokens are signed apart from every other token the secret key signs.
START_SALT = "postern.customer.start"


def start_token_serializer(**kwargs) -> URLSafeTimedSerializer:
    """Signs Start's CSRF tokens (``kwargs`` as itsdangerous takes them, e.g. ``signer``)."""
    return URLSafeTimedSerializer(current_app.secret_key, salt=START_SALT, **kwargs)


def _link_digest(link_token: str) -> str:
    # The form carries a digest, not the link itself, which stays in the address alone.
    return hashlib.sha256(link_token.encode()).hexdigest()


class LinkBoundCSRF(CSRF):
    """Start's CSRF token, bound to the link (``csrf_context``) instead of the session.

    Rendering the landing page then writes no session cookie. The token is no secret from
    whoever holds the link (any browser that opens it gets one), so it proves only that the
    form came from this link's page; what refuses another site's page is the rest of the
    check: an Origin header must name this site, a browser's ``Sec-Fetch-Site`` must not say
    cross-site, and over HTTPS under WTF_CSRF_SSL_STRICT the Referer must name this site, as
    ``CSRFProtect`` requires of every other form. Pressing Start on someone else's link gains
    nothing a CSRF could add: the link is the bearer secret, and the first browser to press
    Start keeps the request (``portal.capture.customer``).
    """

    def setup_form(self, form):
        self.meta = form.meta
        return super().setup_form(form)

    def generate_csrf_token(self, csrf_token_field) -> str:
        return start_token_serializer().dumps(_link_digest(self.meta.csrf_context))

    def validate_csrf_token(self, form, field) -> None:
        # One answer for every refusal (the page says the form expired); the log says which.
        reason = _refusal(field.data, self.meta)
        if reason is not None:
            logger.info("Start refused: %s", reason)
            raise ValidationError("The form has expired.")


def _refusal(token, meta) -> str | None:
    """Why Start's token or its sender is refused, or None."""
    if not isinstance(token, str) or not token:
        return "no token"
    try:
        signed_for = start_token_serializer().loads(token, max_age=meta.csrf_time_limit)
    except BadData:
        return "the token is garbled, forged or expired"
    if not isinstance(signed_for, str) or not hmac.compare_digest(
        signed_for, _link_digest(meta.csrf_context)
    ):
        return "the token is another link's"
    return _other_site()


def _other_site() -> str | None:
    """Why the form looks posted from another site, or None."""
    origin = request.headers.get("Origin")
    if origin is not None and not _same_origin(origin, request.host_url):
        return "the Origin is another site (or opaque)"
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        return "the browser says the form came from another site"
    if request.is_secure and current_app.config["WTF_CSRF_SSL_STRICT"]:
        # Flask-WTF's own referrer check, applied to every other form by CSRFProtect.
        if not request.referrer:
            return "no Referer over HTTPS"
        if not _same_origin(request.referrer, f"https://{request.host}/"):
            return "the Referer is another site"
    return None


def _same_origin(url: str, ours: str) -> bool:
    try:
        return same_origin(url, ours)
    except ValueError:  # a malformed header (e.g. a port out of range) is no origin of ours
        return False


class StartForm(FlaskForm):
    """Pressing Start: a POST with a CSRF token, so no link preview can ever do it. The token
    is bound to the link (``LinkBoundCSRF``), so the landing page needs no session."""

    class Meta:
        csrf_class = LinkBoundCSRF

    def __init__(self, link_token: str, **kwargs):
        super().__init__(meta={"csrf_context": link_token}, **kwargs)


class DeclineForm(FlaskForm):
    """Confirming "I do not want to give these details": a POST with a CSRF token, sent from
    the page that asks "Are you sure?"."""


class IdentityForm(FlaskForm):
    answer = StringField(
        lazy_gettext("Your answer"),
        validators=[
            DataRequired(lazy_gettext("Enter your answer.")),
            Length(max=80, message=lazy_gettext("Your answer must be 80 characters or fewer.")),
            NoCardNumbers(
                lazy_gettext("This looks like a card number. Never type card details here.")
            ),
        ],
        render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"},
    )
