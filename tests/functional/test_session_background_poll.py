"""The console's automatic status polls keep working but never count as staff activity.

Otherwise an unattended console, polling every 1.5 s, would never reach the 15-minute idle
timeout that PCI DSS 8.2.8 requires.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from portal.extensions import db
from portal.models.staff import StaffSession
from portal.models.types import utcnow

POLL_HEADERS = {"Accept": "application/json", "X-Postern-Background": "poll"}


def _age_sessions(app, user_id: int, minutes: int) -> None:
    with app.app_context():
        db.session.execute(
            update(StaffSession)
            .where(StaffSession.user_id == user_id)
            .values(last_seen_at=utcnow() - timedelta(minutes=minutes))
        )
        db.session.commit()


def _last_seen(app, user_id: int):
    with app.app_context():
        return db.session.query(StaffSession.last_seen_at).filter_by(user_id=user_id).scalar()


def test_polls_do_not_refresh_the_idle_clock_but_clicks_do(app, logged_in):
    client, agent = logged_in("agent")
    _age_sessions(app, agent.id, minutes=10)
    before = _last_seen(app, agent.id)

    assert client.get("/agent/api/requests", headers=POLL_HEADERS).status_code == 200
    assert _last_seen(app, agent.id) == before

    assert client.get("/agent/").status_code == 200
    assert _last_seen(app, agent.id) > before


def test_an_unattended_polling_console_still_times_out(app, logged_in):
    client, agent = logged_in("agent")
    _age_sessions(app, agent.id, minutes=14)
    assert client.get("/agent/api/requests", headers=POLL_HEADERS).status_code == 200

    _age_sessions(app, agent.id, minutes=16)
    expired = client.get("/agent/api/requests", headers=POLL_HEADERS)
    assert expired.status_code == 401
    assert expired.get_json()["error"] == "not_authenticated"
