"""Security notifications to admins, carried by the same outbox as customers' links.

A notification (``portal.models.security_notification``) is queued as one email message per
admin, in the caller's transaction, and sent by the outbox worker like any other message:
same lease, retries, SMTP gateway and development outbox page. Such a message belongs to its
notification instead of a capture request, has no link to seal, and is never cancelled by a
request closing. Its words are rendered from the notification row only when it is sent, and
hold no customer data and no token: the kind, counts, the time window, details such as CSP
directive or worker names, and a link to a back-office page.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app, render_template

from portal.delivery.destinations import EMAIL, normalise_destination
from portal.delivery.gateways import DISABLED, configured_backend
from portal.delivery.outbox import add_queued_message
from portal.delivery.wording import RenderedMessage, describe_expiry
from portal.extensions import db
from portal.models.delivery import DeliveryMessage
from portal.models.security_notification import SecurityNotification

#: What each kind of notification is about, in the subject line and the first sentence.
SUBJECTS = {
    "staff_lockouts": "staff sign-in lockouts",
    "identity_locks": "capture requests locked by failed identity checks",
    "payment_page_csp": "CSP violations on the payment page",
    "audit_chain_broken": "the audit trail does not verify",
    "worker_silent": "a background worker has gone silent",
    "webhook_endpoint_disabled": "a webhook endpoint was disabled after failing",
}


def queue_staff_notice(notification: SecurityNotification, address: str) -> DeliveryMessage | None:
    """Add an email carrying ``notification`` to ``address`` to the current transaction.

    Returns the message, or None when email is switched off here (``disabled``) or the address
    is not a valid one: a notification must never stop the check that raised it. The caller
    commits (and audits the notification). Never contacts a provider.
    """
    backend = configured_backend(EMAIL, current_app.config)
    if backend == DISABLED:
        return None
    try:
        normalised = normalise_destination(EMAIL, address)
    except ValueError:
        return None
    return add_queued_message(EMAIL, backend, normalised, security_notification_id=notification.id)


def render_staff_notice(message: DeliveryMessage) -> RenderedMessage:
    """The email of a notification message, rendered now from its notification row. Needs an
    application context (configuration, templates)."""
    notification = db.session.get(SecurityNotification, message.security_notification_id)
    config = current_app.config
    page_url = config["PUBLIC_BASE_URL"].rstrip("/") + notification.page_path
    context = {
        "org_name": config["ORG_NAME"],
        "about": SUBJECTS.get(notification.kind, notification.kind),
        "facts": facts_of(notification, int(config["ALERTS_THROTTLE_MINUTES"])),
        "to_do": TO_DO.get(notification.kind, ""),
        "page_url": page_url,
    }
    subject = f"{config['ORG_NAME']} security notice: {context['about']}"
    return RenderedMessage(
        subject=subject,
        text_body=_tidy(render_template("messages/security_notice_email.txt", **context)),
        html_body=render_template("messages/security_notice_email.html", **context),
        link_url=page_url,
    )


#: The first thing to do, per kind; docs/alerts.md has the whole runbook.
TO_DO = {
    "staff_lockouts": (
        "Check in the staff list which accounts are locked and ask their owners whether the "
        "failed sign-ins were theirs; if not, treat it as an attack on staff passwords."
    ),
    "identity_locks": (
        "Ask the agents of the locked requests whether the customers really failed the check; "
        "many at once suggests someone is trying links they should not have."
    ),
    "payment_page_csp": (
        "Run flask integrity check against the payment page and compare its scripts with the "
        "baseline; an unexplained script is a possible card skimmer (PCI DSS 11.6.1)."
    ),
    "audit_chain_broken": (
        "Run flask audit verify to find the first bad row, keep the database as it is, and "
        "tell your security lead (docs/audit-trail.md)."
    ),
    "worker_silent": (
        "Check that the named worker's service is running (flask outbox work, flask webhooks "
        "work) and read its log; restart it if it is stuck."
    ),
    "webhook_endpoint_disabled": (
        "Open the endpoint's delivery log in the back office, ask its owner to fix their "
        "receiver, then enable it again: what was waiting for it is sent then (docs/webhooks.md)."
    ),
}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _between(start_at: datetime, end_at: datetime) -> str:
    """``"between 22:11 and 22:26 UK time"``: the zone (and the day, if not today) said once
    when both ends share it."""
    start, end = describe_expiry(start_at), describe_expiry(end_at)
    start_time, _, start_rest = start.partition(" ")
    if start_rest == end.partition(" ")[2]:
        return f"between {start_time} and {end}"
    return f"between {start} and {end}"


def facts_of(notification: SecurityNotification, throttle_minutes: int) -> list[str]:
    """What the notification says happened, in sentences: counts, the window and non-personal
    details only."""
    details = notification.details or {}
    between = _between(notification.window_started_at, notification.window_ended_at)
    count, kind = notification.event_count, notification.kind
    facts = []
    if kind == "staff_lockouts":
        facts.append(
            f"{_plural(count, 'staff sign-in lockout')} {between}"
            f" ({_plural(details.get('accounts', count), 'account')})."
        )
    elif kind == "identity_locks":
        facts.append(
            f"{_plural(count, 'capture request')} locked after failed identity checks {between}."
        )
    elif kind == "payment_page_csp":
        directives = details.get("directives", {})
        named = ", ".join(f"{name} {n}" for name, n in sorted(directives.items()))
        facts.append(
            f"{_plural(count, 'CSP violation report')} from the payment page {between}"
            + (f" (by directive: {named})." if named else ".")
        )
    elif kind == "audit_chain_broken":
        seq = details.get("first_bad_seq")
        where = f" at row {seq}" if seq else ""
        checked = describe_expiry(notification.window_ended_at)
        facts.append(f"The audit trail failed verification{where}, checked at {checked}.")
        if details.get("damage"):
            facts.append(f"Against its last anchor it looks {details['damage']}.")
    elif kind == "worker_silent":
        for worker in details.get("workers", []):
            facts.append(
                f"The {worker['name']} worker has not reported since "
                f"{describe_expiry(datetime.fromisoformat(worker['last_beat_at']))} "
                f"(it promised to every {worker['interval_seconds']:g} seconds)."
            )
    elif kind == "webhook_endpoint_disabled":
        facts.append(
            f"The webhook endpoint at {details.get('host')} failed "
            f"{_plural(count, 'delivery attempt')} in a row {between}, so Postern stopped "
            "sending to it."
        )
    if details.get("threshold"):
        facts.append(
            f"A notice is sent at {details['threshold']} or more within "
            f"{details['minutes']} minutes."
        )
    if notification.suppressed_count:
        facts.append(
            f"{notification.suppressed_count} more were held back after the previous notice "
            f"of this kind (at most one is sent every {throttle_minutes} minutes)."
        )
    return facts


def _tidy(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())
