"""A back-office form interrupted by re-authentication comes back filled in.

When a sensitive action finds that the person must first confirm it is them
(``portal.backoffice.reauth``), what they submitted is kept so the page they return to opens
its form with it: they check it and submit once more, rather than typing a refund note or a
new colleague's details again.

Secrets are never kept: password fields and the CSRF token are left out, and are typed again.
The values travel in the person's session cookie, sealed (AES-256-GCM under the data keyring,
``portal.personal_data.crypto``) and bound to their staff session and the page they return to,
because a note or a reason may describe a customer and a signed cookie is readable. One form is
kept at a time, it is opened once, and only by the same kind of form on the same page.
"""

from __future__ import annotations

import base64
import binascii
import json
import time

from flask import flash, g, request, session
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict

from config.keyring import KeyringError
from portal.i18n import N_, gettext
from portal.personal_data.crypto import NONCE_BYTES, DecryptionError, Sealed, seal, unseal
from portal.personal_data.keyring import current_keyring

_SESSION_KEY = "kept_form"
#: Field types whose values are never kept (by WTForms' ``field.type``).
_NEVER_KEPT = frozenset({"PasswordField", "CSRFTokenField"})
#: Kept values older than this are not restored (the person gave up and came back later).
_KEPT_SECONDS = 15 * 60
#: A form bigger than this is not kept: the session cookie must stay well under 4 KB.
_MAX_CHARS = 2000
RESTORED = N_(
    "Confirmed. What you entered is filled in again, apart from passwords: check it and "
    "submit it once more."
)


def _bound_to(path: str) -> str:
    """What the ciphertext is bound to besides the staff session: the page it returns to."""
    return f"kept_form:{path}"


def keep(form: FlaskForm, back_to: str) -> None:
    """Keep what was posted in ``form`` (no secrets) for the page at ``back_to``.

    Keeps nothing when there is nothing to keep, no staff session, or no data keyring."""
    row = g.get("staff_session")
    if row is None or request.method != "POST":
        return
    values = {
        field.name: request.form.getlist(field.name)
        for field in form
        if field.type not in _NEVER_KEPT and request.form.getlist(field.name)
    }
    text = json.dumps(values)
    if not values or len(text) > _MAX_CHARS:
        return
    try:
        sealed = seal(current_keyring(), row.id, _bound_to(back_to), text)
    except KeyringError:
        return
    session[_SESSION_KEY] = {
        "to": back_to,
        "form": type(form).__name__,
        "at": int(time.time()),
        "key": sealed.key_id,
        "sealed": base64.urlsafe_b64encode(sealed.nonce + sealed.ciphertext).decode("ascii"),
    }


def restore(form_class: type[FlaskForm], **kwargs) -> FlaskForm | None:
    """A ``form_class`` filled with what was kept for this page, or None (nothing kept for
    this form here; not a GET; the kept values do not open). The kept values are used once."""
    kept = session.get(_SESSION_KEY)
    row = g.get("staff_session")
    if (
        request.method != "GET"
        or row is None
        or not isinstance(kept, dict)
        or kept.get("to") != request.path
        or kept.get("form") != form_class.__name__
        or not isinstance(kept.get("at"), int)
        or time.time() - kept["at"] > _KEPT_SECONDS
    ):
        return None
    session.pop(_SESSION_KEY, None)
    try:
        raw = base64.urlsafe_b64decode(str(kept["sealed"]).encode("ascii"))
        sealed = Sealed(str(kept["key"]), raw[:NONCE_BYTES], raw[NONCE_BYTES:])
        values = json.loads(unseal(current_keyring(), row.id, _bound_to(request.path), sealed))
    except (KeyError, binascii.Error, ValueError, DecryptionError, KeyringError):
        return None
    pairs = [(name, str(value)) for name, listed in values.items() for value in listed]
    flash(gettext(RESTORED), "info")
    return form_class(formdata=MultiDict(pairs), **kwargs)
