"""The event counters Postern exposes to Prometheus, and the one place they are counted.

Most are counted from the audit trail: every moment the capture funnel, a decline, a refund,
a staff lockout or an identity-check lock is already an audit row, so a single hook on the
database session maps the audit actions that were *committed* to counters (a rolled-back
action counts nothing). CSP reports are counted from the report rows committed. Disputes are
not handled by Postern, so the Stripe webhook events about them are counted as they arrive
(``count_dispute_event``). HTTP requests are counted by ``portal.observability.http``.

Label values come only from the allow-lists below, never from what a person or a provider
typed: anything else is "other". No label ever holds a token, an id or anything personal.

Under gunicorn, ``PROMETHEUS_MULTIPROC_DIR`` (set by config/gunicorn.conf.py before any worker
starts) makes these counters write to files shared by every worker; it must be set before this
module is first imported. Without it they live in this process (the dev server, tests, CLI).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.models.audit import AuditEvent
from portal.models.csp_report import CspReport

# No "<name>_created" series beside each counter: twice the series for nothing Postern uses.
disable_created_metrics()

#: This process's counters (single-process mode). Not prometheus_client's global REGISTRY, so
#: that nothing else registered there (by a library) is exposed by accident.
EVENTS = CollectorRegistry(auto_describe=True)

OTHER = "other"

FUNNEL_STAGES = (
    "created",
    "delivered",
    "opened",
    "verified",
    "data_captured",
    "paid",
    "expired",
    "locked",
)
#: audit action -> funnel stage.
FUNNEL_ACTIONS = {
    "capture.created": "created",
    "delivery.sent": "delivered",
    "capture.opened": "opened",
    "capture.verified": "verified",
    "data.submitted": "data_captured",
    "payment.succeeded": "paid",
    "capture.expired": "expired",
    "capture.locked": "locked",
}
#: Stripe's decline codes (https://docs.stripe.com/declines/codes), and the failure codes
#: that stand in for one when the bank gave none.
DECLINE_REASONS = frozenset(
    {
        "approve_with_id",
        "authentication_required",
        "call_issuer",
        "card_declined",
        "card_not_supported",
        "card_velocity_exceeded",
        "currency_not_supported",
        "do_not_honor",
        "do_not_try_again",
        "duplicate_transaction",
        "expired_card",
        "fraudulent",
        "generic_decline",
        "incorrect_cvc",
        "incorrect_number",
        "incorrect_pin",
        "incorrect_zip",
        "insufficient_funds",
        "invalid_account",
        "invalid_amount",
        "invalid_cvc",
        "invalid_expiry_month",
        "invalid_expiry_year",
        "invalid_number",
        "invalid_pin",
        "issuer_not_available",
        "lost_card",
        "merchant_blacklist",
        "new_account_information_available",
        "no_action_taken",
        "not_permitted",
        "offline_pin_required",
        "online_or_offline_pin_required",
        "payment_intent_authentication_failure",
        "pickup_card",
        "pin_try_exceeded",
        "processing_error",
        "reenter_transaction",
        "restricted_card",
        "revocation_of_all_authorizations",
        "revocation_of_authorization",
        "security_violation",
        "service_not_allowed",
        "stolen_card",
        "stop_payment_order",
        "testmode_decline",
        "transaction_not_allowed",
        "try_again_later",
        "withdrawal_count_exceeded",
    }
)
#: audit action -> refund status counted.
REFUND_ACTIONS = {
    "refund.requested": "requested",
    "refund.approved": "approved",
    "refund.rejected": "rejected",
    "refund.submitted": "submitted",
    "refund.submit_deferred": "deferred",
    "refund.succeeded": "succeeded",
    "refund.failed": "failed",
}
#: What ``charge.dispute.<status>`` events Stripe sends.
DISPUTE_STATUSES = frozenset(
    {"created", "updated", "closed", "funds_withdrawn", "funds_reinstated"}
)
#: Content Security Policy directive names (CSP Level 3 and Reporting), the only values the
#: directive label takes.
CSP_DIRECTIVES = frozenset(
    {
        "base-uri",
        "child-src",
        "connect-src",
        "default-src",
        "font-src",
        "form-action",
        "frame-ancestors",
        "frame-src",
        "img-src",
        "manifest-src",
        "media-src",
        "object-src",
        "prefetch-src",
        "report-to",
        "report-uri",
        "require-trusted-types-for",
        "sandbox",
        "script-src",
        "script-src-attr",
        "script-src-elem",
        "style-src",
        "style-src-attr",
        "style-src-elem",
        "trusted-types",
        "upgrade-insecure-requests",
        "worker-src",
    }
)
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Seconds; from a cached page to a slow Stripe call behind a form.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter(
    "postern_http_requests",
    "HTTP requests answered, by route pattern, method and status code.",
    ["route", "method", "status"],
    registry=EVENTS,
)
HTTP_DURATION = Histogram(
    "postern_http_request_duration_seconds",
    "Time to answer an HTTP request, by route pattern and method.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
    registry=EVENTS,
)
FUNNEL = Counter(
    "postern_capture_funnel",
    "Capture requests reaching each stage of the funnel.",
    ["stage"],
    registry=EVENTS,
)
DECLINES = Counter(
    "postern_payment_declines",
    "Card payment attempts declined, by Stripe decline code.",
    ["reason"],
    registry=EVENTS,
)
REFUNDS = Counter("postern_refunds", "Refund steps, by status.", ["status"], registry=EVENTS)
DISPUTES = Counter(
    "postern_disputes", "Stripe dispute events received, by status.", ["status"], registry=EVENTS
)
CSP_REPORTS = Counter(
    "postern_csp_reports",
    "Content Security Policy violations reported by browsers, by directive.",
    ["directive"],
    registry=EVENTS,
)
STAFF_LOCKOUTS = Counter(
    "postern_staff_lockouts", "Staff accounts locked after failed sign-ins.", registry=EVENTS
)
IDENTITY_CHECK_LOCKS = Counter(
    "postern_identity_check_locks",
    "Capture requests locked after wrong identity answers.",
    registry=EVENTS,
)

# Every allowed label value starts at zero, so a rate is defined before the first event.
for _stage in FUNNEL_STAGES:
    FUNNEL.labels(stage=_stage)


def allowed(value: Any, allow_list: frozenset[str]) -> str:
    """``value`` if it is in ``allow_list``, else "other"."""
    return value if isinstance(value, str) and value in allow_list else OTHER


def decline_reason(details: dict[str, Any]) -> str:
    """The label for a failed payment attempt's audit details: its decline code, or its
    failure code when the bank gave none, each only if Stripe documents it."""
    for code in (details.get("decline_code"), details.get("failure_code")):
        if isinstance(code, str) and code in DECLINE_REASONS:
            return code
    return OTHER


def count_audit_action(action: str, details: dict[str, Any] | None) -> None:
    """Count one committed audit row, if its action is one that is counted."""
    stage = FUNNEL_ACTIONS.get(action)
    if stage:
        FUNNEL.labels(stage=stage).inc()
    if action == "capture.locked":
        IDENTITY_CHECK_LOCKS.inc()
    elif action == "auth.account_locked":
        STAFF_LOCKOUTS.inc()
    elif action == "payment.failed":
        DECLINES.labels(reason=decline_reason(details or {})).inc()
    elif action in REFUND_ACTIONS:
        REFUNDS.labels(status=REFUND_ACTIONS[action]).inc()


def note_audit_row(row: AuditEvent) -> None:
    """The audit listener (``portal.audit.service.AUDIT_LISTENERS``): count ``row`` when the
    transaction that recorded it commits. Audit rows reach the database by Core statements at
    the commit, so the flush hook below never sees them."""
    session = _current_session()
    action, details = row.action, row.details
    _pending_in(session).append((_innermost(session), lambda: count_audit_action(action, details)))


def count_csp_report(effective_directive: str | None) -> None:
    CSP_REPORTS.labels(directive=allowed(effective_directive, CSP_DIRECTIVES)).inc()


def count_dispute_event(event_type: str) -> None:
    """Count a Stripe ``charge.dispute.*`` event when the transaction recording it commits
    (other event types are not counted)."""
    prefix = "charge.dispute."
    if event_type.startswith(prefix):
        status = allowed(event_type[len(prefix) :], DISPUTE_STATUSES)
        session = _current_session()
        _pending_in(session).append(
            (_innermost(session), lambda: DISPUTES.labels(status=status).inc())
        )


def count_request(route: str, method: str, status: int, seconds: float) -> None:
    """``route`` is the URL rule ("/c/<token>"), never the path requested."""
    method = allowed(method, HTTP_METHODS)
    HTTP_REQUESTS.labels(route=route, method=method, status=str(int(status))).inc()
    HTTP_DURATION.labels(route=route, method=method).observe(seconds)


# --- counting what was committed ---------------------------------------------------------------

_PENDING = "postern.metrics_pending"


def _current_session() -> Session:
    from portal.extensions import db

    return db.session()


def _innermost(session: Session):
    return session.get_nested_transaction() or session.get_transaction()


def _pending_in(session: Session) -> list:
    """(transaction, count) pairs flushed in ``session`` and not yet committed."""
    return session.info.setdefault(_PENDING, [])


@event.listens_for(Session, "after_flush")
def _note_counted_rows(session: Session, _flush_context) -> None:
    transaction = _innermost(session)
    pending = None
    for row in session.new:
        if isinstance(row, AuditEvent):
            action, details = row.action, row.details

            def count(action=action, details=details):
                count_audit_action(action, details)

        elif isinstance(row, CspReport):
            directive = row.effective_directive

            def count(directive=directive):
                count_csp_report(directive)

        else:
            continue
        pending = pending if pending is not None else _pending_in(session)
        pending.append((transaction, count))


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint released: its rows are not committed until the transaction is
    for _transaction, count in session.info.pop(_PENDING, []):
        count()


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous_transaction) -> None:
    """Whatever was flushed inside the transaction or savepoint rolled back is forgotten (the
    audit trail retries a savepoint on SQLite when two processes append at once)."""
    pending = session.info.get(_PENDING)
    if not pending:
        return
    session.info[_PENDING] = [
        (transaction, count)
        for transaction, count in pending
        if not _within(transaction, previous_transaction)
    ]


def _within(transaction, ancestor) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False
