"""How the back office shows times and its section navigation.

Times are stored in UTC and shown in the operator's time zone (``DELIVERY_TIMEZONE``, the zone
the contact centre works in), with the zone named so nobody has to guess.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, g

from portal.capture import kinds
from portal.i18n import N_, translated
from portal.live_status.panel import LABELS as REQUEST_STATUS_LABELS
from portal.payments.staff_words import payment_status_words
from portal.security.authz import Permission, has_permission

#: (endpoint, label, permission needed beyond the back office's own). Sections another module
#: adds appear once that module registers its endpoint. Labels are translated in ``nav_items``.
NAV_ITEMS: list[tuple[str, str, Permission | None]] = [
    ("backoffice.home", N_("Dashboard"), None),
    ("backoffice.transactions", N_("Transactions"), None),
    ("backoffice.refund_list", N_("Refunds"), Permission.TRANSACTIONS_VIEW_ALL),
    ("backoffice.data_requests", N_("Data-subject requests"), Permission.DATA_SUBJECT_REQUESTS),
    ("backoffice.audit_log", N_("Audit log"), Permission.AUDIT_VIEW),
    ("backoffice.staff_list", N_("Staff"), Permission.STAFF_MANAGE),
    ("backoffice.webhooks", N_("Webhooks"), Permission.SETTINGS_MANAGE),
    ("backoffice.api_keys", N_("API keys"), Permission.SETTINGS_MANAGE),
]


def operator_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("DELIVERY_TIMEZONE") or "UTC")


def local_time(value: datetime | None, fmt: str = "%d %b %Y %H:%M:%S") -> str:
    """``value`` in the operator's zone, e.g. ``03 Mar 2026 14:05:09``; "" for None."""
    if value is None:
        return ""
    return value.astimezone(operator_zone()).strftime(fmt)


def iso_utc(value: datetime | None) -> str:
    """Machine-readable UTC, for <time datetime=...> and the export."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")


def duration_words(seconds: float | None) -> str:
    """``754`` -> ``12 min 34 s``; "" for None."""
    if seconds is None:
        return ""
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def request_status_words(status: str | None) -> str:
    """A capture request's status as the console and the transactions list name it (the
    page's filter, so translated; exports keep the table's English)."""
    return translated(
        REQUEST_STATUS_LABELS.get(status) or (status or "").replace("_", " ").capitalize()
    )


def kind_words(kind: str | None) -> str:
    return translated(kinds.KINDS.get(kind or "", kind or ""))


def shown_payment_status_words(status: str | None) -> str:
    """``payment_status_words`` translated for the page."""
    return translated(payment_status_words(status))


def can(permission: str) -> bool:
    """For templates: may the signed-in staff member do ``permission`` (its value)?"""
    # The role copied at sign-in (portal.security.sessions.CurrentStaff), never the database
    # row: these helpers also run for error pages, drawn when the database may be gone.
    staff = g.get("current_staff")
    return staff is not None and has_permission(staff.role, Permission(permission))


def has_endpoint(endpoint: str) -> bool:
    return endpoint in current_app.view_functions


def nav_items() -> list[tuple[str, str]]:
    staff = g.get("current_staff")
    if staff is None:
        return []
    return [
        (endpoint, translated(label))
        for endpoint, label, permission in NAV_ITEMS
        if endpoint in current_app.view_functions
        and (permission is None or has_permission(staff.role, permission))
    ]


def init_display(bp: Blueprint) -> None:
    """Template helpers for every back-office page."""
    bp.add_app_template_filter(local_time, "backoffice_time")
    bp.add_app_template_filter(iso_utc, "iso_utc")
    bp.add_app_template_filter(duration_words, "duration_words")
    # Stripe's and our own status codes in words (portal.payments.staff_words, the console's
    # labels): a clerk never reads "requires_payment_method" or "in_progress".
    bp.add_app_template_filter(shown_payment_status_words, "payment_status_words")
    bp.add_app_template_filter(request_status_words, "request_status_words")
    bp.add_app_template_filter(kind_words, "kind_words")

    @bp.context_processor
    def _backoffice_globals() -> dict:
        return {
            "backoffice_nav": nav_items(),
            "backoffice_can": can,
            "has_endpoint": has_endpoint,
            "zone_label": current_app.config.get("DELIVERY_TIMEZONE_LABEL") or "UTC",
        }
