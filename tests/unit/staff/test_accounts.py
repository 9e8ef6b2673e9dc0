"""Staff management rules: nobody acts on their own account; changes end sessions; audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.audit import Actor
from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.staff import StaffUser
from portal.staff import accounts as staff_accounts


@pytest.fixture
def accounts(make_staff):
    return make_staff("admin", mfa=True), make_staff("agent", team="North")


def test_nobody_acts_on_their_own_account(app, accounts):
    admin, _ = accounts
    with app.app_context():
        me = db.session.get(StaffUser, admin.id)
        actor = Actor.staff(me)
        for act in (
            lambda: staff_accounts.set_role(me, "auditor", actor=actor),
            lambda: staff_accounts.disable(me, actor=actor),
            lambda: staff_accounts.reset_mfa(me, actor=actor),
        ):
            with pytest.raises(staff_accounts.StaffRuleError, match="your own account"):
                act()
        db.session.rollback()
        assert (me.role, me.is_active, me.mfa_enabled) == ("admin", True, True)


def test_changes_are_audited_with_the_acting_admin(app, accounts):
    admin, agent = accounts
    with app.app_context():
        actor = Actor.staff(db.session.get(StaffUser, admin.id))
        target = db.session.get(StaffUser, agent.id)
        assert staff_accounts.set_role(target, "agent", actor=actor) == 0  # unchanged: nothing
        staff_accounts.set_role(target, "supervisor", actor=actor)
        assert staff_accounts.set_team(target, "South", actor=actor)
        assert not staff_accounts.set_team(target, "South", actor=actor)
        staff_accounts.set_team(target, "", actor=actor)
        db.session.commit()
        rows = db.session.execute(
            select(AuditEvent)
            .where(AuditEvent.action.like("staff.%_changed"))
            .order_by(AuditEvent.seq)
        ).scalars()
        assert [(r.action, r.actor_id, r.details.get("to")) for r in rows] == [
            ("staff.role_changed", admin.id, "supervisor"),
            ("staff.team_changed", admin.id, "South"),
            ("staff.team_changed", admin.id, None),
        ]


def test_a_team_name_with_a_card_number_is_refused(app, accounts):
    with app.app_context(), pytest.raises(staff_accounts.StaffRuleError):
        staff_accounts.get_or_create_team("4111 1111 1111 1111")
