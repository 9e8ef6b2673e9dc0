"""Who may reach a view: the blueprint gate and the per-view permission decorator.

Every staff blueprint calls ``gate_blueprint`` once, so a new route on it is protected by
default; ``requires`` narrows a single view further.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import Blueprint, abort, g, jsonify, redirect, request, url_for

from portal.errors import wants_json
from portal.security.authz import Permission, has_permission, mfa_required


def _not_logged_in():
    if wants_json():
        response = jsonify(error="not_authenticated", message="Your session has ended. Log in.")
        response.status_code = 401
        return response
    target = request.full_path if request.method == "GET" else None
    if target and target.endswith("?"):
        target = target[:-1]
    return redirect(url_for("auth.login", next=target))


#: The only page a temporary password opens (logout needs no sign-in at all).
_CHANGE_PAGES = frozenset({"auth.change_password"})


def _password_change_required():
    if wants_json():
        response = jsonify(
            error="password_change_required", message="Choose a new password to continue."
        )
        response.status_code = 403
        return response
    return redirect(url_for("auth.change_password"))


def check_staff(permission: Permission | None = None, *, allow_partial: bool = False):
    """Return a response that stops the request, or None to let it through.

    ``allow_partial`` admits a session that has passed the password but not yet the second
    factor (only the MFA pages themselves use it).
    """
    user, row = g.get("staff_user"), g.get("staff_session")
    if user is None or row is None:
        return _not_logged_in()
    if not row.mfa_verified and not allow_partial:
        if user.has_second_factor:  # an authenticator app or a passkey
            return redirect(url_for("auth.mfa_verify"))
        return redirect(url_for("auth.mfa_setup"))
    if (
        not allow_partial
        and mfa_required(user.role)  # first: has_second_factor may ask the database (passkeys)
        and not user.has_second_factor
        and not row.mfa_by_provider  # the single sign-on provider proved one (portal.sso)
    ):
        # A session signed in with a password alone while the role did not need a second
        # factor (before an upgrade made it required, or AGENT_MFA_REQUIRED was turned on)
        # reaches nothing until one is enrolled.
        return redirect(url_for("auth.mfa_setup"))
    if user.password_must_change and not allow_partial and request.endpoint not in _CHANGE_PAGES:
        # An administrator's temporary password opens the change-password page only.
        return _password_change_required()
    if permission is not None and not has_permission(user.role, permission):
        abort(403)
    return None


def gate_blueprint(blueprint: Blueprint, permission: Permission) -> None:
    """Require a fully authenticated staff member with ``permission`` on every route."""

    @blueprint.before_request
    def _gate():
        return check_staff(permission)


def requires(permission: Permission, *, allow_partial: bool = False) -> Callable:
    """Decorator for a single view: ``permission`` on top of whatever its blueprint demands."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            stop = check_staff(permission, allow_partial=allow_partial)
            return stop if stop is not None else view(*args, **kwargs)

        return wrapped

    return decorator


def login_required(view: Callable | None = None, *, allow_partial: bool = False) -> Callable:
    """Decorator: any logged-in staff member, whatever the role."""

    def decorator(inner: Callable) -> Callable:
        @wraps(inner)
        def wrapped(*args, **kwargs):
            stop = check_staff(None, allow_partial=allow_partial)
            return stop if stop is not None else inner(*args, **kwargs)

        return wrapped

    return decorator(view) if view is not None else decorator
