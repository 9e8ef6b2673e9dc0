"""``flask demo seed`` (what ``make run`` prints): one account per role, each able to sign in
straight away, with the second factor enrolled wherever the role needs one."""

from __future__ import annotations

import json
import re

import pyotp
import pytest
from sqlalchemy import select

from tests.support.web import post_form

ROLES_WITH_A_SECOND_FACTOR = {"supervisor", "backoffice", "admin", "auditor"}


@pytest.fixture
def credentials_file(tmp_path, monkeypatch):
    import portal.demo

    path = tmp_path / "demo-credentials.json"
    monkeypatch.setattr(portal.demo, "INSTANCE_DIR", tmp_path)
    monkeypatch.setattr(portal.demo, "CREDENTIALS_FILE", path)
    return path


def _saved(app, credentials_file) -> dict:
    """What the file keeps for ``app``'s database: ``{username: {...}}``."""
    from portal.demo import DATABASES, database_key

    with app.app_context():
        key = database_key()
    return json.loads(credentials_file.read_text())[DATABASES][key]


def _seed(app) -> str:
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    return result.output


def _lines_by_user(output: str) -> dict[str, str]:
    return {
        m.group(2): m.group(0)
        for m in re.finditer(r"^\s+(\w+)\s+([\w.]+)\s+password.*$", output, re.M)
    }


def _sign_in(app, username: str, password: str, secret: str | None) -> str:
    """Sign in through the real forms; returns where the sign-in lands."""
    client = app.test_client()
    response = post_form(client, "/login", {"username": username, "password": password})
    if secret:
        assert response.headers["Location"] == "/login/mfa", username
        response = post_form(client, "/login/mfa", {"code": pyotp.TOTP(secret).now()})
    return response.headers["Location"]


def test_every_demo_account_signs_in_with_what_the_seed_printed(app, credentials_file):
    output = _seed(app)

    saved = _saved(app, credentials_file)
    lines = _lines_by_user(output)
    assert len(lines) == 7
    for username, entry in saved.items():
        line = lines[username]
        assert entry["password"] in line
        if entry["role"] in ROLES_WITH_A_SECOND_FACTOR:
            assert f"MFA: on, TOTP secret {entry['totp_secret']}" in line
            assert f"flask demo code {username}" in line
        else:  # agents, while AGENT_MFA_REQUIRED is off (development's default)
            assert "totp_secret" not in entry and "MFA: off" in line
        landed = _sign_in(app, username, entry["password"], entry.get("totp_secret"))
        assert landed in ("/agent/", "/backoffice/"), (username, landed)


def test_demo_agents_get_a_second_factor_when_the_setting_asks_for_one(
    app_factory, credentials_file
):
    app = app_factory(AGENT_MFA_REQUIRED=True)
    output = _seed(app)

    saved = _saved(app, credentials_file)
    assert all(entry.get("totp_secret") for entry in saved.values())
    assert "MFA: off" not in output
    amy = saved["agent.amy"]
    assert _sign_in(app, "agent.amy", amy["password"], amy["totp_secret"]) == "/agent/"


def test_an_account_seeded_before_its_role_needed_a_second_factor_is_enrolled(
    app, credentials_file
):
    """Demo databases made before every data role needed MFA: the auditor had none (as after
    ``flask users reset-mfa``, which leaves the account the same way)."""
    from portal.extensions import db
    from portal.models.staff import StaffUser

    _seed(app)
    content = json.loads(credentials_file.read_text())
    [saved] = content["databases"].values()
    saved["audit.ali"].pop("totp_secret")
    credentials_file.write_text(json.dumps(content))
    reset = app.test_cli_runner().invoke(args=["users", "reset-mfa", "audit.ali"])
    assert reset.exit_code == 0, reset.output

    output = _seed(app)

    ali = _saved(app, credentials_file)["audit.ali"]
    assert f"MFA: on, TOTP secret {ali['totp_secret']}" in _lines_by_user(output)["audit.ali"]
    with app.app_context():
        user = db.session.execute(
            select(StaffUser).where(StaffUser.username == "audit.ali")
        ).scalar_one()
        assert user.mfa_enabled and user.totp_secret == ali["totp_secret"]
    assert _sign_in(app, "audit.ali", ali["password"], ali["totp_secret"]) == "/backoffice/"
    code = app.test_cli_runner().invoke(args=["demo", "code", "audit.ali"])
    assert code.exit_code == 0 and re.fullmatch(r"\d{6}\n", code.output)


def test_two_back_office_people_are_seeded_so_dual_control_can_be_tried(app, credentials_file):
    lines = _lines_by_user(_seed(app))
    office = [name for name, line in lines.items() if re.match(r"\s+backoffice\s", line)]
    assert sorted(office) == ["office.olu", "office.pat"]
    saved = _saved(app, credentials_file)
    for username in office:
        entry = saved[username]
        assert _sign_in(app, username, entry["password"], entry["totp_secret"]) == "/backoffice/"


def test_seeding_a_second_database_keeps_the_first_ones_logins(
    app, app_factory, credentials_file, tmp_path
):
    from flask_migrate import upgrade

    _seed(app)
    first = _saved(app, credentials_file)
    other = app_factory(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'second.sqlite3'}")
    with other.app_context():
        upgrade()

    _seed(other)

    assert _saved(app, credentials_file) == first  # not overwritten
    second = _saved(other, credentials_file)
    assert second["office.olu"]["password"] != first["office.olu"]["password"]
    assert (
        _sign_in(
            other,
            "office.olu",
            second["office.olu"]["password"],
            second["office.olu"]["totp_secret"],
        )
        == "/backoffice/"
    )
    # Seeding the first again prints its own logins, as before.
    assert first["office.olu"]["password"] in _seed(app)


def test_a_file_written_before_it_was_kept_per_database_still_gives_its_logins(
    app, credentials_file
):
    _seed(app)
    flat = _saved(app, credentials_file)
    credentials_file.write_text(json.dumps(flat))  # the old shape: one database, flat

    output = _seed(app)

    assert flat["office.olu"]["password"] in output
    assert _saved(app, credentials_file)["office.olu"] == flat["office.olu"]
