"""WebAuthn challenges kept on the server: single-use, short-lived, for one ceremony only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from portal.extensions import db
from portal.models.passkey import PasskeyChallenge
from portal.models.types import utcnow
from portal.staff import passkey_challenges


def test_a_challenge_is_taken_once(app, make_staff):
    user = make_staff("agent")
    with app.app_context():
        issued = passkey_challenges.issue("register", user.id)
        db.session.commit()
        assert len(issued.challenge) == 32
        taken = passkey_challenges.take(issued.token, "register")
        db.session.commit()
        assert taken == passkey_challenges.Taken(issued.challenge, user.id)
        assert passkey_challenges.take(issued.token, "register") is None
        # Only the token's hash is stored.
        stored = db.session.scalar(select(func.count()).select_from(PasskeyChallenge))
        assert stored == 0


def test_a_challenge_serves_its_own_ceremony_only_and_is_spent_by_trying(app):
    with app.app_context():
        issued = passkey_challenges.issue("sign_in", None)
        db.session.commit()
        assert passkey_challenges.take(issued.token, "register") is None
        assert passkey_challenges.take(issued.token, "sign_in") is None  # spent by the try


def _expire(challenge: bytes) -> None:
    db.session.execute(
        update(PasskeyChallenge)
        .where(PasskeyChallenge.challenge == challenge)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def test_an_expired_challenge_is_refused_and_swept(app):
    with app.app_context():
        old = passkey_challenges.issue("sign_in", None)
        db.session.commit()
        _expire(old.challenge)
        assert passkey_challenges.take(old.token, "sign_in") is None
        expired = passkey_challenges.issue("sign_in", None)
        db.session.commit()
        _expire(expired.challenge)
        passkey_challenges.issue("sign_in", None)  # sweeps the expired one on the way
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(PasskeyChallenge)) == 1


@pytest.mark.parametrize("token", [None, "", 42, "no-such-token"])
def test_no_or_unknown_token_is_nothing(app, token):
    with app.app_context():
        assert passkey_challenges.take(token, "sign_in") is None


def test_an_unknown_ceremony_is_a_programming_error(app):
    with app.app_context(), pytest.raises(ValueError):
        passkey_challenges.issue("login", None)
