"""Idempotency-Key on every POST, Stripe's semantics: a retry replays the first answer, other
parameters under the same key are refused, a key still in flight answers 409, and the stored
answers are purged after a day."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.api.errors import ApiError
from portal.api.idempotency import _unsealed
from tests.support.api import api_call, make_api_key, payment_body


def _count_requests(app) -> int:
    from portal.extensions import db
    from portal.models.capture import CaptureRequest

    with app.app_context():
        return db.session.execute(select(func.count()).select_from(CaptureRequest)).scalar_one()


def test_the_same_key_and_parameters_replay_the_first_answer(app, client, key, agent):
    body = payment_body(agent.username)
    first = api_call(client, "POST", "/requests", key, body, **{"Idempotency-Key": "k-1"})
    second = api_call(client, "POST", "/requests", key, body, **{"Idempotency-Key": "k-1"})
    assert first.status_code == second.status_code == 201
    assert second.get_json() == first.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _count_requests(app) == 1


def test_key_order_and_spacing_do_not_make_other_parameters(app, client, key, agent):
    body = payment_body(agent.username)
    api_call(client, "POST", "/requests", key, body, **{"Idempotency-Key": "k-2"})
    reordered = dict(reversed(list(body.items())))
    replay = api_call(client, "POST", "/requests", key, reordered, **{"Idempotency-Key": "k-2"})
    assert replay.headers.get("Idempotent-Replayed") == "true"


def test_the_same_key_with_other_parameters_is_refused(app, client, key, agent):
    api_call(
        client, "POST", "/requests", key, payment_body(agent.username), **{"Idempotency-Key": "k-3"}
    )
    other = payment_body(agent.username, amount=9999)
    response = api_call(client, "POST", "/requests", key, other, **{"Idempotency-Key": "k-3"})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["type"] == "idempotency_error" and error["code"] == "idempotency_key_reused"
    assert error["param"] == "Idempotency-Key"
    assert _count_requests(app) == 1


def test_keys_belong_to_one_api_key(app, client, key, agent):
    other_key = make_api_key(app, name="Dialler")
    body = payment_body(agent.username)
    api_call(client, "POST", "/requests", key, body, **{"Idempotency-Key": "shared"})
    theirs = api_call(client, "POST", "/requests", other_key, body, **{"Idempotency-Key": "shared"})
    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs.headers
    assert _count_requests(app) == 2


def test_a_key_still_in_flight_answers_409(app, client, key, agent):
    """The first request claimed the key and has not answered yet (a row without a response,
    as its INSERT leaves it): a retry meanwhile must not run the action a second time."""
    from portal.extensions import db
    from portal.models.api_key import ApiKey, IdempotentRequest
    from portal.models.types import utcnow

    body = payment_body(agent.username)
    with app.test_request_context(
        "/api/v1/requests", method="POST", json=body, headers={"Idempotency-Key": "busy"}
    ):
        from portal.api.idempotency import fingerprint

        mark = fingerprint()
        api_key = db.session.execute(select(ApiKey)).scalar_one()
        db.session.add(
            IdempotentRequest(
                api_key_id=api_key.id, idempotency_key="busy", fingerprint=mark, created_at=utcnow()
            )
        )
        db.session.commit()
    response = api_call(client, "POST", "/requests", key, body, **{"Idempotency-Key": "busy"})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "idempotency_key_in_use"
    assert _count_requests(app) == 0


def test_a_refusal_is_replayed_too_and_a_bad_key_is_refused(app, client, key, agent):
    body = payment_body(agent.username, amount=1)
    first = api_call(client, "POST", "/requests", key, body, **{"Idempotency-Key": "k-4"})
    again = api_call(client, "POST", "/requests", key, body, **{"Idempotency-Key": "k-4"})
    assert first.status_code == again.status_code == 400
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    long_key = api_call(client, "POST", "/requests", key, body, **{"Idempotency-Key": "x" * 256})
    assert long_key.get_json()["error"]["code"] == "idempotency_key_invalid"


def test_stored_answers_are_purged_after_a_day(app, client, key, agent):
    from portal import audit
    from portal.extensions import db
    from portal.models.api_key import IdempotentRequest
    from portal.models.types import utcnow
    from portal.retention import purge

    body = payment_body(agent.username)
    api_call(client, "POST", "/requests", key, body, **{"Idempotency-Key": "old"})
    api_call(
        client, "POST", "/requests", key, {**body, "reference": "R2"}, **{"Idempotency-Key": "new"}
    )
    with app.app_context():
        db.session.query(IdempotentRequest).filter_by(idempotency_key="old").update(
            {"created_at": utcnow() - timedelta(hours=25)}
        )
        db.session.commit()
        report = purge.run(dry_run=False, batch_size=10, actor=audit.RETENTION)
        assert report.counts["api_idempotency"] == {"idempotency_keys": 1}
        left = db.session.execute(select(IdempotentRequest.idempotency_key)).scalars().all()
        assert left == ["new"]


def test_a_key_older_than_a_day_is_a_new_request_even_before_the_purge(app, client, key, agent):
    from portal.extensions import db
    from portal.models.api_key import IdempotentRequest
    from portal.models.types import utcnow

    body = payment_body(agent.username)
    api_call(client, "POST", "/requests", key, body, **{"Idempotency-Key": "day-old"})
    with app.app_context():
        db.session.query(IdempotentRequest).update({"created_at": utcnow() - timedelta(hours=25)})
        db.session.commit()
    again = api_call(client, "POST", "/requests", key, body, **{"Idempotency-Key": "day-old"})
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert _count_requests(app) == 2


def test_a_stored_answer_holding_a_link_rests_sealed_and_replays_whole(app, client, key, agent):
    """Proves: a copy-link request's answer carries the customer's link; kept for replay, it is
    sealed with the data keyring (no trace of the link's token in the row), and a retry still
    gets the link, exactly as first given."""
    from portal.extensions import db
    from portal.models.api_key import IdempotentRequest

    body = payment_body(agent.username)
    first = api_call(client, "POST", "/requests", key, body, **{"Idempotency-Key": "k-link"})
    link = first.get_json()["link_url"]
    token = link.rsplit("/", 1)[1].encode()
    with app.app_context():
        row = db.session.execute(select(IdempotentRequest)).scalar_one()
        stored = b"".join(
            value if isinstance(value, bytes) else str(value).encode()
            for value in (row.response_key_id, row.response_nonce, row.response_ciphertext)
        )
        assert token not in stored and b"link_url" not in stored
        # Bound to its row: moved to another row, the same ciphertext does not open.
        moved = IdempotentRequest(
            id=row.id + 1000,
            response_key_id=row.response_key_id,
            response_nonce=row.response_nonce,
            response_ciphertext=row.response_ciphertext,
        )
        with pytest.raises(ApiError) as refused:
            _unsealed(moved)
        assert refused.value.code == "idempotency_answer_unreadable"
    again = api_call(client, "POST", "/requests", key, body, **{"Idempotency-Key": "k-link"})
    assert again.get_json()["link_url"] == link
    assert again.headers["Idempotent-Replayed"] == "true"
