"""When a re-authentication still counts."""

from __future__ import annotations

from datetime import timedelta

from portal.models.types import utcnow
from portal.staff.reauth import is_recent


def test_recent_means_within_the_configured_age(app):
    now = utcnow()
    with app.app_context():
        assert is_recent(now - timedelta(minutes=4, seconds=59), now)
        assert is_recent(now - timedelta(minutes=5), now)
        assert not is_recent(now - timedelta(minutes=5, seconds=1), now)
        assert not is_recent(None, now)
        assert not is_recent(now + timedelta(minutes=1), now)  # a clock from the future
