"""API keys: their format, only a hash stored, shown once, created and revoked by admins in the
back office (re-authenticated, CSRF on) and by ``flask apikeys``, audited; last use noted at
most once a minute."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from tests.support.api import api_call, make_api_key
from tests.support.backoffice_write import audit_rows, reauth
from tests.support.web import csrf_from, login, post_form

KEY_SHAPE = re.compile(r"^pstn_live_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$")


def _stored(app):
    from portal.extensions import db
    from portal.models.api_key import ApiKey

    with app.app_context():
        rows = db.session.execute(select(ApiKey)).scalars().all()
        db.session.expunge_all()
        return rows


def test_a_key_has_a_visible_prefix_and_only_its_hash_is_stored(app, agent):
    import hashlib

    text = make_api_key(app, scopes=["requests:read", "payments:read"])
    assert KEY_SHAPE.match(text)
    (row,) = _stored(app)
    assert row.prefix == text[:18] and row.lookup_id == text[10:18]
    assert row.secret_hash == hashlib.sha256(text.encode()).hexdigest()
    assert text[19:] not in str(row.__dict__)
    assert row.scopes == "requests:read payments:read"


def test_last_use_is_written_at_most_once_a_minute(app, client, key):
    from portal.api_keys import service
    from portal.extensions import db
    from portal.models.api_key import ApiKey

    assert _stored(app)[0].last_used_at is None
    api_call(client, "GET", "/requests", key)
    first = _stored(app)[0].last_used_at
    assert first is not None
    api_call(client, "GET", "/requests", key)
    assert _stored(app)[0].last_used_at == first
    with app.app_context():
        row = db.session.execute(select(ApiKey)).scalar_one()
        assert not service.note_use(row, now=first + timedelta(seconds=59))
        assert service.note_use(row, now=first + timedelta(seconds=61))


def _admin(app, make_staff):
    client = app.test_client()
    admin = make_staff("admin", mfa=True)
    login(client, admin)
    return client, admin


def test_an_admin_creates_a_key_after_reauthenticating_and_sees_it_once(app, make_staff):
    from portal.extensions import db
    from portal.staff.accounts import get_or_create_team

    with app.app_context():
        team_id = get_or_create_team("North").id
        db.session.commit()
    client, admin = _admin(app, make_staff)
    form = {"name": "Our CRM", "team": str(team_id), "scopes": ["requests:write", "requests:read"]}
    page = client.get("/backoffice/api-keys").get_data(as_text=True)
    asked = post_form(client, "/backoffice/api-keys", form, page=page)
    assert asked.status_code == 303 and "/backoffice/reauth" in asked.headers["Location"]
    assert _stored(app) == []
    assert reauth(client, admin).status_code == 303
    created = post_form(client, "/backoffice/api-keys", form, page=page)
    assert created.status_code == 200
    text = re.search(r"pstn_live_[a-z0-9]{8}_[A-Za-z0-9_-]{43}", created.get_data(as_text=True))
    assert text, "the new key is shown"
    listing = client.get("/backoffice/api-keys").get_data(as_text=True)
    assert text.group(0)[:18] in listing and text.group(0) not in listing
    (row,) = _stored(app)
    assert row.created_by_id == admin.id and row.team_id == team_id
    (audited,) = audit_rows(app, "api_key.created")
    assert audited.actor_label == admin.username and audited.target_id == row.prefix
    assert text.group(0)[19:] not in str(audited.details)


def test_the_form_refuses_without_csrf_and_without_a_scope(app, make_staff):
    client, admin = _admin(app, make_staff)
    assert reauth(client, admin).status_code == 303
    no_token = client.post("/backoffice/api-keys", data={"name": "X", "team": "1"})
    assert no_token.status_code == 400
    page = client.get("/backoffice/api-keys").get_data(as_text=True)
    missing = post_form(client, "/backoffice/api-keys", {"name": "X"}, page=page)
    assert missing.status_code == 400 and "Choose at least one scope" in missing.get_data(
        as_text=True
    )
    assert _stored(app) == []


def test_an_admin_revokes_a_key_and_it_stops_at_once(app, client, key, make_staff):
    admin_client, admin = _admin(app, make_staff)
    assert api_call(client, "GET", "/requests", key).status_code == 200
    assert reauth(admin_client, admin).status_code == 303
    (row,) = _stored(app)
    page = admin_client.get("/backoffice/api-keys").get_data(as_text=True)
    response = admin_client.post(
        f"/backoffice/api-keys/{row.id}/revoke", data={"csrf_token": csrf_from(page)}
    )
    assert response.status_code == 303
    assert api_call(client, "GET", "/requests", key).status_code == 401
    (row,) = _stored(app)
    assert row.revoked_at is not None and row.revoked_by_id == admin.id
    assert [r.actor_label for r in audit_rows(app, "api_key.revoked")] == [admin.username]


def test_the_cli_creates_lists_and_revokes_keys(app, make_staff):
    admin = make_staff("admin", team="North")
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=["apikeys", "create", "Dialler", "--team", "North", "--scope", "requests:read",
              "--by", admin.username]
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    text = KEY_SHAPE.search(created.output.split()[-1]) and created.output.split()[-1]
    assert text
    listed = runner.invoke(args=["apikeys", "list"])
    assert text[:18] in listed.output and text not in listed.output and "active" in listed.output
    client = app.test_client()
    assert api_call(client, "GET", "/requests", text).status_code == 200
    revoked = runner.invoke(args=["apikeys", "revoke", text[:18]])
    assert revoked.exit_code == 0, revoked.output
    assert api_call(client, "GET", "/requests", text).status_code == 401
    assert [r.actor_label for r in audit_rows(app, "api_key.")] == ["cli", "cli"]
    refused = runner.invoke(
        args=["apikeys", "create", "X", "--team", "North", "--scope", "requests:read",
              "--by", make_staff("agent").username]
    )  # fmt: skip
    assert refused.exit_code != 0 and "not an administrator" in refused.output
