"""The event counters: what is counted is what was committed, and every label value comes
from its allow-list."""

from __future__ import annotations

from portal import audit
from portal.extensions import db
from portal.observability import metrics as m


def _funnel(stage: str) -> float:
    return m.FUNNEL.labels(stage=stage)._value.get()


def _record(action: str, **details) -> None:
    audit.record(action, actor=audit.SYSTEM, details=details)


def test_an_audited_moment_is_counted_when_it_commits(app):
    before = _funnel("opened")
    with app.app_context():
        _record("capture.opened")
        assert _funnel("opened") == before  # flushed, not yet committed
        db.session.commit()
    assert _funnel("opened") == before + 1


def test_a_rolled_back_moment_counts_nothing(app):
    before = _funnel("verified")
    with app.app_context():
        _record("capture.verified")
        db.session.rollback()
        db.session.commit()
    assert _funnel("verified") == before


def test_a_savepoint_rolled_back_takes_its_count_with_it(app):
    before_created, before_paid = _funnel("created"), _funnel("paid")
    with app.app_context():
        _record("capture.created")
        savepoint = db.session.begin_nested()
        _record("payment.succeeded")
        savepoint.rollback()
        assert _funnel("created") == before_created  # a savepoint ending commits nothing
        db.session.commit()
    assert (_funnel("created"), _funnel("paid")) == (before_created + 1, before_paid)


def test_a_released_savepoint_counts_with_its_transaction(app):
    before = _funnel("locked")
    locks = m.IDENTITY_CHECK_LOCKS._value.get()
    with app.app_context():
        with db.session.begin_nested():
            _record("capture.locked")
        assert _funnel("locked") == before
        db.session.commit()
    assert _funnel("locked") == before + 1
    assert m.IDENTITY_CHECK_LOCKS._value.get() == locks + 1


def test_decline_reasons_are_stripes_documented_codes_or_other():
    assert m.decline_reason({"decline_code": "insufficient_funds"}) == "insufficient_funds"
    assert m.decline_reason({"decline_code": None, "failure_code": "expired_card"}) == (
        "expired_card"
    )
    assert m.decline_reason({"decline_code": "jane@example.com"}) == "other"
    assert m.decline_reason({"decline_code": "4242424242424242"}) == "other"
    assert m.decline_reason({}) == "other"


def test_refund_steps_are_counted_by_status(app):
    requested = m.REFUNDS.labels(status="requested")._value.get()
    succeeded = m.REFUNDS.labels(status="succeeded")._value.get()
    with app.app_context():
        _record("refund.requested", refund_id=1)
        _record("refund.succeeded", refund_id=1)
        db.session.commit()
    assert m.REFUNDS.labels(status="requested")._value.get() == requested + 1
    assert m.REFUNDS.labels(status="succeeded")._value.get() == succeeded + 1


def test_unknown_directives_and_dispute_statuses_are_other():
    assert m.allowed("script-src-elem", m.CSP_DIRECTIVES) == "script-src-elem"
    assert m.allowed("script-src https://evil.example", m.CSP_DIRECTIVES) == "other"
    assert m.allowed(None, m.CSP_DIRECTIVES) == "other"
    assert m.allowed("closed", m.DISPUTE_STATUSES) == "closed"
    assert m.allowed("weird", m.DISPUTE_STATUSES) == "other"


def test_a_method_outside_http_is_other():
    before = m.HTTP_REQUESTS.labels(route="/healthz", method="other", status="400")._value.get()
    m.count_request("/healthz", "BREW", 400, 0.001)
    assert m.HTTP_REQUESTS.labels(route="/healthz", method="other", status="400")._value.get() == (
        before + 1
    )
