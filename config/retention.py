"""Retention policy: how long each class of data is kept, as data.

One mapping, data class -> period, read by the customer notice ("we keep this for 30 days after
your request is completed") and by the purge commands. A period counts from the moment named in
``RETENTION_STARTS`` for that class. Changing a period here changes what customers are told and
what the purge removes, together.
"""

from __future__ import annotations

from datetime import timedelta

#: Seven calendar years, counting the (at most two) leap days they can hold.
SEVEN_YEARS = timedelta(days=7 * 365 + 2)

RETENTION: dict[str, timedelta] = {
    # Personal data a customer typed in (UK GDPR storage limitation: no longer than needed).
    "personal_data": timedelta(days=30),
    # Capture links, their delivery records (phone numbers, email addresses) and outbox rows.
    "link_and_delivery": timedelta(days=90),
    # Tokenised payment records (ids, amounts, last4): kept for accounting and disputes.
    "payment_records": SEVEN_YEARS,
    # The hash-chained audit trail (PCI DSS 10.5.1 asks for at least 12 months; we keep 7 years).
    "audit_log": SEVEN_YEARS,
    # Content-Security-Policy violation reports.
    "csp_reports": timedelta(days=90),
    # Stripe webhook events received (ids and outcomes only); one still queued is never purged.
    "webhook_events": timedelta(days=90),
    # The integration API's stored answers to Idempotency-Key retries (Stripe keeps them 24 h).
    "api_idempotency": timedelta(hours=24),
    # Staff sign-in sessions (device in words, address): the account page shows live ones only;
    # sign-ins and sign-outs stay in the audit trail.
    "staff_sessions": timedelta(days=90),
}

#: What each period counts from, in words a customer understands.
RETENTION_STARTS: dict[str, str] = {
    "personal_data": "after your request is completed",
    "link_and_delivery": "after the link is sent",
    "payment_records": "after the payment",
    "audit_log": "after the event",
    "csp_reports": "after the report is received",
    "webhook_events": "after the event is handled",
    "api_idempotency": "after the API request",
    "staff_sessions": "after the session was last used",
}


def retention_period(data_class: str) -> timedelta:
    """The period for ``data_class``. Raises KeyError naming the unknown class."""
    try:
        return RETENTION[data_class]
    except KeyError:
        raise KeyError(f"no retention period for data class {data_class!r}") from None


def describe_period(period: timedelta) -> str:
    """A period in plain words: ``30 days``, ``7 years``, ``1 day``."""
    days = period.days
    years, spare = divmod(days, 365)
    if years and spare <= 2:
        return f"{years} year{'s' if years != 1 else ''}"
    return f"{days} day{'s' if days != 1 else ''}"


def describe_retention(data_class: str) -> str:
    """How long ``data_class`` is kept, in words: ``30 days after your request is completed``."""
    return f"{describe_period(retention_period(data_class))} {RETENTION_STARTS[data_class]}"
